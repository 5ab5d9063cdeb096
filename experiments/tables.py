"""Tidy result tables from tie trajectories (one batch of runs at a time)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.metrics import measure
from model.scenario import Scenario

__all__ = ["batch_tables", "measure_batch"]

OVERALL = "overall"


def measure_batch(scenario: Scenario, ties: np.ndarray, regional: np.ndarray) -> dict:
    """:func:`model.metrics.measure` with the scenario's weights, poles and axes.

    ``ties`` is (R, T+1, S, P, D) and ``regional`` (R, T+1, S, S).
    """
    c = scenario.compiled
    pole_names = [name for name, _ in scenario.alignment.poles]
    axes = tuple((pole_names.index(a), pole_names.index(b)) for a, b in scenario.alignment.axes)
    return measure(
        ties,
        regional,
        weights=c.dimension_weight,
        difficulty=c.substitution_difficulty,
        pole_matrix=c.pole_matrix,
        axes=axes,
    )


def _frame(index: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> pd.DataFrame:
    data = {**index, **columns}
    return pd.DataFrame(data)


def batch_tables(
    scenario: Scenario, runs: np.ndarray, seeds: np.ndarray, ties: np.ndarray, regional: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Tidy tables of a batch: ``metrics`` (run, date, state), ``dimensions`` (run, date, state,
    dimension) and ``shares`` (run, date, state, dimension, power).

    Parameters
    ----------
    runs, seeds : (R,) run indices and their seeds
    ties : (R, T+1, S, P, D); regional : (R, T+1, S, S)
    """
    out = measure_batch(scenario, ties, regional)
    n_runs, n_dates, n_states, n_powers, n_dims = ties.shape
    dates = pd.to_datetime(scenario.dates.astype("datetime64[ns]"))
    states = pd.Categorical(scenario.state_ids, categories=scenario.state_ids)
    powers = pd.Categorical(scenario.power_ids, categories=scenario.power_ids)
    dims = [*scenario.dimension_ids, OVERALL]
    dimensions = pd.Categorical(dims, categories=dims)

    def grid(*sizes):
        return [a.ravel() for a in np.indices(sizes)]

    r, t, s = grid(n_runs, n_dates, n_states)
    index = {
        "run": runs[r].astype(np.int64),
        "seed": seeds[r].astype(np.uint64),
        "date": dates[t],
        "state": states[s],
    }
    last = -1  # the "overall" dimension
    metric_columns = {
        "dependence": out["largest_share"][..., last],
        "largest_partner": np.asarray(scenario.power_ids)[out["largest_partner"][..., last]],
        "hhi": out["hhi"][..., last],
        "hhi_normalised": out["hhi_normalised"][..., last],
        "effective_partners": out["effective_partners"][..., last],
        "vulnerability": out["vulnerability"],
        "drift_from_start": out["drift_from_start"],
        "drift_year_on_year": out["drift_year_on_year"],
    }
    for q, (name, _) in enumerate(scenario.alignment.poles):
        metric_columns[f"pole_{name}"] = out["poles"][..., q]
    for a, (name_a, name_b) in enumerate(scenario.alignment.axes):
        metric_columns[f"relative_{name_a}_{name_b}"] = out["relative_alignment"][..., a]
    metric_columns["regional_engagement"] = out["regional_engagement"]
    metric_columns["regional_cooperation"] = np.broadcast_to(
        out["regional_cooperation"][..., None], (n_runs, n_dates, n_states)
    )
    metrics = _frame(
        index,
        {
            k: _f32(v).ravel() if v.dtype.kind == "f" else v.ravel()
            for k, v in metric_columns.items()
        },
    )
    metrics["largest_partner"] = pd.Categorical(
        metrics["largest_partner"], categories=scenario.power_ids
    )

    r, t, s, d = grid(n_runs, n_dates, n_states, n_dims + 1)
    index = {
        "run": runs[r].astype(np.int64),
        "seed": seeds[r].astype(np.uint64),
        "date": dates[t],
        "state": states[s],
        "dimension": dimensions[d],
    }
    dimension_table = _frame(
        index,
        {
            "largest_share": _f32(out["largest_share"]).ravel(),
            "largest_partner": pd.Categorical(
                np.asarray(scenario.power_ids)[out["largest_partner"].ravel()],
                categories=scenario.power_ids,
            ),
            "hhi": _f32(out["hhi"]).ravel(),
            "hhi_normalised": _f32(out["hhi_normalised"]).ravel(),
            "effective_partners": _f32(out["effective_partners"]).ravel(),
        },
    )

    overall_ties = ties @ scenario.compiled.dimension_weight  # (R, T+1, S, P)
    all_ties = np.concatenate([ties, overall_ties[..., None]], axis=-1)
    r, t, s, p, d = grid(n_runs, n_dates, n_states, n_powers, n_dims + 1)
    index = {
        "run": runs[r].astype(np.int64),
        "seed": seeds[r].astype(np.uint64),
        "date": dates[t],
        "state": states[s],
        "dimension": dimensions[d],
        "power": powers[p],
    }
    shares = _frame(index, {"share": _f32(out["shares"]).ravel(), "tie": _f32(all_ties).ravel()})
    return {"metrics": metrics, "dimensions": dimension_table, "shares": shares}


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)
