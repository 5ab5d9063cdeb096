"""Tests of tools/null_refits.py: each null model's free set has the baseline's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.calibration import calibration_spec
from model.scenario import load_scenario
from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]


nulls = load_tool("null_refits")


@pytest.mark.parametrize("name", nulls.NULLS)
def test_a_null_fits_as_many_parameters_as_the_baseline_and_none_it_switches_off(name):
    baseline = calibration_spec(load_scenario(ROOT / "scenarios" / "baseline-prior.toml"))
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    spec, added = nulls.null_spec(scenario)
    keys = [p.key for p in spec.free]
    assert len(keys) == len(set(keys)) == len(baseline.free)
    # a switched-off parameter is never free: its null value (e.g. balancing propensity 0)
    # would be overwritten by the fit
    assert not [k for k in keys if scenario.parameters[k].source.startswith("null model")]
    removed = [p.key for p in baseline.free if p.key not in keys]
    assert len(added) == len(removed)
    assert set(added) <= {key for key, _, _ in nulls.SPARE}


def test_the_bandwagon_null_loses_the_choice_parameters_it_switches_off():
    scenario = load_scenario(ROOT / "scenarios" / "bandwagon.toml")
    spec, added = nulls.null_spec(scenario)
    keys = {p.key for p in spec.free}
    assert not keys & {
        "model.temperature",
        "model.lockin_bonus",
        "powers.RUS.leverage",
        "powers.CHN.leverage",
    }
    # four switched off, so the first four spares it leaves on (KAZ's balancing is off)
    assert added == [
        "powers.CHN.rivalry_response",
        "powers.RUS.rivalry_response",
        "powers.USA.rivalry_response",
        "powers.RUS.capacity.economic",
    ]
    assert "regional.adjustment_rate" in keys  # free in the baseline, not switched off here


def test_the_equal_threat_null_loses_exactly_the_two_leverages():
    baseline = calibration_spec(load_scenario(ROOT / "scenarios" / "baseline-prior.toml"))
    spec, added = nulls.null_spec(load_scenario(ROOT / "scenarios" / "equal-threat.toml"))
    removed = [p.key for p in baseline.free if p.key not in {q.key for q in spec.free}]
    assert removed == ["powers.RUS.leverage", "powers.CHN.leverage"]
    assert added == ["powers.CHN.rivalry_response", "powers.RUS.rivalry_response"]
