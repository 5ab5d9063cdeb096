"""Tidy result tables from tie trajectories (one batch of runs at a time)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.metrics import measure
from model.metrics import metric_columns as metric_columns_of
from model.scenario import Scenario

__all__ = ["OVERALL", "TABLES", "batch_tables", "markdown", "measure_batch", "metric_columns"]

OVERALL = "overall"
TABLES = ("metrics", "dimensions", "shares")


def metric_columns(scenario: Scenario):
    """The metrics table's columns for a scenario (:func:`model.metrics.metric_columns`)."""
    poles = [name for name, _ in scenario.alignment.poles]
    return metric_columns_of(poles, scenario.alignment.axes)


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
    dates = scenario.dates[steps[kept]].astype("datetime64[ns]")
    dims = [*scenario.dimension_ids, OVERALL]
    run_ids = np.asarray(runs["run"], dtype=np.int64)
    seeds = np.asarray(runs["seed"], dtype=np.uint64)
    result: dict[str, pd.DataFrame] = {}

    def index(*axes: tuple[str, int]) -> dict[str, np.ndarray | pd.Categorical]:
        """Index columns of rows ordered by run, date, then ``axes`` (name, size), C order."""
        inner = math.prod(size for _, size in axes)  # rows per run and date
        rows_per_run = n_dates * inner
        columns = {"run": np.repeat(run_ids, rows_per_run), "seed": np.repeat(seeds, rows_per_run)}
        columns["date"] = np.tile(np.repeat(dates, inner), n_runs)
        categories = {"state": scenario.state_ids, "dimension": dims, "power": scenario.power_ids}
        outer = n_runs * n_dates
        for name, size in axes:
            inner //= size
            codes = np.tile(np.repeat(np.arange(size, dtype=_codes_dtype(size)), inner), outer)
            columns[name] = pd.Categorical.from_codes(codes, categories=categories[name])
            outer *= size
        return columns

    def at(values: np.ndarray) -> np.ndarray:  # the kept months, on axis 1
        return values[:, kept]

    def partners(codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(
            codes.astype(_codes_dtype(n_powers)), categories=scenario.power_ids
        )

    if "metrics" in tables:
        indexed = index(("state", n_states))
        # columns: run, the other per-run columns in their order (seed as uint64), date, state
        columns = {"run": indexed["run"]}
        for name, values in runs.items():
            if name != "run":
                columns[name] = (
                    indexed["seed"]
                    if name == "seed"
                    else np.repeat(np.asarray(values), n_dates * n_states)
                )
        columns["seed"] = indexed["seed"]  # where runs had it, else after the others
        columns["date"], columns["state"] = indexed["date"], indexed["state"]
        measured = {}
        for name, _, metric, k in metric_columns(scenario):
            values = at(metric.take(out, k))
            measured[name] = partners(values.ravel()) if metric.categorical else values
        result["metrics"] = _frame(
            columns,
            {
                k: _f32(v).ravel() if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                for k, v in measured.items()
            },
        )

    if "dimensions" in tables:
        result["dimensions"] = _frame(
            index(("state", n_states), ("dimension", n_dims + 1)),
            {
                "largest_share": _f32(at(out["largest_share"])).ravel(),
                "largest_partner": partners(at(out["largest_partner"]).ravel()),
                "hhi": _f32(at(out["hhi"])).ravel(),
                "hhi_normalised": _f32(at(out["hhi_normalised"])).ravel(),
                "effective_partners": _f32(at(out["effective_partners"])).ravel(),
            },
        )

    if "shares" in tables:
        kept_ties = at(ties)
        overall_ties = kept_ties @ scenario.compiled.dimension_weight  # (R, T, S, P)
        all_ties = np.concatenate([kept_ties, overall_ties[..., None]], axis=-1)
        columns = index(("state", n_states), ("power", n_powers), ("dimension", n_dims + 1))
        columns["power"] = columns.pop("power")  # after the dimension, as the columns read
        result["shares"] = _frame(
            columns, {"share": _f32(at(out["shares"])).ravel(), "tie": _f32(all_ties).ravel()}
        )
    return result


def _frame(index: dict, columns: dict) -> pd.DataFrame:
    # the columns are fresh arrays: no copy, and no consolidation into 2-d blocks
    return pd.DataFrame({**index, **columns}, copy=False)


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _codes_dtype(n_categories: int) -> type:
    """A signed integer type for the codes ``0 .. n_categories - 1`` (from_codes recasts)."""
    return np.int8 if n_categories <= 128 else np.int16 if n_categories <= 32768 else np.int32


def markdown(table: pd.DataFrame, floats: str = "{:.3f}") -> str:
    """A table (its index as leading columns) as Markdown; floats by ``floats``, NaN as ``-``."""
    frame = table.reset_index()
    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        cells = [
            floats.format(v) if isinstance(v, float) and math.isfinite(v) else str(v) for v in row
        ]
        lines.append("| " + " | ".join(c if c != "nan" else "-" for c in cells) + " |")
    return "\n".join(lines)
