"""Tidy result tables from tie trajectories (one batch of runs at a time)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.metrics import measure
from model.scenario import Scenario

__all__ = ["OVERALL", "TABLES", "batch_tables", "measure_batch"]

OVERALL = "overall"
TABLES = ("metrics", "dimensions", "shares")


def measure_batch(
    scenario: Scenario, ties: np.ndarray, regional: np.ndarray, steps: np.ndarray | None = None
) -> dict:
    """:func:`model.metrics.measure` with the scenario's weights, poles and axes.

    ``ties`` is (R, T, S, P, D) and ``regional`` (R, T, S, S), recorded at months ``steps``
    (default every month).
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
        steps=steps,
    )


def batch_tables(
    scenario: Scenario,
    runs: dict[str, np.ndarray],
    ties: np.ndarray,
    regional: np.ndarray,
    *,
    steps: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    tables: tuple[str, ...] = TABLES,
) -> dict[str, pd.DataFrame]:
    """Tidy tables of a batch: ``metrics`` (run, date, state), ``dimensions`` (run, date, state,
    dimension) and ``shares`` (run, date, state, dimension, power).

    Parameters
    ----------
    runs : per-run columns, each (R,): ``run`` and ``seed`` (in every table), and any others
        (``point``, ``replicate``, swept parameters), which go into ``metrics`` only
    ties : (R, T, S, P, D); regional : (R, T, S, S), recorded at months ``steps``
    steps : (T,) recorded month indices (default ``0 .. T-1``)
    keep : (T,) bool, the recorded months that become rows (default all); the others are
        recorded only as references of the drift metrics
    tables : which tables to build
    """
    n_runs, n_recorded, n_states, n_powers, n_dims = ties.shape
    steps = np.arange(n_recorded) if steps is None else np.asarray(steps)
    out = measure_batch(scenario, ties, regional, steps)
    kept = np.arange(n_recorded) if keep is None else np.flatnonzero(keep)
    n_dates = kept.size
    dates = pd.to_datetime(scenario.dates[steps[kept]].astype("datetime64[ns]"))
    states = pd.Categorical(scenario.state_ids, categories=scenario.state_ids)
    powers = pd.Categorical(scenario.power_ids, categories=scenario.power_ids)
    dims = [*scenario.dimension_ids, OVERALL]
    dimensions = pd.Categorical(dims, categories=dims)
    run_ids = np.asarray(runs["run"], dtype=np.int64)
    seeds = np.asarray(runs["seed"], dtype=np.uint64)
    result: dict[str, pd.DataFrame] = {}

    def grid(*sizes):
        return [a.ravel() for a in np.indices(sizes)]

    def at(values: np.ndarray) -> np.ndarray:  # the kept months, on axis 1
        return values[:, kept]

    if "metrics" in tables:
        r, t, s = grid(n_runs, n_dates, n_states)
        index = {"run": run_ids[r]}
        for name, values in runs.items():
            if name != "run":
                index[name] = np.asarray(values)[r]
        index["seed"] = seeds[r]
        index["date"] = dates[t]
        index["state"] = states[s]
        last = -1  # the "overall" dimension
        metric_columns = {
            "dependence": at(out["largest_share"])[..., last],
            "largest_partner": np.asarray(scenario.power_ids)[
                at(out["largest_partner"])[..., last]
            ],
            "hhi": at(out["hhi"])[..., last],
            "hhi_normalised": at(out["hhi_normalised"])[..., last],
            "effective_partners": at(out["effective_partners"])[..., last],
            "vulnerability": at(out["vulnerability"]),
            "drift_from_start": at(out["drift_from_start"]),
            "drift_year_on_year": at(out["drift_year_on_year"]),
        }
        for q, (name, _) in enumerate(scenario.alignment.poles):
            metric_columns[f"pole_{name}"] = at(out["poles"])[..., q]
        for a, (name_a, name_b) in enumerate(scenario.alignment.axes):
            metric_columns[f"relative_{name_a}_{name_b}"] = at(out["relative_alignment"])[..., a]
        metric_columns["regional_engagement"] = at(out["regional_engagement"])
        metric_columns["regional_cooperation"] = np.broadcast_to(
            at(out["regional_cooperation"])[..., None], (n_runs, n_dates, n_states)
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
        result["metrics"] = metrics

    if "dimensions" in tables:
        r, t, s, d = grid(n_runs, n_dates, n_states, n_dims + 1)
        index = {
            "run": run_ids[r],
            "seed": seeds[r],
            "date": dates[t],
            "state": states[s],
            "dimension": dimensions[d],
        }
        result["dimensions"] = _frame(
            index,
            {
                "largest_share": _f32(at(out["largest_share"])).ravel(),
                "largest_partner": pd.Categorical(
                    np.asarray(scenario.power_ids)[at(out["largest_partner"]).ravel()],
                    categories=scenario.power_ids,
                ),
                "hhi": _f32(at(out["hhi"])).ravel(),
                "hhi_normalised": _f32(at(out["hhi_normalised"])).ravel(),
                "effective_partners": _f32(at(out["effective_partners"])).ravel(),
            },
        )

    if "shares" in tables:
        kept_ties = at(ties)
        overall_ties = kept_ties @ scenario.compiled.dimension_weight  # (R, T, S, P)
        all_ties = np.concatenate([kept_ties, overall_ties[..., None]], axis=-1)
        r, t, s, p, d = grid(n_runs, n_dates, n_states, n_powers, n_dims + 1)
        index = {
            "run": run_ids[r],
            "seed": seeds[r],
            "date": dates[t],
            "state": states[s],
            "dimension": dimensions[d],
            "power": powers[p],
        }
        result["shares"] = _frame(
            index, {"share": _f32(at(out["shares"])).ravel(), "tie": _f32(all_ties).ravel()}
        )
    return result


def _frame(index: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({**index, **columns})


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)
