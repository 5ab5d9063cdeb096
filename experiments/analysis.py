"""Analysis of stored batches: figures, comparisons, scenario discovery and the HTML report.

Everything here reads a batch folder (``results/<scenario>/<stamp>-<hash>/``) and never re-runs
the model. Figures follow one style: matplotlib's Figure API, dates on the time axes, labelled
units, the Okabe-Ito colour-blind-safe palette (viridis for heatmaps), PNG (200 dpi) and SVG.

Bands are quantiles over runs: the median, the 50% band (25th-75th percentiles) and the 90%
band (5th-95th). Each band's label says what its runs vary in: ``seeds only`` (every run has
the scenario's parameters) or ``posterior and seeds`` (each run's parameters are drawn from a
posterior, ``multivector run --posterior``); a sweep's bands are per point, or pooled over
points, as their titles say.
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.expressions import ExpressionError, parse_outcome
from experiments.figures import OKABE_ITO, STYLE, save_figure
from experiments.store import Batch, BatchError, NewFolder, load, stamp, write_atomic
from model.metrics import metric_of
from model.scenario import month_index, month_label

__all__ = [
    "compare",
    "discover",
    "metric_label",
    "plot",
    "regional_figure",
    "shares_figure",
    "simplex_figure",
    "sweep_figure",
    "trajectory_figure",
    "write_report",
]


def metric_label(column: str) -> str:
    """A metric column's axis label with its unit (from :data:`model.metrics.METRICS`)."""
    found = metric_of(column)
    return found[1] if found else column.replace("_", " ")


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _quantiles(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    grouped = frame.groupby(keys, observed=True)[column]
    out = grouped.quantile(list(QUANTILES)).unstack()
    out.columns = ["p05", "p25", "p50", "p75", "p95"]
    return out.reset_index()


def _style_dates(ax) -> None:
    """Year ticks every 5 years, or every 10 on horizons over 35 years."""
    low, high = ax.get_xlim()
    years = (high - low) / 365.25
    ax.xaxis.set_major_locator(mdates.YearLocator(10 if years > 35 else 5))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(alpha=0.25)


def _facets(n: int, *, sharey: bool = True, width: float = 4.2, height: float = 3.0):
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=sharey, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for k, ax in enumerate(axes.flat[:n]):
        if k + cols >= n:
            ax.xaxis.set_tick_params(labelbottom=True)
    return fig, list(axes.flat[:n])


def _band(ax, frame, colour, label=None, *, both=True):
    if both:
        ax.fill_between(frame["date"], frame["p05"], frame["p95"], color=colour, alpha=0.15, lw=0)
    ax.fill_between(frame["date"], frame["p25"], frame["p75"], color=colour, alpha=0.35, lw=0)
    ax.plot(frame["date"], frame["p50"], color=colour, lw=1.6, label=label)


def _runs_label(share: str, note: str | None) -> str:
    """A band's legend label: ``90% of runs``, with what the runs vary in when known."""
    return f"{share} of runs" + (f" ({note})" if note else "")


def _levels(values: pd.Series, max_levels: int = 5) -> pd.Series:
    """A swept parameter as at most ``max_levels`` labelled levels (quantile bins if many)."""
    unique = np.sort(values.unique())
    if len(unique) <= max_levels:
        return values.map(lambda v: f"{v:g}")
    bins = pd.qcut(values, max_levels, duplicates="drop")
    return bins.map(lambda iv: f"{iv.left:.3g}-{iv.right:.3g}").astype(str)


def trajectory_figure(
    batch: Batch,
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    *,
    by: str | None = None,
    overlay: bool = False,
) -> Figure:
    """A metric over time: median, 50% and 90% bands over runs, per state or overlaid.

    With ``by`` (a swept key path), one median and 50% band per level of that parameter.
    """
    batch.check_trajectories()
    batch.check_metric(metric)
    states = batch.check_states(states)
    if by is not None and by not in batch.swept:
        swept = ", ".join(batch.swept) or "none: this batch has no sweep"
        raise BatchError(f"--by {by}: not a swept parameter ({swept})")
    metrics = batch.metrics()
    metrics = metrics[metrics["state"].isin(states)]
    label = metric_label(metric)
    n_runs = metrics["run"].nunique()
    with mpl.rc_context(STYLE):
        if overlay and by is None:
            fig = Figure(figsize=(8, 4.2), layout="constrained")
            ax = fig.subplots()
            bands = _quantiles(metrics, ["state", "date"], metric)
            for k, state in enumerate(states):
                _band(
                    ax,
                    bands[bands["state"] == state],
                    OKABE_ITO[k % len(OKABE_ITO)],
                    batch.state_names[state],
                    both=False,
                )
            ax.set_ylabel(label)
            _style_dates(ax)
            note = batch.band_note
            ax.legend(
                frameon=False,
                ncol=min(len(states), 5),
                loc="upper center",
                title=f"median and {_runs_label('50%', note)}" if note else None,
            )
            axes = [ax]
        else:
            fig, axes = _facets(len(states))
            if by is not None:
                metrics = metrics.assign(level=_levels(metrics[by]))
                levels = list(dict.fromkeys(metrics.sort_values(by)["level"]))
                bands = _quantiles(metrics, ["state", "level", "date"], metric)
            else:
                bands = _quantiles(metrics, ["state", "date"], metric)
            for ax, state in zip(axes, states, strict=True):
                b = bands[bands["state"] == state]
                if by is None:
                    _band(ax, b, OKABE_ITO[0])
                else:
                    for k, level in enumerate(levels):
                        _band(
                            ax,
                            b[b["level"] == level],
                            OKABE_ITO[k % len(OKABE_ITO)],
                            level,
                            both=False,
                        )
                ax.set_title(batch.state_names[state])
                _style_dates(ax)
            for ax in axes[:: min(len(axes), 3)]:
                ax.set_ylabel(label)
            if by is None:
                note = batch.band_note
                handles = [
                    mpl.patches.Patch(
                        color=OKABE_ITO[0], alpha=0.15, label=_runs_label("90%", note)
                    ),
                    mpl.patches.Patch(
                        color=OKABE_ITO[0], alpha=0.35, label=_runs_label("50%", note)
                    ),
                    mpl.lines.Line2D([], [], color=OKABE_ITO[0], label="median"),
                ]
                fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
            else:
                fig.legend(
                    *axes[0].get_legend_handles_labels(),
                    loc="outside lower center",
                    ncol=min(len(levels), 5),
                    frameon=False,
                    title=f"{by} (median and 50% band)",
                )
        if metric in ("dependence", "hhi", "vulnerability", "regional_cooperation"):
            for ax in axes:
                ax.set_ylim(0, 1)
        pooled = (
            f", pooled over {metrics['point'].nunique()} sweep points"
            if batch.swept and by is None
            else ""
        )
        fig.suptitle(f"{label.splitlines()[0]} - {batch.title} ({n_runs} runs{pooled})")
    return fig


def shares_figure(
    batch: Batch, dimension: str = "overall", states: Sequence[str] | None = None
) -> Figure:
    """Partner shares over time per state: stacked areas of the median shares (renormalised)."""
    batch.check_trajectories()
    states = batch.check_states(states)
    shares = batch.shares(dimension)
    if shares.empty:
        raise BatchError(f"--dimension {dimension}: no such dimension in this batch")
    shares = shares[shares["state"].isin(states)]
    median = shares.groupby(["state", "date", "power"], observed=True)["share"].median()
    median = median.unstack("power")
    median = median.div(median.sum(axis=1), axis=0)  # medians need not sum to 1
    powers = [p for p in batch.power_names if p in median.columns]
    with mpl.rc_context(STYLE):
        fig, axes = _facets(len(states))
        for ax, state in zip(axes, states, strict=True):
            frame = median.loc[state]
            ax.stackplot(
                frame.index,
                *[frame[p] for p in powers],
                colors=[OKABE_ITO[k % len(OKABE_ITO)] for k in range(len(powers))],
                labels=[batch.power_names[p] for p in powers],
                alpha=0.9,
            )
            ax.set_title(batch.state_names[state])
            ax.set_ylim(0, 1)
            ax.set_xlim(frame.index.min(), frame.index.max())
            _style_dates(ax)
        for ax in axes[:: min(len(axes), 3)]:
            ax.set_ylabel(f"Share of {dimension} ties\n(median over runs, 0-1)")
        fig.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncol=len(powers),
            frameon=False,
        )
        fig.suptitle(f"Partner shares ({dimension}) - {batch.title}")
    return fig


SIMPLEX_POLES = ("Russia", "China", "West")
SIMPLEX_MARKS = ("1992", "2001", "2009", "2016", "2021")
SIMPLEX_MARKERS = ("o", "s", "^", "D", "*")


def simplex_figure(batch: Batch, states: Sequence[str] | None = None) -> Figure:
    """Each state's path through the Russia / China / West triangle (ternary diagram).

    The point of a state at a date is its median pole shares over runs, renormalised over the
    three poles (Turkey and Iran, in no pole, are left out). A marker shape per year in
    ``SIMPLEX_MARKS`` dates the paths (the legend below the triangle).
    """
    import mpltern  # noqa: F401  (registers the ternary projection)

    batch.check_trajectories()
    states = batch.check_states(states)
    missing = [p for p in SIMPLEX_POLES if p not in batch.poles]
    if missing:
        raise BatchError(f"{batch.path}: the simplex needs poles {', '.join(SIMPLEX_POLES)}")
    columns = [f"pole_{p}" for p in SIMPLEX_POLES]
    metrics = batch.metrics()
    metrics = metrics[metrics["state"].isin(states)]
    median = metrics.groupby(["state", "date"], observed=True)[columns].median()
    median = median.div(median.sum(axis=1), axis=0)
    last = str(median.index.get_level_values("date").max().year)
    marks = [y for y in SIMPLEX_MARKS if y <= last]
    if last not in marks:  # a longer horizon: mark where the paths end too
        marks.append(last)
    markers = dict(zip(marks, (*SIMPLEX_MARKERS, "P")[: len(marks)], strict=True))
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(7.2, 6.6), layout="constrained")
        ax = fig.add_subplot(projection="ternary")
        for k, state in enumerate(states):
            path = median.loc[state]
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.plot(
                path[columns[0]],
                path[columns[1]],
                path[columns[2]],
                color=colour,
                lw=1.6,
                label=batch.state_names[state],
            )
            years = path.index.year.astype(str)
            for year, marker in markers.items():
                rows = path[years == year]
                if len(rows):
                    row = rows.iloc[-1]
                    ax.scatter(
                        row[columns[0]],
                        row[columns[1]],
                        row[columns[2]],
                        color=colour,
                        marker=marker,
                        s=80 if marker in "*P" else 30,
                        edgecolors="white",
                        linewidths=0.5,
                        zorder=3,
                    )
        year_handles = [
            mpl.lines.Line2D([], [], color="0.3", marker=m, ls="", label=y, markersize=9)
            for y, m in markers.items()
        ]
        fig.legend(
            handles=year_handles,
            loc="outside lower center",
            ncol=len(year_handles),
            frameon=False,
            title="year (December, or the last month recorded)",
        )
        ax.set_tlabel("Russia share")
        ax.set_llabel("China share")
        ax.set_rlabel("West (US + EU) share")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(-0.1, 1.05), frameon=False)
        fig.suptitle(
            f"Alignment paths through the Russia / China / West triangle\n{batch.title}",
            fontsize=11,
        )
    return fig


def sweep_figure(
    batch: Batch,
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    *,
    params: Sequence[str] | None = None,
) -> Figure:
    """A final-month outcome against one swept parameter or two.

    One parameter: every run (dots) and the median in 12 bins (line). Two: each design point
    coloured by its median over replicates.
    """
    batch.check_metric(metric)
    states = batch.check_states(states)
    params = list(params or batch.swept[:2])
    if not params:
        raise BatchError(f"{batch.path}: no swept parameters; run a batch with --sweep")
    for p in params:
        if p not in batch.swept:
            raise BatchError(f"--by {p}: not a swept parameter ({', '.join(batch.swept)})")
    metrics = batch.metrics()
    final = metrics[(metrics["date"] == metrics["date"].max()) & metrics["state"].isin(states)]
    label = metric_label(metric)
    when = str(final["date"].max())[:7]
    per_point = final.groupby(["state", "point"], observed=True)[metric].median()
    low, high = (float(per_point.min()), float(per_point.max())) if len(per_point) else (0, 1)
    with mpl.rc_context(STYLE):
        fig, axes = _facets(len(states), sharey=len(params) == 1)
        image = None
        for ax, state in zip(axes, states, strict=True):
            frame = final[final["state"] == state]
            if len(params) == 1:
                x = frame[params[0]]
                ax.scatter(x, frame[metric], s=6, alpha=0.3, color=OKABE_ITO[0], lw=0)
                binned = frame.groupby(pd.cut(x, 12), observed=True)[metric].median()
                centres = [iv.mid for iv in binned.index]
                ax.plot(centres, binned.to_numpy(), color=OKABE_ITO[1], lw=2, label="median")
                ax.set_xlabel(params[0])
                ax.grid(alpha=0.25)
            else:
                # one point per design point: the median over its replicates
                points = frame.groupby("point", observed=True).agg(
                    x=(params[0], "first"), y=(params[1], "first"), value=(metric, "median")
                )
                image = ax.scatter(
                    points["x"],
                    points["y"],
                    c=points["value"],
                    cmap="viridis",
                    vmin=low,
                    vmax=high,
                    s=max(12, 4000 / max(len(points), 1) ** 0.9),
                    marker="s",
                    lw=0,
                )
                ax.set_xlabel(params[0])
                ax.set_ylabel(params[1])
            ax.set_title(batch.state_names[state])
        if len(params) == 1:
            for ax in axes[:: min(len(axes), 3)]:
                ax.set_ylabel(f"{label.splitlines()[0]}, {when}")
        elif image is not None:
            fig.colorbar(
                image,
                ax=axes,
                label=f"{label.splitlines()[0]}, {when}\n(median over replicates)",
            )
        fig.suptitle(f"{label.splitlines()[0]} in {when} across the sweep - {batch.title}")
    return fig


def regional_figure(batch: Batch) -> Figure:
    """The regional cooperation index over time: median, 50% and 90% bands over runs."""
    batch.check_trajectories()
    metrics = batch.metrics()
    first = metrics[metrics["state"] == batch.states[0]]
    bands = _quantiles(first, ["date"], "regional_cooperation")
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(7.5, 3.4), layout="constrained")
        ax = fig.subplots()
        _band(ax, bands, OKABE_ITO[2], "median")
        ax.set_ylim(0, 1)
        ax.set_ylabel(metric_label("regional_cooperation"))
        _style_dates(ax)
        note = batch.band_note
        handles = [
            mpl.patches.Patch(color=OKABE_ITO[2], alpha=0.15, label=_runs_label("90%", note)),
            mpl.patches.Patch(color=OKABE_ITO[2], alpha=0.35, label=_runs_label("50%", note)),
            mpl.lines.Line2D([], [], color=OKABE_ITO[2], label="median"),
        ]
        ax.legend(handles=handles, frameon=False, loc="upper left")
        ax.set_title(f"Regional cooperation - {batch.title} ({first['run'].nunique()} runs)")
    return fig


def plot(
    path: str | Path,
    *,
    kinds: Sequence[str] = ("auto",),
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    by: str | None = None,
    overlay: bool = False,
    dimension: str = "overall",
) -> list[Path]:
    """Write the batch's figures into ``<batch>/figures/``; returns the files."""
    batch = Batch(path)
    batch.check_metric(metric)
    batch.check_states(states)
    if "auto" in kinds:
        kinds = []
        if batch.store != "metrics":
            kinds += ["trajectories", "shares", "simplex", "regional"]
        if batch.swept:
            kinds.append("sweep")
    folder = batch.path / "figures"
    written: list[Path] = []
    suffix = f"-by-{by.replace('.', '_')}" if by else ("-overlay" if overlay else "")
    if states and list(states) != batch.states:  # a subset never replaces the full figure
        suffix += "-" + "-".join(states)
    chosen = f"-{'-'.join(states)}" if states and list(states) != batch.states else ""
    for kind in kinds:
        if kind == "trajectories":
            fig = trajectory_figure(batch, metric, states, by=by, overlay=overlay)
            written += save_figure(fig, folder, f"trajectories-{metric}{suffix}")
        elif kind == "shares":
            fig = shares_figure(batch, dimension, states)
            written += save_figure(fig, folder, f"shares-{dimension}{chosen}")
        elif kind == "simplex":
            written += save_figure(simplex_figure(batch, states), folder, f"simplex{chosen}")
        elif kind == "regional":
            written += save_figure(regional_figure(batch), folder, "regional")
        elif kind == "sweep":
            params = [by] if by else None
            fig = sweep_figure(batch, metric, states, params=params)
            written += save_figure(fig, folder, f"sweep-{metric}{suffix}")
        else:
            raise BatchError(
                f"--kind {kind}: one of trajectories, shares, simplex, regional, sweep"
            )
    return written


# --------------------------------------------------------------------------------------------
# comparing two batches


def _runs_by_date_state(batch: Batch, metric: str) -> tuple[np.ndarray, pd.DatetimeIndex, list]:
    metrics = batch.metrics()
    cube = metrics.pivot_table(index="run", columns=["date", "state"], values=metric, observed=True)
    dates = cube.columns.get_level_values("date").unique()
    states = list(cube.columns.get_level_values("state").unique())
    values = cube.to_numpy().reshape(len(cube), len(dates), len(states))
    return values, pd.DatetimeIndex(dates), states


def compare(
    path_a: str | Path,
    path_b: str | Path,
    *,
    metric: str = "dependence",
    out: str | Path = "results",
    resamples: int = 400,
    seed: int = 0,
) -> tuple[Path, pd.DataFrame]:
    """B minus A: the difference of medians over runs per state and date, with a 90% band.

    The band is a bootstrap over runs (``resamples`` resamples, percentile interval). When the
    two batches ran the same seeds (common random numbers, as a what-if and its baseline do),
    runs are resampled in pairs, so a batch compared with itself has a zero band. The figure and
    tables go to a new folder ``<out>/compare/<A>-vs-<B>-<stamp>/``.

    Returns the output folder and the final-month table.
    """
    a, b = Batch(path_a), Batch(path_b)
    for batch in (a, b):
        batch.check_trajectories()
        batch.check_metric(metric)
    va, dates_a, states_a = _runs_by_date_state(a, metric)
    vb, dates_b, states_b = _runs_by_date_state(b, metric)
    if list(dates_a) != list(dates_b) or states_a != states_b:
        raise BatchError(
            f"{path_a} and {path_b} record different months or states; compare batches of one "
            "horizon and store"
        )
    paired = a.manifest["batch"]["seeds"] == b.manifest["batch"]["seeds"] and va.shape == vb.shape
    rng = np.random.default_rng(seed)
    difference = np.median(vb, axis=0) - np.median(va, axis=0)
    boot = np.empty((resamples, *difference.shape))
    for k in range(resamples):
        ia = rng.integers(0, len(va), len(va))
        ib = ia if paired else rng.integers(0, len(vb), len(vb))
        boot[k] = np.median(vb[ib], axis=0) - np.median(va[ia], axis=0)
    low, high = np.quantile(boot, [0.05, 0.95], axis=0)
    varies = _compare_note(a, b)
    names = a.state_names
    label = metric_label(metric).splitlines()[0]
    # show the years from shortly before the batches first differ
    differs = np.flatnonzero(np.any(difference != 0, axis=1))
    start = dates_a[differs[0]] - pd.DateOffset(years=3) if differs.size else dates_a[0]
    shown = np.asarray(dates_a >= start)
    with mpl.rc_context(STYLE):
        fig, axes = _facets(len(states_a))
        for s, (ax, state) in enumerate(zip(axes, states_a, strict=True)):
            ax.axhline(0, color="0.4", lw=0.8)
            ax.fill_between(
                dates_a[shown], low[shown, s], high[shown, s], color=OKABE_ITO[1], alpha=0.3, lw=0
            )
            ax.plot(dates_a[shown], difference[shown, s], color=OKABE_ITO[1], lw=1.6)
            ax.set_title(names.get(state, state))
            _style_dates(ax)
        for ax in axes[:: min(len(axes), 3)]:
            ax.set_ylabel(f"Difference of medians\n({label.lower()}, B - A)")
        handles = [
            mpl.lines.Line2D([], [], color=OKABE_ITO[1], label="median of B - median of A"),
            mpl.patches.Patch(
                color=OKABE_ITO[1],
                alpha=0.3,
                label="90% bootstrap band" + (f" (runs vary in {varies})" if varies else ""),
            ),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle(f"{label}: B = {b.title}\nminus A = {a.title}", fontsize=11)
    table = pd.DataFrame(
        {
            "state": states_a,
            "median_a": np.median(va[:, -1], axis=0),
            "median_b": np.median(vb[:, -1], axis=0),
            "difference": difference[-1],
            "low_90": low[-1],
            "high_90": high[-1],
        }
    )
    table["date"] = str(dates_a[-1])[:7]
    lines = [
        f"# {label}: {b.title} (B) minus {a.title} (A)",
        "",
        f"A: `{a.path}` ({va.shape[0]} runs); B: `{b.path}` ({vb.shape[0]} runs); "
        f"{'paired (same seeds)' if paired else 'independent'} bootstrap, {resamples} resamples.",
        "",
        *([f"Runs vary in {varies}.", ""] if varies else []),
        f"Final month: {table['date'][0]}.",
        "",
        "| state | median A | median B | B - A | 90% band |",
        "|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {names.get(row.state, row.state)} | {row.median_a:.3f} | {row.median_b:.3f} | "
            f"{row.difference:+.3f} | [{row.low_90:+.3f}, {row.high_90:+.3f}] |"
        )
    with NewFolder(Path(out) / "compare", f"{a.name}-vs-{b.name}-{stamp()}") as folder:
        save_figure(fig, folder.path, f"compare-{metric}")
        table.to_parquet(folder.path / f"compare-{metric}.parquet", index=False)
        (folder.path / f"compare-{metric}.md").write_text("\n".join(lines) + "\n")
    return folder.path, table


def _compare_note(a: Batch, b: Batch) -> str | None:
    """What the two batches' runs vary in, for the comparison's band (None for two sweeps)."""
    notes = (a.band_note, b.band_note)
    if notes == (None, None):
        return None
    if notes[0] == notes[1]:
        return notes[0]
    shown = [n or "sweep points and seeds" for n in notes]
    return f"A: {shown[0]}; B: {shown[1]}"


# --------------------------------------------------------------------------------------------
# scenario discovery


def outcome_table(batch: Batch, names: Sequence[str], date: str | None = None) -> pd.DataFrame:
    """One row per run: the swept parameters and the outcome columns ``names``.

    A name is a swept parameter's key path, ``<metric>_<STATE>`` (e.g. ``dependence_KAZ``)
    from the metrics table, or ``share_<STATE>_<POWER>_<dimension>`` (e.g.
    ``share_KGZ_RUS_economic``) from the shares table, in the final month or ``date``.
    """
    metrics = batch.metrics()
    if date is None:
        when = metrics["date"].max()
    else:
        try:
            when = pd.Timestamp(np.datetime64(month_label(month_index(date)), "M"))
        except ValueError:
            raise BatchError(f'--date {date!r}: a month "YYYY-MM"') from None
    at = metrics[metrics["date"] == when]
    if at.empty:
        raise BatchError(f"--date {date}: not a recorded month of this batch")
    runs = at.drop_duplicates("run").set_index("run")[batch.swept]
    metric_columns = {
        f"{metric}_{state}": (metric, state)
        for metric in batch.metric_names()
        for state in batch.states
    }
    columns = {}
    for name in names:
        if name in batch.swept:
            continue  # a swept parameter: a column of ``runs`` already
        if name in metric_columns:
            metric, state = metric_columns[name]
            columns[name] = at[at["state"] == state].set_index("run")[metric]
        elif name.startswith("share_"):
            columns[name] = _share_column(batch, name, when)
        else:
            examples = ", ".join(list(metric_columns)[:3])
            raise BatchError(
                f"--outcome: {_shown(name)} is not an outcome of this batch (one of "
                f"<metric>_<STATE>, e.g. {examples}, or share_<STATE>_<POWER>_<dimension>; "
                f"metrics: {', '.join(batch.metric_names())})"
            )
    return runs.join(pd.DataFrame(columns))


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _share_column(batch: Batch, name: str, when: pd.Timestamp) -> pd.Series:
    if "shares" not in batch.tables:
        raise BatchError(f"--outcome: {_shown(name)}: a {batch.store} store keeps no shares")
    parts = name.split("_", 3)
    if len(parts) != 4:
        raise BatchError(f"--outcome: {_shown(name)}: write shares as share_<STATE>_<POWER>_<dim>")
    _, state, power, dimension = parts
    shares = load(
        batch.path,
        "shares",
        filters=[
            ("date", "==", when),
            ("state", "==", state),
            ("power", "==", power),
            ("dimension", "==", dimension),
        ],
    )
    if shares.empty:
        raise BatchError(
            f"--outcome: {_shown(name)}: no such state, power or dimension in this batch"
        )
    return shares.set_index("run")["share"]


def discover(
    path: str | Path,
    expression: str,
    *,
    date: str | None = None,
    out: str | Path = "results",
) -> tuple[Path, dict]:
    """PRIM (Friedman & Fisher 1999; the EMA Workbench's implementation) over swept parameters.

    Finds a box of parameter values where the outcome expression is mostly true, and reports
    its limits, coverage (share of all true cases inside the box) and density (share of cases
    in the box that are true). The expression is parsed by a whitelist
    (:func:`experiments.expressions.parse_outcome`): it is never executed as code. The results
    go to a new folder ``<out>/discover/<scenario>-<stamp>/``, never inside the batch.
    """
    try:
        outcome = parse_outcome(expression)
    except ExpressionError as error:
        raise BatchError(f"--outcome {_shown(expression)}: {error}") from None
    batch = Batch(path)
    if not batch.swept:
        raise BatchError(f"{path}: no swept parameters; scenario discovery needs a sweep")
    table = outcome_table(batch, outcome.names, date)
    try:
        y = outcome.evaluate({name: table[name].to_numpy() for name in outcome.names})
    except ExpressionError as error:
        raise BatchError(f"--outcome {_shown(expression)}: {error}") from None
    y = np.broadcast_to(y, (len(table),))
    if y.all() or not y.any():
        raise BatchError(
            f"--outcome {_shown(expression)}: true in {y.mean():.0%} of runs; PRIM needs both cases"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        x = table[batch.swept].astype(float).reset_index(drop=True)
        box = prim.Prim(x, np.asarray(y)).find_box()
    limits = box.box_lims[-1]  # find_box ends on the last box of the peeling trajectory
    restricted = {
        p: (float(limits[p].iloc[0]), float(limits[p].iloc[1]))
        for p in batch.swept
        if limits[p].iloc[0] > x[p].min() or limits[p].iloc[1] < x[p].max()
    }
    result = {
        "batch": str(batch.path),
        "expression": expression,
        "date": date,
        "runs": len(y),
        "true_share": float(y.mean()),
        "coverage": float(box.coverage),
        "density": float(box.density),
        "mass": float(box.mass),
        "box": restricted,
        "ranges": {p: (float(x[p].min()), float(x[p].max())) for p in batch.swept},
    }
    trajectory = box.peeling_trajectory
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(5.5, 4.2), layout="constrained")
        ax = fig.subplots()
        points = ax.scatter(
            trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis"
        )
        ax.scatter([box.coverage], [box.density], s=80, facecolors="none", edgecolors="k")
        fig.colorbar(points, ax=ax, label="restricted parameters")
        ax.set_xlabel("Coverage (share of true runs inside the box)")
        ax.set_ylabel("Density (share of the box's runs that are true)")
        ax.set_title(f"PRIM peeling trajectory\n{expression}", fontsize=10)
        ax.grid(alpha=0.25)
    lines = [
        f"# Scenario discovery: `{expression}`",
        "",
        f"Batch `{batch.path}`: {len(y)} runs, true in {y.mean():.1%}. PRIM (EMA Workbench), "
        "default peeling and pasting (alpha 0.05), minimum mass 0.05; the box is PRIM's last "
        "box on the peeling trajectory.",
        "",
        f"Coverage {box.coverage:.2f}, density {box.density:.2f}, mass {box.mass:.2f}.",
        "",
        "| parameter | box | swept range |",
        "|---|---|---|",
    ]
    for p, (lo, hi) in result["ranges"].items():
        inside = result["box"].get(p)
        shown = f"[{inside[0]:.3g}, {inside[1]:.3g}]" if inside else "unrestricted"
        lines.append(f"| `{p}` | {shown} | [{lo:.3g}, {hi:.3g}] |")
    with NewFolder(Path(out) / "discover", f"{batch.name}-{stamp()}") as folder:
        save_figure(fig, folder.path, "prim-trajectory")
        trajectory.to_parquet(folder.path / "prim-trajectory.parquet")
        (folder.path / "discover.json").write_text(json.dumps(result, indent=2) + "\n")
        (folder.path / "discover.md").write_text("\n".join(lines) + "\n")
    return folder.path, result


# --------------------------------------------------------------------------------------------
# the HTML report


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"/>' + (
        f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"
    )


REPORT_CELL = 300
"""Longest text a report shows in a table cell or a line of settings; the manifest keeps the
whole value (pandas pads every row to the longest one, so a 4 MB description took GBs)."""


def _shortened(text: str) -> str:
    text = str(text)
    if len(text) <= REPORT_CELL:
        return text
    return f"{text[: REPORT_CELL - 40]}... ({len(text):,} characters; see manifest.json)"


def _table(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        frame[column] = frame[column].map(_shortened)
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)


def write_report(path: str | Path) -> Path:
    """``report.html`` in the batch folder: self-contained (figures inlined), opens from disk."""
    batch = Batch(path)
    m = batch.manifest
    metrics = batch.metrics()
    final = metrics[metrics["date"] == metrics["date"].max()]
    summary_columns = ["dependence", "effective_partners"] + [
        f"pole_{p}" for p in batch.poles if f"pole_{p}" in final
    ]
    summary = (
        final.groupby("state", observed=True)[summary_columns]
        .median()
        .reset_index()
        .assign(state=lambda f: f["state"].map(lambda s: batch.state_names.get(s, s)))
    )
    quant = _quantiles(final, ["state"], "dependence")
    quant["state"] = quant["state"].map(lambda s: batch.state_names.get(s, s))
    params = pd.DataFrame(
        [
            {"parameter": k, "value": json.dumps(v["value"]), "source": v["source"]}
            for k, v in m["parameters"].items()
            if not k.startswith("events.")
        ]
    )
    events = pd.DataFrame(m["events"])
    validation = _latest_validation(batch)
    figures = sorted((batch.path / "figures").glob("*.png"))
    session = m["sessions"][-1] if m.get("sessions") else {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(_shortened(batch.title))}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222}img{max-width:100%}table{border-collapse:collapse;"
        "font-size:0.85em}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "figure{margin:1.5em 0}figcaption{color:#666;font-size:0.85em}</style></head><body>",
        f"<h1>{html.escape(_shortened(batch.title))}</h1>",
        f"<p>Scenario <code>{html.escape(_shortened(m['scenario']['file']))}</code> (hash "
        f"<code>{m['scenario']['hash']}</code>), {m['scenario']['start']} to "
        f"{m['scenario']['end']}. {m['batch']['total_runs']} runs "
        + (
            f"({m['batch']['points']} points x {m['batch']['runs']} replicates), "
            if m["batch"]["points"] > 1 and not batch.posterior
            else ""
        )
        + f"batch seed "
        f"{m['batch']['batch_seed']}, {m['batch']['store']} store, {m['batch']['engine']} "
        f"engine. Command: <code>{html.escape(_shortened(' '.join(m['command'])))}</code>. "
        f"{session.get('runs_per_second') or 0:.0f} runs/s.</p>",
    ]
    if m.get("sweep"):
        parts.append(
            f"<p>Sweep: <code>{html.escape(_shortened(json.dumps(m['sweep'])))}</code></p>"
        )
    if batch.band_note is not None:
        parts.append(_uncertainty_paragraph(batch))
    if m.get("overrides"):
        parts.append(
            f"<p>Overrides: <code>{html.escape(_shortened(json.dumps(m['overrides'])))}</code></p>"
        )
    parts += [
        f"<h2>Final month ({str(final['date'].max())[:7]})</h2>",
        "<h3>Dependence: quantiles over runs</h3>",
        _table(quant),
        "<h3>Medians over runs</h3>",
        _table(summary),
    ]
    if validation is not None:
        table, where = validation
        held = int(table["holds"].sum())
        parts += [
            f"<h2>Validation: {held} of {len(table)} patterns hold</h2>",
            f"<p>From <code>{html.escape(str(where))}</code>.</p>",
            _table(
                table[
                    ["pattern", "claim", "source", "margin_median", "fraction_holding", "verdict"]
                ]
            ),
        ]
    parts.append("<h2>Figures</h2>")
    parts += [_image(f) for f in figures] or ["<p>No figures (a metrics store).</p>"]
    parts += [
        "<h2>Parameters</h2><details><summary>every resolved value and its source "
        f"({len(params)})</summary>",
        _table(params),
        "</details>",
        f"<h2>Events</h2><details><summary>{len(events)} dated events</summary>",
        _table(events) if len(events) else "",
        "</details>",
        f"<p style='color:#666'>Versions: {html.escape(json.dumps(m['versions']))}</p>",
        "</body></html>",
    ]
    target = batch.path / "report.html"
    write_atomic(target, "\n".join(parts).encode())
    return target


def _uncertainty_paragraph(batch: Batch) -> str:
    """The report's line on what the bands show: seeds only, or posterior and seeds."""
    if not batch.posterior:
        return (
            "<p>Uncertainty in the bands: <strong>seeds only</strong>. Every run has the "
            "scenario's parameters; runs differ in their seeds.</p>"
        )
    p = batch.posterior
    keys = ", ".join(f"<code>{html.escape(k)}</code>" for k in p["parameters"])
    return (
        "<p>Uncertainty in the bands: <strong>posterior and seeds</strong>. Each run has its own "
        f"seed and a particle drawn from the posterior <code>{html.escape(p['file'])}</code> "
        f"(sha256 <code>{p['sha256'][:12]}</code>; {p['particles']} particles, "
        f"{p['particles_drawn']} drawn) by weight, which sets {keys}; the draws are in "
        f"<code>{html.escape(p['table'])}</code>.</p>"
    )


def _latest_validation(batch: Batch) -> tuple[pd.DataFrame, Path] | None:
    """The newest ``validation-*`` of the same scenario hash beside the batch, if any."""
    tag = batch.manifest["scenario"]["hash"][:8]
    found = sorted(batch.path.parent.glob(f"validation-*-{tag}*/validation.parquet"))
    if not found:
        return None
    return pd.read_parquet(found[-1]), found[-1].parent
