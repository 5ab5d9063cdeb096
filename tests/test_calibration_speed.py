"""The calibration's fast paths give the numbers of the straightforward route, bit for bit.

* A variant that changes numbers only (:meth:`model.scenario.Scenario.with_overrides`) against
  the whole validation (:func:`model.scenario._build` of the merged files): the same compiled
  arrays and the same feasibility, for a few hundred prior draws, some infeasible.
* :func:`experiments.calibration.losses`, ``prior_check`` and ``validate`` against a reference
  written the plain way here: each variant simulated alone, every metric computed on every
  recorded month (:func:`model.metrics.measure`, not lazy), each quantity averaged over all
  states before one is picked, and the targets' shares computed from the ties on their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import (
    calibration_spec,
    fit_targets,
    losses,
    particle_seeds,
    patterns_for,
    prior_check,
    prior_draws,
    validate,
    variant_with,
)
from experiments.patterns import (
    _REGISTRY,
    ALIASES,
    HOLDS,
    Observation,
    _range,
    months_needed,
    pattern_loss,
    summary,
)
from model.ensemble import simulate_ensemble, stack_variants
from model.metrics import partner_shares
from model.scenario import ScenarioError, _build, _check_override_ids, _merge, _override_leaves
from tests.conftest import SCENARIOS

PRIOR = SCENARIOS / "baseline-prior.toml"


@pytest.fixture(scope="module")
def prior():
    from model.scenario import load_scenario

    scenario = load_scenario(PRIOR)
    return scenario, calibration_spec(scenario)


def slow_variant(scenario, keys, x):
    """The variant by the whole validation of the merged leaves, or None if rejected."""
    overrides = {k: float(v) for k, v in zip(keys, x, strict=True)}
    flat = {tuple(k.split(".")): v for k, v in scenario.parameters.items()}
    try:
        _check_override_ids(flat, overrides, "calibration")
        _merge(flat, _override_leaves(overrides, "calibration"))
        return _build(flat, scenario.file)
    except ScenarioError:
        return None


def draws_with_infeasible(scenario, spec, n, seed):
    """Prior draws plus every event scale of the scenario (free or fixed), half of them with
    each scale drawn over its whole range [0, 3] (the prior's draws are all feasible; some of
    these are not)."""
    draws = prior_draws(scenario, spec, n, seed=seed)
    rng = np.random.default_rng(seed)
    scales = [k for k in scenario.parameters if k.startswith("model.event_scale.")]
    for key in scales:
        if key not in draws:
            draws[key] = scenario.values[key]
    draws.loc[draws.index[::2], scales] = rng.uniform(0, 3, (len(draws.index[::2]), len(scales)))
    return draws


def test_numeric_variants_equal_the_whole_validation(prior):
    scenario, spec = prior
    draws = draws_with_infeasible(scenario, spec, 300, seed=11)
    keys = list(draws.columns)
    infeasible = 0
    for x in draws.to_numpy():
        fast, slow = variant_with(scenario, keys, x), slow_variant(scenario, keys, x)
        assert (fast is None) == (slow is None)
        if slow is None:
            infeasible += 1
            continue
        assert fast.values == slow.values
        assert fast.parameters == slow.parameters
        assert list(fast.parameters) == list(slow.parameters)
        assert fast.hash == slow.hash
        for name in fast.compiled.__dataclass_fields__:
            assert np.array_equal(getattr(fast.compiled, name), getattr(slow.compiled, name)), name
    assert 0 < infeasible < len(draws)


def test_a_rejected_numeric_variant_keeps_the_full_message(prior):
    scenario, spec = prior
    draws = draws_with_infeasible(scenario, spec, 300, seed=2)
    keys = list(draws.columns)
    rejected = next(x for x in draws.to_numpy() if slow_variant(scenario, keys, x) is None)
    overrides = {k: float(v) for k, v in zip(keys, rejected, strict=True)}
    with pytest.raises(ScenarioError, match="set by calibration"):  # the reader's message
        scenario.with_overrides(overrides, file="calibration")


class PlainObservation(Observation):
    """Today's quantities the plain way: every metric of every month, averaged over all
    states, then one picked."""

    def __init__(self, scenario, ties, regional, steps):
        super().__init__(scenario, ties, regional, steps)
        self.out = {name: self.out[name] for name in self.out}  # every metric, every month

    def _plain(self, name, date):
        if name == "tie":
            values = self.ties
        elif name.startswith("metric:"):
            values = _REGISTRY[name[len("metric:") :]].take(self.out, 0)
        else:
            values = self.out[name]
        lo, hi = _range(date, self.scenario)
        index = np.flatnonzero((self.steps >= lo) & (self.steps <= hi))
        return (
            values[:, index[0] : index[-1] + 1].mean(axis=1)
            if index[-1] - index[0] + 1 == index.size
            else values[:, index].mean(axis=1)
        )

    def quantity(self, name, args):
        if name == "tie":
            s, p, d, date = args
            return self._plain("tie", date)[:, self.state[s], self.power[p], self.dimension[d]]
        if name in ("share", "rival"):
            s, p, d, date = args
            shares = self._plain("shares", date)[:, self.state[s], :, self.dimension[d]]
            if name == "share":
                return shares[:, self.power[p]]
            return np.delete(shares, self.power[p], axis=1).max(axis=1)
        if name == "hhi":
            s, d, date = args
            return self._plain("hhi", date)[:, self.state[s], self.dimension[d]]
        if name == "pole":
            s, q, date = args
            return self._plain("poles", date)[:, self.state[s], self.pole[q]]
        metric = _REGISTRY[ALIASES.get(name, name)]
        values = self._plain(f"metric:{metric.name}", args[-1])
        return values[:, 0] if metric.regional else values[:, self.state[args[0]]]


def plain_runs(scenario, seeds, steps):
    ties, regional = simulate_ensemble(stack_variants([scenario.compiled]), seeds, record=steps)
    return ties, regional


def plain_losses(variants, patterns, seeds, targets):
    """The variants' losses: each simulated alone and its patterns measured the plain way;
    the targets' loss of all feasible variants' runs at once (as the calibration groups them:
    a mean over observations of a (variants, observations) array), from their ties."""
    feasible = [k for k, v in enumerate(variants) if v is not None]
    out = np.full(len(variants), 10.0)
    scored = [p for p in patterns if p.scored] or list(patterns)
    steps = months_needed(patterns, variants[feasible[0]])
    recorded = np.union1d(steps, targets.steps)
    at = np.searchsorted(recorded, steps)
    for k in feasible:
        ties, regional = plain_runs(variants[k], seeds[k], recorded)
        observation = PlainObservation(variants[k], ties[:, at], regional[:, at], steps)
        out[k] = np.mean([pattern_loss(observation.margins(p)[0], p) for p in scored])
    stack = stack_variants([variants[k].compiled for k in feasible])
    ties, _ = simulate_ensemble(
        stack,
        seeds[feasible].ravel(),
        variant=np.repeat(np.arange(len(feasible)), seeds.shape[1]),
        record=np.arange(targets.last_step + 1),
    )
    out[feasible] += 1.0 * targets.losses(partner_shares(ties), len(feasible))
    return out


@pytest.fixture(scope="module")
def handful(prior):
    scenario, spec = prior
    draws = draws_with_infeasible(scenario, spec, 300, seed=2)
    keys = list(draws.columns)
    variants = [variant_with(scenario, keys, x) for x in draws.to_numpy()]
    infeasible = [k for k, v in enumerate(variants) if v is None][:1]
    assert infeasible, "no infeasible draw among these: pick another seed"
    chosen = [0, 1, 2, 3, *infeasible, 5]
    return draws.iloc[chosen], [variants[k] for k in chosen]


def test_losses_equal_the_plain_computation(prior, handful):
    scenario, spec = prior
    patterns, _ = patterns_for(scenario)
    targets = fit_targets(scenario, spec)
    _, variants = handful
    seeds = particle_seeds(np.arange(1, len(variants) + 1, dtype=np.uint64), 4)
    fast = losses(variants, patterns, seeds, threads=2, targets=targets, observed_weight=1.0)
    plain = plain_losses(variants, patterns, seeds, targets)
    assert np.array_equal(fast, plain)


def test_prior_check_and_validate_equal_the_plain_computation(prior, handful):
    scenario, _ = prior
    patterns, _ = patterns_for(scenario)
    draws, variants = handful
    seeds = np.array([1, 2, 3], dtype=np.uint64)
    table = prior_check(scenario, patterns, draws, seeds, threads=2)
    steps = months_needed(patterns, scenario)
    for k, variant in enumerate(variants):
        assert table["feasible"].iloc[k] == (variant is not None)
        if variant is None:
            continue
        observation = PlainObservation(variant, *plain_runs(variant, seeds, steps), steps)
        for p in patterns:
            held = np.mean(observation.margins(p)[0] > p.tolerance) >= HOLDS
            assert table[p.id].iloc[k] == held

    rows = validate(scenario, patterns, seeds, threads=2)
    observation = PlainObservation(scenario, *plain_runs(scenario, seeds, steps), steps)
    plain = pd.DataFrame([summary(p, *observation.margins(p)) for p in patterns])
    pd.testing.assert_frame_equal(rows, plain, check_exact=True)
