"""The scenario library: each what-if changes its parent only where it says it does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.ensemble import simulate_ensemble
from model.scenario import load_scenario, month_index
from tests.conftest import ROOT, SCENARIOS, WHAT_IFS

PARENT = load_scenario(SCENARIOS / "baseline-2040.toml")


def test_the_library_has_the_asked_for_what_ifs():
    names = {p.stem for p in WHAT_IFS}
    assert len(names) >= 8
    assert {"eaeu-expansion", "trans-caspian", "tapi-casa", "bri-slowdown"} <= names
    assert {"regional-integration", "regional-fragmentation", "turkic-2040"} <= names
    assert {"russia-shock", "us-reengagement"} <= names
    docs = (ROOT / "docs" / "scenarios.md").read_text()
    for name in names:
        assert f"what-ifs/{name}.toml" in docs, name


def test_the_2040_baseline_only_extends_the_horizon():
    baseline = load_scenario(SCENARIOS / "baseline.toml")
    assert PARENT.dates[-1] == np.datetime64("2040-12")
    assert PARENT.events == baseline.events
    ties, _ = simulate_ensemble(PARENT.compiled, [5], record=np.arange(baseline.n_steps + 1))
    assert np.array_equal(ties[0], simulate_ensemble(baseline.compiled, [5])[0][0])


@pytest.mark.parametrize("path", WHAT_IFS, ids=lambda p: p.stem)
def test_a_what_if_differs_from_its_parent_only_in_the_keys_it_declares(path):
    child = load_scenario(path)
    declared = {
        key for key, leaf in child.parameters.items() if Path(leaf.file).resolve() == path.resolve()
    }
    new_events = {e.id for e in child.events} - {e.id for e in PARENT.events}
    assert new_events, "a what-if adds dated events"
    for key in declared:  # only its name, title and its own events
        assert key.startswith("scenario.") or key.split(".")[1] in new_events, key
    assert set(PARENT.parameters) <= set(child.parameters)
    for key, leaf in PARENT.parameters.items():
        if not key.startswith("scenario."):
            assert child.parameters[key].value == leaf.value, key
    for event in child.events:
        if event.id in new_events:
            assert event.source and month_index(event.date) > month_index("2021-12")
    # the runs are the parent's until the first new event, and differ after it
    first = min(month_index(e.date) for e in child.events if e.id in new_events) - child.start
    a = simulate_ensemble(child.compiled, [9])
    b = simulate_ensemble(PARENT.compiled, [9])
    assert np.array_equal(a[0][0, : first + 1], b[0][0, : first + 1])
    assert np.array_equal(a[1][0, : first + 1], b[1][0, : first + 1])
    same_ties = np.array_equal(a[0][0, -1], b[0][0, -1])
    assert not (same_ties and np.array_equal(a[1][0, -1], b[1][0, -1]))
