"""The ensemble engine runs the Mesa model's rules: identical runs, wherever they sit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ensemble import simulate_ensemble
from model.model import MultivectorModel


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
