"""The parameter table (model/parameters.py): consistent, complete, and what the docs say."""

from __future__ import annotations

import re

import pytest

from model.parameters import PARAMETERS, REQUIRED, allowed_children, dated_hint, lookup
from tests.conftest import ROOT


def test_numbers_have_ranges_and_defaults_inside_them():
    for p in PARAMETERS:
        if p.kind in ("number", "integer"):
            assert p.low is not None and p.high is not None and p.low < p.high, p.key
            if p.default is not REQUIRED:
                assert p.low <= p.default <= p.high, p.key
        else:
            assert p.low is None and p.high is None, p.key
        assert p.doc and p.unit, p.key


def test_every_key_of_the_baseline_belongs_to_one_parameter(baseline):
    for key in baseline.parameters:
        if key.split(".")[0] in ("events", "sweep", "calibration"):
            continue
        assert lookup(key) is not None, key
    assert lookup("states.KAZ.needs.economic").key == "states.<S>.needs.<D>"
    assert lookup("regional.pairs.KGZ-TJK").key == "regional.pairs.<S-S>"
    assert lookup("states.KAZ.happiness") is None


def test_values_hold_every_parameter_with_defaults(baseline):
    # one value per expanded key path: 5 states x 6 powers x 4 dimensions of initial ties...
    assert sum(k.startswith("ties.") and not k.endswith(".source") for k in baseline.values) == (
        5 * 6 * 4
    )
    assert baseline.values["powers.RUS.focus.KAZ"] == 1.0  # a default the file leaves out
    assert baseline.values["regional.pairs.KAZ-KGZ"] == 0.0


def test_allowed_children_follow_the_ids(baseline):
    ids = {
        "states": baseline.state_ids,
        "powers": baseline.power_ids,
        "dimensions": baseline.dimension_ids,
        "institutions": [k.id for k in baseline.institutions],
        "poles": [name for name, _ in baseline.alignment.poles],
        "pairs": ["KAZ-KGZ"],
    }
    allowed = allowed_children(ids)
    assert "balancing_propensity" in allowed[("states", "KAZ")]
    assert allowed[("states", "KAZ", "needs")] == baseline.dimension_ids
    assert dated_hint("links") == "links.<STATE>.<POWER>.<DIM>"


def _odd_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "ODD.md").read_text()
    section = text[text.index("### 7.8 Parameters") : text.index("### 7.9")]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            for key in re.findall(r"`([a-z_]+\.[^`]*)`", line.split("|")[1]):
                rows[key] = line
    return rows


DOC_NAMES = {"<S-S>": "<A>-<B>", "<Q>": "<name>"}


@pytest.mark.parametrize("parameter", PARAMETERS, ids=[p.key for p in PARAMETERS])
def test_odd_section_7_8_lists_each_parameter_with_its_range(parameter):
    if parameter.key.endswith((".name", ".label", ".source", ".title", ".description")):
        return  # names and texts are not listed
    if parameter.key == "institutions.<I>.dimensions":
        return  # listed together with institutions.<I>.power
    key = parameter.key
    for ours, theirs in DOC_NAMES.items():
        key = key.replace(ours, theirs)
    rows = _odd_rows()
    assert key in rows, f"docs/ODD.md §7.8 does not list {key}"
    if parameter.kind == "number":
        low, high = (f"{v:g}" for v in parameter.range)
        assert f"`[{low}, {high}]`" in rows[key], (key, rows[key])
