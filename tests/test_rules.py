"""model/rules.py: the Mesa model equals the array engine; counter-based noise; reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ensemble import simulate_ensemble
from model.model import MultivectorModel, noise_key_from
from model.rules import noise_factor, uniform
from model.scenario import CompiledScenario, Scenario, load_scenario
from tests.strategies import parameter_overrides, seeds

BASELINE_PATH = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
BASELINE = load_scenario(BASELINE_PATH)
MONTHS = 48  # for property tests: four years exercise every rule and the first events


def _engine(compiled: CompiledScenario, key: np.uint64, n_steps: int):
    """The ensemble engine's run with noise key ``key`` for the first ``n_steps`` months."""
    ties, regional = simulate_ensemble(compiled, keys=[key], record=np.arange(n_steps + 1))
    return ties[0], regional[0]


def _mesa(scenario: Scenario, rng, n_steps: int | None = None) -> MultivectorModel:
    model = MultivectorModel(scenario, rng=rng)
    if n_steps is None:
        return model.run()
    for _ in range(n_steps):
        model.step()
    return model


# --------------------------------------------------------------------------------------------
# the Mesa model and the ensemble engine are one implementation


@pytest.mark.parametrize("seed", [0, 1, 20211231])
def test_mesa_model_equals_the_ensemble_engine(seed):
    model = _mesa(BASELINE, seed)
    key = noise_key_from(np.random.default_rng(seed))
    assert model.noise_key == key
    ties, regional = _engine(BASELINE.compiled, key, BASELINE.n_steps)
    assert model.ties_history.shape == ties.shape == (BASELINE.n_steps + 1, 5, 6, 4)
    assert np.array_equal(model.ties_history, ties)
    assert np.array_equal(model.regional_history, regional)
    assert not model.running
    assert model.date == "2021-12"


@settings(max_examples=15, deadline=None)
@given(overrides=parameter_overrides(BASELINE, min_temperature=0.01), seed=seeds())
def test_mesa_model_equals_the_ensemble_engine_for_any_parameters(overrides, seed):
    scenario = BASELINE.with_overrides(overrides)
    model = _mesa(scenario, seed, MONTHS)
    ties, regional = _engine(scenario.compiled, noise_key_from(np.random.default_rng(seed)), MONTHS)
    assert np.array_equal(model.ties_history[: MONTHS + 1], ties, equal_nan=True)
    assert np.array_equal(model.regional_history[: MONTHS + 1], regional, equal_nan=True)


@pytest.mark.parametrize(
    "make_rng", [np.random.SeedSequence, np.random.default_rng], ids=["SeedSequence", "Generator"]
)
def test_mesa_model_equals_the_ensemble_engine_for_generator_seeds(make_rng):
    model = _mesa(BASELINE, make_rng(7), 24)
    key = noise_key_from(np.random.default_rng(make_rng(7)))
    ties, regional = _engine(BASELINE.compiled, key, 24)
    assert np.array_equal(model.ties_history[:25], ties)
    assert np.array_equal(model.regional_history[:25], regional)


def test_mesa_model_records_the_initial_state():
    model = MultivectorModel(BASELINE, rng=3)
    np.testing.assert_array_equal(model.ties_history[0], BASELINE.compiled.initial_ties)
    np.testing.assert_array_equal(model.regional_history[0], BASELINE.compiled.initial_regional)
    assert model.date == "1991-12"


def test_mesa_model_overrides_argument_equals_with_overrides():
    overrides = {"states.KAZ.balancing_propensity": 3.0, "model.noise": 0.1}
    direct = _mesa(BASELINE, 5, MONTHS)
    via_argument = MultivectorModel(BASELINE, rng=5, overrides=overrides)
    via_scenario = MultivectorModel(BASELINE.with_overrides(overrides), rng=5)
    for _ in range(MONTHS):
        via_argument.step()
        via_scenario.step()
    recorded = slice(0, MONTHS + 1)
    assert np.array_equal(via_argument.ties_history[recorded], via_scenario.ties_history[recorded])
    assert not np.array_equal(direct.ties_history[recorded], via_scenario.ties_history[recorded])


# --------------------------------------------------------------------------------------------
# counter-based randomness

_MASK = (1 << 64) - 1


def _splitmix64(key: int, counter: int) -> int:
    """Output number ``counter`` of the SplitMix64 stream seeded with ``key``, in plain ints."""
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def test_splitmix64_reference_matches_the_published_first_output():
    # SplitMix64 seeded with 0 starts 0xE220A8397B1DCDAF (Vigna's splitmix64.c)
    assert _splitmix64(0, 0) == 0xE220A8397B1DCDAF


@pytest.mark.parametrize(
    ("key", "counter"), [(0, 0), (0, 1), (12345, 678), (2**64 - 1, 0), (2**63, 2**40)]
)
def test_uniform_is_splitmix64(key, counter):
    expected = (_splitmix64(key, counter) >> 11) * 2.0**-53
    assert uniform(np.uint64(key), np.int64(counter)) == expected


@settings(max_examples=200, deadline=None)
@given(key=st.integers(0, 2**64 - 1), counter=st.integers(0, 2**62))
def test_uniform_is_in_unit_interval_and_deterministic(key, counter):
    first = uniform(np.uint64(key), np.int64(counter))
    assert 0.0 <= first < 1.0
    assert uniform(np.uint64(key), np.int64(counter)) == first


def _draws(function, key: int, n: int, *args) -> np.ndarray:
    return np.array([function(np.uint64(key), np.int64(c), *args) for c in range(n)])


def test_uniform_draws_look_uniform():
    u = _draws(uniform, 987654321, 50_000)
    assert np.all((u >= 0) & (u < 1))
    assert len(np.unique(u)) == u.size
    assert u.mean() == pytest.approx(0.5, abs=0.01)  # sd of the mean is 0.0013
    assert u.var() == pytest.approx(1 / 12, abs=0.003)
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert counts.min() > 4_500 and counts.max() < 5_500  # expected 5000 +- 67


def test_different_keys_give_different_streams():
    assert not np.array_equal(_draws(uniform, 1, 100), _draws(uniform, 2, 100))


@pytest.mark.parametrize("sd", [0.03, 0.2, 0.5])
def test_noise_factor_has_mean_one_and_the_given_sd(sd):
    eps = _draws(noise_factor, 424242, 50_000, sd)
    half_width = np.sqrt(3) * sd
    assert np.all((eps >= 1 - half_width) & (eps <= 1 + half_width))
    assert np.all(eps > 0)
    assert eps.mean() == pytest.approx(1.0, abs=5 * sd / np.sqrt(eps.size) + 1e-12)
    assert eps.std() == pytest.approx(sd, rel=0.03)


def test_noise_factor_without_noise_is_exactly_one():
    assert np.all(_draws(noise_factor, 99, 1000, 0.0) == 1.0)


# --------------------------------------------------------------------------------------------
# reproducibility


def test_same_seed_gives_identical_histories():
    first, second = _mesa(BASELINE, 11), _mesa(BASELINE, 11)
    assert np.array_equal(first.ties_history, second.ties_history)
    assert np.array_equal(first.regional_history, second.regional_history)
    assert first.datacollector.get_model_vars_dataframe().equals(
        second.datacollector.get_model_vars_dataframe()
    )


def test_different_seeds_give_different_histories():
    first, second = _mesa(BASELINE, 11), _mesa(BASELINE, 12)
    assert np.array_equal(first.ties_history[0], second.ties_history[0])  # same start
    assert not np.array_equal(first.ties_history[1:], second.ties_history[1:])
    assert not np.array_equal(first.regional_history[1:], second.regional_history[1:])
    # every month after the first differs somewhere
    moved = np.any(first.ties_history != second.ties_history, axis=(1, 2, 3))
    assert moved[1:].all()


@settings(max_examples=10, deadline=None)
@given(seed=seeds())
def test_any_seed_reproduces(seed):
    first, second = _mesa(BASELINE, seed, MONTHS), _mesa(BASELINE, seed, MONTHS)
    recorded = slice(0, MONTHS + 1)
    assert np.array_equal(first.ties_history[recorded], second.ties_history[recorded])
    assert np.array_equal(first.regional_history[recorded], second.regional_history[recorded])


def test_ties_decaying_to_zero_give_uniform_shares_not_nan():
    """Found by hypothesis: with no offers, ties decay through subnormal numbers.

    The reciprocal of a subnormal sum overflows, and the shares became NaN (month 513 of the
    2040 baseline); a sum below the smallest normal float64 now counts as no ties.
    """
    silent = {"model.noise": 0.0, "model.lockin_floor": 0.0, "states.KAZ.adjustment_rate": 0.75}
    for power in BASELINE.power_ids:
        silent[f"powers.{power}.interest"] = 0.0
    scenario = load_scenario(BASELINE_PATH.with_name("baseline-2040.toml"), silent)
    model = _mesa(scenario, 0)
    assert not np.isnan(model.ties_history).any()
    assert not np.isnan(model.shares).any()
    kaz = scenario.state_ids.index("KAZ")
    assert np.all(model.ties_history[-1, kaz] < np.finfo(float).tiny)
    np.testing.assert_array_equal(model.shares[kaz], 1.0 / len(scenario.powers))
    ties, _ = _engine(scenario.compiled, model.noise_key, scenario.n_steps)
    assert np.array_equal(ties, model.ties_history)


def test_advance_runs_unpacks_the_declared_block_parameters():
    """The one place the rules name their packed parameters agrees with the declaration
    (CompiledScenario.BLOCK_PARAMETERS), which the engine's buffers are built from."""
    import ast
    import inspect

    from model import rules

    tree = ast.parse(inspect.getsource(rules.advance_runs.py_func))
    unpack = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == "parameters"
    )
    names = tuple(element.id for element in unpack.targets[0].elts)
    assert names == CompiledScenario.BLOCK_PARAMETERS
