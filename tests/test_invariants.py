"""Invariants of runs over the valid parameter domain (hypothesis).

The scenario cannot simply be shortened: ``with_overrides({"scenario.end": "1995-12"})`` is
rejected because the baseline's later events would fall outside the horizon (tested in
test_scenario). So each example builds the full scenario and steps the model ``MONTHS`` times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings

from experiments.tables import measure_batch
from model.model import MultivectorModel
from model.scenario import CompiledScenario, Scenario, ScenarioError, load_scenario
from tests.strategies import parameter_overrides, seeds

BASELINE_PATH = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
BASELINE = load_scenario(BASELINE_PATH)
MONTHS = 48
TOL = 1e-12  # rounding of sums of a handful of products
N_POWERS = len(BASELINE.powers)

# the declared temperature range is [0.01, 10]: below it the logit overflows, so it is rejected
# (test_tiny_temperature_is_rejected); the properties cover the whole declared range
MIN_TEMPERATURE = 0.01
OVERRIDES = parameter_overrides(BASELINE, min_temperature=MIN_TEMPERATURE)
PROPERTY = settings(max_examples=25, deadline=None)


def _run(scenario: Scenario, seed: int, months: int = MONTHS):
    """Ties (months+1, S, P, D), regional ties (months+1, S, S) and the model after ``months``."""
    model = MultivectorModel(scenario, rng=seed)
    for _ in range(months):
        model.step()
    return model.ties_history[: months + 1], model.regional_history[: months + 1], model


def _measure(scenario: Scenario, ties: np.ndarray, regional: np.ndarray):
    return measure_batch(scenario, ties, regional)


def _assert_in(values: np.ndarray, lo: float, hi: float, name: str) -> None:
    assert np.all(np.isfinite(values)), name
    assert values.min() >= lo - TOL, (name, values.min())
    assert values.max() <= hi + TOL, (name, values.max())


# --------------------------------------------------------------------------------------------
# the model's own state


@PROPERTY
@given(overrides=OVERRIDES, seed=seeds())
@example(overrides={}, seed=0)
@example(overrides={"model.noise": 0.5, "regional.noise": 0.2}, seed=1)
@example(overrides={"states.TKM.neutrality": 1.0, "states.TKM.adjustment_rate": 1.0}, seed=2)
@example(overrides={"model.temperature": MIN_TEMPERATURE, "model.lockin_floor": 0.3}, seed=3)
def test_ties_and_regional_ties_stay_in_their_domains(overrides, seed):
    ties, regional, model = _run(BASELINE.with_overrides(overrides), seed)
    _assert_in(ties, 0.0, np.inf, "ties")
    _assert_in(regional, 0.0, 1.0, "regional")
    np.testing.assert_array_equal(regional, np.swapaxes(regional, -1, -2))
    assert np.all(np.diagonal(regional, axis1=-2, axis2=-1) == 0.0)
    # the model's current shares and memory are shares
    for name, shares in (("shares", model.shares), ("memory", model.memory)):
        _assert_in(shares, 0.0, 1.0, name)
        np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=0, atol=TOL)
    _assert_in(model.dependence(), 1 / N_POWERS, 1.0, "dependence")


# --------------------------------------------------------------------------------------------
# every metric of the run


@PROPERTY
@given(overrides=OVERRIDES, seed=seeds())
@example(overrides={}, seed=0)
@example(overrides={"model.noise": 0.5, "regional.noise": 0.2}, seed=1)
@example(overrides={"states.TKM.neutrality": 1.0, "states.TKM.adjustment_rate": 1.0}, seed=2)
def test_metrics_stay_in_their_ranges(overrides, seed):
    scenario = BASELINE.with_overrides(overrides)
    ties, regional, _ = _run(scenario, seed)
    out = _measure(scenario, ties, regional)
    for name, values in out.items():
        assert np.all(np.isfinite(values)), name
    shares = out["shares"]  # per dimension and overall
    _assert_in(shares, 0.0, 1.0, "shares")
    np.testing.assert_allclose(shares.sum(axis=-2), 1.0, rtol=0, atol=TOL)
    _assert_in(out["hhi"], 1 / N_POWERS, 1.0, "hhi")
    _assert_in(out["hhi_normalised"], 0.0, 1.0, "hhi_normalised")
    _assert_in(out["effective_partners"], 1.0, N_POWERS, "effective_partners")
    _assert_in(out["largest_share"], 1 / N_POWERS, 1.0, "largest_share")
    assert np.all((out["largest_partner"] >= 0) & (out["largest_partner"] < N_POWERS))
    _assert_in(out["vulnerability"], 0.0, 1.0, "vulnerability")
    _assert_in(out["drift_from_start"], 0.0, 1.0, "drift_from_start")
    _assert_in(out["drift_year_on_year"], 0.0, 1.0, "drift_year_on_year")
    assert np.all(out["drift_from_start"][0] == 0.0)
    _assert_in(out["poles"], 0.0, 1.0, "poles")
    np.testing.assert_allclose(out["poles"].sum(axis=-1), 1.0, rtol=0, atol=TOL)
    _assert_in(out["relative_alignment"], -1.0, 1.0, "relative_alignment")
    _assert_in(out["regional_engagement"], 0.0, 1.0, "regional_engagement")
    _assert_in(out["regional_cooperation"], 0.0, 1.0, "regional_cooperation")


# --------------------------------------------------------------------------------------------
# the compiled parameter arrays


@PROPERTY
@given(overrides=parameter_overrides(BASELINE))
def test_drawn_overrides_validate_and_compile_to_finite_arrays(overrides):
    scenario = BASELINE.with_overrides(overrides)
    for key, value in overrides.items():
        assert scenario.parameters[key].value == value
    c = scenario.compiled
    for name in CompiledScenario.EPOCH_ARRAYS:
        assert np.all(np.isfinite(getattr(c, name))), name
    assert np.all((c.membership >= 0.0) & (c.membership <= 1.0))
    assert np.all(c.floor >= 0.0)
    assert np.all(c.floor.sum(axis=2) <= 0.6 + TOL)  # floors leave the choice a choice
    assert np.all(c.need >= 0.0)
    assert np.all((c.regional_target >= 0.0) & (c.regional_target <= 1.0))
    _assert_in(c.balancing_propensity, 0.0, 20.0, "balancing_propensity")
    _assert_in(c.adjustment_rate, 0.0, 1.0, "adjustment_rate")
    assert c.epoch_of_step.shape == (scenario.n_steps,)
    assert np.all(np.diff(c.epoch_of_step) >= 0)


# --------------------------------------------------------------------------------------------
# the full horizon, once


def test_the_baseline_runs_to_the_end_within_its_invariants():
    model = MultivectorModel(BASELINE, rng=BASELINE.seed).run()
    assert model.month_step == BASELINE.n_steps
    _assert_in(model.ties_history, 0.0, np.inf, "ties")
    _assert_in(model.regional_history, 0.0, 1.0, "regional")
    out = _measure(BASELINE, model.ties_history, model.regional_history)
    for name, values in out.items():
        assert np.all(np.isfinite(values)), name
    _assert_in(out["hhi"], 1 / N_POWERS, 1.0, "hhi")
    _assert_in(out["drift_from_start"], 0.0, 1.0, "drift_from_start")


# --------------------------------------------------------------------------------------------
# known bug


@pytest.mark.parametrize("temperature", [5e-324, 1e-310, 0.0099])
def test_tiny_temperature_is_rejected(temperature):
    # below 0.01, u / temperature overflowed to NaN ties (found by hypothesis): now a clear error
    with pytest.raises(ScenarioError, match=r"model\.temperature .*\[0\.01, 10\.0\]"):
        BASELINE.with_overrides({"model.temperature": temperature})
