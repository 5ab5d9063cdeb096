"""The shared harness: every scenario in scenarios/ loads, runs, and is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from model.metrics import partner_shares
from model.model import MultivectorModel
from model.scenario import load_scenario
from tests.conftest import SCENARIO_FILES

MONTHS = 60  # a few years are enough to exercise every rule; the full horizon runs in test_cli


def _run(scenario, seed, months=MONTHS):
    model = MultivectorModel(scenario, rng=seed)
    for _ in range(months):
        model.step()
    return model


@pytest.fixture(scope="module", params=SCENARIO_FILES, ids=lambda p: p.name)
def scenario(request):
    return load_scenario(request.param)


def test_there_are_scenarios_to_check():
    names = {p.name for p in SCENARIO_FILES}
    assert {"baseline.toml", "no-balancing.toml", "inertia-only.toml"} <= names


def test_loads_with_sources_and_events(scenario):
    assert scenario.n_steps > 0
    assert len(scenario.states) == 5 and len(scenario.powers) >= 6
    assert all(e.source for e in scenario.events)


def test_runs_to_the_end(scenario):
    model = MultivectorModel(scenario, rng=3).run()
    assert model.month_step == scenario.n_steps and not model.running
    assert np.isfinite(model.ties_history).all() and (model.ties_history >= 0).all()
    shares = partner_shares(model.ties_history)
    np.testing.assert_allclose(shares.sum(axis=-2), 1.0, rtol=1e-12)


def test_same_seed_same_outputs(scenario):
    a, b = _run(scenario, 11), _run(scenario, 11)
    assert np.array_equal(a.ties_history[: MONTHS + 1], b.ties_history[: MONTHS + 1])
    assert np.array_equal(a.regional_history[: MONTHS + 1], b.regional_history[: MONTHS + 1])


def test_different_seeds_differ(scenario):
    a, b = _run(scenario, 11), _run(scenario, 12)
    assert not np.array_equal(a.ties_history[MONTHS], b.ties_history[MONTHS])
