"""The dashboard: its pure core, its Solara components (no browser) and the page end to end.

Component tests render the page with ``solara.render`` inside ``solara.AppLayout`` (without it
the sidebar's controls do not render) and drive the widgets from Python. The end-to-end test
serves the page with ``python -m experiments.app``, drives Debian's Chromium headless with
Playwright (never a downloaded browser), moves Kazakhstan's balancing slider, runs, and checks
that the trajectory view changed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import ipyvuetify as v
import numpy as np
import pytest
import solara
from solara.components.echarts import EchartsWidget
from solara.widgets import HTML, Navigator

from experiments.app import (
    QUEUE_LENGTH,
    SAVE_NAME_LENGTH,
    SCENARIO_ENV,
    Action,
    Dashboard,
    Page,
    SaveError,
    Simulation,
    apply_settings,
    check_save_name,
    compare_in_query,
    controls,
    current_value,
    dependence_chart,
    key_events,
    parse_query,
    parse_seed,
    queue_action,
    run_ensemble,
    run_title,
    save_settings,
    scenario_files,
    set_override,
    settings_query,
    shares_chart,
    simplex_chart,
    simplex_xy,
    single_run,
    summary_csv,
    try_settings,
)
from experiments.cli import main, parser
from model.scenario import load_scenario
from tests.conftest import BASELINE, ROOT, SCENARIOS

KAZ = "states.KAZ.balancing_propensity"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# --------------------------------------------------------------------------------------------
# the core, without Solara


def test_picker_lists_the_scenarios_not_the_pattern_registry():
    names = [p.name for p in scenario_files(SCENARIOS)]
    assert "baseline.toml" in names and "no-balancing.toml" in names
    assert "patterns.toml" not in names


def test_picker_looks_into_subfolders_and_lists_broken_files(tmp_path):
    (tmp_path / "what-ifs").mkdir()
    (tmp_path / "b.toml").write_text('[scenario]\nname = "b"\n')
    (tmp_path / "what-ifs" / "a.toml").write_text('extends = "../b.toml"\n')
    (tmp_path / "broken.toml").write_text("extends = \n")
    (tmp_path / "registry.toml").write_text("[patterns.x]\nclaim = 'not a scenario'\n")
    found = [p.relative_to(tmp_path).as_posix() for p in scenario_files(tmp_path)]
    assert found == ["b.toml", "broken.toml", "what-ifs/a.toml"]


def test_controls_cover_states_powers_and_key_events(baseline):
    groups = controls(baseline)
    keys = [c.key for group in groups.values() for c in group]
    assert len(keys) == 2 * len(baseline.states) + len(baseline.powers)
    assert KAZ in keys and "powers.CHN.rivalry_response" in keys
    inertia = next(c for c in keys if c.endswith("KAZ.adjustment_rate"))
    control = next(c for g in groups.values() for c in g if c.key == inertia)
    assert control.shown(0.03) == pytest.approx(0.97) and control.stored(0.95) == 0.05
    assert {"bri_2013", "eaeu_2015", "mirziyoyev_2016"} <= {e.id for e in key_events(baseline)}


def test_snapping_matches_the_browser_slider(baseline):
    control = controls(baseline)["Balancing propensity"][0]
    assert control.snapped(1.215) == 1.22  # the browser's slider rounds to its 0.01 grid
    assert control.snapped(25.0) == 20.0 and control.snapped(-1.0) == 0.0


def test_overrides_drop_values_equal_to_the_scenarios_own(baseline):
    own = current_value(baseline, KAZ)
    changed = set_override(baseline, {}, KAZ, 3.0)
    assert changed == {KAZ: 3.0}
    assert set_override(baseline, changed, KAZ, own) == {}
    assert set_override(baseline, {}, "events.bri_2013.enabled", False) == {
        "events.bri_2013.enabled": False
    }


def test_a_slider_returns_to_the_scenarios_own_value_exactly(baseline):
    # the slider stops on its grid only: the position nearest the scenario's own value means
    # that value, not a change (Kyrgyzstan's 1.754 came back as 1.750 and was saved)
    for control in (c for group in controls(baseline).values() for c in group):
        own = current_value(baseline, control.key)
        position = control.snapped(control.shown(own))
        assert control.value_at(position, own) == own
        assert set_override(baseline, {}, control.key, control.value_at(position, own)) == {}
        other = control.snapped(position + 3 * control.step)
        if other != position:
            assert set_override(baseline, {}, control.key, control.value_at(other, own))


def test_the_title_says_when_values_changed(baseline):
    assert run_title(single_run(baseline, 7)) == baseline.title
    changed = single_run(apply_settings(baseline, {KAZ: 5.0}), 7, {KAZ: 5.0})
    assert run_title(changed) == "Central Asia 1991-2021 (1 value changed)"
    assert "(1 value changed)" in dependence_chart(changed)["title"][0]["text"]


def test_a_typed_seed_is_a_whole_number_or_the_text_refused():
    assert parse_seed(" 20211231 ") == 20211231
    assert parse_seed("2021x") == "2021x"
    assert "a whole number" in try_settings(load_scenario(BASELINE), {}, parse_seed("2021x"))[1]


@pytest.mark.parametrize(
    ("overrides", "seed", "expected"),
    [
        (
            {KAZ: 25.0},
            1,
            "dashboard: states.KAZ.balancing_propensity = 25.0: a number in [0.0, 20.0]",
        ),
        ({KAZ: -1.0}, 1, "a number in [0.0, 20.0]"),
        # kgz_concept_1999 multiplies it by 1.2 ** (the doctrine events' fitted scale): > 20
        ({"states.KGZ.balancing_propensity": 20.0}, 1, "states.KGZ.balancing_propensity in"),
        ({"states.KAZ.adjustment_rate": 1.5}, 1, "a number in [0.0, 1.0]"),
        ({}, -5, "seed = -5: a whole number in [0, 2^63)"),
    ],
)
def test_bad_settings_give_a_one_line_message(baseline, overrides, seed, expected):
    scenario, message = try_settings(baseline, overrides, seed)
    assert scenario is None and expected in message and "\n" not in message


def test_more_balancing_lowers_kazakhstans_dependence(baseline):
    before = single_run(baseline, 7)
    after = single_run(apply_settings(baseline, {KAZ: 5.0}), 7, {KAZ: 5.0})
    assert after.dependence[-1, 0] < before.dependence[-1, 0] - 0.1
    assert np.array_equal(after.dependence[:, 1:], before.dependence[:, 1:])  # others as before
    assert after.finished and after.date == "2021-12"


def test_stepping_advances_the_date_and_ends_at_the_horizon(baseline):
    simulation = Simulation.start(baseline, 7)
    assert simulation.advance(0).date == "1991-12"
    assert simulation.advance(13).date == "1993-01"
    end = simulation.advance(None)
    assert end.finished and end.dependence.shape == (baseline.n_steps + 1, len(baseline.states))
    np.testing.assert_array_equal(end.dependence, single_run(baseline, 7).dependence)


def test_ensemble_replicate_zero_is_the_run_shown(baseline):
    ensemble = run_ensemble(baseline, 7, runs=8)
    run = single_run(baseline, 7)
    np.testing.assert_allclose(ensemble.final_dependence[0], run.dependence[-1])
    low, mid, high = ensemble.dependence
    assert np.all(low <= mid) and np.all(mid <= high)
    assert ensemble.final_poles.shape == (8, len(baseline.states), 3)


def test_presses_while_busy_wait_in_order_and_repeats_merge(baseline):
    other = apply_settings(baseline, {KAZ: 3.0})
    year = Action("step", baseline, 7, (), 12)
    queue = []
    for _ in range(10):  # ten quick "+1 year": one step of ten years
        queue = queue_action(queue, year)
    assert queue == [Action("step", baseline, 7, (), 120)]
    run = Action("run", baseline, 7, ())
    assert queue_action(queue_action(queue, run), run) == [*queue, run]  # Run twice: once
    changed = Action("run", other, 7, ((KAZ, 3.0),))
    assert queue_action([run], changed) == [run, changed]  # other settings: both, in order
    assert queue_action([run], Action("run", baseline, 8, ())) != [run]
    full = [Action("restart", baseline, seed, ()) for seed in range(QUEUE_LENGTH)]
    assert queue_action(full, run) == full
    assert "120 months: seed 7, the scenario's own values" in queue[0].describe()


def test_settings_go_into_the_url_and_back():
    values = {KAZ: 3.69, "events.bri_2013.enabled": False}
    query = settings_query("what-ifs/a b.toml", 5, values)
    assert query == (
        "scenario=what-ifs/a+b.toml&seed=5"
        "&events.bri_2013.enabled=false&states.KAZ.balancing_propensity=3.69"
    )
    assert parse_query(query) == ("what-ifs/a b.toml", 5, values)
    compared = settings_query("baseline.toml", None, {}, compare="no-balancing.toml")
    assert compared == "scenario=baseline.toml&compare=no-balancing.toml"
    assert compare_in_query(compared) == "no-balancing.toml"
    assert parse_query(compared) == ("baseline.toml", None, {})
    assert parse_query("scenario=baseline.toml") == ("baseline.toml", None, {})
    assert parse_query(None) == (None, None, {})
    # not validated here: the page shows why it cannot run these
    assert parse_query("seed=x&states.KAZ.balancing_propensity=lots") == (
        None,
        "x",
        {KAZ: "lots"},
    )


def test_simplex_projection_puts_poles_at_the_corners():
    x, y = simplex_xy(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 2], [1, 1, 1]], dtype=float))
    np.testing.assert_allclose(x, [0, 1, 0.5, 0.5])
    np.testing.assert_allclose(y, [0, 0, np.sqrt(3) / 2, np.sqrt(3) / 6])


def test_charts_have_a_panel_per_state_labels_and_event_marks(baseline):
    run = single_run(baseline, 7)
    ensemble = run_ensemble(baseline, 7, runs=4)
    dependence = dependence_chart(run, run, ensemble)
    json.dumps(dependence, allow_nan=False)  # what the browser gets: JSON, no NaN
    titles = [t["text"] for t in dependence["title"][1:]]
    assert titles[0] == "Kazakhstan: " + f"{run.dependence[-1, 0]:.2f}"
    assert dependence["title"][0]["text"].startswith("Dependence to 2021-12 — ")
    assert len(titles) == len(dependence["grid"]) == len(baseline.states)
    assert dependence["yAxis"][0]["name"] == "largest partner share"
    names = {s["name"] for s in dependence["series"]}
    assert {"this run", "baseline.toml as loaded", "median of 4 runs"} <= names
    band = next(s for s in dependence["series"] if s["name"].startswith("5-95%"))
    assert band["areaStyle"]["opacity"] >= 0.3  # a band one can see
    # every enabled event of the scenario is marked on the time axes, named on hover
    this_run = next(s for s in dependence["series"] if s["name"] == "this run")
    marks = {start["coord"][0] for start, _ in this_run["markLine"]["data"]}
    assert marks == {e.date for e in baseline.events if e.enabled}
    assert "2013-09" in marks and {"toolbox", "dataZoom", "tooltip"} <= set(dependence)
    shares = shares_chart(run)
    assert len(shares["series"]) == len(baseline.states) * len(baseline.powers)
    simplex = simplex_chart(run, ensemble)
    assert "Russia / China / West (USA+EU)" in simplex["title"]["text"]
    # zoomed to the data: every state's point lies inside the axes' range
    xmin, xmax = simplex["xAxis"]["min"], simplex["xAxis"]["max"]
    ymin, ymax = simplex["yAxis"]["min"], simplex["yAxis"]["max"]
    assert xmax - xmin < 1 and xmax - xmin == pytest.approx(ymax - ymin, abs=1e-3)
    for series in simplex["series"]:
        if series.get("name") in {s.name for s in baseline.states}:
            for point in series["data"]:
                x, y = point["value"]
                assert xmin <= x <= xmax and ymin <= y <= ymax


def test_states_powers_and_runs_have_colour_sets_of_their_own(baseline):
    run = single_run(baseline, 7)
    states = {s["itemStyle"]["color"] for s in simplex_chart(run)["series"] if "name" in s}
    powers = {s["itemStyle"]["color"] for s in shares_chart(run)["series"]}
    runs = {s["itemStyle"]["color"] for s in dependence_chart(run, run)["series"]}
    assert len(states) == len(baseline.states) and len(powers) == len(baseline.powers)
    assert len(runs) == 2 and not (states & powers or states & runs or powers & runs)


def test_the_table_exports_as_csv(baseline):
    run = single_run(apply_settings(baseline, {KAZ: 5.0}), 7, {KAZ: 5.0})
    text = summary_csv(run, single_run(baseline, 7), run_ensemble(baseline, 7, runs=4))
    lines = text.splitlines()
    assert lines[0].startswith("# ") and f"{KAZ} = 5.0" in lines[0]
    assert lines[1].split(",")[:5] == [
        "state",
        "date",
        "dependence",
        "largest_partner",
        "dependence_as_loaded",
    ]
    assert lines[2].startswith(f"KAZ,2021-12,{run.dependence[-1, 0]:.6f},")
    assert len(lines) == 2 + len(baseline.states)


@pytest.fixture
def scenario_folder(tmp_path):
    """A writable copy of the baseline and its parent (saving writes beside the scenario)."""
    for name in ("baseline.toml", "baseline-prior.toml"):
        shutil.copy(SCENARIOS / name, tmp_path / name)
    return tmp_path


def test_saved_settings_extend_the_scenario_and_load(scenario_folder):
    base_path = scenario_folder / "baseline.toml"
    overrides = {
        KAZ: 3.5,
        "states.UZB.adjustment_rate": 0.05,
        "powers.CHN.rivalry_response": 2.0,
        "events.bri_2013.enabled": False,
    }
    path = save_settings(base_path, overrides, 42, "kaz-more-balancing")
    assert path == scenario_folder / "kaz-more-balancing.toml"
    text = path.read_text()
    assert 'extends = "baseline.toml"' in text
    was = f"dashboard: was {load_scenario(BASELINE).parameters[KAZ].value:g}"
    assert f'states.KAZ.balancing_propensity = {{ value = 3.5, source = "{was}' in text
    assert "events.bri_2013.enabled = false" in text
    saved = load_scenario(path)
    assert saved.name == "kaz-more-balancing" and saved.seed == 42
    for key, value in overrides.items():
        assert current_value(saved, key) == value
    assert saved.parameters[KAZ].source.startswith(was)
    # never overwrite silently
    with pytest.raises(SaveError, match="exists already"):
        save_settings(base_path, {KAZ: 1.0}, 42, "kaz-more-balancing")
    assert load_scenario(path).parameters[KAZ].value == 3.5


@pytest.mark.parametrize(
    ("overrides", "seed", "name", "message"),
    [
        ({KAZ: 2.0}, 1, "../escape", "a name of letters"),
        ({KAZ: 2.0}, 1, "..", "a name of letters"),
        ({KAZ: 2.0}, 1, ".hidden", "a name of letters"),
        ({KAZ: 2.0}, 1, "kaz.v2", "a name of letters"),
        ({KAZ: 2.0}, 1, "", "give the new scenario a name"),
        ({KAZ: 2.0}, 1, "x" * (SAVE_NAME_LENGTH + 1), "at most 60 characters"),
        ({}, 20211231, "same", "nothing to save"),
        ({KAZ: 25.0}, 1, "bad", "a number in [0.0, 20.0]"),
    ],
)
def test_save_refuses_bad_names_no_changes_and_bad_values(
    scenario_folder, overrides, seed, name, message
):
    with pytest.raises(SaveError, match=message.replace("[", r"\[").replace("]", r"\]")):
        save_settings(scenario_folder / "baseline.toml", overrides, seed, name)
    assert sorted(p.name for p in scenario_folder.iterdir()) == [
        "baseline-prior.toml",
        "baseline.toml",
    ]


def test_save_names_are_checked_in_one_place():
    assert check_save_name("quiz-kaz-2030") is None and check_save_name("a_b") is None
    assert check_save_name("x" * SAVE_NAME_LENGTH) is None
    for name in ("", "..", ".hidden", "a/b", "a b", "x" * (SAVE_NAME_LENGTH + 1)):
        message = check_save_name(name)
        assert message and "\n" not in message


def test_app_command_bad_scenario_is_one_line_exit_2(tmp_path, capsys):
    assert main(["app", str(tmp_path / "missing.toml"), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.toml" in err and "no such scenario file" in err


def test_app_parser_defaults_and_bad_port(capsys):
    multivector = parser()
    args = multivector.parse_args(["app"])
    assert (args.scenario, args.host, args.port) == (None, "127.0.0.1", 8765)
    assert multivector.parse_args(["app", "x.toml", "--port", "9000"]).port == 9000
    with pytest.raises(SystemExit):
        multivector.parse_args(["app", "--port", "http"])
    assert "not a port number" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# components, rendered without a browser


def render(initial=BASELINE):
    return solara.render(
        solara.AppLayout(children=[Dashboard(initial=str(initial))]), handle_error=False
    )


def slider(rc, key):
    wrapper = rc.find(v.Html, class_=f"mv-slider mv-slider-{key.replace('.', '-')}")
    return wrapper.find(v.Slider).widget


def button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def summary(rc) -> str:
    (table,) = [w for w in rc.find(HTML).widgets if "mv-table" in (w.unsafe_innerHTML or "")]
    return table.unsafe_innerHTML


def dependence_of(rc, state: str) -> float:
    """The dependence the summary table shows for ``state`` (its ``data-dependence``)."""
    (value,) = re.findall(f'data-state="{state}" data-dependence="([^"]+)"', summary(rc))
    return float(value)


def chart(rc, name: str) -> dict:
    """The ECharts option of a chart on the page (``dependence``, ``shares`` or ``simplex``)."""
    wrapper = rc.find(v.Html, class_=f"mv-figure mv-figure-{name}")
    return wrapper.find(EchartsWidget).widget.option


def idle(rc, timeout: float = 120) -> None:
    """Wait until the page's background job (a run, steps or an ensemble) has finished and
    its last render is complete.

    The worker shows a result and the end of the busy state in one render, which updates the
    widgets one after another: the busy bar can be gone a moment before the table is new.
    """
    deadline = time.monotonic() + timeout
    while rc.find(v.ProgressLinear).widgets:
        assert time.monotonic() < deadline, "the page is still busy"
        time.sleep(0.05)
    before = None
    while (now := [w.unsafe_innerHTML for w in rc.find(HTML).widgets]) != before:
        assert time.monotonic() < deadline, "the page does not settle"
        before = now
        time.sleep(0.3)


def click(rc, label: str, *, changes: bool = True) -> None:
    """Click a button and wait for what it started (and, if it ``changes`` it, the table)."""
    before = summary(rc)
    button(rc, label).click()
    idle(rc)
    deadline = time.monotonic() + 30
    while changes and summary(rc) == before:  # the last render may trail the job's end
        assert time.monotonic() < deadline, f"{label!r} did not change the table"
        time.sleep(0.05)


def commit(rc, label: str, text: str) -> None:
    """Type ``text`` into a text field and leave it: its ``change`` event carries the text."""
    field = rc.find(v.TextField, label=label).widget
    field.v_model = text
    field.fire_event("change", text)


def messages(rc) -> list[str]:
    return [" ".join(map(str, w.children)) for w in rc.find(v.Alert).widgets]


def shows(rc, text: str, timeout: float = 10) -> bool:
    """Whether a message containing ``text`` shows within ``timeout`` seconds.

    A change made while the page's worker thread renders is rendered by that thread, just
    after: the page catches up shortly, not at once.
    """
    deadline = time.monotonic() + timeout
    while not any(text in m for m in messages(rc)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_page_shows_controls_in_the_sidebar(monkeypatch):
    monkeypatch.setenv(SCENARIO_ENV, str(BASELINE))
    _, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)
    try:
        assert len(rc.find(v.Slider)) == 16  # 5 balancing, 5 inertia, 6 rivalry
        assert rc.find(v.Slider, label="Kazakhstan inertia").widget.v_model == 0.97
        assert len(rc.find(v.Checkbox)) == len(load_scenario(BASELINE).events)  # every event
        picker = rc.find(v.Select, label="Scenario").widget
        assert picker.v_model == "baseline.toml" and "patterns.toml" not in picker.items
        for label in ("Run", "Ensemble (50 seeds)", "+1 year", "Save settings as scenario"):
            assert not button(rc, label).disabled
        calibrated = load_scenario(BASELINE).parameters[KAZ].value
        assert slider(rc, KAZ).v_model == round(calibrated, 2)  # on the slider's grid of 0.01
        assert "2021-12" in summary(rc) and chart(rc, "dependence")["series"]
        assert messages(rc) == []
    finally:
        rc.close()


def test_moving_kazakhstans_slider_and_running_changes_its_trajectory():
    _, rc = render()
    try:
        before, drawn = dependence_of(rc, "KAZ"), chart(rc, "dependence")
        slider(rc, KAZ).v_model = 5.0
        assert any("press Run" in m for m in messages(rc))  # not applied until Run
        assert dependence_of(rc, "KAZ") == before
        click(rc, "Run")
        assert dependence_of(rc, "KAZ") < before - 0.1
        assert chart(rc, "dependence") != drawn
        assert "baseline.toml as loaded" in summary(rc) and messages(rc) == []
    finally:
        rc.close()


def test_extreme_values_show_the_validation_message_not_an_exception():
    _, rc = render()
    try:
        before = summary(rc)
        slider(rc, "states.KGZ.balancing_propensity").v_model = 20.0  # events push it to 24
        (message,) = [m for m in messages(rc) if "Cannot run" in m]
        assert "states.KGZ.balancing_propensity in [0.0, 20.0] (it would be " in message
        assert button(rc, "Run").disabled and button(rc, "Ensemble (50 seeds)").disabled
        assert summary(rc) == before  # the last good run stays on show
        slider(rc, KAZ).v_model = -3.0  # what no slider sends, but a client could
        slider(rc, "states.KGZ.balancing_propensity").v_model = 1.0
        assert any("a number in [0.0, 20.0]" in m for m in messages(rc))
        slider(rc, KAZ).v_model = 2.0
        assert not [m for m in messages(rc) if "Cannot run" in m]
        assert not button(rc, "Run").disabled
    finally:
        rc.close()


def test_steps_update_the_date_and_the_ensemble_adds_bands():
    _, rc = render()
    try:
        click(rc, "Restart")
        assert "Dependence 1991-12" in summary(rc)
        click(rc, "+1 year")
        assert "Dependence 1992-12" in summary(rc)
        rc.find(v.Checkbox, label="2013-09 China proposes the Belt and Road").widget.v_model = False
        click(rc, "Ensemble (50 seeds)")
        text = summary(rc)
        assert "Dependence 2021-12" in text and "50 runs, 2021-12: median (5-95%)" in text
    finally:
        rc.close()


def test_picking_a_scenario_resets_the_values_and_a_bad_seed_is_a_message():
    null_model = load_scenario(SCENARIOS / "no-balancing.toml")
    _, rc = render()
    try:
        slider(rc, KAZ).v_model = 5.0
        rc.find(v.Select, label="Scenario").widget.v_model = "no-balancing.toml"
        assert slider(rc, KAZ).v_model == 0.0  # the null model's own value; the change dropped
        expected = single_run(null_model, null_model.seed).dependence[-1, 0]
        assert dependence_of(rc, "KAZ") == pytest.approx(expected, abs=1e-6)
        click(rc, "Run", changes=False)  # the same run as the one shown
        commit(rc, "Seed (batch seed; the run shown is replicate 0)", "-5")
        assert shows(rc, "seed = -5: a whole number in [0, 2^63)")
        assert button(rc, "Run").disabled
        assert dependence_of(rc, "KAZ") == pytest.approx(expected, abs=1e-6)  # the run stays
    finally:
        rc.close()


def test_save_button_writes_a_scenario_that_loads(scenario_folder):
    _, rc = render(scenario_folder / "baseline.toml")
    try:
        slider(rc, KAZ).v_model = 4.0
        commit(rc, "Name (file name, without .toml)", "mine")
        button(rc, "Save settings as scenario").click()
        assert any("Saved" in m and "mine.toml" in m for m in messages(rc))
        assert load_scenario(scenario_folder / "mine.toml").parameters[KAZ].value == 4.0
        assert "mine.toml" in rc.find(v.Select, label="Scenario").widget.items
        button(rc, "Save settings as scenario").click()  # again: refused, not overwritten
        assert any("exists already" in m for m in messages(rc))
    finally:
        rc.close()


def test_an_empty_or_bad_save_name_is_refused_in_the_page(scenario_folder):
    _, rc = render(scenario_folder / "baseline.toml")
    try:
        slider(rc, KAZ).v_model = 4.0
        for name, message in (("", "give the new scenario a name"), ("..", "a name of letters")):
            commit(rc, "Name (file name, without .toml)", name)
            button(rc, "Save settings as scenario").click()
            assert any(message in m for m in messages(rc))
        assert sorted(p.name for p in scenario_folder.iterdir()) == [
            "baseline-prior.toml",
            "baseline.toml",
        ]
    finally:
        rc.close()


def test_a_slider_reset_restores_the_scenarios_value_and_nothing_is_saved(scenario_folder):
    key = "states.KGZ.balancing_propensity"
    _, rc = render(scenario_folder / "baseline.toml")
    try:
        own = current_value(load_scenario(scenario_folder / "baseline.toml"), key)
        slider(rc, key).v_model = 3.0
        wrapper = rc.find(v.Html, class_=f"mv-slider mv-slider-{key.replace('.', '-')}")
        wrapper.find(v.Btn, children=["reset"]).widget.click()
        assert slider(rc, key).v_model == round(own, 2)
        slider(rc, key).v_model = 3.0
        slider(rc, key).v_model = round(own, 2)  # back by hand, onto the grid's nearest stop
        button(rc, "Save settings as scenario").click()
        assert any("nothing to save" in m for m in messages(rc))
    finally:
        rc.close()


def test_a_step_on_a_finished_run_does_nothing_and_says_so():
    _, rc = render()
    try:
        click(rc, "Run", changes=False)  # the scenario's own run, to its end
        click(rc, "+1 month", changes=False)
        assert "Dependence 2021-12" in summary(rc)
        assert shows(rc, "The run has reached 2021-12")
    finally:
        rc.close()


def test_quick_presses_while_busy_are_all_computed_in_order():
    _, rc = render()
    try:
        button(rc, "Restart").click()
        for _ in range(10):  # while the restart computes: each press waits its turn
            button(rc, "+1 year").click()
        # the busy bar can be absent for a moment between queued jobs, so wait for the
        # outcome itself: 1991-12 and ten years, none lost (a lost press never gets there)
        deadline = time.monotonic() + 120
        while "Dependence 2001-12" not in summary(rc):
            assert time.monotonic() < deadline, summary(rc)[:200]
            time.sleep(0.1)
        idle(rc)
        assert "Dependence 2001-12" in summary(rc)
        assert messages(rc) == []
    finally:
        rc.close()


def test_the_page_takes_its_settings_from_the_url_and_keeps_them_there():
    link = f"/?scenario=baseline.toml&seed=5&events.bri_2013.enabled=false&{KAZ}=3.0"
    page = solara.AppLayout(children=[Dashboard(initial=str(BASELINE))])
    _, rc = solara.render(solara.RoutingProvider(children=[page], pathname=link))
    try:
        assert slider(rc, KAZ).v_model == 3.0
        assert (
            rc.find(
                v.TextField, label="Seed (batch seed; the run shown is replicate 0)"
            ).widget.v_model
            == "5"
        )
        bri = rc.find(v.Checkbox, label="2013-09 China proposes the Belt and Road").widget
        assert bri.v_model is False
        url = rc.find(Navigator).widget
        slider(rc, KAZ).v_model = 4.0
        assert url.location == link.replace("=3.0", "=4.0")
        url.location = "/?scenario=no-balancing.toml"  # the browser's back button, say
        assert slider(rc, KAZ).v_model == 0.0 and not messages(rc)
        assert url.location == "/?scenario=no-balancing.toml"
    finally:
        rc.close()


def test_play_animates_the_months_until_paused():
    _, rc = render()
    try:
        click(rc, "Restart")
        play = rc.find(v.Btn, class_="mv-play").widget
        play.click()
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < 3:  # the date moves on by itself, frame after frame
            assert time.monotonic() < deadline, f"Play showed only {seen}"
            seen.add(re.search(r"Dependence (\d{4}-\d\d)", summary(rc)).group(1))
            time.sleep(0.05)
        assert "Pause" in play.children
        play.click()
        idle(rc)
        paused = re.search(r"Dependence (\d{4}-\d\d)", summary(rc)).group(1)
        assert "1991-12" < paused < "2021-12"
        time.sleep(1)
        assert f"Dependence {paused}" in summary(rc)  # it stays where it was paused
        assert "Play" in rc.find(v.Btn, class_="mv-play").widget.children
    finally:
        rc.close()


def test_every_event_of_the_scenario_can_be_switched_off():
    _, rc = render()
    try:
        # not one of the six key events the page used to offer
        box = rc.find(v.Checkbox, label="1992-05 Collective Security Treaty signed in Tashkent")
        box.widget.v_model = False
        click(rc, "Run")
        assert "1 value changed" in " ".join(str(w.unsafe_innerHTML) for w in rc.find(HTML).widgets)
        marks = {start["name"] for start, _ in _marks(chart(rc, "dependence"))}
        assert "2013-09 China proposes the Belt and Road" in marks
        assert "1992-05 Collective Security Treaty signed in Tashkent" not in marks  # it is off
    finally:
        rc.close()


def _marks(option: dict) -> list[dict]:
    this_run = next(s for s in option["series"] if s["name"] == "this run")
    return this_run["markLine"]["data"]


def test_a_second_scenario_overlays_the_dependence_chart_and_goes_into_the_url():
    page = solara.AppLayout(children=[Dashboard(initial=str(BASELINE))])
    _, rc = solara.render(solara.RoutingProvider(children=[page], pathname="/"))
    try:
        rc.find(
            v.Select, label="Compare with (dotted purple, same seed)"
        ).widget.v_model = "no-balancing.toml"
        null_model = load_scenario(SCENARIOS / "no-balancing.toml")
        overlay = [
            s
            for s in chart(rc, "dependence")["series"]
            if s["name"] == "no-balancing.toml (same seed)"
        ]
        assert len(overlay) == len(null_model.states)
        expected = single_run(null_model, load_scenario(BASELINE).seed).dependence[-1, 0]
        assert overlay[0]["data"][-1][1] == pytest.approx(expected, abs=1e-4)
        assert overlay[0]["lineStyle"]["type"] == "dotted"
        assert "compare=no-balancing.toml" in rc.find(Navigator).widget.location
    finally:
        rc.close()


def test_a_broken_scenario_file_shows_its_error(tmp_path):
    (tmp_path / "broken.toml").write_text("extends = 'nowhere.toml'\n")
    _, rc = render(tmp_path / "broken.toml")
    try:
        assert any("no such scenario file" in m for m in messages(rc))
        assert button(rc, "Run").disabled
    finally:
        rc.close()


# --------------------------------------------------------------------------------------------
# end to end: the served page in headless Chromium


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (install Debian's chromium: apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chromium():
    """Debian's Chromium and Playwright, or a failure under CI (``CI=true``), else a skip."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"end-to-end test cannot run under CI: {missing}")
        pytest.skip(f"end-to-end test skipped: {missing}")
    return CHROMIUM


@pytest.fixture
def served(chromium, scenario_folder, tmp_path):
    """The dashboard of a copy of the baseline (saving writes beside it) served on a free port
    by ``multivector app``; yields its URL."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    scenario = scenario_folder / "baseline.toml"
    server = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "app", str(scenario), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"the server did not start:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_end_to_end_slider_and_run_change_the_trajectory_view(chromium, served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1650})
            page.goto(served)
            row = page.locator('.mv-summary tr[data-state="KAZ"]')
            row.wait_for(timeout=30_000)
            before = row.get_attribute("data-dependence")
            canvas = page.locator(".mv-figure-dependence canvas").first
            canvas.wait_for()
            time.sleep(0.5)  # ECharts draws on the next frames
            drawn = canvas.screenshot()

            # the chart is drawn in the browser: hovering shows the values
            box = canvas.bounding_box()
            canvas.hover(position={"x": box["width"] * 0.15, "y": 160})
            expect(page.locator(".mv-figure-dependence").get_by_text("this run")).to_be_visible()

            kaz = ".mv-slider-states-KAZ-balancing_propensity"
            page.get_by_role("slider", name="Kazakhstan balancing propensity").focus()
            page.keyboard.press("PageUp")  # a tenth of the range: 1.69 -> 3.69
            page.wait_for_function(
                f"parseFloat(document.querySelector('{kaz} .mv-value').textContent) > 2.5"
            )
            page.locator(".mv-stale").wait_for()
            page.locator(".mv-run").click()
            page.wait_for_function(
                "document.querySelector('.mv-summary tr[data-state=\"KAZ\"]')"
                f".dataset.dependence !== '{before}'"
            )
            assert float(row.get_attribute("data-dependence")) < float(before) - 0.1
            deadline = time.monotonic() + 30
            while canvas.screenshot() == drawn:  # the chart redrawn with the new run
                assert time.monotonic() < deadline, "the dependence chart was not redrawn"
                time.sleep(0.2)
            page.locator(".mv-stale").wait_for(state="detached")
            page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
            assert (tmp_path / "dashboard.png").stat().st_size > 50_000

            # an extreme value: the validation's message, and the page goes on working
            page.get_by_role("slider", name="Kyrgyzstan balancing propensity").focus()
            page.keyboard.press("End")
            error = page.locator(".mv-error")
            error.wait_for()
            assert "balancing_propensity in [0.0, 20.0] (it would be " in error.inner_text()
            expect(page.locator(".mv-run")).to_be_disabled()  # waits for the page to catch up
            page.keyboard.press("Home")
            error.wait_for(state="detached")
            expect(page.locator(".mv-run")).to_be_enabled()
            page.screenshot(path=tmp_path / "dashboard-after-error.png", full_page=True)
        finally:
            browser.close()


def test_end_to_end_settings_survive_a_reload_and_open_from_a_link(chromium, served):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(served)
            page.locator('.mv-summary tr[data-state="KAZ"]').wait_for(timeout=30_000)
            page.get_by_role("slider", name="Kazakhstan balancing propensity").focus()
            page.keyboard.press("PageUp")  # 1.60 -> 3.60
            field = page.get_by_label("Seed (batch seed; the run shown is replicate 0)")
            field.fill("1234")
            field.press("Enter")
            expect(page).to_have_url(
                re.compile(r"seed=1234&states\.KAZ\.balancing_propensity=3\.6"), timeout=30_000
            )
            kaz = page.locator(".mv-slider-states-KAZ-balancing_propensity .mv-value")
            expected = kaz.inner_text()
            assert "(was " in expected

            page.reload()  # it used to lose every setting
            page.locator('.mv-summary tr[data-state="KAZ"]').wait_for(timeout=30_000)
            expect(kaz).to_have_text(expected, timeout=30_000)
            expect(field).to_have_value("1234")

            other = browser.new_page(viewport={"width": 1280, "height": 800})
            other.goto(page.url)  # the link, shared
            other.locator('.mv-summary tr[data-state="KAZ"]').wait_for(timeout=30_000)
            expect(
                other.locator(".mv-slider-states-KAZ-balancing_propensity .mv-value")
            ).to_have_text(expected)
            other.locator(".mv-run").click()
            expect(other.locator(".mv-muted").first).to_contain_text("seed 1234 · 1 value changed")
        finally:
            browser.close()


def test_end_to_end_the_session_survives_a_dropped_connection(chromium, served):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            connections = []  # the page's websockets, passed through to the server

            def through(socket):
                socket.connect_to_server()
                connections.append(socket)

            page.route_web_socket(lambda _: True, through)
            page.goto(served)
            page.locator('.mv-summary tr[data-state="KAZ"]').wait_for(timeout=30_000)
            page.get_by_role("slider", name="Kazakhstan balancing propensity").focus()
            page.keyboard.press("PageUp")
            page.locator(".mv-stale").wait_for()

            connections[-1].close(code=4000, reason="test: the connection drops")
            deadline = time.monotonic() + 30
            while len(connections) < 2:  # the page connects again by itself
                assert time.monotonic() < deadline, "the page did not reconnect"
                page.wait_for_timeout(100)
            kaz = page.locator(".mv-slider-states-KAZ-balancing_propensity .mv-value")
            expect(kaz).to_have_text("3.600 (was 1.600)", timeout=30_000)
            page.locator(".mv-run").click()
            expect(page.locator(".mv-muted").first).to_contain_text(
                "1 value changed", timeout=30_000
            )
            assert "Connection lost" not in page.content()
        finally:
            browser.close()


BUSY_SEEN_OBSERVER = """() => {
    window.mvBusySeen = false;
    new MutationObserver(() => {
        if (document.querySelector('.mv-busy')) window.mvBusySeen = true;
    }).observe(document.body, {childList: true, subtree: true});
}"""
"""Page script: ``window.mvBusySeen`` turns true once the busy bar has been in the page."""


def test_end_to_end_text_typed_while_busy_reaches_the_server_whole(
    chromium, served, scenario_folder
):
    from playwright.sync_api import expect, sync_playwright

    seed = 31415926  # not the baseline's own seed (20211231)
    expected = single_run(load_scenario(BASELINE), seed).dependence[-1, 0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1650})
            page.goto(served)
            row = page.locator('.mv-summary tr[data-state="KAZ"]')
            row.wait_for(timeout=30_000)

            # type a seed key by key while an ensemble computes (it used to run seed 2), then
            # press Run at once: the run uses the whole seed. On an idle machine the busy bar
            # may come and go within one frame, which a visibility wait can miss: a mutation
            # observer notes that it was inserted at all.
            page.evaluate(BUSY_SEEN_OBSERVER)
            page.locator(".mv-ensemble").click()
            page.wait_for_function("window.mvBusySeen === true", timeout=30_000)
            field = page.get_by_label("Seed (batch seed; the run shown is replicate 0)")
            field.click()
            field.press("Control+a")
            page.keyboard.type(str(seed), delay=30)
            page.get_by_role("slider", name="Kazakhstan balancing propensity").focus()
            page.keyboard.press("PageUp")  # a change, so that there is something to save
            page.locator(".mv-run").click()

            # a save name typed while busy is saved whole (it used to be saved as q.toml)
            name = page.get_by_label("Name (file name, without .toml)")
            name.click()
            name.press("Control+a")
            page.keyboard.type("quiz-kaz-2030", delay=30)
            page.locator(".mv-save").click()
            notice = page.locator(".mv-notice-success")
            expect(notice).to_contain_text("quiz-kaz-2030.toml", timeout=60_000)
            assert (scenario_folder / "quiz-kaz-2030.toml").exists()
            assert load_scenario(scenario_folder / "quiz-kaz-2030.toml").seed == seed

            page.locator(".mv-busy").wait_for(state="detached", timeout=120_000)
            expect(page.locator(".mv-muted").first).to_contain_text(f"seed {seed}")
            expect(page.locator(".mv-muted").first).to_contain_text("1 value changed")
            changed = float(row.get_attribute("data-dependence"))
            assert abs(changed - expected) > 0.05  # Kazakhstan's change shows in its row

            # Restart and ten quick "+1 year" while busy: all computed in order, none fatal
            page.locator("button", has_text="Restart").click()
            step = page.locator("button", has_text="+1 year")
            for _ in range(10):
                step.click(no_wait_after=True)
            page.locator(".mv-busy").wait_for(state="detached", timeout=120_000)
            expect(page.locator(".mv-date")).to_have_text("2001-12", timeout=60_000)
            expect(page.locator(".mv-run")).to_be_enabled()
            assert "Connection lost" not in page.content()
        finally:
            browser.close()
