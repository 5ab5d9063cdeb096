"""experiments/tables.py: every row's index columns name the values it holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.batch import recording, replicate_seeds
from experiments.tables import OVERALL, batch_tables
from model.ensemble import simulate_ensemble
from model.metrics import alignment_shares, hhi, largest_share, partner_shares


@pytest.fixture(scope="module", params=["annual", "metrics"])
def batch(baseline, request):
    """Four runs of two sweep points; ties as recorded (the store's months and references)."""
    steps, keep = recording(request.param, baseline.n_steps)
    seeds = replicate_seeds(3, 4)
    ties, regional = simulate_ensemble(baseline.compiled, seeds, record=steps)
    runs = {
        "run": np.array([10, 11, 12, 13]),
        "point": np.array([0, 0, 1, 1]),
        "replicate": np.array([0, 1, 0, 1]),
        "seed": seeds,
        "states.KAZ.balancing_propensity": np.array([1.0, 1.0, 2.5, 2.5]),
    }
    tables = batch_tables(baseline, runs, ties, regional, steps=steps, keep=keep)
    return baseline, runs, ties, steps, keep, tables


def _where(baseline, runs, steps, row):
    """Indices (run, recorded month, state) of a table row into the recorded ties."""
    r = list(runs["run"]).index(row.run)
    month = (np.datetime64(row.date, "M") - baseline.dates[0]).astype(int)
    return r, list(steps).index(month), baseline.state_ids.index(row.state)


def test_metrics_rows_hold_their_runs_dates_and_states(batch):
    baseline, runs, ties, steps, keep, tables = batch
    metrics = tables["metrics"]
    assert list(metrics.columns[:7]) == [
        "run",
        "point",
        "replicate",
        "seed",
        "states.KAZ.balancing_propensity",
        "date",
        "state",
    ]
    assert len(metrics) == 4 * keep.sum() * len(baseline.states)
    assert set(metrics["date"].dt.to_period("M").astype(str)) == set(
        baseline.dates[steps[keep]].astype(str)
    )
    weights = baseline.compiled.dimension_weight
    for row in metrics.sample(min(40, len(metrics)), random_state=1).itertuples():
        r, t, i = _where(baseline, runs, steps, row)
        shares = partner_shares(ties[r, t])
        assert row.seed == runs["seed"][r]
        assert row.point == runs["point"][r]
        alignment = alignment_shares(shares[i], weights)
        assert row.dependence == np.float32(largest_share(alignment))
        assert row.largest_partner == baseline.power_ids[int(np.argmax(alignment))]


def test_dimension_and_share_rows_hold_their_dimension_and_power(batch):
    baseline, runs, ties, steps, _, tables = batch
    weights = baseline.compiled.dimension_weight
    dims = [*baseline.dimension_ids, OVERALL]
    for table in ("dimensions", "shares"):
        frame = tables[table]
        assert isinstance(frame["dimension"].dtype, pd.CategoricalDtype)
        for row in frame.sample(60, random_state=2).itertuples():
            r, t, i = _where(baseline, runs, steps, row)
            shares = partner_shares(ties[r, t])[i]  # (P, D)
            d = dims.index(row.dimension)
            vector = alignment_shares(shares, weights) if row.dimension == OVERALL else shares[:, d]
            if table == "dimensions":
                assert row.hhi == np.float32(hhi(vector))
            else:
                j = baseline.power_ids.index(row.power)
                assert row.share == np.float32(vector[j])
                tie = ties[r, t, i] @ weights if row.dimension == OVERALL else ties[r, t, i, :, d]
                assert row.tie == np.float32(tie[j])


def test_no_kept_month_gives_empty_tables_with_the_same_columns(batch):
    baseline, runs, ties, steps, keep, tables = batch
    regional = np.zeros((*ties.shape[:3], ties.shape[2]))
    empty = batch_tables(baseline, runs, ties, regional, steps=steps, keep=np.zeros_like(keep))
    for name, frame in tables.items():
        assert len(empty[name]) == 0
        assert list(empty[name].columns) == list(frame.columns)
        assert (empty[name].dtypes == frame.dtypes).all()


def test_a_metric_added_to_the_registry_reaches_the_tables(baseline, monkeypatch):
    """Adding a metric is one function and one registry entry: the table picks it up."""
    from model import metrics

    def west_minus_russia(alignment: np.ndarray) -> np.ndarray:
        """US + EU share minus Russia's share of the alignment vector."""
        powers = list(baseline.power_ids)
        west = alignment[..., powers.index("USA")] + alignment[..., powers.index("EU")]
        return west - alignment[..., powers.index("RUS")]

    entry = metrics.Metric(
        "west_minus_russia",
        "West minus Russia",
        "share",
        -1.0,
        1.0,
        "test metric",
        lambda out, k: west_minus_russia(out["shares"][..., -1]),
    )
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, entry))
    steps, keep = recording("metrics", baseline.n_steps)
    ties, regional = simulate_ensemble(baseline.compiled, [5], record=steps)
    table = batch_tables(
        baseline,
        {"run": np.array([0]), "seed": np.array([5], dtype=np.uint64)},
        ties,
        regional,
        steps=steps,
        keep=keep,
        tables=("metrics",),
    )["metrics"]
    alignment = alignment_shares(partner_shares(ties[0, -1]), baseline.compiled.dimension_weight)
    np.testing.assert_allclose(
        table["west_minus_russia"], west_minus_russia(alignment).astype(np.float32)
    )
