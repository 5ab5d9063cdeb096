"""Figures of a batch: dependence trajectories, alignment shares, regional cooperation.

Median over runs with a 5-95% band; dates on the x axis; Okabe-Ito colour-blind-safe palette;
written as PNG (200 dpi) and SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from model.scenario import Scenario

__all__ = ["OKABE_ITO", "write_figures"]

# Figures are built with the object-oriented API (no pyplot), so no GUI backend is ever needed.

# Okabe & Ito (2008), "Color Universal Design": distinguishable under common colour blindness
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}


def _bands(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    grouped = frame.groupby(keys, observed=True)[column]
    return pd.DataFrame(
        {"median": grouped.median(), "low": grouped.quantile(0.05), "high": grouped.quantile(0.95)}
    ).reset_index()


def _facets(n: int):
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for k, ax in enumerate(axes.flat[:n]):
        if k + cols >= n:  # no visible panel below: show its dates
            ax.xaxis.set_tick_params(labelbottom=True)
    return fig, list(axes.flat[:n])


def _date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.YearLocator(5))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(alpha=0.25)


def _save(fig, folder: Path, name: str) -> list[Path]:
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=200)
    fig.savefig(paths[1])
    return paths


def dependence_figure(metrics: pd.DataFrame, scenario: Scenario, folder: Path) -> list[Path]:
    """Largest partner share of each state's overall ties: median and 5-95% band over runs."""
    names = {s.id: s.name for s in scenario.states}
    bands = _bands(metrics, ["state", "date"], "dependence")
    final = metrics[metrics["date"] == metrics["date"].max()]
    with mpl.rc_context(STYLE):
        fig, axes = _facets(len(scenario.states))
        for ax, state in zip(axes, scenario.state_ids, strict=True):
            b = bands[bands["state"] == state]
            ax.fill_between(
                b["date"],
                b["low"],
                b["high"],
                color=OKABE_ITO[0],
                alpha=0.25,
                linewidth=0,
                label="5-95% of runs",
            )
            ax.plot(b["date"], b["median"], color=OKABE_ITO[0], label="median")
            top = final.loc[final["state"] == state, "largest_partner"].mode()
            partner = dict(
                zip(scenario.power_ids, (p.name for p in scenario.powers), strict=True)
            ).get(str(top.iloc[0]) if len(top) else "", "")
            ax.set_title(
                f"{names[state]} (largest in {scenario.dates[-1].astype(str)[:4]}: {partner})",
                fontsize=10,
            )
            ax.set_ylim(0, 1)
            _date_axis(ax)
        for ax in axes[:: min(len(axes), 3)]:
            ax.set_ylabel("Largest partner share\n(weighted over dimensions)")
        axes[0].legend(loc="upper right", frameon=False)
        n_runs = metrics["run"].nunique()
        n_points = metrics["point"].nunique() if "point" in metrics else 1
        pooled = f", pooled over {n_points} sweep points" if n_points > 1 else ""
        fig.suptitle(f"Dependence trajectories — {scenario.title} ({n_runs} runs{pooled})")
        return _save(fig, folder, "dependence")


def alignment_figure(shares: pd.DataFrame, scenario: Scenario, folder: Path) -> list[Path]:
    """Each state's alignment vector (dimension-weighted partner shares): medians and bands."""
    names = {s.id: s.name for s in scenario.states}
    overall = shares[shares["dimension"] == "overall"]
    bands = _bands(overall, ["state", "power", "date"], "share")
    colours = {p: OKABE_ITO[k % len(OKABE_ITO)] for k, p in enumerate(scenario.power_ids)}
    with mpl.rc_context(STYLE):
        fig, axes = _facets(len(scenario.states))
        for ax, state in zip(axes, scenario.state_ids, strict=True):
            for power in scenario.powers:
                b = bands[(bands["state"] == state) & (bands["power"] == power.id)]
                ax.fill_between(
                    b["date"], b["low"], b["high"], color=colours[power.id], alpha=0.15, linewidth=0
                )
                ax.plot(b["date"], b["median"], color=colours[power.id], label=power.name)
            ax.set_title(names[state])
            ax.set_ylim(0, 1)
            _date_axis(ax)
        for ax in axes[:: min(len(axes), 3)]:
            ax.set_ylabel("Share of ties\n(weighted over dimensions)")
        fig.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncol=len(scenario.powers),
            frameon=False,
        )
        fig.suptitle(f"Alignment shares — median and 5-95% band over runs — {scenario.title}")
        return _save(fig, folder, "alignment")


def regional_figure(metrics: pd.DataFrame, scenario: Scenario, folder: Path) -> list[Path]:
    """Regional cooperation index: median and 5-95% band over runs."""
    first = metrics[metrics["state"] == scenario.state_ids[0]]
    b = _bands(first, ["date"], "regional_cooperation")
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(7, 3.2), layout="constrained")
        ax = fig.subplots()
        ax.fill_between(
            b["date"],
            b["low"],
            b["high"],
            color=OKABE_ITO[2],
            alpha=0.25,
            linewidth=0,
            label="5-95% of runs",
        )
        ax.plot(b["date"], b["median"], color=OKABE_ITO[2], label="median")
        ax.set_ylim(0, 1)
        ax.set_ylabel("Regional cooperation index\n(mean tie among the states, 0-1)")
        _date_axis(ax)
        ax.legend(frameon=False, loc="upper left")
        ax.set_title(f"Regional cooperation — {scenario.title}")
        return _save(fig, folder, "regional")


def write_figures(tables: dict[str, pd.DataFrame], scenario: Scenario, folder: Path) -> list[Path]:
    """Write every batch figure into ``folder`` (created); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        *dependence_figure(tables["metrics"], scenario, folder),
        *alignment_figure(tables["shares"], scenario, folder),
        *regional_figure(tables["metrics"], scenario, folder),
    ]
