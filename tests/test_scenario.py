"""Scenario loading: one ScenarioError per kind of mistake, extends, overrides, provenance."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings

from model.parameters import EVENT_KINDS
from model.scenario import (
    CompiledScenario,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_override,
)
from tests.conftest import SCENARIO_FILES
from tests.strategies import override_texts

BASELINE_PATH = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
BASELINE = load_scenario(BASELINE_PATH)


def _write(directory: Path, name: str, body: str, *, extends: str | None = str(BASELINE_PATH)):
    path = directory / name
    head = f'extends = "{extends}"\n' if extends is not None else ""
    path.write_text(head + body + "\n", encoding="utf-8")
    return path


def _error(path: Path | str, overrides=()) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path), overrides)
    return str(info.value)


def _assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# --------------------------------------------------------------------------------------------
# one test per kind of mistake


def test_unknown_top_level_key(tmp_path):
    path = _write(tmp_path, "top.toml", "balancing = 1.0")
    _assert_one_line(_error(path), str(path), "balancing", "unknown key", "allowed", "states")


def test_unknown_nested_key(tmp_path):
    path = _write(tmp_path, "typo.toml", "[states.KAZ]\nbalancing_propensty = 2.0")
    message = _error(path)
    _assert_one_line(
        message, str(path), "states.KAZ.balancing_propensty", "unknown key", "balancing_propensity"
    )


def test_wrong_type_string_for_a_number(tmp_path):
    path = _write(tmp_path, "type.toml", '[states.KAZ]\nbalancing_propensity = "high"')
    _assert_one_line(
        _error(path), str(path), "states.KAZ.balancing_propensity", "a number in [0.0, 20.0]"
    )


def test_wrong_type_bool_for_a_number(tmp_path):
    path = _write(tmp_path, "bool.toml", "[model]\nnoise = true")
    _assert_one_line(_error(path), str(path), "model.noise", "a number in [0.0, 0.5]")


def test_value_below_range(tmp_path):
    path = _write(tmp_path, "negative.toml", "[states.KAZ]\nbalancing_propensity = -1")
    _assert_one_line(
        _error(path), str(path), "states.KAZ.balancing_propensity", "= -1", "[0.0, 20.0]"
    )


def test_value_above_range(tmp_path):
    path = _write(tmp_path, "neutral.toml", "[states.TKM]\nneutrality = 2")
    _assert_one_line(_error(path), str(path), "states.TKM.neutrality", "= 2", "[0.0, 1.0]")


def test_temperature_below_its_lower_bound_is_rejected(tmp_path):
    path = _write(tmp_path, "cold.toml", "[model]\ntemperature = 0.0")
    _assert_one_line(_error(path), str(path), "model.temperature", "[0.01, 10.0]")


def test_unknown_actor_in_event_change_key(tmp_path):
    body = (
        '[events.ghost]\ndate = "2000-01"\nsource = "test"\n'
        'changes = [ { key = "states.XXX.openness", add = 1.0 } ]'
    )
    path = _write(tmp_path, "actor.toml", body)
    _assert_one_line(
        _error(path),
        str(path),
        "events.ghost.changes[0].key",
        "states.XXX.openness",
        "states.<STATE>.",
        "known actor ids",
    )


def test_unknown_institution_in_memberships(tmp_path):
    path = _write(tmp_path, "nato.toml", '[states.KAZ]\nmemberships = ["NATO"]')
    _assert_one_line(
        _error(path), str(path), "states.KAZ.memberships", "NATO", "CSTO, EURASIAN, SCO"
    )


def test_unknown_institution_in_an_event_membership_change(tmp_path):
    body = (
        '[events.nato]\ndate = "2000-01"\nsource = "test"\n'
        'changes = [ { key = "states.KAZ.memberships", add = "NATO" } ]'
    )
    path = _write(tmp_path, "nato_event.toml", body)
    _assert_one_line(
        _error(path), str(path), "events.nato.changes[0].add", "NATO", "CSTO, EURASIAN, SCO"
    )


def test_event_date_outside_the_horizon(tmp_path):
    path = _write(tmp_path, "late.toml", '[events.late]\ndate = "2030-01"\nsource = "test"')
    _assert_one_line(
        _error(path), str(path), "events.late.date", "2030-01", "from 1991-12 to 2021-12"
    )


def test_event_date_before_the_start(tmp_path):
    path = _write(tmp_path, "early.toml", '[events.early]\ndate = "1991-11"\nsource = "test"')
    _assert_one_line(_error(path), str(path), "events.early.date", "from 1991-12 to 2021-12")


@pytest.mark.parametrize("date", ["2001-13", "January 2001", "2001/05", "2001-5-1"])
def test_malformed_event_date(tmp_path, date):
    path = _write(tmp_path, "bad_date.toml", f'[events.x]\ndate = "{date}"\nsource = "test"')
    _assert_one_line(_error(path), str(path), "events.x.date", date, 'a month "YYYY-MM"')


def test_malformed_scenario_end(tmp_path):
    path = _write(tmp_path, "bad_end.toml", '[scenario]\nend = "2021-00"')
    _assert_one_line(_error(path), str(path), "scenario.end", 'a month "YYYY-MM"')


def test_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    _assert_one_line(_error(path), str(path), "file", "no such scenario file")


def test_missing_parent_in_extends(tmp_path):
    path = _write(tmp_path, "orphan.toml", "", extends="no_such_parent.toml")
    _assert_one_line(_error(path), str(path), "extends", "no such scenario file")


def test_missing_parent_in_extends_names_the_parent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short relative names, as typed on the command line
    _write(tmp_path, "orphan.toml", "", extends="no_such_parent.toml")
    _assert_one_line(_error("orphan.toml"), "orphan.toml", "extends", "no_such_parent.toml")


def test_missing_parent_with_a_long_path_still_names_the_parent(tmp_path):
    directory = tmp_path / "a_rather_long_directory_name_for_a_family_of_scenario_variants"
    directory.mkdir()
    path = _write(directory, "orphan.toml", "", extends="no_such_parent.toml")
    _assert_one_line(_error(path), str(path), "extends", "no_such_parent.toml")


def test_cycle_in_extends(tmp_path):
    a = _write(tmp_path, "a.toml", "", extends="b.toml")
    _write(tmp_path, "b.toml", "", extends="a.toml")
    _assert_one_line(_error(a), str(a), "extends", "no cycle", "a.toml -> b.toml -> a.toml")


def test_toml_syntax_error(tmp_path):
    path = _write(tmp_path, "broken.toml", "[states.KAZ\nbalancing_propensity = ")
    _assert_one_line(_error(path), str(path), "(syntax)", "line 2", "valid TOML")


def test_event_change_taking_a_value_out_of_range(tmp_path):
    body = (
        '[events.too_neutral]\ndate = "2000-01"\nsource = "test"\n'
        'changes = [ { key = "states.KAZ.neutrality", set = 2.0 } ]'
    )
    path = _write(tmp_path, "event_range.toml", body)
    _assert_one_line(
        _error(path),
        str(path),
        "events.too_neutral.changes[0].set",
        "states.KAZ.neutrality in [0.0, 1.0]",
    )


def test_base_value_that_a_baseline_event_pushes_out_of_range(tmp_path):
    # mirziyoyev_2016 multiplies UZB's balancing propensity by 3 (in the prior, where the
    # doctrine events' scale is 1): 10 -> 30 > 20
    prior = str(BASELINE_PATH.with_name("baseline-prior.toml"))
    path = _write(tmp_path, "uzb.toml", "[states.UZB]\nbalancing_propensity = 10", extends=prior)
    _assert_one_line(
        _error(path),
        "events.mirziyoyev_2016.changes[1].mul",
        "states.UZB.balancing_propensity in [0.0, 20.0]",
    )


def test_set_style_override_with_a_non_number():
    message = _error(BASELINE_PATH, ["states.KAZ.balancing_propensity=abc"])
    _assert_one_line(message, "--set", "states.KAZ.balancing_propensity", "'abc'", "a number")


def test_set_style_override_out_of_range():
    message = _error(BASELINE_PATH, ["model.lockin_floor=0.5"])
    _assert_one_line(message, "--set", "model.lockin_floor", "[0.0, 0.3]")


def test_set_style_override_without_equals_sign():
    message = _error(BASELINE_PATH, ["states.KAZ.balancing_propensity"])
    _assert_one_line(message, "--set", "states.KAZ.balancing_propensity", "KEY.PATH=VALUE")


def test_set_style_override_of_an_unknown_key():
    message = _error(BASELINE_PATH, ["states.KAZ.balancing=2"])
    _assert_one_line(message, "--set", "states.KAZ.balancing", "unknown key")


@settings(max_examples=25, deadline=None)
@given(raw=override_texts())
@example(raw="abc")
@example(raw="19.5")
@example(raw="1e400")
@example(raw="{ value = 2.0, source = 3 }")
def test_any_set_value_loads_or_fails_with_one_line(raw):
    """Parser robustness: whatever follows ``=``, the result is a scenario or a ScenarioError."""
    try:
        key, value = parse_override(f"states.KAZ.balancing_propensity={raw}")
        scenario = BASELINE.with_overrides({key: value})
    except ScenarioError as error:
        message = str(error)
        assert "\n" not in message
        # the value itself is wrong, or a dated event would push it out of range
        assert message.startswith("--set: ") or (
            ": events." in message and "leaving states.KAZ.balancing_propensity in" in message
        ), message
    else:
        assert isinstance(scenario, Scenario)
        assert 0.0 <= scenario.values["states.KAZ.balancing_propensity"] <= 20.0


# --------------------------------------------------------------------------------------------
# extends, overrides and provenance


def test_extends_merges_tables_key_by_key(tmp_path):
    body = "[states.KAZ]\nbalancing_propensity = 3.0\naffinity = { RUS = 1.0 }"
    child = load_scenario(_write(tmp_path, "child.toml", body))
    kaz, base = child.values, BASELINE.values
    assert child.states[0].id == "KAZ"
    assert kaz["states.KAZ.balancing_propensity"] == 3.0  # the child wins
    for key in ("adjustment_rate", "regime_sensitivity"):  # the rest of the table is inherited
        assert kaz[f"states.KAZ.{key}"] == base[f"states.KAZ.{key}"]
    assert kaz["states.KAZ.affinity.RUS"] == 1.0
    # a sibling in the inline table survives
    assert kaz["states.KAZ.affinity.TUR"] == base["states.KAZ.affinity.TUR"]
    changed = {k for k in base if kaz[k] != base[k]}
    assert changed == {"states.KAZ.balancing_propensity", "states.KAZ.affinity.RUS"}
    assert child.states == BASELINE.states
    assert child.powers == BASELINE.powers
    assert child.events == BASELINE.events
    leaf = child.parameters["states.KAZ.balancing_propensity"]
    assert leaf.file.endswith("child.toml") and leaf.source.startswith("set in")
    assert (
        child.parameters["states.KAZ.adjustment_rate"]
        == BASELINE.parameters["states.KAZ.adjustment_rate"]
    )


def test_extends_lists_replace(tmp_path):
    child = load_scenario(_write(tmp_path, "member.toml", '[states.KAZ]\nmemberships = ["CSTO"]'))
    assert child.values["states.KAZ.memberships"] == ("CSTO",)
    assert BASELINE.values["states.KAZ.memberships"] == ()


def test_extends_relative_to_the_child(tmp_path):
    parent = _write(tmp_path, "parent.toml", "[model]\nnoise = 0.1")
    (tmp_path / "sub").mkdir()
    child = _write(
        tmp_path / "sub", "child.toml", "[model]\nlockin_bonus = 1.0", extends="../parent.toml"
    )
    assert parent.exists()
    scenario = load_scenario(child)
    assert scenario.values["model.noise"] == 0.1
    assert scenario.values["model.lockin_bonus"] == 1.0
    assert scenario.values["model.temperature"] == BASELINE.values["model.temperature"]


def test_child_can_disable_an_event(tmp_path):
    child = load_scenario(_write(tmp_path, "no_bri.toml", "events.bri_2013.enabled = false"))
    bri = next(e for e in child.events if e.id == "bri_2013")
    assert not bri.enabled
    assert all(
        e.enabled == b.enabled
        for e, b in zip(child.events, BASELINE.events, strict=True)
        if e.id != "bri_2013"
    )
    base, changed = BASELINE.compiled, child.compiled
    # bri_2013 is the only event of 2013-09, so one epoch fewer
    assert changed.epoch_start.size == base.epoch_start.size - 1
    assert not np.array_equal(base.base_offer[-1], changed.base_offer[-1])
    chn = child.power_ids.index("CHN")
    scale = BASELINE.parameters["model.event_scale.infrastructure"].value  # bri_2013's kind
    np.testing.assert_allclose(
        base.base_offer[-1, :, chn, 0], changed.base_offer[-1, :, chn, 0] * (1.6 * 1.4) ** scale
    )
    # before September 2013 nothing differs
    step = 2013 * 12 + 8 - BASELINE.start
    epoch = base.epoch_of_step[step - 1]
    assert np.array_equal(
        base.base_offer[epoch], changed.base_offer[changed.epoch_of_step[step - 1]]
    )


def test_with_overrides_applies_and_records_the_value():
    scenario = BASELINE.with_overrides({"states.KAZ.balancing_propensity": 2.5})
    assert scenario.values["states.KAZ.balancing_propensity"] == 2.5
    assert scenario.compiled.balancing_propensity[0, 0] == 2.5
    leaf = scenario.parameters["states.KAZ.balancing_propensity"]
    assert leaf.value == 2.5 and leaf.source == "override (--set)"
    assert scenario.hash != BASELINE.hash
    original = BASELINE.parameters["states.KAZ.balancing_propensity"]
    assert original.value == 1.6 and original.source.startswith("article")  # untouched


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"model.temperature": 0.0}, "model.temperature"),
        ({"states.KAZ.adjustment_rate": 1.5}, "states.KAZ.adjustment_rate"),
        ({"powers.RUS.rivalry_response": "strong"}, "powers.RUS.rivalry_response"),
        ({"states.KAZ.balancing_propensty": 1.0}, "states.KAZ.balancing_propensty"),
        ({"scenario.end": "1995-12"}, "date"),  # events after 1995 fall outside the horizon
    ],
)
def test_with_overrides_validates(overrides, key):
    with pytest.raises(ScenarioError) as info:
        BASELINE.with_overrides(overrides)
    _assert_one_line(str(info.value), key)


def test_load_scenario_accepts_a_mapping_of_overrides():
    scenario = load_scenario(BASELINE_PATH, {"model.noise": 0.0})
    assert scenario.values["model.noise"] == 0.0
    assert scenario.parameters["model.noise"].file == "--set"


# every numeric or boolean leaf of these sections must say where its value comes from
SOURCED_SECTIONS = ("states", "powers", "dimensions", "regional", "model")


def _unsourced(scenario: Scenario, sections) -> list[str]:
    return [
        key
        for key, leaf in scenario.parameters.items()
        if key.split(".")[0] in sections
        and isinstance(leaf.value, bool | int | float)
        and leaf.source.startswith("set in")
    ]


def test_every_baseline_parameter_has_a_source():
    assert _unsourced(BASELINE, SOURCED_SECTIONS) == []
    assert len(BASELINE.parameters) > 100


def test_every_baseline_tie_row_has_a_source():
    for state in BASELINE.state_ids:
        for power in BASELINE.power_ids:
            leaf = BASELINE.parameters[f"ties.{state}.{power}.source"]
            assert isinstance(leaf.value, str) and leaf.value.strip()


def test_every_baseline_tie_value_carries_its_source():
    assert _unsourced(BASELINE, ("ties",)) == []


def test_a_duplicated_membership_is_rejected_or_counted_once():
    try:
        scenario = BASELINE.with_overrides({"states.KAZ.memberships": ["CSTO", "CSTO"]})
    except ScenarioError as error:
        _assert_one_line(str(error), "states.KAZ.memberships")
        return
    assert scenario.compiled.membership.max() <= 1.0


def test_baseline_has_at_least_40_sourced_events():
    assert len(BASELINE.events) >= 40
    for event in BASELINE.events:
        assert event.source.strip(), event.id
        assert event.title.strip(), event.id
        assert event.changes, event.id
        assert BASELINE.start <= event.month <= BASELINE.end


def test_set_value_with_a_second_line_is_rejected():
    with pytest.raises(ScenarioError, match="a single value on one line"):
        load_scenario(BASELINE_PATH, ["model.noise=0.1\nscenario.end='2030-12'"])


def test_a_scenario_pickles_for_worker_processes():
    """The processes executor and mesa.batch_run send scenarios to workers by pickle."""
    import pickle

    copy = pickle.loads(pickle.dumps(BASELINE))
    assert copy.hash == BASELINE.hash and copy.values == BASELINE.values
    assert np.array_equal(copy.compiled.base_offer, BASELINE.compiled.base_offer)


# --------------------------------------------------------------------------------------------
# event kinds and their scales (issue 14): mul = m acts as m ** s, a numeric add = a as s * a

SCALES_SCENARIO = """
[scenario]
name = "event-scales"
start = "2000-01"
end = "2001-12"

[dimensions.economic]
weight = 1.0

[powers.RUS]
interest = 0.5
rivalry_response = 1.0
capacity = { economic = 1.0 }

[powers.CHN]
interest = 1.25
rivalry_response = 1.0
capacity = { economic = 2.0 }

[institutions.EAEU]
power = "RUS"
dimensions = ["economic"]

[states.KAZ]
balancing_propensity = 1.5
adjustment_rate = 0.05
needs = { economic = 1.0 }

[states.UZB]  # a second state: regional ties need two
balancing_propensity = 1.5
adjustment_rate = 0.05
needs = { economic = 1.0 }

[ties.KAZ]
RUS = { economic = 0.7 }

[ties.UZB]
CHN = { economic = 0.7 }

[regional]
initial = 0.35
base = -0.5
adjustment_rate = 0.04

[model]
temperature = 0.7
noise = 0.03
rivalry_memory = 24.0
lockin_bonus = 0.8
lockin_floor = 0.1

[alignment]
poles = { Russia = ["RUS"], China = ["CHN"] }

[events.corridor]
date = "2001-01"
kind = "infrastructure"
source = "test: every op in one event of a kind"
changes = [
  { key = "powers.CHN.interest", mul = 1.6 },
  { key = "states.KAZ.balancing_propensity", add = 0.7 },
  { key = "states.KAZ.adjustment_rate", set = 0.2 },
  { key = "states.KAZ.memberships", add = "EAEU" },
]

[events.plain]
date = "2001-06"
source = "test: no kind, never scaled"
changes = [
  { key = "powers.RUS.interest", mul = 1.8 },
  { key = "states.KAZ.affinity.RUS", add = 0.3 },
]
"""


def _scales_scenario(directory: Path, scales: str = "") -> Scenario:
    path = directory / "event-scales.toml"
    path.write_text(SCALES_SCENARIO + scales, encoding="utf-8")
    return load_scenario(path)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 2.75])
def test_an_event_kinds_scale_powers_its_muls_and_multiplies_its_adds(tmp_path, scale):
    scenario = _scales_scenario(tmp_path, f"\n[model.event_scale]\ninfrastructure = {scale}\n")
    compiled = scenario.compiled
    assert compiled.epoch_start.tolist() == [0, 12, 17]  # 2000-01, 2001-01, 2001-06
    before, after = 0, 1
    chn, kaz, rus = 1, 0, 0
    # the compiled base offer is capacity x interest (focus and link 1): CHN 2.0 x 1.25 x m ** s
    assert compiled.base_offer[before, kaz, chn, 0] == 2.0 * 1.25
    np.testing.assert_allclose(
        compiled.base_offer[after, kaz, chn, 0], 2.0 * (1.25 * 1.6**scale), rtol=1e-15
    )
    assert compiled.balancing_propensity[after, kaz] == 1.5 + scale * 0.7
    # set and membership changes are not scaled
    assert compiled.adjustment_rate[after, kaz] == 0.2
    assert compiled.membership[after, kaz, rus, 0] == 1.0


def test_an_event_without_a_kind_is_never_scaled(tmp_path):
    scales = "".join(f"{kind} = 0.25\n" for kind in EVENT_KINDS)
    scenario = _scales_scenario(tmp_path, "\n[model.event_scale]\n" + scales)
    compiled, last, kaz, rus = scenario.compiled, 2, 0, 0
    assert [e.kind for e in scenario.events] == ["infrastructure", None]
    assert compiled.base_offer[last, kaz, rus, 0] == 1.0 * (0.5 * 1.8)
    assert compiled.attraction[last, kaz, rus] == 0.3


def test_an_unknown_event_kind_is_refused_in_one_line(tmp_path):
    body = (
        '[events.x]\ndate = "2000-01"\nkind = "economy"\nsource = "test"\n'
        'changes = [ { key = "states.KAZ.openness", add = 0.1 } ]'
    )
    path = _write(tmp_path, "kind.toml", body)
    _assert_one_line(
        _error(path), str(path), "events.x.kind", "'economy'", "one of " + ", ".join(EVENT_KINDS)
    )


def test_a_negative_mul_in_an_event_with_a_kind_is_refused(tmp_path):
    body = (
        '[events.x]\ndate = "2000-01"\nkind = "regional"\nsource = "test"\n'
        'changes = [ { key = "regional.base", mul = -1.0 } ]'
    )
    path = _write(tmp_path, "negative.toml", body)
    _assert_one_line(
        _error(path), str(path), "events.x.changes[0].mul", "model.event_scale.regional"
    )


def test_a_scale_that_pushes_a_dated_value_out_of_range_is_one_line():
    # infrastructure x 3: the 2009 pipeline's mul 8 acts as 8 ** 3 = 512 on a link of 10,
    # 5,120, out of [0, 1000]
    with pytest.raises(ScenarioError) as info:
        BASELINE.with_overrides(
            {"links.TKM.CHN.economic": 10.0, "model.event_scale.infrastructure": 3.0}
        )
    _assert_one_line(
        str(info.value),
        "baseline-prior.toml",
        "events.tkm_chn_pipeline_2009.changes[0].mul = 8.0",
        "links.TKM.CHN.economic in [0.0, 1000.0]",
        "it would be 5120 with model.event_scale.infrastructure = 3 set by --set",
    )
    message = _error(BASELINE_PATH, ["model.event_scale.shock=4"])
    _assert_one_line(message, "--set", "model.event_scale.shock", "[0.0, 3.0]")


def test_set_reaches_a_scale():
    scenario = load_scenario(BASELINE_PATH, ["model.event_scale.shock=0.5"])
    assert scenario.values["model.event_scale.shock"] == 0.5
    # west_disappointment_1998 (shock) multiplies US interest by 0.7: now by 0.7 ** 0.5,
    # in the baseline by 0.7 ** (its fitted scale)
    fitted = BASELINE.values["model.event_scale.shock"]
    epoch = scenario.compiled.epoch_of_step[1999 * 12 - scenario.start]
    usa = scenario.power_ids.index("USA")
    np.testing.assert_allclose(
        scenario.compiled.base_offer[epoch, :, usa] / BASELINE.compiled.base_offer[epoch, :, usa],
        0.7**0.5 / 0.7**fitted,
        rtol=1e-12,
    )


def test_sweeps_and_calibrations_reach_the_scales(tmp_path):
    from experiments.calibration import calibration_spec
    from experiments.design import sweep_of

    body = (
        '[sweep]\ndesign = "lhs"\nsamples = 4\n'
        '[sweep.parameters]\n"model.event_scale.doctrine" = [0.5, 1.5]\n'
        '[calibration.free]\n"model.event_scale.infrastructure" = [0.5, 2.0]\n'
    )
    scenario = load_scenario(_write(tmp_path, "fit-scales.toml", body))
    points = sweep_of(scenario).points()
    assert list(points.columns) == ["model.event_scale.doctrine"]
    for value in points["model.event_scale.doctrine"]:
        variant = scenario.with_overrides({"model.event_scale.doctrine": value})
        assert not np.array_equal(
            variant.compiled.balancing_propensity, BASELINE.compiled.balancing_propensity
        )
    free = {p.key: (p.low, p.high) for p in calibration_spec(scenario).free}
    assert free["model.event_scale.infrastructure"] == (0.5, 2.0)  # beside the baseline's
    # a range whose end is infeasible is refused before any fit, in one line (with a link of
    # 10, the 2009 pipeline's 8 ** 3 takes it to 5,120, out of [0, 1000])
    far = body.replace("0.5, 2.0", "0.5, 3.0") + "\n[links.TKM.CHN]\neconomic = 10.0\n"
    path = _write(tmp_path, "too-far.toml", far)
    with pytest.raises(ScenarioError) as info:
        calibration_spec(load_scenario(path))
    _assert_one_line(str(info.value), "calibration.free", "links.TKM.CHN.economic")


def _without_kinds(tmp_path: Path) -> Path:
    """A copy of scenarios/ with every event's ``kind`` line removed."""
    copy = tmp_path / "scenarios"
    shutil.copytree(BASELINE_PATH.parent, copy)
    for path in copy.rglob("*.toml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r'(?m)^kind = "[a-z]+"\n', "", text), encoding="utf-8")
    return copy


def test_scales_of_one_leave_every_scenario_as_without_kinds(tmp_path):
    copy = _without_kinds(tmp_path)
    ones = {f"model.event_scale.{k}": 1.0 for k in EVENT_KINDS}
    for path in SCENARIO_FILES:
        ours = load_scenario(path, ones)  # the calibrated baseline's scales are fitted
        plain = load_scenario(copy / path.relative_to(BASELINE_PATH.parent), ones)
        assert all(e.kind is None for e in plain.events)
        assert {e.kind for e in ours.events} <= set(EVENT_KINDS)
        for name in ("epoch_start", *CompiledScenario.RULE_ARGUMENTS):
            mine, theirs = getattr(ours.compiled, name), getattr(plain.compiled, name)
            assert np.array_equal(mine, theirs), (path.name, name)


def test_every_event_of_every_scenario_file_has_a_kind():
    for path in sorted(BASELINE_PATH.parent.rglob("*.toml")):
        with path.open("rb") as handle:
            events = tomllib.load(handle).get("events", {})
        missing = [e for e, table in events.items() if table.get("kind") not in EVENT_KINDS]
        assert not missing, (path.name, missing)
