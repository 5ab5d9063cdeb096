"""Validation against the article's patterns, and calibration of the free parameters to them.

:func:`validate` runs a scenario for a set of seeds (ensemble engine) and scores every pattern
of the registry (:mod:`experiments.patterns`): the margin's median and 90% interval over runs,
the share of runs in which it holds, and the verdict.

:func:`calibrate` fits the parameters a scenario marks as free, each within its range::

    [calibration]
    runs = 16            # seeds per candidate (common to every candidate)
    seed = 7             # seed of the optimiser and of the runs
    maxiter = 20         # generations of differential evolution
    popsize = 6          # candidates per generation = popsize x free parameters
    patterns = "patterns.toml"
    [calibration.free]
    "model.temperature" = [0.4, 2.0]

by minimising the mean pattern loss (:func:`experiments.patterns.pattern_loss`) with
:func:`scipy.optimize.differential_evolution` (Storn & Price 1997), seeded, with each
generation's candidates run as one ensemble. The objective is deterministic (fixed seeds), so a
fit is reproducible from its seed. The fitted values are written as a scenario file that
``extends`` the input, each with ``source = "fitted: ..."`` naming the fit.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from experiments.abc import Generation, Population
from experiments.design import SweepParameter, check_value
from experiments.observed import ObservationTargets, fit_window, load_observed
from experiments.patterns import (
    Observation,
    Pattern,
    load_patterns,
    months_needed,
    pattern_losses,
)
from experiments.patterns import summary as pattern_summary
from model.ensemble import simulate_ensemble, stack_variants
from model.metrics import partner_shares
from model.scenario import Scenario, ScenarioError, month_index

__all__ = [
    "CalibrationSpec",
    "Fit",
    "PosteriorFit",
    "calibrate",
    "calibrate_posterior",
    "calibration_spec",
    "code_fingerprint",
    "default_patterns",
    "fit_identity",
    "fit_targets",
    "fitted_scenario_text",
    "losses",
    "particle_seeds",
    "patterns_for",
    "posterior_predictive",
    "posterior_scenario_text",
    "prior_check",
    "prior_draws",
    "validate",
    "variant_with",
]

METHODS = ("differential-evolution", "abc-smc")
"""``[calibration] method``: one point (:func:`calibrate`) or a posterior."""
INFEASIBLE = 10.0  # loss of a candidate the scenario's validation rejects
RUNS_PER_CALL = 256  # runs simulated and measured at once (memory: ~100 MB of monthly ties)


def default_patterns(scenario: Scenario) -> Path:
    """``[calibration] patterns`` (relative to the scenario file), else ``patterns.toml`` there."""
    leaf = scenario.parameters.get("calibration.patterns")
    base = Path(leaf.file if leaf is not None else scenario.file).parent
    return base / (leaf.value if leaf is not None else "patterns.toml")


def patterns_for(scenario: Scenario, path: str | Path | None = None) -> tuple[list[Pattern], Path]:
    """The registry at ``path`` (default: :func:`default_patterns`), loaded and checked."""
    path = Path(path) if path else default_patterns(scenario)
    return load_patterns(path, scenario), path


class _Runs:
    """The runs ``runs`` of one variant inside an :class:`Observation` of a group of variants.

    Measuring a group at once costs one pass of numpy over all its runs instead of one per
    variant; a pattern's margins and losses are computed for the group once (``losses``,
    shared by its variants, each as many runs) and sliced.
    """

    def __init__(self, whole: Observation, runs: slice, losses: dict[Pattern, np.ndarray]):
        self.whole, self.runs, self.losses = whole, runs, losses
        self.scenario = whole.scenario

    def loss(self, pattern: Pattern) -> float:
        """The runs' :func:`experiments.patterns.pattern_loss` of ``pattern``."""
        size = self.runs.stop - self.runs.start
        if pattern not in self.losses:
            margins = self.whole.margins(pattern)[0]
            self.losses[pattern] = pattern_losses(margins.reshape(-1, size), pattern)
        return float(self.losses[pattern][self.runs.start // size])

    def margins(self, pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
        margins, left = self.whole.margins(pattern)
        return margins[self.runs], left[self.runs]

    def prepare(self, patterns: Sequence[Pattern]) -> None:
        self.whole.prepare(patterns)  # the group's, once: what is averaged is kept


def _measured_alike(group: Sequence[Scenario]) -> bool:
    """Whether the variants share every compiled value the metrics read (then one Observation
    of all their runs gives each variant's metrics)."""
    first = group[0].compiled
    return all(
        np.array_equal(v.compiled.dimension_weight, first.dimension_weight)
        and np.array_equal(v.compiled.substitution_difficulty, first.substitution_difficulty)
        and np.array_equal(v.compiled.pole_matrix, first.pole_matrix)
        and v.start == group[0].start
        for v in group[1:]
    )


def _observe(
    variants: Sequence[Scenario],
    seeds: np.ndarray,
    steps: np.ndarray,
    threads: int,
    targets: ObservationTargets | None = None,
    *,
    reuse: bool = False,
) -> Iterator[tuple[Observation | _Runs, float | None]]:
    """Run every variant for every seed (``seeds`` (R,), common, or (V, R), one row per variant).

    Yields, per variant in order, an :class:`Observation` (or its runs of a group's) of the
    pattern months ``steps`` and, with ``targets``, the targets' loss of its runs
    (:meth:`experiments.observed.ObservationTargets.losses`; else None). Variants are
    simulated ``RUNS_PER_CALL`` runs at a time, so a consumer that keeps only what it computes
    from each holds one group's trajectories at most. With ``reuse``, each group's partner
    shares are written over the previous group's (no fresh memory to fault in per group): for
    a consumer that is done with a group's observations when it asks for the next group's.
    """
    recorded = steps if targets is None else np.union1d(steps, targets.steps)
    pattern_months = np.searchsorted(recorded, steps)
    if len(pattern_months) == len(recorded):  # every recorded month: a view, not a copy
        pattern_months = slice(None)
    runs_each = seeds.shape[-1]
    per_call = max(1, RUNS_PER_CALL // runs_each)
    workspace = None
    for first in range(0, len(variants), per_call):
        group = variants[first : first + per_call]
        stack = stack_variants([v.compiled for v in group])
        variant = np.repeat(np.arange(len(group)), runs_each)
        group_seeds = (
            seeds[first : first + len(group)].ravel()
            if seeds.ndim == 2
            else np.tile(seeds, len(group))
        )
        ties, regional = simulate_ensemble(
            stack, group_seeds, variant=variant, record=recorded, threads=threads
        )
        if reuse and workspace is not None and len(workspace) >= len(ties):
            shares = partner_shares(ties, out=workspace[: len(ties)])
        else:  # once, for the patterns and the targets
            shares = workspace = partner_shares(ties)
        target_losses = None
        if targets is not None:  # recorded starts with months 0..last_step, contiguous
            target_losses = targets.losses(shares[:, : targets.last_step + 1], len(group))
        whole, group_losses = None, {}
        if _measured_alike(group):
            whole = Observation(
                group[0],
                ties[:, pattern_months],
                regional[:, pattern_months],
                steps,
                shares=shares[:, pattern_months],
            )
        for k, scenario in enumerate(group):
            runs = slice(k * runs_each, (k + 1) * runs_each)
            if whole is not None:
                observation = _Runs(whole, runs, group_losses)
            else:
                observation = Observation(
                    scenario,
                    ties[runs][:, pattern_months],
                    regional[runs][:, pattern_months],
                    steps,
                    shares=shares[runs][:, pattern_months],
                )
            yield observation, None if target_losses is None else float(target_losses[k])


def validate(
    scenario: Scenario,
    patterns: Sequence[Pattern],
    seeds: Sequence[int],
    *,
    threads: int = 1,
) -> pd.DataFrame:
    """Score every pattern over runs of the scenario: one row per pattern."""
    seeds = np.asarray([int(s) for s in seeds], dtype=np.uint64)
    ((observation, _),) = list(
        _observe([scenario], seeds, months_needed(patterns, scenario), threads)
    )
    rows = []
    for pattern in patterns:
        margins, left = observation.margins(pattern)
        rows.append(pattern_summary(pattern, margins, left))
    return pd.DataFrame(rows)


def prior_draws(scenario: Scenario, spec: CalibrationSpec, n: int, seed: int) -> pd.DataFrame:
    """``n`` parameter vectors from the calibration's prior: each free parameter uniform over
    its ``[calibration.free]`` range, independently (numpy's Generator seeded with ``seed``)."""
    rng = np.random.default_rng(seed)
    low = np.array([p.low for p in spec.free])
    high = np.array([p.high for p in spec.free])
    values = low + (high - low) * rng.random((n, len(spec.free)))
    return pd.DataFrame(values, columns=[p.key for p in spec.free]).rename_axis("draw")


def prior_check(
    scenario: Scenario,
    patterns: Sequence[Pattern],
    draws: pd.DataFrame,
    seeds: Sequence[int],
    *,
    threads: int = 1,
) -> pd.DataFrame:
    """Which patterns hold for each prior draw: a (draws x patterns) table of booleans.

    Each draw's variant runs the same ``seeds``; a pattern holds for a draw when its predicate
    holds in at least 80% of the runs (:data:`experiments.patterns.HOLDS`). A draw the scenario
    rejects (an event pushes a value out of range) holds nothing and is marked in the column
    ``feasible``.
    """
    from experiments.patterns import HOLDS

    seeds = np.asarray([int(s) for s in seeds], dtype=np.uint64)
    keys = list(draws.columns)
    variants = [variant_with(scenario, keys, row) for row in draws.to_numpy()]
    feasible = [k for k, v in enumerate(variants) if v is not None]
    table = pd.DataFrame(False, index=draws.index, columns=[p.id for p in patterns])
    table["feasible"] = False
    if feasible:
        steps = months_needed(patterns, variants[feasible[0]])
        observed = _observe([variants[k] for k in feasible], seeds, steps, threads)
        for k, (observation, _) in zip(feasible, observed, strict=True):
            for pattern in patterns:
                margins, _ = observation.margins(pattern)
                table.iloc[k, table.columns.get_loc(pattern.id)] = bool(
                    np.mean(margins > pattern.tolerance) >= HOLDS
                )
            table.iloc[k, table.columns.get_loc("feasible")] = True
    return table


def losses(
    variants: Sequence[Scenario | None],
    patterns: Sequence[Pattern],
    seeds: np.ndarray,
    *,
    threads: int = 1,
    targets: ObservationTargets | None = None,
    observed_weight: float = 0.0,
) -> np.ndarray:
    """The fit's loss of each variant (``INFEASIBLE`` for None).

    ``seeds``: the runs' seeds, (R,) common to every variant or (V, R) one row per variant.
    The mean loss of the scored patterns (:func:`experiments.patterns.pattern_loss`; sanity
    checks are left out), plus ``observed_weight``
    times the loss of the fit-window observations ``targets``
    (:meth:`experiments.observed.ObservationTargets.loss`) when given.
    """
    out = np.full(len(variants), INFEASIBLE)
    feasible = [k for k, v in enumerate(variants) if v is not None]
    if not feasible:
        return out
    reference = variants[feasible[0]]
    steps = months_needed(patterns, reference)
    use = targets if targets is not None and observed_weight > 0 else None
    if seeds.ndim == 2:
        seeds = seeds[feasible]
    # only a float is kept from each observation: the groups share one buffer of shares
    observations = _observe([variants[k] for k in feasible], seeds, steps, threads, use, reuse=True)
    scored = [p for p in patterns if p.scored] or list(patterns)
    for k, (observation, target_loss) in zip(feasible, observations, strict=True):
        observation.prepare(scored)
        out[k] = np.mean([observation.loss(p) for p in scored])
        if use is not None:
            out[k] += observed_weight * target_loss
    return out


@dataclass(frozen=True)
class CalibrationSpec:
    """What a scenario's ``[calibration]`` table asks to fit, and how."""

    free: tuple[SweepParameter, ...]
    runs: int = 16
    seed: int = 0
    maxiter: int = 20
    popsize: int = 6
    observed_weight: float = 0.0
    method: str = "differential-evolution"
    particles: int = 400
    generations: int = 8
    moves: int = 10
    floor_sample: int = 0  # 0: no noise floor; else abc_smc's floor_sample (experiments/abc.py)


def calibration_spec(scenario: Scenario) -> CalibrationSpec:
    """Read and check ``[calibration]``: every free key must take both ends of its range."""
    leaves = {
        k[len("calibration.") :]: v
        for k, v in scenario.parameters.items()
        if k.startswith("calibration.")
    }
    if not any(k.startswith("free.") for k in leaves):
        raise ScenarioError(
            scenario.file, "calibration.free", "(none)", "a table of key paths with [low, high]"
        )
    settings = {
        "runs": (16, 1),
        "seed": (0, 0),
        "maxiter": (20, 1),
        "popsize": (6, 2),
        "particles": (400, 10),
        "generations": (8, 1),
        "moves": (10, 1),
        "floor_sample": (0, 0),
    }
    values: dict = {}
    for key, leaf in leaves.items():
        head = key.split(".")[0]
        if head not in (*settings, "free", "patterns", "observed_weight", "method"):
            allowed = ", ".join((*settings, "method", "observed_weight", "patterns", "free"))
            raise ScenarioError(
                leaf.file, f"calibration.{key}", leaf.value, f"unknown key (allowed: {allowed})"
            )
        if head == "method":
            if leaf.value not in METHODS:
                raise ScenarioError(
                    leaf.file, f"calibration.{key}", leaf.value, f"one of {', '.join(METHODS)}"
                )
            values[head] = leaf.value
        elif head == "observed_weight":
            v = leaf.value
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 100:
                raise ScenarioError(leaf.file, f"calibration.{key}", v, "a number in [0, 100]")
            values[head] = float(v)
        elif head in settings:
            minimum = settings[head][1]
            v = leaf.value
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise ScenarioError(leaf.file, f"calibration.{key}", v, f"an integer >= {minimum}")
            values[head] = v
    free = []
    for key, leaf in leaves.items():
        if not key.startswith("free."):
            continue
        path = key[len("free.") :]
        where = f"calibration.{key}"
        value = leaf.value
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and all(math.isfinite(v) for v in value)
            and value[0] < value[1]
        )
        if not ok:
            raise ScenarioError(leaf.file, where, value, "a range [low, high], low < high")
        parameter = SweepParameter(path, None, float(value[0]), float(value[1]), leaf.file)
        check_value(scenario, parameter, parameter.low, where)
        check_value(scenario, parameter, parameter.high, where)
        free.append(parameter)
    return CalibrationSpec(
        tuple(free),
        **{k: values.get(k, d[0]) for k, d in settings.items()},
        observed_weight=values.get("observed_weight", 0.0),
        method=values.get("method", METHODS[0]),
    )


@dataclass(frozen=True)
class Fit:
    """A finished fit: the values, the loss, and how they were found."""

    id: str
    values: dict[str, float]
    loss: float
    spec: CalibrationSpec
    patterns: tuple[Pattern, ...]
    until: str | None
    evaluations: int
    history: tuple[float, ...]
    observed: int = 0  # fit-window share observations used as targets (0: patterns only)


def variant_with(scenario: Scenario, keys: Sequence[str], x: np.ndarray) -> Scenario | None:
    """``scenario`` with the values ``x`` at the key paths ``keys``; None if it rejects them
    (an event would push a value out of its range): such a candidate is infeasible."""
    try:
        return scenario.with_overrides(
            {k: float(v) for k, v in zip(keys, x, strict=True)}, file="calibration"
        )
    except ScenarioError:
        return None


def _round(value: float, digits: int = 4) -> float:
    """``digits`` significant digits: the fitted value as written to the scenario file."""
    return float(f"{value:.{digits}g}")


def fit_targets(
    scenario: Scenario, spec: CalibrationSpec, observed: pd.DataFrame | None = None
) -> ObservationTargets | None:
    """The fit's observed targets: None without ``observed_weight``, else the fit-window rows.

    Every row passes :func:`experiments.observed.fit_window` (years up to 2012) first, so no
    validation-window observation can reach a fit.
    """
    if spec.observed_weight <= 0:
        return None
    data = load_observed() if observed is None else observed
    return ObservationTargets(scenario, fit_window(data))


def calibrate(
    scenario: Scenario,
    *,
    patterns: Sequence[Pattern] | None = None,
    until: str | None = None,
    spec: CalibrationSpec | None = None,
    threads: int = 1,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
    observed: pd.DataFrame | None = None,
) -> Fit:
    """Fit the free parameters to the patterns (those ending by ``until``, if given).

    With ``[calibration] observed_weight`` > 0 the fit-window observations of the observed
    dataset (``observed``, default :func:`experiments.observed.load_observed`) are targets too;
    they pass through :func:`experiments.observed.fit_window`, so a validation-window row never
    reaches the fit.
    """
    from scipy.optimize import differential_evolution

    spec = spec or calibration_spec(scenario)
    patterns = _fit_patterns(patterns or load_patterns(default_patterns(scenario), scenario), until)
    keys = [p.key for p in spec.free]
    bounds = [(p.low, p.high) for p in spec.free]
    targets = fit_targets(scenario, spec, observed)
    weight = spec.observed_weight
    from experiments.batch import replicate_seeds

    seeds = replicate_seeds(spec.seed, spec.runs)
    history: list[float] = []
    evaluations = 0
    bar = tqdm(
        total=spec.maxiter,
        desc="calibrate",
        unit="gen",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )

    def objective(x: np.ndarray) -> np.ndarray:
        nonlocal evaluations
        candidates = np.atleast_2d(x.T)  # (S, k)
        evaluations += len(candidates)
        variants = [variant_with(scenario, keys, c) for c in candidates]
        return losses(
            variants, patterns, seeds, threads=threads, targets=targets, observed_weight=weight
        )

    def on_generation(intermediate_result) -> None:
        history.append(float(intermediate_result.fun))
        bar.update()
        bar.set_postfix(loss=f"{intermediate_result.fun:.4f}")
        if callback is not None:
            callback(len(history), float(intermediate_result.fun))

    try:
        result = differential_evolution(
            objective,
            bounds,
            maxiter=spec.maxiter,
            popsize=spec.popsize,
            rng=np.random.default_rng(spec.seed),
            polish=False,
            tol=0.0,
            updating="deferred",
            vectorized=True,
            init="latinhypercube",
            callback=on_generation,
        )
    finally:
        bar.close()
    values = {k: _round(v) for k, v in zip(keys, result.x, strict=True)}
    final = losses(
        [variant_with(scenario, keys, np.array(list(values.values())))],
        patterns,
        seeds,
        targets=targets,
        observed_weight=weight,
    )
    fit_id = fit_identity(scenario, spec, patterns, until, targets)
    return Fit(
        fit_id,
        values,
        float(final[0]),
        spec,
        tuple(patterns),
        until,
        evaluations,
        tuple(history),
        0 if targets is None else sum(len(g[5]) for g in targets.groups),
    )


@dataclass(frozen=True)
class PosteriorFit:
    """A finished ABC-SMC calibration: the weighted particles and how they were found."""

    id: str
    posterior: Population
    spec: CalibrationSpec
    patterns: tuple[Pattern, ...]
    until: str | None
    observed: int = 0  # fit-window share observations used as targets

    @property
    def values(self) -> dict[str, float]:
        """Each parameter's posterior median (weighted), to 4 significant digits."""
        medians = self.posterior.quantiles([0.5]).iloc[0]
        return {k: _round(float(medians[k])) for k in self.posterior.keys}

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """Each parameter's 90% credible interval (weighted 5% and 95% quantiles)."""
        q = self.posterior.quantiles([0.05, 0.95])
        return {k: (_round(float(q[k].iloc[0])), _round(float(q[k].iloc[1]))) for k in q}


def _fit_patterns(patterns: Sequence[Pattern], until: str | None) -> list[Pattern]:
    """The patterns a fit ``until`` a month sees: those whose dates end by it."""
    patterns = list(patterns)
    if until is None:
        return patterns
    last = month_index(until)
    patterns = [p for p in patterns if p.months[1] <= last]
    if not patterns:
        raise ScenarioError("--until", "until", until, "a month after some pattern's dates")
    return patterns


SELF_DATA_RUNS = 16
"""Runs that make a particle's own data when its self-distance is measured (the noise floor,
experiments/abc.py step 4), as a recovery study's truth makes its data."""


def synthetic_data(
    variant: Scenario,
    patterns: Sequence[Pattern],
    targets: ObservationTargets | None,
    seeds: np.ndarray,
    threads: int = 1,
) -> tuple[ObservationTargets | None, list[Pattern]]:
    """Data ``variant`` makes with ``seeds``: the fit-window targets with the mean of its runs'
    values in place of the observed ones (None without ``targets``;
    :meth:`experiments.observed.ObservationTargets.simulated`), and the scored patterns among
    ``patterns`` it meets (in at least 80% of its runs, :data:`experiments.patterns.HOLDS`).
    """
    from experiments.patterns import HOLDS

    scored = [p for p in patterns if p.scored]
    ((observation, _),) = list(_observe([variant], seeds, months_needed(scored, variant), threads))
    kept = [p for p in scored if np.mean(observation.margins(p)[0] > p.tolerance) >= HOLDS]
    synthetic = None
    if targets is not None:
        ties, _ = simulate_ensemble(variant.compiled, seeds, threads=threads)
        synthetic = targets.simulated(partner_shares(ties[:, : targets.last_step + 1]))
    return synthetic, kept


def particle_seeds(simulation_seeds: np.ndarray, runs: int) -> np.ndarray:
    """(B, runs) run seeds: replicates ``0 .. runs-1`` of each particle's simulation seed."""
    from experiments.batch import replicate_seeds

    return np.stack([replicate_seeds(int(s), runs) for s in simulation_seeds])


def calibrate_posterior(
    scenario: Scenario,
    *,
    patterns: Sequence[Pattern] | None = None,
    until: str | None = None,
    spec: CalibrationSpec | None = None,
    threads: int = 1,
    progress: bool = True,
    callback: Callable[[int, Generation], None] | None = None,
    observed: pd.DataFrame | None = None,
    targets: ObservationTargets | None = None,
) -> PosteriorFit:
    """The ABC-SMC posterior of the free parameters (:func:`experiments.abc.abc_smc`).

    Priors: each free parameter uniform on its ``[calibration.free]`` range, independently.
    Distance of a particle: :func:`losses` over ``[calibration] runs`` runs with seeds of its
    own, i.e. the mean loss of the scored patterns (0 when every run clears every pattern by
    its scale) plus ``observed_weight`` times the loss of the fit-window observations
    (:meth:`experiments.observed.ObservationTargets.loss`). ``particles`` per generation,
    at most ``generations`` generations, all seeded by ``[calibration] seed``. Validation-window
    observations never reach it (:func:`fit_targets`). ``targets`` replaces the observed
    targets (a recovery study's synthetic data).
    """
    from experiments.abc import abc_smc

    spec = spec or calibration_spec(scenario)
    patterns = _fit_patterns(patterns or load_patterns(default_patterns(scenario), scenario), until)
    keys = [p.key for p in spec.free]
    if targets is None:
        targets = fit_targets(scenario, spec, observed)

    def distance(theta: np.ndarray, simulation_seeds: np.ndarray) -> np.ndarray:
        variants = [variant_with(scenario, keys, row) for row in theta]
        return losses(
            variants,
            patterns,
            particle_seeds(simulation_seeds, spec.runs),
            threads=threads,
            targets=targets,
            observed_weight=spec.observed_weight,
        )

    def self_distance(theta: np.ndarray, simulation_seeds: np.ndarray) -> np.ndarray:
        """Each row's distance to data it made: :data:`SELF_DATA_RUNS` runs make the data
        (:func:`synthetic_data`), ``spec.runs`` other runs of the same seed are scored."""
        from experiments.batch import replicate_seeds

        out = np.full(len(theta), INFEASIBLE)
        for i, (row, seed) in enumerate(zip(theta, simulation_seeds, strict=True)):
            variant = variant_with(scenario, keys, row)
            if variant is None:
                continue
            seeds = replicate_seeds(int(seed), SELF_DATA_RUNS + spec.runs)
            synthetic, kept = synthetic_data(
                variant, patterns, targets, seeds[:SELF_DATA_RUNS], threads
            )
            out[i] = losses(
                [variant],
                kept or [p for p in patterns if p.scored][:1],
                seeds[SELF_DATA_RUNS:],
                threads=threads,
                targets=synthetic,
                observed_weight=spec.observed_weight,
            )[0]
        return out

    posterior = abc_smc(
        distance,
        keys,
        np.array([p.low for p in spec.free]),
        np.array([p.high for p in spec.free]),
        particles=spec.particles,
        generations=spec.generations,
        max_moves=spec.moves,
        self_distance=self_distance if spec.floor_sample else None,
        floor_sample=max(spec.floor_sample, 1),
        seed=spec.seed,
        progress=progress,
        callback=callback,
    )
    return PosteriorFit(
        fit_identity(scenario, spec, patterns, until, targets),
        posterior,
        spec,
        tuple(patterns),
        until,
        0 if targets is None else sum(len(g[5]) for g in targets.groups),
    )


def posterior_predictive(
    scenario: Scenario,
    posterior: pd.DataFrame,
    patterns: Sequence[Pattern],
    *,
    draws: int = 100,
    runs: int = 4,
    seed: int = 0,
    threads: int = 1,
    observed: pd.DataFrame | None = None,
):
    """Pattern pass rates and observed-data errors under the posterior.

    ``draws`` particles drawn by weight (:func:`experiments.posterior.draw_particles`, as
    ``run --posterior`` draws them), each run ``runs`` times with seeds of its own. Returns
    ``(patterns, score)``: per pattern the share of all runs in which it holds (``pass_rate``)
    and the share of draws for which it holds in at least 80% of their runs
    (``draws_holding``); and the :class:`experiments.observed.Score` of every run against the
    observed data (both windows, reported; a fit never reads the validation window).
    """
    from experiments.observed import score
    from experiments.patterns import HOLDS
    from experiments.posterior import DISTANCE, WEIGHT, draw_particles

    weights = posterior[WEIGHT].to_numpy(dtype=float)
    chosen = posterior.iloc[draw_particles(weights / weights.sum(), seed, draws)]
    keys = [c for c in posterior.columns if c not in (WEIGHT, DISTANCE)]
    variants = [variant_with(scenario, keys, row) for row in chosen[keys].to_numpy()]
    if any(v is None for v in variants):
        raise ScenarioError("posterior", "particle", "out of range", "values the scenario accepts")
    from experiments.batch import replicate_seeds

    seeds = replicate_seeds(seed, draws * runs).reshape(draws, runs)
    steps = months_needed(patterns, scenario)
    per_draw = [  # each draw's margins only: a group's trajectories are dropped when measured
        [o.margins(p)[0] for p in patterns] for o, _ in _observe(variants, seeds, steps, threads)
    ]
    rows = []
    for k, pattern in enumerate(patterns):
        margins = np.stack([draw[k] for draw in per_draw])  # (draws, runs)
        held = margins > pattern.tolerance
        rows.append(
            {
                "pattern": pattern.id,
                "role": pattern.role,
                "pass_rate": float(held.mean()),
                "draws_holding": float(np.mean(held.mean(axis=1) >= HOLDS)),
                "margin_median": float(np.nanmedian(margins)),
            }
        )
    result = score(
        scenario,
        seeds.ravel(),
        observed,
        threads=threads,
        variants=[v for v in variants for _ in range(runs)],
    )
    return pd.DataFrame(rows), result


FIT_CODE = (
    "model/elementary.py",
    "model/ensemble.py",
    "model/metrics.py",
    "model/parameters.py",
    "model/rules.py",
    "model/scenario.py",
    "model/seeding.py",
    "experiments/abc.py",
    "experiments/calibration.py",
    "experiments/observed.py",
    "experiments/patterns.py",
)
"""The source files whose code a fit's result depends on (relative to the repository root)."""


def code_fingerprint(files: Sequence[str] = FIT_CODE, root: Path | None = None) -> str:
    """A hash of the code in ``files``: their syntax trees without docstrings.

    Comments, docstrings and formatting do not change it; any change to the code does, so a
    committed fit is flagged stale when a rule, the compiler, a metric or the loss changes.
    """
    root = Path(__file__).resolve().parents[1] if root is None else Path(root)
    digest = hashlib.sha256()
    for name in files:
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        digest.update(name.encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return digest.hexdigest()[:16]


def fit_identity(
    scenario: Scenario,
    spec: CalibrationSpec,
    patterns: Sequence[Pattern],
    until: str | None,
    targets: ObservationTargets | None = None,
) -> str:
    """A fit's id: a hash of everything that determines its result.

    The inputs (the scenario's resolved values, the registry, the observed targets), the
    settings and seed, and the code that runs the fit (:func:`code_fingerprint`).
    """
    observed = (
        None
        if targets is None
        else [
            (name, state, dim, start, end, list(subset), [repr(float(v)) for v in values])
            for name, state, dim, start, end, subset, values in targets.groups
        ]
    )
    payload = json.dumps(
        {
            "code": code_fingerprint(),
            "observed_weight": spec.observed_weight,
            "observed": observed,
            "scenario": scenario.hash,
            "free": [(p.key, p.low, p.high) for p in spec.free],
            "runs": spec.runs,
            "seed": spec.seed,
            "maxiter": spec.maxiter,
            "popsize": spec.popsize,
            **(
                {
                    "method": spec.method,
                    "n": spec.particles,
                    "g": spec.generations,
                    "m": spec.moves,
                    **({"floor": spec.floor_sample} if spec.floor_sample else {}),
                }
                if spec.method != METHODS[0]
                else {}
            ),
            "patterns": [
                (p.id, p.expect, p.for_each, p.tolerance, p.scale, p.role) for p in patterns
            ],
            "until": until,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def fitted_scenario_text(
    scenario: Scenario, fit: Fit, out: Path, name: str, command: str | None = None
) -> str:
    """A scenario file that extends ``scenario`` with the fitted values and their source.

    ``command`` is the command that regenerates the file (it goes into the header).
    """
    relative = Path(os.path.relpath(Path(scenario.file).resolve(), out.resolve().parent))
    window = (
        f"the {len(fit.patterns)} patterns ending by {fit.until}"
        if fit.until
        else f"all {len(fit.patterns)} patterns"
    )
    if fit.observed:
        window += (
            f" and {fit.observed} fit-window observations (to 2012, weight "
            f"{fit.spec.observed_weight:g})"
        )
    method = (
        f"differential evolution (scipy) on {window}, "
        f"{fit.spec.runs} seeds per candidate, seed {fit.spec.seed}, {fit.spec.maxiter} "
        f"generations of {fit.spec.popsize} x {len(fit.values)} candidates; loss {fit.loss:.4f}"
    )
    command = command or f"multivector calibrate {scenario.file}"
    suffix = f"calibrated to {fit.until}" if fit.until else "calibrated"
    lines = [
        f"# Fitted by `{command}` (fit {fit.id}).",
        f"# {method}.",
        "# Regenerate with the same command: the fit is deterministic given its seed.",
        f'extends = "{relative.as_posix()}"',
        "",
        f'scenario.name = "{name}"',
        f'scenario.title = "{scenario.title} ({suffix})"',
    ]
    for key, value in fit.values.items():
        lines.append(
            f'{key} = {{ value = {value!r}, source = "fitted: fit {fit.id} ({window}; '
            f'see docs/calibration.md)" }}'
        )
    return "\n".join(lines) + "\n"


def posterior_scenario_text(
    scenario: Scenario,
    fit: PosteriorFit,
    out: Path,
    name: str,
    posterior_file: Path,
    command: str | None = None,
) -> str:
    """A scenario file that extends ``scenario`` with each free parameter's posterior median,
    its 90% credible interval in the source, and the posterior file named in the header."""
    relative = Path(os.path.relpath(Path(scenario.file).resolve(), out.resolve().parent))
    window = (
        f"the {len(fit.patterns)} patterns ending by {fit.until}"
        if fit.until
        else f"all {len(fit.patterns)} patterns"
    )
    if fit.observed:
        window += (
            f" and {fit.observed} fit-window observations (to 2012, weight "
            f"{fit.spec.observed_weight:g})"
        )
    last = fit.posterior.generations[-1]
    command = command or f"multivector calibrate {scenario.file}"
    suffix = f"posterior medians to {fit.until}" if fit.until else "posterior medians"
    lines = [
        f"# Fitted by `{command}` (fit {fit.id}).",
        f"# ABC-SMC on {window}: {fit.spec.particles} particles, "
        f"{len(fit.posterior.generations) - 1} generations, {fit.spec.runs} runs per particle, "
        f"seed {fit.spec.seed}; final threshold {last.epsilon:.4f}.",
        f"# Each value is its parameter's posterior median; the particles are in {posterior_file}",
        "# (multivector run SCENARIO --posterior FILE draws each run's parameters from them).",
        "# Regenerate with the same command: the fit is deterministic given its seed.",
        f'extends = "{relative.as_posix()}"',
        "",
        f'scenario.name = "{name}"',
        f'scenario.title = "{scenario.title} ({suffix})"',
    ]
    intervals = fit.intervals
    for key, value in fit.values.items():
        lo, hi = intervals[key]
        lines.append(
            f'{key} = {{ value = {value!r}, source = "fitted: posterior median of fit {fit.id}, '
            f'90% credible interval [{lo:g}, {hi:g}] ({window}; see docs/calibration.md)" }}'
        )
    return "\n".join(lines) + "\n"
