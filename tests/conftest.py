"""Shared fixtures: the repository's paths and the loaded baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
SCENARIO_FILES = sorted(p for p in SCENARIOS.rglob("*.toml") if p.name != "patterns.toml")
WHAT_IFS = sorted((SCENARIOS / "what-ifs").glob("*.toml"))


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(BASELINE)
