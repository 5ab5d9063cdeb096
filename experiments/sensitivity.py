r"""``multivector sensitivity``: global sensitivity analysis (Sobol' or Morris) with SALib.

Which of a scenario's parameters drive an outcome such as Kazakhstan's final-year dependence?
The design is built by SALib, every design point is run with the same ``R`` replicate seeds
through the batch engine (:func:`experiments.batch.evaluate`, common random numbers), the
outcome is averaged over the seeds, and SALib analyses the averaged outcome:

Sobol' (variance-based; Saltelli 2002, Saltelli et al. 2010)
    a Saltelli design of ``N (k + 2)`` points for ``k`` parameters (``N`` base samples of a
    scrambled Sobol' sequence); for each parameter :math:`\theta_i` the *first-order* index
    :math:`S_i = \operatorname{Var}(E[Y \mid \theta_i]) / \operatorname{Var}(Y)` (the share of
    the outcome's variance explained by :math:`\theta_i` alone) and the *total* index
    :math:`S_{Ti} = E[\operatorname{Var}(Y \mid \theta_{\sim i})] / \operatorname{Var}(Y)`
    (its share including every interaction), with bootstrap confidence intervals.
Morris (elementary effects; Morris 1991, Campolongo et al. 2007)
    ``N`` one-at-a-time trajectories of ``k + 1`` points on a 4-level grid; for each parameter
    the mean :math:`\mu`, the mean absolute value :math:`\mu^*` (overall influence) and the
    standard deviation :math:`\sigma` (non-linearity and interactions) of its elementary
    effects :math:`(Y(\theta + \Delta e_i) - Y(\theta)) / \Delta`, with :math:`\Delta` in units
    of the parameter's range.

Seed noise is reported separately from the parameter effects. With :math:`Y_{jr}` the outcome
at design point ``j`` and replicate seed ``r`` (``n`` points, ``R`` seeds), the law of total
variance splits the variance of single runs into the variance of the seed means
:math:`\bar Y_j` over the design and the mean variance over seeds:

.. math::

    \operatorname{Var}_{j,r}(Y_{jr}) = \operatorname{Var}_j(\bar Y_j)
        + \frac{1}{n} \sum_j \operatorname{Var}_r(Y_{jr}),
    \qquad
    \text{seed-variance share} = \frac{\frac{1}{n} \sum_j \operatorname{Var}_r(Y_{jr})}
        {\operatorname{Var}_{j,r}(Y_{jr})}

(population variances). The indices are also computed from each seed's runs alone; their
standard deviation over the seeds (``*_seed_sd``) shows how much a one-seed analysis would vary.

The command writes ``results/<scenario>/sensitivity-<stamp>-<hash8>/`` with ``indices.parquet``,
``indices.md``, ``outcomes.parquet`` (every run's outcome), ``manifest.json`` and the bar chart
``sensitivity.png`` / ``.svg``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from model.metrics import METRICS
from model.scenario import Scenario, ScenarioError, month_index, month_label

__all__ = [
    "METHODS",
    "Outcome",
    "SensitivityError",
    "analyse",
    "indices",
    "markdown_table",
    "metric_names",
    "model_outcome",
    "noise_sentence",
    "parse_outcome",
    "parse_parameters",
    "problem_of",
    "ranked",
    "report_markdown",
    "sample",
    "sensitivity_figure",
    "text_table",
]

METHODS = ("sobol", "morris")
DEFAULT_SAMPLES = {"sobol": 256, "morris": 20}
DEFAULT_RUNS = 8
MORRIS_LEVELS = 4
NUM_RESAMPLES = 1000  # bootstrap resamples of the confidence intervals
SEED_RESAMPLES = 10  # bootstrap resamples of the one-seed analyses (their intervals are unused)
CONF_LEVEL = 0.95
SOBOL_NAME = "Sobol'"
RUNS_PER_CALL = 2048  # runs per call of the batch engine (bounds the memory of a call)
# calls in flight: one builds its points' scenarios (Python, holding the GIL) while another
# simulates (the compiled kernel releases the GIL)
CALLS_IN_FLIGHT = 2
# the metrics of the batch engine that are not numbers, and those the same for every state
CATEGORICAL_METRICS = tuple(m.name for m in METRICS if m.categorical)
REGIONAL_METRICS = tuple(m.name for m in METRICS if m.regional)
COLUMNS = {
    "sobol": ("S1", "S1_conf", "ST", "ST_conf"),
    "morris": ("mu", "mu_star", "mu_star_conf", "sigma"),
}
SEED_COLUMNS = {"sobol": ("S1", "ST"), "morris": ("mu_star", "sigma")}

Model = Callable[[np.ndarray, np.ndarray], np.ndarray]


class SensitivityError(Exception):
    """An analysis that cannot be done (a constant or non-finite outcome): one line, exit 2."""


# --------------------------------------------------------------------------------------------
# the core: SALib design -> model(X, seeds) -> seed means -> SALib analysis


def sample(problem: dict, *, method: str, samples: int, seed: int) -> np.ndarray:
    """The SALib design of a method: one row per design point, one column per parameter.

    Parameters
    ----------
    problem : SALib's problem: ``num_vars``, ``names`` and ``bounds`` (``[[low, high], ...]``)
    method : ``sobol`` (Saltelli design, ``samples * (k + 2)`` rows, ``samples`` a power of
        two) or ``morris`` (``samples`` trajectories of ``k + 1`` rows on a 4-level grid)
    samples : Sobol' base samples ``N`` or Morris trajectories
    seed : seed of the scrambled Sobol' sequence or of the Morris trajectories

    Returns
    -------
    numpy.ndarray
        ``(n_points, k)`` parameter values within the bounds.
    """
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
    raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")


def analyse(
    problem: dict,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    method: str,
    samples: int,
    seed: int,
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
) -> pd.DataFrame:
    r"""Indices of the seed-averaged outcome, and the seed noise, from a design's outcomes.

    Parameters
    ----------
    problem : SALib's problem (see :func:`sample`)
    X : ``(n, k)`` the design from :func:`sample`
    Y : ``(n, R)`` the outcome at each design point (rows) and replicate seed (columns), the
        same seeds at every point; a 1-D array is one seed
    method, samples, seed : as given to :func:`sample`; ``seed`` also seeds the bootstrap
    num_resamples : bootstrap resamples of the confidence intervals
    conf_level : confidence level of the intervals (half-widths in the ``*_conf`` columns)

    Returns
    -------
    pandas.DataFrame
        One row per parameter (index ``parameter``, in the problem's order). Sobol':
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; Morris: ``mu``, ``mu_star``,
        ``mu_star_conf``, ``sigma``; all of :math:`\bar Y_j = \frac{1}{R}\sum_r Y_{jr}`. Then
        ``<index>_seed_sd`` for ``S1``, ``ST`` (or ``mu_star``, ``sigma``): the standard
        deviation over the ``R`` seeds of the index computed from that seed's runs alone
        (NaN when ``R = 1``). ``attrs`` holds ``method``, ``samples``, ``points`` (``n``),
        ``seeds`` (``R``), ``model_runs`` (``n R``), ``conf_level``, ``num_resamples``,
        ``seed``, ``outcome_mean``, ``outcome_variance`` (:math:`\operatorname{Var}_{j,r}
        Y_{jr}`), ``seed_variance_share`` (the module docstring's formula) and
        ``mean_noise_share``, the estimated share of :math:`\operatorname{Var}_j \bar Y_j` that
        is still seed noise, :math:`\frac{1}{n}\sum_j \operatorname{Var}_r(Y_{jr}) /
        ((R - 1) \operatorname{Var}_j \bar Y_j)` (NaN when ``R = 1``).

    Raises
    ------
    SensitivityError
        When an outcome is not finite, or the seed-averaged outcome is the same at every point.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y has shape {Y.shape}; expected ({X.shape[0]}, R)")
    bad = ~np.isfinite(Y)
    if bad.any():
        raise SensitivityError(
            f"the outcome is not a finite number in {int(bad.sum())} of {Y.size} runs "
            "(NaN or infinite); choose another outcome or narrower parameter ranges"
        )
    n_points, n_seeds = Y.shape
    means = Y.mean(axis=1)
    between = float(means.var())
    within = float(Y.var(axis=1).mean())
    if not between > 1e-12 * max(1.0, float(np.abs(means).max())) ** 2:
        raise SensitivityError(
            f"the outcome is the same at every design point (mean {means.mean():.6g}); "
            "the parameters do not move it, so there is no variance to attribute"
        )
    table = _salib_indices(problem, X, means, method, seed, num_resamples, conf_level)
    for name in SEED_COLUMNS[method]:
        table[f"{name}_seed_sd"] = np.nan
    if n_seeds > 1:
        per_seed = [
            _salib_indices(problem, X, Y[:, r], method, seed, SEED_RESAMPLES, conf_level)
            for r in range(n_seeds)
            if Y[:, r].var() > 0
        ]
        if len(per_seed) > 1:
            for name in SEED_COLUMNS[method]:
                stacked = np.stack([t[name].to_numpy() for t in per_seed])
                table[f"{name}_seed_sd"] = stacked.std(axis=0, ddof=1)
    total = between + within
    table.attrs.update(
        method=method,
        samples=int(samples),
        points=int(n_points),
        seeds=int(n_seeds),
        model_runs=int(n_points * n_seeds),
        conf_level=float(conf_level),
        num_resamples=int(num_resamples),
        seed=int(seed),
        outcome_mean=float(means.mean()),
        outcome_variance=float(total),
        seed_variance_share=float(within / total),
        mean_noise_share=float(within / ((n_seeds - 1) * between)) if n_seeds > 1 else math.nan,
    )
    return table


def _salib_indices(problem, X, y, method, seed, num_resamples, conf_level) -> pd.DataFrame:
    if method == "sobol":
        from SALib.analyze import sobol

        result = sobol.analyze(
            problem,
            y,
            calc_second_order=False,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=seed,
        )
    else:
        from SALib.analyze import morris

        result = morris.analyze(
            problem,
            X,
            y,
            num_resamples=num_resamples,
            conf_level=conf_level,
            num_levels=MORRIS_LEVELS,
            seed=seed,
        )
    table = pd.DataFrame(
        {name: np.asarray(result[name], dtype=float) for name in COLUMNS[method]},
        index=pd.Index(list(problem["names"]), name="parameter"),
    )
    return table


def indices(
    model: Model,
    problem: dict,
    *,
    method: str = "sobol",
    samples: int | None = None,
    seeds: Sequence[int] = (0,),
    seed: int = 0,
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
) -> pd.DataFrame:
    """Sobol' or Morris indices of a stochastic model, averaged over replicate seeds.

    Parameters
    ----------
    model : ``model(X, seeds) -> Y``: ``X`` is ``(n, k)`` parameter values, ``seeds`` is
        ``(R,)``, ``Y`` is ``(n, R)``, the outcome of each point with each seed (the same seeds
        at every point: common random numbers)
    problem : SALib's problem: ``{"num_vars": k, "names": [...], "bounds": [[lo, hi], ...]}``
    method : ``sobol`` or ``morris``
    samples : Sobol' base samples ``N`` (a power of two; default 256) or Morris trajectories
        (default 20); the model runs ``N (k + 2) R`` or ``N (k + 1) R`` times
    seeds : the replicate seeds
    seed : seed of the design and of the bootstrap
    num_resamples, conf_level : of the bootstrap confidence intervals

    Returns
    -------
    pandas.DataFrame
        See :func:`analyse`.
    """
    samples = DEFAULT_SAMPLES[method] if samples is None else samples
    X = sample(problem, method=method, samples=samples, seed=seed)
    seeds = np.asarray(seeds)
    Y = np.asarray(model(X, seeds), dtype=float).reshape(X.shape[0], len(seeds))
    return analyse(
        problem,
        X,
        Y,
        method=method,
        samples=samples,
        seed=seed,
        num_resamples=num_resamples,
        conf_level=conf_level,
    )


# --------------------------------------------------------------------------------------------
# the model adapter: outcomes, parameters and the batch engine


@dataclass(frozen=True)
class Outcome:
    """A scalar outcome of a run: a metric of one state in one month."""

    metric: str
    state: str
    date: str  # "YYYY-MM"
    regional: bool = False

    @property
    def text(self) -> str:
        """As given to ``--outcome``: ``METRIC:STATE:YYYY-MM``."""
        return f"{self.metric}:{self.state}:{self.date}"

    def label(self, scenario: Scenario) -> str:
        """For titles: ``dependence of Kazakhstan, 2021-12``."""
        if self.regional:
            return f"{self.metric} (Central Asia), {self.date}"
        names = {s.id: s.name for s in scenario.states}
        return f"{self.metric} of {names.get(self.state, self.state)}, {self.date}"


def metric_names(scenario: Scenario) -> tuple[str, ...]:
    """The numeric metrics of :func:`experiments.batch.evaluate` for a scenario.

    From the metric registry (:data:`model.metrics.METRICS`); the pole and relative-alignment
    metrics are named after the scenario's ``[alignment]``.
    """
    from experiments.tables import metric_columns

    return tuple(name for name, _, m, _ in metric_columns(scenario) if not m.categorical)


def parse_outcome(scenario: Scenario, text: str) -> Outcome:
    """``METRIC:STATE[:YYYY-MM]`` (default: the final month) as an :class:`Outcome`.

    ``regional_cooperation`` is the same for every state, so its state may be left out
    (``regional_cooperation``, ``regional_cooperation:2015-12``). A bad metric, state or month
    raises :class:`~model.scenario.ScenarioError` naming what is allowed.
    """
    where = "--outcome"
    parts = [p.strip() for p in str(text).split(":")]
    metrics = metric_names(scenario)
    metric = parts[0]
    if metric in CATEGORICAL_METRICS:
        raise ScenarioError(where, "metric", metric, f"a numeric metric: {', '.join(metrics)}")
    if metric not in metrics:
        raise ScenarioError(where, "metric", metric, f"one of {', '.join(metrics)}")
    regional = metric in REGIONAL_METRICS
    if regional and len(parts) == 2 and parts[1] not in scenario.state_ids:
        parts = [metric, "", parts[1]]  # regional_cooperation:YYYY-MM
    if len(parts) > 3:
        raise ScenarioError(where, "outcome", text, "METRIC:STATE[:YYYY-MM]")
    state = parts[1] if len(parts) > 1 else ""
    if not state and regional:
        state = scenario.state_ids[0]
    if state not in scenario.state_ids:
        raise ScenarioError(
            where,
            "state",
            state,
            f"one of {', '.join(scenario.state_ids)} (METRIC:STATE[:YYYY-MM])",
        )
    first, last = (str(d) for d in (scenario.dates[0], scenario.dates[-1]))
    date = parts[2] if len(parts) > 2 else last
    try:
        month = month_index(date)
    except ValueError:
        month = None
    if month is None or not month_index(first) <= month <= month_index(last):
        raise ScenarioError(where, "date", date, f'a month "YYYY-MM" from {first} to {last}')
    return Outcome(metric, state, month_label(month), regional)


def parse_parameters(scenario: Scenario, texts: Sequence[str]):
    """``KEY=LO:HI`` ranges as validated :class:`~experiments.design.SweepParameter`.

    Each key path must exist and accept its low, middle and high values (the scenario's own
    validation decides, via :func:`experiments.design.check_value`); each key once.
    """
    from experiments.design import SweepParameter, check_value, parse_sweep_option

    where = "--params"
    parameters: list[SweepParameter] = []
    for text in texts:
        try:
            parsed = parse_sweep_option(text)
        except ScenarioError as error:
            raise ScenarioError(
                where, error.key, error.value, "KEY=LO:HI with two numbers"
            ) from None
        if not parsed.is_range:
            raise ScenarioError(where, parsed.key, text.partition("=")[2], "a range KEY=LO:HI")
        p = SweepParameter(parsed.key, None, parsed.low, parsed.high, file=where)
        if any(q.key == p.key for q in parameters):
            raise ScenarioError(where, p.key, text, "each key path once")
        if not (math.isfinite(p.low) and math.isfinite(p.high) and p.low < p.high):
            raise ScenarioError(where, p.key, [p.low, p.high], "a range LO:HI with LO < HI")
        for value in (p.low, (p.low + p.high) / 2, p.high):
            check_value(scenario, p, float(value), p.key)
        parameters.append(p)
    if not parameters:
        raise ScenarioError(where, "params", "(none)", "at least one KEY=LO:HI")
    return parameters


def problem_of(parameters) -> dict:
    """SALib's problem for :class:`~experiments.design.SweepParameter` ranges."""
    return {
        "num_vars": len(parameters),
        "names": [p.key for p in parameters],
        "bounds": [[float(p.low), float(p.high)] for p in parameters],
    }


def model_outcome(
    scenario: Scenario,
    parameters: Sequence,
    outcome: Outcome | str,
    *,
    threads: int = 1,
    engine: str = "ensemble",
    progress: bool = False,
) -> Model:
    """The scenario as ``model(X, seeds) -> Y`` for :func:`indices`, through the batch engine.

    Parameters
    ----------
    scenario : the scenario the parameters modify
    parameters : key paths (``str``) or :class:`~experiments.design.SweepParameter`, one per
        column of ``X``
    outcome : an :class:`Outcome` or its text ``METRIC:STATE[:YYYY-MM]``
    threads : threads of the ensemble engine
    engine : ``ensemble`` or ``mesa`` (identical results)
    progress : show a progress bar on stderr

    Returns
    -------
    callable
        ``model(X, seeds)``: ``(n, k)`` values and ``(R,)`` seeds to the ``(n, R)`` outcome;
        run ``r`` of point ``j`` is the scenario with ``X[j]`` and seed ``seeds[r]``, as in
        :func:`experiments.batch.evaluate`, called in slices of about ``RUNS_PER_CALL`` runs.
    """
    from experiments.batch import evaluate

    keys = [p if isinstance(p, str) else p.key for p in parameters]
    if isinstance(outcome, str):
        outcome = parse_outcome(scenario, outcome)

    def outcome_of(rows: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        table = evaluate(
            scenario,
            pd.DataFrame(rows, columns=keys),
            seeds,
            dates=[outcome.date],
            engine=engine,
            threads=threads,
        )
        if outcome.metric not in table.columns:
            raise ScenarioError("--outcome", "metric", outcome.metric, "a metric of the engine")
        mine = table[table["state"] == outcome.state].sort_values("run", kind="stable")
        return mine[outcome.metric].to_numpy(dtype=float).reshape(len(rows), len(seeds))

    def model(X: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        X = np.asarray(X, dtype=float).reshape(-1, len(keys))
        seeds = np.asarray(seeds)
        step = max(1, RUNS_PER_CALL // len(seeds))
        slices = [X[first : first + step] for first in range(0, X.shape[0], step)]
        bar = tqdm(
            total=X.shape[0] * len(seeds),
            unit="run",
            disable=not progress,
            file=sys.stderr,
            desc=scenario.name,
            dynamic_ncols=True,
        )
        with bar, ThreadPoolExecutor(max_workers=min(CALLS_IN_FLIGHT, len(slices))) as pool:
            parts = []
            for part in pool.map(lambda rows: outcome_of(rows, seeds), slices):
                parts.append(part)
                bar.update(part.size)
        return np.concatenate(parts, axis=0)

    return model


# --------------------------------------------------------------------------------------------
# presenting: text, Markdown, figure


def _fmt(value: float) -> str:
    """Three decimals; below 0.01 (but not 0) two significant digits, so that no index shows as
    0.000 when it is not."""
    if not np.isfinite(value):
        return "-"
    return f"{value:.2g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"


def _fmt_ci(value: float, half: float) -> str:
    return f"{_fmt(value)} [{_fmt(value - half)}, {_fmt(value + half)}]"


def ranked(table: pd.DataFrame) -> pd.DataFrame:
    """Parameters from most to least influential: by ``ST`` (Sobol') or ``mu_star`` (Morris)."""
    key = "ST" if table.attrs.get("method", "sobol") == "sobol" else "mu_star"
    return table.sort_values(key, ascending=False, kind="stable")


def markdown_table(table: pd.DataFrame) -> str:
    """The indices as a Markdown table, most influential first."""
    ci = f"{100 * table.attrs.get('conf_level', CONF_LEVEL):.0f}% CI"
    if table.attrs.get("method", "sobol") == "sobol":
        lines = [
            f"| parameter | first order S1 [{ci}] | total ST [{ci}] | S1 seed sd | ST seed sd |",
            "|---|---|---|---|---|",
        ]
        for name, row in ranked(table).iterrows():
            lines.append(
                f"| `{name}` | {_fmt_ci(row.S1, row.S1_conf)} | {_fmt_ci(row.ST, row.ST_conf)} | "
                f"{_fmt(row.S1_seed_sd)} | {_fmt(row.ST_seed_sd)} |"
            )
    else:
        lines = [
            f"| parameter | mu* [{ci}] | mu | sigma | mu* seed sd | sigma seed sd |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in ranked(table).iterrows():
            lines.append(
                f"| `{name}` | {_fmt_ci(row.mu_star, row.mu_star_conf)} | {_fmt(row.mu)} | "
                f"{_fmt(row.sigma)} | {_fmt(row.mu_star_seed_sd)} | {_fmt(row.sigma_seed_sd)} |"
            )
    return "\n".join(lines)


def text_table(table: pd.DataFrame) -> str:
    """The indices as aligned plain text, most influential first."""
    width = max(len("parameter"), *(len(n) for n in table.index))
    sobol = table.attrs.get("method", "sobol") == "sobol"
    if sobol:
        head = f"  {'parameter':<{width}}  {'S1 [95% CI]':<28}  {'ST [95% CI]':<28}  seed sd S1/ST"
    else:
        head = f"  {'parameter':<{width}}  {'mu* [95% CI]':<28}  {'sigma':>7}  seed sd mu*/sigma"
    lines = [head]
    for name, row in ranked(table).iterrows():
        if sobol:
            lines.append(
                f"  {name:<{width}}  {_fmt_ci(row.S1, row.S1_conf):<28}  "
                f"{_fmt_ci(row.ST, row.ST_conf):<28}  "
                f"{_fmt(row.S1_seed_sd)}/{_fmt(row.ST_seed_sd)}"
            )
        else:
            lines.append(
                f"  {name:<{width}}  {_fmt_ci(row.mu_star, row.mu_star_conf):<28}  "
                f"{_fmt(row.sigma):>7}  {_fmt(row.mu_star_seed_sd)}/{_fmt(row.sigma_seed_sd)}"
            )
    return "\n".join(lines)


def noise_sentence(attrs: dict) -> str:
    """One sentence on the seed-variance share and what it means for the indices."""
    share = attrs["seed_variance_share"]
    text = (
        f"Seed-variance share {share:.1%}: of the variance of single runs' outcomes "
        f"({attrs['outcome_variance']:.4g}), {share:.1%} is between replicate seeds at the same "
        f"parameters and {1 - share:.1%} is between parameter values."
    )
    if attrs["seeds"] > 1:
        text += (
            f" Averaging over {attrs['seeds']} seeds leaves about "
            f"{attrs['mean_noise_share']:.1%} of the analysed (seed-averaged) outcome's variance "
            "as seed noise."
        )
    return text


def sensitivity_figure(table: pd.DataFrame, *, title: str, subtitle: str = "") -> Figure:
    """Horizontal bars per parameter, most influential at the top.

    Sobol': first-order ``S1`` and total ``ST`` with their confidence intervals; Morris:
    ``mu*`` with its confidence interval, and ``sigma``. Parameter key paths label the bars.
    """
    from experiments.figures import OKABE_ITO, STYLE

    order = ranked(table)
    sobol = table.attrs.get("method", "sobol") == "sobol"
    level = f"{100 * table.attrs.get('conf_level', CONF_LEVEL):.0f}% CI"
    if sobol:
        bars = [
            ("ST", "ST_conf", f"total order $S_T$ ({level})", OKABE_ITO[0]),
            ("S1", "S1_conf", f"first order $S_1$ ({level})", OKABE_ITO[4]),
        ]
        xlabel = "Sobol' index (share of the outcome's variance)"
    else:
        bars = [
            (
                "mu_star",
                "mu_star_conf",
                rf"$\mu^*$ mean |elementary effect| ({level})",
                OKABE_ITO[0],
            ),
            ("sigma", None, r"$\sigma$ sd of elementary effects", OKABE_ITO[4]),
        ]
        xlabel = "elementary effect (outcome change per full range of the parameter)"
    k = len(order)
    y = np.arange(k)
    height = 0.38
    rc = {**STYLE, "font.size": 11, "axes.labelsize": 11, "legend.fontsize": 10}
    with mpl.rc_context(rc):
        fig = Figure(figsize=(9.0, 1.9 + 0.62 * k), layout="constrained")
        ax = fig.subplots()
        right = 0.0
        left = 0.0
        for b, (column, conf, label, colour) in enumerate(bars):
            values = order[column].to_numpy()
            errors = order[conf].to_numpy() if conf else None
            offset = (-0.5 + b) * height  # first bar above (the y axis is inverted)
            ax.barh(
                y + offset,
                values,
                height=height,
                xerr=errors,
                color=colour,
                label=label,
                error_kw={"ecolor": "#333333", "capsize": 3, "elinewidth": 1},
            )
            ends = values + (errors if errors is not None else 0)
            for yy, end, value in zip(y + offset, ends, values, strict=True):
                ax.text(
                    max(end, 0) + 0.01 * max(1e-9, np.nanmax(np.abs(ends))),
                    yy,
                    _fmt(value),
                    va="center",
                    ha="left",
                    fontsize=9,
                    color="#333333",
                )
            right = max(right, float(np.nanmax(ends)))
            low = values - (errors if errors is not None else 0)
            left = min(left, float(np.nanmin(low)))
        ax.set_yticks(y, list(order.index))
        ax.invert_yaxis()
        ax.axvline(0, color="#333333", linewidth=0.8)
        span = right - left if right > left else 1.0
        ax.set_xlim(left - 0.02 * span, right + 0.14 * span)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.25)
        ax.legend(loc="lower right", frameon=False)
        fig.suptitle(title, fontsize=13)
        if subtitle:
            ax.set_title(subtitle, fontsize=9.5, loc="left", color="#444444")
    return fig


def report_markdown(scenario, table, outcome, parameters, runs_line, shown) -> str:
    """``indices.md``: the design, the indices table, the most influential, how to read them."""
    attrs = table.attrs
    sobol = attrs["method"] == "sobol"
    ranges = ", ".join(f"`{p.key}` in [{p.low:g}, {p.high:g}]" for p in parameters)
    top = ranked(table).index[:3]
    key = "ST" if sobol else "mu_star"
    lines = [
        f"# {SOBOL_NAME if sobol else 'Morris'} sensitivity of {outcome.label(scenario)}",
        "",
        f"Scenario `{scenario.file}` ({scenario.name}, hash `{scenario.hash}`). Outcome "
        f"`{outcome.text}`. Parameters (uniform over their ranges): {ranges}.",
        "",
        f"Design by SALib ({'Saltelli/Sobol' if sobol else 'Morris, 4 levels'}), seed "
        f"{attrs['seed']}: {runs_line}. Every point is run with the same replicate seeds "
        "(common random numbers); the indices are of the outcome averaged over the seeds, with "
        f"{100 * attrs['conf_level']:.0f}% bootstrap confidence intervals "
        f"({attrs['num_resamples']} resamples).",
        "",
        markdown_table(table),
        "",
        "Most influential by "
        + ("total index ST" if sobol else "mu*")
        + ": "
        + ", ".join(f"`{n}` ({_fmt(table.loc[n, key])})" for n in top)
        + ".",
        "",
        noise_sentence(attrs)
        + " The seed sd columns are the standard deviation over seeds of the index computed "
        "from one seed's runs alone.",
        "",
    ]
    if sobol:
        lines += [
            "S1 is the share of the outcome's variance due to the parameter alone; ST adds its "
            "interactions with the others (ST >= S1; ST near 0: the parameter can be fixed "
            "anywhere in its range). The S1 sum to at most 1 (up to estimation error); 1 minus "
            "their sum is the share due to interactions.",
            "",
        ]
    else:
        lines += [
            "mu* ranks overall influence (outcome change per full range of the parameter); "
            "sigma large against mu* means non-linear effects or interactions.",
            "",
        ]
    lines += ["Command:", "", "```sh", shown, "```", ""]
    return "\n".join(lines)
