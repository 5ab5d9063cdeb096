"""Analysis of stored batches: figures, comparisons, scenario discovery and the HTML report.

Everything here reads a batch folder (``results/<scenario>/<scenario>-<stamp>-<plan>/``) and
never re-runs the model. Figures follow one style (:mod:`experiments.figures`): matplotlib's
Figure API, dates on the time axes, labelled units, the Okabe-Ito colour-blind-safe palette
(viridis for heatmaps), a journal column, a page or a slide wide (:class:`Look`), as PNG, SVG
(editable text) or PDF.

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
from experiments.figures import (
    DEFAULT_LOOK,
    FIGURE_KINDS,
    HISTORY_END,
    OKABE_ITO,
    STYLE,
    Look,
    draw_simplex_frame,
    metric_label,
    parameter_label,
    save_figure,
    simplex_xy,
)
from experiments.store import Batch, BatchError, NewFolder, load, stamp, write_atomic
from model.scenario import month_index, month_label

__all__ = [
    "FIGURE_KINDS",
    "compare",
    "dimensions_figure",
    "discover",
    "distribution_figure",
    "metric_label",
    "plot",
    "regional_figure",
    "shares_figure",
    "simplex_figure",
    "sweep_figure",
    "trajectory_figure",
    "write_report",
]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_COLUMNS = ("p05", "p25", "p50", "p75", "p95")

TRAJECTORY_KINDS = ("trajectories", "dimensions", "shares", "simplex", "regional")
"""The kinds that need a store with trajectories (annual or monthly)."""


def _quantiles(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    grouped = frame.groupby(keys, observed=True)[column]
    out = grouped.quantile(list(QUANTILES)).unstack()
    out.columns = list(QUANTILE_COLUMNS)
    return out.reset_index()


def _style_dates(ax) -> None:
    """Year ticks every 5 years, or every 10 on horizons over 35 years or narrow panels."""
    low, high = ax.get_xlim()
    years = (high - low) / 365.25
    inches = ax.figure.get_figwidth() * ax.get_position().width
    ax.xaxis.set_major_locator(mdates.YearLocator(10 if years / inches > 12 else 5))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(alpha=0.25)


EVENT_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _mark_time(ax, batch: Batch, events: Sequence[dict], look: Look) -> None:
    """Shade the projection after :data:`HISTORY_END` and mark ``events``: a dotted line and
    a letter each, which the legend of :func:`_time_handles` explains."""
    end = np.datetime64(batch.manifest["scenario"]["end"], "M")
    if end > HISTORY_END:
        start = (HISTORY_END + 1).astype("datetime64[D]")
        ax.axvspan(start, (end + 1).astype("datetime64[D]"), color="0.9", lw=0, zorder=0)
    for letter, event in zip(EVENT_LETTERS, events, strict=False):
        when = np.datetime64(event["date"], "D")
        ax.axvline(when, color="0.35", lw=0.7, ls=":", zorder=1)
        mark = ax.annotate(
            letter,
            (when, 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -1),
            textcoords="offset points",
            va="top",
            fontsize=look.font,
            color="0.35",
        )
        mark.set_in_layout(False)


def _time_handles(batch: Batch, events: Sequence[dict] = ()) -> list:
    """Legend entries of :func:`_mark_time`: the shaded projection, if the horizon goes past
    history, and each marked event's letter, title and month."""
    handles = []
    end = np.datetime64(batch.manifest["scenario"]["end"], "M")
    if end > HISTORY_END:
        label = f"projection (after {HISTORY_END.astype(object).year})"
        handles.append(mpl.patches.Patch(color="0.9", label=label))
    for letter, event in zip(EVENT_LETTERS, events, strict=False):
        handles.append(
            mpl.lines.Line2D(
                [],
                [],
                color="0.35",
                lw=0.7,
                ls=":",
                label=f"{letter}: {event['title']} ({event['date']})",
            )
        )
    return handles


def _events(batch: Batch, ids: Sequence[str]) -> list[dict]:
    """The batch's events named by ``ids`` (``--events``); one line if one is unknown."""
    known = {e["id"]: e for e in batch.manifest["events"]}
    for event_id in ids:
        if event_id not in known:
            some = ", ".join(list(known)[:6])
            raise BatchError(
                f"--events {event_id}: not an event of this batch ({len(known)} events, e.g. "
                f"{some}; multivector show SCENARIO lists them)"
            )
    if len(ids) > len(EVENT_LETTERS):
        raise BatchError(f"--events: at most {len(EVENT_LETTERS)} events (got {len(ids)})")
    return [known[i] for i in ids]


def _band(ax, frame, colour, label=None, *, both=True):
    if both:
        ax.fill_between(frame["date"], frame["p05"], frame["p95"], color=colour, alpha=0.15, lw=0)
    ax.fill_between(frame["date"], frame["p25"], frame["p75"], color=colour, alpha=0.35, lw=0)
    ax.plot(frame["date"], frame["p50"], color=colour, label=label)


def _runs_label(share: str, note: str | None) -> str:
    """A band's legend label: ``90% of runs``, with what the runs vary in when known."""
    return f"{share} of runs" + (f" ({note})" if note else "")


def _band_handles(colour: str, note: str | None) -> list:
    """Legend entries of :func:`_band`: the 90% and 50% bands and the median."""
    return [
        mpl.patches.Patch(color=colour, alpha=0.15, label=_runs_label("90%", note)),
        mpl.patches.Patch(color=colour, alpha=0.35, label=_runs_label("50%", note)),
        mpl.lines.Line2D([], [], color=colour, label="median"),
    ]


def _levels(values: pd.Series, max_levels: int = 5) -> pd.Series:
    """A swept parameter as at most ``max_levels`` labelled levels (quantile bins if many)."""
    unique = np.sort(values.unique())
    if len(unique) <= max_levels:
        return values.map(lambda v: f"{v:g}")
    bins = pd.qcut(values, max_levels, duplicates="drop")
    return bins.map(lambda iv: f"{iv.left:.3g}-{iv.right:.3g}").astype(str)


def largest_partners(batch: Batch, states: Sequence[str]) -> dict[str, tuple[str, float]]:
    """Each state's most frequent largest partner in the final month and its share of runs."""
    metrics = batch.metrics()
    final = metrics[metrics["date"] == metrics["date"].max()]
    out = {}
    for state in states:
        counts = final.loc[final["state"] == state, "largest_partner"].value_counts(normalize=True)
        power = str(counts.index[0])
        out[state] = (batch.power_names.get(power, power), float(counts.iloc[0]))
    return out


def _legend_below(fig, handles, look: Look, *, title: str | None = None, ncol: int | None = None):
    if look.size == "single" and any(len(h.get_label()) > 32 for h in handles):
        ncol = 1
    ncol = ncol or min(len(handles), 2 if look.size == "single" else 4)
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False, title=title)


def trajectory_figure(
    batch: Batch,
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    *,
    by: str | None = None,
    overlay: bool = False,
    events: Sequence[str] = (),
    look: Look = DEFAULT_LOOK,
) -> Figure:
    """A metric over time: median, 50% and 90% bands over runs, per state or overlaid.

    With ``by`` (a swept key path), one median and 50% band per level of that parameter. The
    dependence figure names each state's largest partner in the final month; ``events`` (ids)
    are marked, and a horizon past :data:`HISTORY_END` is shaded as a projection.
    """
    batch.check_trajectories()
    batch.check_metric(metric)
    states = batch.check_states(states)
    if by is not None and by not in batch.swept:
        swept = ", ".join(batch.swept) or "none: this batch has no sweep"
        raise BatchError(f"--by {by}: not a swept parameter ({swept})")
    marked = _events(batch, events)
    metrics = batch.metrics()
    metrics = metrics[metrics["state"].isin(states)]
    label = metric_label(metric)
    n_runs = metrics["run"].nunique()
    partners = largest_partners(batch, states) if metric == "dependence" else {}
    when = str(metrics["date"].max().year)
    with mpl.rc_context(look.style()):
        if overlay and by is None:
            fig = look.figure(0.55)
            ax = fig.subplots()
            bands = _quantiles(metrics, ["state", "date"], metric)
            for k, state in enumerate(states):
                name = batch.state_names[state]
                if state in partners:
                    name += f" ({partners[state][0]})"
                _band(ax, bands[bands["state"] == state], OKABE_ITO[k % 8], name, both=False)
            ax.set_ylabel(label)
            _mark_time(ax, batch, marked, look)
            _style_dates(ax)
            note = batch.band_note
            title = f"median and {_runs_label('50%', note)}"
            if partners:
                title += f"; largest partner in {when}"
            handles = ax.get_legend_handles_labels()[0] + _time_handles(batch, marked)
            _legend_below(fig, handles, look, title=title, ncol=min(len(handles), 3))
            axes = [ax]
        else:
            fig, axes = look.facets(len(states))
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
                        _band(ax, b[b["level"] == level], OKABE_ITO[k % 8], level, both=False)
                ax.set_title(batch.state_names[state])
                if state in partners:
                    power, share = partners[state]
                    ax.text(
                        0.98,
                        0.04,
                        f"largest in {when}: {power}\n({share:.0%} of runs)",
                        transform=ax.transAxes,
                        ha="right",
                        va="bottom",
                        fontsize=look.font,
                    )
                _mark_time(ax, batch, marked, look)
                _style_dates(ax)
            fig.supylabel(label.replace("\n", " "), fontsize=look.font)
            if by is None:
                handles = _band_handles(OKABE_ITO[0], batch.band_note)
                _legend_below(fig, handles + _time_handles(batch, marked), look)
            else:
                _legend_below(
                    fig,
                    axes[0].get_legend_handles_labels()[0],
                    look,
                    title=f"{parameter_label(by, batch.state_names | batch.power_names)} "
                    "(median and 50% band)",
                    ncol=min(len(levels), 5),
                )
        if metric in ("dependence", "hhi", "vulnerability", "regional_cooperation"):
            for ax in axes:
                ax.set_ylim(0, 1)
        pooled = (
            f", pooled over {metrics['point'].nunique()} sweep points"
            if batch.swept and by is None
            else ""
        )
        look.suptitle(fig, f"{label.splitlines()[0]}\n{batch.title} ({n_runs} runs{pooled})")
    return fig


def dimensions_figure(
    batch: Batch, states: Sequence[str] | None = None, *, look: Look = DEFAULT_LOOK
) -> Figure:
    """Dependence per dimension of ties: each state's largest partner share in each dimension
    (and overall, dashed) over time, medians over runs."""
    batch.check_trajectories()
    states = batch.check_states(states)
    table = load(
        batch.path, "dimensions", columns=["run", "date", "state", "dimension", "largest_share"]
    )
    table = table[table["state"].isin(states)]
    median = table.groupby(["state", "dimension", "date"], observed=True)["largest_share"].median()
    dimensions = (
        [str(d) for d in table["dimension"].cat.categories]
        if hasattr(table["dimension"], "cat")
        else list(dict.fromkeys(table["dimension"]))
    )
    with mpl.rc_context(look.style()):
        fig, axes = look.facets(len(states))
        for ax, state in zip(axes, states, strict=True):
            colours = iter(OKABE_ITO)
            for dimension in dimensions:
                try:
                    series = median.loc[(state, dimension)]
                except KeyError:
                    continue
                overall = dimension == "overall"
                ax.plot(
                    series.index,
                    series.to_numpy(),
                    color="0.2" if overall else next(colours),
                    ls="--" if overall else "-",
                    label="overall (weighted)" if overall else dimension,
                )
            ax.set_title(batch.state_names[state])
            ax.set_ylim(0, 1)
            _mark_time(ax, batch, (), look)
            _style_dates(ax)
        fig.supylabel(
            "Largest partner share per dimension (median over runs, 0-1)", fontsize=look.font
        )
        handles = axes[0].get_legend_handles_labels()[0] + _time_handles(batch)
        _legend_below(fig, handles, look, ncol=min(len(handles), 3))
        look.suptitle(fig, f"Dependence per dimension of ties - {batch.title}")
    return fig


def shares_figure(
    batch: Batch,
    dimension: str = "overall",
    states: Sequence[str] | None = None,
    *,
    look: Look = DEFAULT_LOOK,
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
    with mpl.rc_context(look.style()):
        fig, axes = look.facets(len(states))
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
            _mark_time(ax, batch, (), look)
            _style_dates(ax)
        fig.supylabel(f"Share of {dimension} ties (median over runs, 0-1)", fontsize=look.font)
        _legend_below(
            fig,
            axes[0].get_legend_handles_labels()[0],
            look,
            ncol=3 if look.size == "single" else 6,
        )
        look.suptitle(fig, f"Partner shares ({dimension}) - {batch.title}")
    return fig


SIMPLEX_MARKS = ("1992", "2001", "2009", "2016", "2021")
SIMPLEX_MARKERS = ("o", "s", "^", "D", "*")


def pole_labels(batch: Batch) -> list[str]:
    """The poles as the simplex labels them: ``West (USA+EU)`` for a pole of several powers."""
    params = batch.manifest["parameters"]
    out = []
    for pole in batch.poles:
        members = params[f"alignment.poles.{pole}"]["value"]
        out.append(pole if len(members) == 1 else f"{pole} ({'+'.join(members)})")
    return out


def simplex_figure(
    batch: Batch, states: Sequence[str] | None = None, *, look: Look = DEFAULT_LOOK
) -> Figure:
    """Each state's path between the scenario's three alignment poles (a ternary diagram).

    The point of a state at a date is its median pole shares over runs, renormalised over the
    three poles (Turkey and Iran, in no pole, are left out), drawn in the one orientation of
    :func:`experiments.figures.simplex_xy` (as in the dashboard). A marker shape per year in
    ``SIMPLEX_MARKS`` dates the paths (the legend below the triangle).
    """
    batch.check_trajectories()
    states = batch.check_states(states)
    if len(batch.poles) != 3:
        raise BatchError(
            f"{batch.path}: the simplex needs three alignment poles (this batch has "
            f"{len(batch.poles)})"
        )
    columns = [f"pole_{p}" for p in batch.poles]
    metrics = batch.metrics()
    metrics = metrics[metrics["state"].isin(states)]
    median = metrics.groupby(["state", "date"], observed=True)[columns].median()
    last = str(median.index.get_level_values("date").max().year)
    marks = [y for y in SIMPLEX_MARKS if y <= last]
    if last not in marks:  # a longer horizon: mark where the paths end too
        marks.append(last)
    markers = dict(zip(marks, (*SIMPLEX_MARKERS, "P")[: len(marks)], strict=True))
    with mpl.rc_context(look.style()):
        fig = look.figure(0.95 if look.size != "slide" else 0.5625)
        ax = fig.subplots()
        draw_simplex_frame(ax, pole_labels(batch), fontsize=look.font + 1)
        for k, state in enumerate(states):
            x, y = simplex_xy(median.loc[state].to_numpy())
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.plot(x, y, color=colour, label=batch.state_names[state])
            years = median.loc[state].index.year.astype(str)
            for year, marker in markers.items():
                at = np.flatnonzero(years == year)
                if at.size:
                    ax.scatter(
                        x[at[-1]],
                        y[at[-1]],
                        color=colour,
                        marker=marker,
                        s=(60 if marker in "*P" else 24) * look.font / 10,
                        edgecolors="white",
                        linewidths=0.5,
                        zorder=3,
                    )
        year_handles = [
            mpl.lines.Line2D([], [], color="0.3", marker=m, ls="", label=y)
            for y, m in markers.items()
        ]
        ax.legend(loc="upper left", frameon=False, bbox_to_anchor=(-0.02, 1.0))
        _legend_below(
            fig,
            year_handles,
            look,
            title="year (December, or the last month recorded); grid every 20%",
            ncol=len(year_handles),
        )
        look.suptitle(
            fig,
            f"Alignment paths between {', '.join(batch.poles)} (shares renormalised)\n"
            f"{batch.title}",
        )
    return fig


def sweep_figure(
    batch: Batch,
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    *,
    params: Sequence[str] | None = None,
    look: Look = DEFAULT_LOOK,
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
    names = batch.state_names | batch.power_names
    labels = [parameter_label(p, names) for p in params]
    metrics = batch.metrics()
    final = metrics[(metrics["date"] == metrics["date"].max()) & metrics["state"].isin(states)]
    label = metric_label(metric)
    when = str(final["date"].max())[:7]
    per_point = final.groupby(["state", "point"], observed=True)[metric].median()
    low, high = (float(per_point.min()), float(per_point.max())) if len(per_point) else (0, 1)
    with mpl.rc_context(look.style()):
        fig, axes = look.facets(len(states), sharey=len(params) == 1)
        image = None
        for ax, state in zip(axes, states, strict=True):
            frame = final[final["state"] == state]
            if len(params) == 1:
                x = frame[params[0]]
                ax.scatter(x, frame[metric], s=4, alpha=0.3, color=OKABE_ITO[0], lw=0)
                binned = frame.groupby(pd.cut(x, 12), observed=True)[metric].median()
                centres = [iv.mid for iv in binned.index]
                ax.plot(centres, binned.to_numpy(), color=OKABE_ITO[1], label="median")
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
                    s=max(6, 2000 / max(len(points), 1) ** 0.9) * look.font / 10,
                    marker="s",
                    lw=0,
                )
            ax.set_title(batch.state_names[state])
        for ax in axes[-min(len(axes), look.columns) :]:
            ax.set_xlabel(labels[0])
        if len(params) == 1:
            fig.supylabel(f"{label.splitlines()[0]}, {when}", fontsize=look.font)
        else:
            for ax in axes[:: min(len(axes), look.columns)]:
                ax.set_ylabel(labels[1])
            if image is not None:
                fig.colorbar(
                    image,
                    ax=axes,
                    label=f"{label.splitlines()[0]}, {when}\n(median over replicates)",
                )
        look.suptitle(fig, f"{label.splitlines()[0]} in {when} across the sweep - {batch.title}")
    return fig


def regional_figure(batch: Batch, *, look: Look = DEFAULT_LOOK) -> Figure:
    """The regional cooperation index over time: median, 50% and 90% bands over runs."""
    batch.check_trajectories()
    metrics = batch.metrics()
    first = metrics[metrics["state"] == batch.states[0]]
    bands = _quantiles(first, ["date"], "regional_cooperation")
    with mpl.rc_context(look.style()):
        fig = look.figure(0.5)
        ax = fig.subplots()
        _band(ax, bands, OKABE_ITO[2], "median")
        ax.set_ylim(0, 1)
        ax.set_ylabel(metric_label("regional_cooperation"))
        _mark_time(ax, batch, (), look)
        _style_dates(ax)
        handles = _band_handles(OKABE_ITO[2], batch.band_note) + _time_handles(batch)
        ax.legend(handles=handles, frameon=False, loc="upper left")
        look.suptitle(fig, f"Regional cooperation - {batch.title} ({first['run'].nunique()} runs)")
    return fig


def distribution_figure(
    batch: Batch,
    metric: str = "dependence",
    states: Sequence[str] | None = None,
    *,
    look: Look = DEFAULT_LOOK,
) -> Figure:
    """A metric in the final month: its distribution over runs per state (box and whiskers at
    the 5th and 95th percentiles, the runs as dots); any store, a metrics store included."""
    batch.check_metric(metric)
    states = batch.check_states(states)
    metrics = batch.metrics()
    final = metrics[(metrics["date"] == metrics["date"].max()) & metrics["state"].isin(states)]
    when = str(final["date"].max())[:7]
    values = [final.loc[final["state"] == s, metric].to_numpy(dtype=float) for s in states]
    label = metric_label(metric).splitlines()[0]
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only
    with mpl.rc_context(look.style()):
        fig = look.figure(0.55)
        ax = fig.subplots()
        for k, v in enumerate(values):
            ax.scatter(
                k + 1 + rng.uniform(-0.18, 0.18, v.size),
                v,
                s=3,
                color=OKABE_ITO[0],
                alpha=min(0.6, 30 / max(v.size, 1) ** 0.5),
                lw=0,
            )
        ax.boxplot(
            values,
            whis=(5, 95),
            showfliers=False,
            widths=0.5,
            medianprops={"color": OKABE_ITO[1]},
        )
        ax.set_xticks(range(1, len(states) + 1), [batch.state_names[s] for s in states])
        ax.tick_params(axis="x", labelrotation=30 if look.size == "single" else 0)
        ax.set_ylabel(f"{label}, {when}")
        ax.grid(alpha=0.25, axis="y")
        note = batch.band_note
        ax.set_xlabel(
            f"box: 25-75%, whiskers: 5-95% of {len(values[0])} runs"
            + (f" ({note})" if note else " (pooled over sweep points)" if batch.swept else "")
        )
        look.suptitle(fig, f"{label} in {when} - {batch.title}")
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
    events: Sequence[str] = (),
    look: Look = DEFAULT_LOOK,
) -> list[Path]:
    """Write the batch's figures into ``<batch>/figures/``; returns the files.

    ``auto`` draws every kind the batch supports. A metrics store keeps each run's final month
    only: a figure over time is refused in one line that offers ``--kind distribution``.
    """
    batch = Batch(path)
    batch.check_metric(metric)
    batch.check_states(states)
    if "auto" in kinds:
        kinds = []
        if batch.store != "metrics":
            kinds += ["trajectories", "dimensions", "shares", "simplex", "regional"]
        if batch.swept:
            kinds.append("sweep")
    for kind in kinds:
        if kind not in FIGURE_KINDS:
            raise BatchError(f"--kind {kind}: one of {', '.join(FIGURE_KINDS)}")
    over_time = [k for k in kinds if k in TRAJECTORY_KINDS]
    if batch.store == "metrics" and (over_time or not kinds):
        shown = f"--kind {over_time[0]}: " if over_time else ""
        raise BatchError(
            f"{shown}{batch.path} is a metrics store, which keeps each run's final month only, "
            f"so it has no trajectory; draw the final month's distribution with: "
            f"multivector plot {batch.path} --kind distribution"
        )
    folder = batch.path / "figures"
    written: list[Path] = []
    suffix = f"-by-{by.replace('.', '_')}" if by else ("-overlay" if overlay else "")
    chosen = f"-{'-'.join(states)}" if states and list(states) != batch.states else ""
    suffix += chosen  # a subset never replaces the full figure
    for kind in kinds:
        if kind == "trajectories":
            fig = trajectory_figure(
                batch, metric, states, by=by, overlay=overlay, events=events, look=look
            )
            written += look.save(fig, folder, f"trajectories-{metric}{suffix}")
        elif kind == "dimensions":
            written += look.save(
                dimensions_figure(batch, states, look=look), folder, f"dimensions{chosen}"
            )
        elif kind == "shares":
            fig = shares_figure(batch, dimension, states, look=look)
            written += look.save(fig, folder, f"shares-{dimension}{chosen}")
        elif kind == "simplex":
            written += look.save(
                simplex_figure(batch, states, look=look), folder, f"simplex{chosen}"
            )
        elif kind == "regional":
            written += look.save(regional_figure(batch, look=look), folder, "regional")
        elif kind == "sweep":
            params = [by] if by else None
            fig = sweep_figure(batch, metric, states, params=params, look=look)
            written += look.save(fig, folder, f"sweep-{metric}{suffix}")
        elif kind == "distribution":
            fig = distribution_figure(batch, metric, states, look=look)
            written += look.save(fig, folder, f"distribution-{metric}{chosen}")
    return written


# --------------------------------------------------------------------------------------------
# comparing batches


def _runs_by_date_state(batch: Batch, metric: str) -> tuple[np.ndarray, pd.DatetimeIndex, list]:
    metrics = batch.metrics()
    cube = metrics.pivot_table(index="run", columns=["date", "state"], values=metric, observed=True)
    dates = cube.columns.get_level_values("date").unique()
    states = list(cube.columns.get_level_values("state").unique())
    values = cube.to_numpy().reshape(len(cube), len(dates), len(states))
    return values, pd.DatetimeIndex(dates), states


def _batch_labels(batches: Sequence[Batch]) -> list[str]:
    """A legend label per batch: its title, with its folder's name where titles repeat."""
    titles = [b.title for b in batches]
    return [f"{b.title} ({b.path.name})" if titles.count(b.title) > 1 else b.title for b in batches]


def _difference(va: np.ndarray, vb: np.ndarray, paired: bool, resamples: int, rng):
    """Median of B minus median of A per date and state, and its 90% bootstrap band."""
    difference = np.median(vb, axis=0) - np.median(va, axis=0)
    boot = np.empty((resamples, *difference.shape))
    for k in range(resamples):
        ia = rng.integers(0, len(va), len(va))
        ib = ia if paired else rng.integers(0, len(vb), len(vb))
        boot[k] = np.median(vb[ib], axis=0) - np.median(va[ia], axis=0)
    low, high = np.quantile(boot, [0.05, 0.95], axis=0)
    return difference, low, high


def compare(
    *paths: str | Path,
    metric: str = "dependence",
    out: str | Path = "results",
    resamples: int = 400,
    seed: int = 0,
    look: Look = DEFAULT_LOOK,
) -> tuple[Path, pd.DataFrame]:
    """Batches side by side: their trajectories overlaid, and each minus the first over time.

    The first batch is the reference A. The overlay shows each batch's median and 90% band over
    runs; the difference figure each other batch's difference of medians from A per state and
    date, with a 90% band. The band is a bootstrap over runs (``resamples`` resamples,
    percentile interval). When two batches ran the same seeds (common random numbers, as a
    what-if and its baseline do), runs are resampled in pairs, so a batch compared with itself
    has a zero band. Figures and tables (the difference at every recorded month, as CSV and
    Parquet, and the final month as Markdown) go to a new folder
    ``<out>/compare/<A>-vs-<B>[-<C>...]-<stamp>/``.

    Returns the output folder and the difference table (every month; column ``batch`` names
    the batch compared with A).
    """
    if len(paths) < 2:
        raise BatchError("compare: give two batches or more (the first is the reference)")
    batches = [Batch(p) for p in paths]
    for batch in batches:
        batch.check_trajectories()
        batch.check_metric(metric)
    cubes = [_runs_by_date_state(b, metric) for b in batches]
    va, dates, states = cubes[0]
    for path, (_, d, s) in zip(paths[1:], cubes[1:], strict=True):
        if list(d) != list(dates) or s != states:
            raise BatchError(
                f"{paths[0]} and {path} record different months or states; compare batches of "
                "one horizon and store"
            )
    a = batches[0]
    labels = _batch_labels(batches)
    names = a.state_names
    label = metric_label(metric).splitlines()[0]
    rng = np.random.default_rng(seed)
    rows, differences = [], []
    for batch, (vb, _, _) in zip(batches[1:], cubes[1:], strict=True):
        paired = a.manifest["batch"]["seeds"] == batch.manifest["batch"]["seeds"]
        paired = paired and va.shape == vb.shape
        difference, low, high = _difference(va, vb, paired, resamples, rng)
        differences.append((difference, low, high, paired))
        for s, state in enumerate(states):
            rows.append(
                pd.DataFrame(
                    {
                        "batch": str(batch.path),
                        "date": dates.strftime("%Y-%m"),
                        "state": state,
                        "median_a": np.median(va[:, :, s], axis=0),
                        "median_b": np.median(vb[:, :, s], axis=0),
                        "difference": difference[:, s],
                        "low_90": low[:, s],
                        "high_90": high[:, s],
                        "paired": paired,
                    }
                )
            )
    table = pd.concat(rows, ignore_index=True)
    with mpl.rc_context(look.style()):
        overlay = _overlay_figure(batches, cubes, labels, look, label)
        fig = _difference_figure(batches, dates, states, differences, labels, look, label)
    final = table[table["date"] == table["date"].max()]
    varies = _compare_note(batches)
    lines = [
        f"# {label}: each batch minus A = {labels[0]}",
        "",
        f"A: `{a.path}` ({va.shape[0]} runs). Bootstrap over runs, {resamples} resamples "
        "(paired when a batch shares A's seeds); the band is 90%.",
        "",
        *([f"Runs vary in {varies}.", ""] if varies else []),
        f"Final month: {final['date'].iloc[0]}. Every month: `compare-{metric}.csv`.",
        "",
        "| batch | state | median A | median B | B - A | 90% band |",
        "|---|---|---|---|---|---|",
    ]
    for row in final.itertuples():
        lines.append(
            f"| `{Path(row.batch).name}` | {names.get(row.state, row.state)} | "
            f"{row.median_a:.3f} | {row.median_b:.3f} | {row.difference:+.3f} | "
            f"[{row.low_90:+.3f}, {row.high_90:+.3f}] |"
        )
    others = [b.name for b in batches[1:]]
    stem = f"{a.name}-vs-{'-'.join(others) if len(others) <= 3 else f'{len(others)}-batches'}"
    with NewFolder(Path(out) / "compare", f"{stem}-{stamp()}") as folder:
        look.save(overlay, folder.path, f"compare-overlay-{metric}")
        look.save(fig, folder.path, f"compare-{metric}")
        table.to_parquet(folder.path / f"compare-{metric}.parquet", index=False)
        table.to_csv(folder.path / f"compare-{metric}.csv", index=False, float_format="%.6g")
        (folder.path / f"compare-{metric}.md").write_text("\n".join(lines) + "\n")
    return folder.path, table


def _overlay_figure(batches, cubes, labels, look: Look, label: str) -> Figure:
    """Each batch's median and 90% band over runs, per state, in one colour per batch."""
    _, dates, states = cubes[0]
    fig, axes = look.facets(len(states))
    for k, (values, _, _) in enumerate(cubes):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        median = np.median(values, axis=0)
        low, high = np.quantile(values, [0.05, 0.95], axis=0)
        for s, ax in enumerate(axes):
            ax.fill_between(dates, low[:, s], high[:, s], color=colour, alpha=0.15, lw=0)
            ax.plot(dates, median[:, s], color=colour, label=labels[k])
    for ax, state in zip(axes, states, strict=True):
        ax.set_title(batches[0].state_names.get(state, state))
        _mark_time(ax, batches[0], (), look)
        _style_dates(ax)
    fig.supylabel(label, fontsize=look.font)
    notes = {b.band_note for b in batches}
    note = notes.pop() if len(notes) == 1 else None
    _legend_below(
        fig,
        axes[0].get_legend_handles_labels()[0] + _time_handles(batches[0]),
        look,
        title=f"median and {_runs_label('90%', note)}",
        ncol=1 if look.size == "single" else 2,
    )
    look.suptitle(fig, f"{label}: {len(batches)} batches")
    return fig


def _difference_figure(batches, dates, states, differences, labels, look: Look, label) -> Figure:
    """Each batch's difference of medians from the first, with its 90% bootstrap band."""
    first = np.inf
    for difference, *_ in differences:
        differs = np.flatnonzero(np.any(difference != 0, axis=1))
        first = min(first, differs[0] if differs.size else np.inf)
    # show the years from shortly before the batches first differ
    start = dates[int(first)] - pd.DateOffset(years=3) if np.isfinite(first) else dates[0]
    shown = np.asarray(dates >= start)
    fig, axes = look.facets(len(states))
    for k, (difference, low, high, _) in enumerate(differences):
        colour = OKABE_ITO[(k + 1) % len(OKABE_ITO)]
        for s, ax in enumerate(axes):
            ax.fill_between(
                dates[shown], low[shown, s], high[shown, s], color=colour, alpha=0.3, lw=0
            )
            ax.plot(dates[shown], difference[shown, s], color=colour, label=labels[k + 1])
    for ax, state in zip(axes, states, strict=True):
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_title(batches[0].state_names.get(state, state))
        _mark_time(ax, batches[0], (), look)
        _style_dates(ax)
    fig.supylabel(f"Difference of medians ({label.lower()}, B - A)", fontsize=look.font)
    varies = _compare_note(batches)
    handles = axes[0].get_legend_handles_labels()[0] + [
        mpl.patches.Patch(
            color="0.6",
            alpha=0.5,
            label="90% bootstrap band" + (f" (runs vary in {varies})" if varies else ""),
        )
    ]
    _legend_below(fig, handles, look, title=f"B minus A = {labels[0]}", ncol=1)
    look.suptitle(fig, f"{label}: each batch minus {labels[0]}")
    return fig


def _compare_note(batches: Sequence[Batch]) -> str | None:
    """What the batches' runs vary in, for the comparison's band (None if all are sweeps)."""
    notes = [b.band_note for b in batches]
    if all(n is None for n in notes):
        return None
    if len(set(notes)) == 1:
        return notes[0]
    return "; ".join(
        f"{b.name}: {n or 'sweep points and seeds'}" for b, n in zip(batches, notes, strict=True)
    )


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


BANDED = ("trajectories", "regional", "distribution")
"""The figure kinds with bands over runs; the others show medians."""


def figure_caption(batch: Batch, stem: str) -> str:
    """What a figure of the batch shows and what its band is, from its file name's kind."""
    kind = stem.split("-")[0]
    what = FIGURE_KINDS.get(kind, stem)
    runs = batch.manifest["batch"]["total_runs"]
    if batch.swept:
        varies = f"pooled over {batch.manifest['batch']['points']} sweep points and their seeds"
    else:
        varies = batch.band_note or "seeds only"
    if kind in BANDED:
        band = f"Bands over the {runs} runs ({varies})."
    elif kind == "sweep":
        band = f"Each dot is a run; no band ({runs} runs)."
    else:
        band = f"Medians over the {runs} runs ({varies}); no band."
    return f"{what[0].upper()}{what[1:]}. {band} File: {stem}."


def _figure_order(batch: Batch, path: Path) -> tuple[int, str]:
    """The report's order: the headline (dependence over time) first, then by kind."""
    kinds = list(FIGURE_KINDS)
    kind = path.stem.split("-")[0]
    rank = kinds.index(kind) if kind in kinds else len(kinds)
    return (0 if path.stem == "trajectories-dependence" else 1 + rank, path.stem)


def _image(batch: Batch, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    caption = html.escape(figure_caption(batch, path.stem))
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"/>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


REPORT_CELL = 300
"""Longest text a report shows in a table cell or a line of settings; the manifest keeps the
whole value (pandas pads every row to the longest one, so a 4 MB description took GBs)."""


def _shortened(text: str) -> str:
    text = str(text)
    if len(text) <= REPORT_CELL:
        return text
    return f"{text[: REPORT_CELL - 40]}... ({len(text):,} characters; see manifest.json)"


def _per_point(batch: Batch, final: pd.DataFrame) -> pd.DataFrame:
    """A sweep's final-month dependence per point: its values and each state's median."""
    names = batch.state_names | batch.power_names
    medians = final.pivot_table(
        index="point", columns="state", values="dependence", aggfunc="median", observed=True
    ).rename(columns=lambda s: batch.state_names.get(s, s))
    values = final.drop_duplicates("point").set_index("point")[batch.swept]
    values = values.rename(columns=lambda k: parameter_label(k, names))
    return values.join(medians).reset_index()


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
    figures = sorted((batch.path / "figures").glob("*.png"), key=lambda f: _figure_order(batch, f))
    pooled = (
        f" (pooled over the {m['batch']['points']} sweep points; per point below)"
        if batch.swept
        else ""
    )
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
    if figures:  # the headline figure first, before the tables
        parts += [_image(batch, figures[0])]
    parts += [
        f"<h2>Final month ({str(final['date'].max())[:7]})</h2>",
        f"<h3>Dependence: quantiles over runs{pooled}</h3>",
        _table(quant),
        f"<h3>Medians over runs{pooled}</h3>",
        _table(summary),
    ]
    if batch.swept:
        parts += [
            "<h3>Dependence per sweep point: median over its replicates</h3>",
            _table(_per_point(batch, final)),
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
    parts += [_image(batch, f) for f in figures[1:]]
    if not figures:
        parts.append(
            "<p>No figures: a metrics store keeps each run's final month only. The final "
            "month's distribution: <code>multivector plot DIR --kind distribution</code>.</p>"
            if batch.store == "metrics"
            else "<p>No figures yet: <code>multivector plot DIR</code> draws them.</p>"
        )
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
