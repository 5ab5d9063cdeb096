"""The ensemble engine runs the Mesa model's rules: identical runs, wherever they sit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ensemble import simulate_ensemble, stack_variants
from model.model import MultivectorModel
from model.rules import LANES
from model.scenario import load_scenario
from tests.conftest import SCENARIO_FILES
from tests.strategies import parameter_overrides, seeds


def test_ensemble_equals_mesa_model_exactly(baseline):
    seeds = [3, 99, 2**40 + 1]
    ties, regional = simulate_ensemble(baseline.compiled, seeds)
    for k, seed in enumerate(seeds):
        model = MultivectorModel(baseline, rng=seed).run()
        assert np.array_equal(model.ties_history, ties[k])
        assert np.array_equal(model.regional_history, regional[k])


@settings(max_examples=10, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=12, unique=True),
    position=st.integers(0, 11),
)
def test_a_run_does_not_depend_on_its_ensemble(baseline, seeds, position):
    record = np.arange(0, baseline.n_steps + 1, 24)
    ties, _ = simulate_ensemble(baseline.compiled, seeds, record=record)
    k = position % len(seeds)
    alone, _ = simulate_ensemble(baseline.compiled, [seeds[k]], record=record)
    assert np.array_equal(alone[0], ties[k])


@settings(max_examples=6, deadline=None)
@given(
    size=st.integers(LANES + 1, 2 * LANES + 3),
    position=st.integers(0, 2 * LANES + 2),
    threads=st.integers(1, 2),
)
def test_a_run_does_not_depend_on_its_block(baseline, size, position, threads):
    """Full and partial blocks of LANES runs, any lane, split over threads."""
    seeds = list(range(500, 500 + size))
    record = np.arange(0, baseline.n_steps + 1, 60)
    ties, regional = simulate_ensemble(baseline.compiled, seeds, record=record, threads=threads)
    k = position % size
    alone, alone_regional = simulate_ensemble(baseline.compiled, [seeds[k]], record=record)
    assert np.array_equal(alone[0], ties[k])
    assert np.array_equal(alone_regional[0], regional[k])


def test_blocks_mixing_variants_equal_the_mesa_model(baseline):
    """Runs of two variants interleaved over more than one block (the per-run gather path)."""
    variants = [baseline, baseline.with_overrides({"states.KAZ.balancing_propensity": 3.0})]
    stack = stack_variants([v.compiled for v in variants])
    n_runs = LANES + 7
    variant = np.random.default_rng(4).integers(0, 2, n_runs)
    seeds = list(range(900, 900 + n_runs))
    ties, regional = simulate_ensemble(stack, seeds, variant=variant, threads=2)
    for k in (0, LANES - 1, LANES, n_runs - 1):
        model = MultivectorModel(variants[variant[k]], rng=seeds[k]).run()
        assert np.array_equal(model.ties_history, ties[k])
        assert np.array_equal(model.regional_history, regional[k])


SCENARIOS = [load_scenario(path) for path in SCENARIO_FILES]


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_ensemble_of_variants_equals_mesa_runs_exactly(data):
    """Over scenarios, drawn parameters (variants in one ensemble), seeds, R and positions."""
    scenario = data.draw(st.sampled_from(SCENARIOS), label="scenario")
    n_variants = data.draw(st.integers(1, 3), label="variants")
    variants = [
        scenario.with_overrides(data.draw(parameter_overrides(scenario), label=f"params{v}"))
        for v in range(n_variants)
    ]
    n_runs = data.draw(st.integers(1, 6), label="R")
    run_seeds = data.draw(
        st.lists(seeds(), min_size=n_runs, max_size=n_runs, unique=True), label="seeds"
    )
    variant = data.draw(
        st.lists(st.integers(0, n_variants - 1), min_size=n_runs, max_size=n_runs),
        label="variant of each run",
    )
    stack = stack_variants([v.compiled for v in variants])
    threads = data.draw(st.integers(1, 2), label="threads")
    ties, regional = simulate_ensemble(stack, run_seeds, variant=variant, threads=threads)
    position = data.draw(st.integers(0, n_runs - 1), label="position")
    model = MultivectorModel(variants[variant[position]], rng=run_seeds[position]).run()
    assert np.array_equal(model.ties_history, ties[position])
    assert np.array_equal(model.regional_history, regional[position])


def test_variants_with_different_event_switches_stack(baseline):
    short = baseline
    fewer = short.with_overrides({"events.bri_2013.enabled": False})
    assert fewer.compiled.epoch_start.size < short.compiled.epoch_start.size
    stack = stack_variants([short.compiled, fewer.compiled])
    ties, _ = simulate_ensemble(stack, [5, 5], variant=[0, 1])
    assert np.array_equal(ties[0], simulate_ensemble(short.compiled, [5])[0][0])
    assert np.array_equal(ties[1], simulate_ensemble(fewer.compiled, [5])[0][0])
    assert not np.array_equal(ties[0], ties[1])


def test_bad_variant_indices_are_refused(baseline):
    with pytest.raises(ValueError, match="variant"):
        simulate_ensemble(baseline.compiled, [1, 2], variant=[0, 1])


def test_compiled_caches_are_keyed_on_every_file_they_are_built_from():
    from model import ensemble, rules

    def files(function):
        return {name for name, *_ in function._cache._cache_file._source_stamp}

    assert files(ensemble._ensemble_kernel) == {"ensemble.py", "rules.py", "elementary.py"}
    assert files(rules.state_ties_row) == {"rules.py", "elementary.py"}
