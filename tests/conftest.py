"""Shared fixtures: the repository's paths and the loaded baseline."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
SCENARIO_FILES = sorted(p for p in SCENARIOS.rglob("*.toml") if p.name != "patterns.toml")
WHAT_IFS = sorted((SCENARIOS / "what-ifs").glob("*.toml"))


def load_tool(name: str) -> ModuleType:
    """The script ``tools/<name>.py`` imported as module ``name`` (tools are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(BASELINE)
