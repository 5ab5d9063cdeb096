"""The report of an ABC-SMC calibration: credible intervals, marginals, pairs, predictive checks.

Written by ``multivector calibrate`` when ``[calibration] method = "abc-smc"``
(:func:`experiments.calibration.calibrate_posterior`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.figures import OKABE_ITO, STYLE

__all__ = [
    "interval_table",
    "marginals_figure",
    "pairs_figure",
    "predictive_observed_table",
    "short_key",
]


def short_key(key: str) -> str:
    """A parameter's key path without its table prefix, for axis labels
    (``states.KAZ.balancing_propensity`` -> ``KAZ balancing propensity``)."""
    parts = key.split(".")
    if parts[0] in ("states", "powers"):
        parts = parts[1:]
    return " ".join(parts).replace("_", " ")


def interval_table(fit, prior_values: dict[str, float]) -> pd.DataFrame:
    """Per parameter: the prior range, the hand-set value before the fit, the posterior's
    median and 90% credible interval, and the interval's width as a share of the prior range."""
    q = fit.posterior.quantiles([0.05, 0.5, 0.95])
    rows = []
    for p in fit.spec.free:
        lo, med, hi = (float(q[p.key].iloc[i]) for i in range(3))
        rows.append(
            {
                "parameter": p.key,
                "prior_low": p.low,
                "prior_high": p.high,
                "before": prior_values.get(p.key, np.nan),
                "median": med,
                "ci05": lo,
                "ci95": hi,
                "ci_share_of_prior": (hi - lo) / (p.high - p.low),
            }
        )
    return pd.DataFrame(rows)


def predictive_observed_table(result) -> pd.DataFrame:
    """Posterior-predictive error of every observed share series (state, indicator, partner),
    per window: the mean absolute error of the model's median and of the reference forecasts."""
    from experiments.observed import FORECASTS, comparable

    common = comparable(result.shares)
    grouped = common.groupby(["state", "dimension", "indicator", "partner", "window"])
    table = grouped[[f"error_{n}" for n in FORECASTS]].mean()
    table.columns = [f"mae_{n}" for n in FORECASTS]
    table["observations"] = grouped.size()
    return table.reset_index()


def marginals_figure(fit) -> Figure:
    """One histogram per parameter over its whole prior range (the prior is flat there), with
    the median and the 90% credible interval."""
    keys = fit.posterior.keys
    columns = 4
    rows = -(-len(keys) // columns)
    with _style():
        fig = Figure(figsize=(7.0, 1.55 * rows + 0.4), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False)
        q = fit.posterior.quantiles([0.05, 0.5, 0.95])
        for ax, p in zip(axes.flat, fit.spec.free, strict=False):
            values = fit.posterior.particles[:, keys.index(p.key)]
            ax.hist(
                values,
                bins=np.linspace(p.low, p.high, 21),
                weights=fit.posterior.weights,
                color=OKABE_ITO[0],
                alpha=0.75,
            )
            ax.axvspan(q[p.key].iloc[0], q[p.key].iloc[2], color=OKABE_ITO[4], alpha=0.2, lw=0)
            ax.axvline(q[p.key].iloc[1], color=OKABE_ITO[1], lw=1.2)
            ax.set_xlim(p.low, p.high)
            ax.set_yticks([])
            ax.set_xlabel(short_key(p.key), fontsize=7)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(keys) :]:
            ax.set_visible(False)
        fig.suptitle(
            "Posterior marginals over each prior range (flat prior); "
            "line: median, shaded: 90% credible interval",
            fontsize=8,
        )
    return fig


def pairs_figure(fit) -> Figure:
    """Pairwise scatter of the particles (each axis over its prior range): where parameters
    trade off against each other, the data cannot tell them apart."""
    free = fit.spec.free
    k = len(free)
    values = fit.posterior.particles
    with _style():
        fig = Figure(figsize=(7.0, 7.0))
        fig.subplots_adjust(left=0.16, bottom=0.16, right=0.99, top=0.99, wspace=0.08, hspace=0.08)
        axes = fig.subplots(k, k, squeeze=False)
        for i in range(k):
            for j in range(k):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if i == j:
                    ax.hist(
                        values[:, i],
                        bins=np.linspace(free[i].low, free[i].high, 16),
                        color=OKABE_ITO[0],
                    )
                    ax.set_xlim(free[i].low, free[i].high)
                elif i > j:
                    ax.scatter(values[:, j], values[:, i], s=1.0, color=OKABE_ITO[0], alpha=0.4)
                    ax.set_xlim(free[j].low, free[j].high)
                    ax.set_ylim(free[i].low, free[i].high)
                else:
                    ax.set_visible(False)
                if i == k - 1:
                    ax.set_xlabel(short_key(free[j].key), fontsize=5, rotation=45, ha="right")
                if j == 0:
                    ax.set_ylabel(short_key(free[i].key), fontsize=5, rotation=0, ha="right")
    return fig


def _style():
    import matplotlib

    return matplotlib.rc_context(STYLE)
