"""The report of a scenario against observed data: Markdown tables and one figure per dimension.

Reads a :class:`experiments.observed.Score`; the observation model itself is in
:mod:`experiments.observed`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.observed import (
    VALIDATION_START,
    Score,
    rank_summary,
    summarise,
    summary_line,
)
from experiments.tables import markdown
from model.scenario import Scenario

__all__ = ["DIMENSION_INDICATORS", "dimension_figure", "report_markdown"]


def report_markdown(result: Score, scenario: Scenario, observed: pd.DataFrame, seed: int) -> str:
    """``observed.md``: the data, both windows' scores against the three references, misses."""
    shares = result.shares
    every = shares.groupby("window")["error_model"].agg(["mean", "size"])
    every.columns = ["mae_model_all", "observations_all"]
    by_window = summarise(result).join(every)
    files = observed.groupby("file").size().rename("rows").to_frame()
    misses = (
        shares[shares["window"] == "validation"]
        .sort_values("error_model", ascending=False)
        .head(15)[["state", "indicator", "partner", "year", "observed", "model", "error_model"]]
        .set_index("state")
    )
    context = result.context.groupby(["indicator", "why"]).size().rename("rows").to_frame()
    lines = [
        f"# {scenario.title} against observed data",
        "",
        f"Scenario `{scenario.file}` (hash `{scenario.hash}`), {result.runs} runs with batch "
        f"seed {seed}; dataset `data/observed/` ({len(observed)} rows; sources and licences in "
        "its README). Fit window: observations ending by 2012; validation window: starting "
        "2013 or later. Shares are renormalised over the partners each source reports, the "
        "model's over the same partners (the model's median over runs; 90% band in the "
        "tables' `model_p05`/`model_p95`). Reference forecasts: persistence (the last "
        "fit-window observation carried forward; in the fit window the previous one), a "
        "linear trend fitted in the fit window, equal shares.",
        "",
        markdown(files, "{}"),
        "",
        "## Mean absolute error of shares",
        "",
        "Over the observations where all four forecasts are defined (the series has a "
        "fit-window observation, and two for the trend); `mae_model_all` is the model over every "
        "share observation of the window.",
        "",
        markdown(by_window),
        "",
        "### By dimension",
        "",
        markdown(summarise(result, ["window", "dimension"])),
        "",
        "### By state",
        "",
        markdown(summarise(result, ["window", "state"])),
        "",
        "### By indicator",
        "",
        markdown(summarise(result, ["window", "indicator"])),
        "",
        "## Rank agreement",
        "",
        "Spearman's rho between the model's and the observed ranking of the partners (of the "
        "states, for remittances), averaged over the state-years compared; persistence and "
        "trend as for shares. Equal shares carry no ranking.",
        "",
        markdown(rank_summary(result, ["window", "indicator"])),
        "",
        "## Largest validation-window misses",
        "",
        markdown(misses),
        "",
        "## Not scored",
        "",
        markdown(context, "{}"),
        "",
        summary_line(result),
        "",
    ]
    return "\n".join(lines)


DIMENSION_INDICATORS = {
    "economic": ("trade_share", "gas_export_share"),
    "security": ("arms_import_share",),
    "political": ("unga_agreement",),
    "societal": ("emigrant_stock_share", "remittance_origin_share"),
}
MARKERS = ("o", "s", "^")


def dimension_figure(result: Score, scenario: Scenario, dimension: str, observed: pd.DataFrame):
    """A grid of states x powers: the model's median share on ``dimension`` with its 90%
    band over runs (annual means), and the observed points of the dimension's indicators;
    fit-window points filled, validation-window points open, the validation years shaded.

    Observed shares are renormalised over the reported powers (equal to the six-power share
    when all six are reported). UN General Assembly agreement (Scott's pi) is on a second axis.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from experiments.figures import OKABE_ITO, STYLE

    d = scenario.dimension_ids.index(dimension)
    years = np.arange(scenario.start // 12 + 1, scenario.end // 12 + 1)
    months = np.arange(scenario.start, scenario.end + 1) // 12
    yearly = {
        key: np.stack([values[months == y].mean(axis=0) for y in years])
        for key, values in result.trajectories.items()
    }  # (years, S, P, D)
    indicators = DIMENSION_INDICATORS[dimension]
    points = pd.concat(
        [
            result.shares[result.shares["indicator"] == i]
            for i in indicators
            if i != "unga_agreement"
        ]
        or [pd.DataFrame(columns=["state", "partner", "year", "observed", "window"])]
    )
    agreement = (
        observed[observed["indicator"] == "unga_agreement"]
        if "unga_agreement" in (indicators)
        else None
    )
    n_states, n_powers = len(scenario.state_ids), len(scenario.power_ids)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(2.1 * n_powers, 1.7 * n_states + 1.0), layout="constrained")
        axes = fig.subplots(n_states, n_powers, sharex=True, sharey=True, squeeze=False)
        for i, state in enumerate(scenario.state_ids):
            for j, power in enumerate(scenario.power_ids):
                ax = axes[i, j]
                colour = OKABE_ITO[j % len(OKABE_ITO)]
                ax.axvspan(VALIDATION_START - 0.5, years[-1] + 0.5, color="0.92", lw=0)
                ax.fill_between(
                    years,
                    yearly["p05"][:, i, j, d],
                    yearly["p95"][:, i, j, d],
                    color=colour,
                    alpha=0.25,
                    lw=0,
                )
                ax.plot(years, yearly["shares"][:, i, j, d], color=colour, lw=1.2)
                mine = points[(points["state"] == state) & (points["partner"] == power)]
                for k, indicator in enumerate(i for i in indicators if i != "unga_agreement"):
                    rows = mine[mine["indicator"] == indicator] if len(mine) else mine
                    mid = (rows["year_start"] + rows["year"]) / 2 if len(rows) else rows
                    for window, fill in (("fit", colour), ("validation", "white")):
                        chosen = rows["window"] == window if len(rows) else []
                        if len(rows) and chosen.any():
                            ax.scatter(
                                mid[chosen],
                                rows["observed"][chosen],
                                s=14,
                                marker=MARKERS[k],
                                facecolors=fill,
                                edgecolors="0.15",
                                linewidths=0.6,
                                zorder=3,
                            )
                if agreement is not None:
                    twin = ax.twinx()
                    rows = agreement[
                        (agreement["state"] == state) & (agreement["partner"] == power)
                    ]
                    for window, fill in (("fit", "0.15"), ("validation", "white")):
                        chosen = rows["window"] == window
                        twin.scatter(
                            rows["year"][chosen],
                            rows["value"][chosen],
                            s=10,
                            marker="D",
                            facecolors=fill,
                            edgecolors="0.15",
                            linewidths=0.6,
                            zorder=3,
                        )
                    twin.set_ylim(-1, 1)
                    twin.tick_params(labelsize=7)
                    if j < n_powers - 1:
                        twin.set_yticklabels([])
                ax.set_ylim(0, 1)
                ax.grid(alpha=0.25)
                ax.tick_params(labelsize=7)
                if i == 0:
                    ax.set_title(power, fontsize=9)
                if j == 0:
                    ax.set_ylabel(f"{state}\nshare", fontsize=8)
        handles = [
            Line2D([], [], color="0.3", lw=1.2, label="model: median over runs"),
            Patch(color="0.3", alpha=0.25, label="model: 90% band over runs (seeds only)"),
            Patch(color="0.92", label="validation window (2013-2021)"),
        ]
        for k, indicator in enumerate(i for i in indicators if i != "unga_agreement"):
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker=MARKERS[k],
                    color="0.15",
                    mfc="0.15",
                    label=f"{indicator} (filled: fit window, open: validation)",
                )
            )
        if agreement is not None:
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="D",
                    color="0.15",
                    label="UNGA agreement, Scott's pi (right axis, -1 to 1)",
                )
            )
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
        fig.suptitle(
            f"{scenario.title}: {dimension} partner shares against observed data", fontsize=10
        )
    return fig
