"""The interactive dashboard: tweak balancing parameters and watch the trajectories.

``multivector app [SCENARIO] [--port P] [--host H]`` serves a Solara page (on 127.0.0.1:8765 by
default) on top of :class:`model.model.MultivectorModel`. Its sidebar picks a scenario file and a
seed, sets each state's balancing propensity and inertia and each power's rivalry response, and
switches any of the scenario's events off; its main area shows the dependence trajectories
(with a second scenario overlaid if asked), the partner shares, the Russia / China / West
alignment simplex and the current date, as the model steps, plays or after a re-run. A button
runs a 50-seed ensemble with the current settings and shows its 5-95% bands; another saves the
settings as a scenario file that ``extends`` the one picked, so an interesting setting becomes a
batch with ``multivector run``.

The module has two layers. A pure-Python core turns settings into a validated scenario (or the
one-line :class:`~model.scenario.ScenarioError` message), runs one seed or an ensemble, builds
the charts (ECharts options: plain dicts the browser draws, with hover values, zoom and PNG
export) and writes the scenario file; tests call it without a browser. Thin Solara components
on top (:func:`Page`) hold the page's state.

Runs, steps and ensembles are computed in a background thread, one after another: the page
shows what it computes (the seed and the number of values changed) and what waits; a button
pressed meanwhile queues its action with the settings of the moment (:func:`queue_action`
merges repeated presses), so no press is lost and none is fatal. The seed and save-name fields
send their whole text with each commit (:func:`CommitField`), so text typed while the page is
busy is never cut short.

The settings (scenario, seed, every value changed, the scenario compared with) live in the URL
(:func:`settings_query`): a reload keeps them, a copied link opens them, and the browser's back
button returns to the previous ones.

Seeds follow ``multivector run``: the dashboard's seed is the batch seed, the run shown is its
replicate 0 and the ensemble its replicates 0-49, so ``multivector run FILE --seed S --runs 50``
reproduces the ensemble exactly.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sys
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import reacton.core
import solara
from solara.components.echarts import EchartsWidget

from experiments.batch import compile_in_background, replicate_seeds
from experiments.figures import simplex_xy
from experiments.tables import measure_batch
from model.ensemble import compiled_already, simulate_ensemble
from model.model import MultivectorModel
from model.parameters import lookup
from model.scenario import Event, Scenario, ScenarioError, load_scenario

__all__ = [
    "Action",
    "Chart",
    "Control",
    "Ensemble",
    "Page",
    "SaveError",
    "Simulation",
    "Trajectory",
    "apply_settings",
    "check_save_name",
    "compare_in_query",
    "controls",
    "dependence_chart",
    "key_events",
    "parse_query",
    "queue_action",
    "run_ensemble",
    "run_title",
    "save_settings",
    "scenario_files",
    "serve",
    "serve_command",
    "settings_query",
    "shares_chart",
    "shown_path",
    "simplex_chart",
    "single_run",
    "summary_csv",
]

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "baseline.toml"
SCENARIO_ENV = "MULTIVECTOR_APP_SCENARIO"
"""The environment variable through which :func:`app_command` tells the page what to open."""
ENSEMBLE_RUNS = 50
ORIGIN = "dashboard"
"""The 'file' named in messages about the dashboard's own values."""

# the events a user can switch off (when the scenario has them), in date order
KEY_EVENTS = (
    "afghanistan_operation_2001",
    "uzb_us_rupture_2005",
    "tkm_chn_pipeline_2009",
    "bri_2013",
    "eaeu_2015",
    "mirziyoyev_2016",
)
SAVE_NAME_LENGTH = 60
"""The longest name a saved scenario (and its file, without ``.toml``) may have."""
_SAVE_NAME = re.compile(r"[A-Za-z0-9_-]+")


# --------------------------------------------------------------------------------------------
# scenarios and settings


def scenario_files(folder: str | Path) -> list[Path]:
    """The scenario files in ``folder`` and its subfolders: the folder's own first, by name.

    Every ``*.toml`` with a ``[scenario]`` table or an ``extends`` key, so not the pattern
    registry ``patterns.toml``. A file that is not valid TOML is listed all the same: picking
    it shows its error.
    """
    folder = Path(folder)
    found = []
    paths = folder.rglob("*.toml")
    for path in sorted(paths, key=lambda p: (len(p.relative_to(folder).parts), p.as_posix())):
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            found.append(path)
            continue
        if "scenario" in data or "extends" in data:
            found.append(path)
    return found


@lru_cache(maxsize=32)
def _load(path: str, stamp: int) -> Scenario:
    return load_scenario(path)


def load_base(path: str | Path) -> Scenario:
    """:func:`~model.scenario.load_scenario`, cached until the file changes (scenarios are frozen).

    Raises
    ------
    ScenarioError
        The file's one-line error (also for a missing file).
    """
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _load(str(path), stamp)


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies below it, else absolute."""
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


@dataclass(frozen=True)
class Control:
    """One slider: the scenario key it sets, its label (a state or power), quantity and range.

    ``inverted`` sliders show ``1 - value``: the inertia slider sets a state's
    ``adjustment_rate`` (the share of the gap to its target ties closed each month), and
    inertia is the share of its ties a state keeps, ``1 - adjustment_rate``.
    """

    key: str
    label: str
    quantity: str
    lo: float
    hi: float
    step: float
    inverted: bool = False

    def shown(self, value: float) -> float:
        """The slider position for a scenario value."""
        return round(1.0 - value, 6) if self.inverted else float(value)

    def stored(self, position: float) -> float:
        """The scenario value for a slider position."""
        return round(1.0 - position, 6) if self.inverted else round(float(position), 6)

    def snapped(self, position: float) -> float:
        """``position`` on the slider's grid of steps, rounded as the browser's slider rounds it.

        The page gives the slider this position: a value between two steps would be snapped
        by the browser, which reports the snapped value back as if the user had moved it.
        """
        steps = math.floor((position - self.lo) / self.step + 0.5)
        decimals = len(f"{self.step:g}".partition(".")[2])
        return float(round(min(max(self.lo + steps * self.step, self.lo), self.hi), decimals))

    def value_at(self, position: float, own: float) -> float:
        """The scenario value for a slider position; ``own`` itself at its own grid position.

        The slider stops only on its grid, so a scenario's own value between two steps
        (Kyrgyzstan's 1.754) comes back from it as a neighbour (1.750): that position means
        the scenario's own value, not a change to record.
        """
        if math.isclose(position, self.snapped(self.shown(own)), rel_tol=0, abs_tol=1e-9):
            return float(own)
        return self.stored(position)

    @property
    def css(self) -> str:
        """A CSS class naming the control, e.g. ``mv-slider-states-KAZ-balancing_propensity``."""
        return "mv-slider-" + self.key.replace(".", "-")


def controls(scenario: Scenario) -> dict[str, list[Control]]:
    """The sliders under their headings; ranges from the table of :mod:`model.parameters`."""

    def slider(key: str, label: str, quantity: str, step: float, **options) -> Control:
        low, high = lookup(key).range
        return Control(key, label, quantity, low, high, step, **options)

    return {
        "Balancing propensity": [
            slider(f"states.{s.id}.balancing_propensity", s.name, "balancing propensity", 0.01)
            for s in scenario.states
        ],
        "Inertia (share of ties kept each month)": [
            slider(f"states.{s.id}.adjustment_rate", s.name, "inertia", 0.001, inverted=True)
            for s in scenario.states
        ],
        "Rivalry response": [
            slider(f"powers.{p.id}.rivalry_response", p.name, "rivalry response", 0.01)
            for p in scenario.powers
        ],
    }


def key_events(scenario: Scenario) -> list[Event]:
    """The scenario's events among :data:`KEY_EVENTS`, in date order."""
    return [e for e in scenario.events if e.id in KEY_EVENTS]


def current_value(scenario: Scenario, key: str) -> Any:
    """The scenario's own value of a parameter's key path, or of ``events.<id>.<field>``."""
    if key in scenario.values:
        return scenario.values[key]
    section, ident, name = key.split(".")
    if section == "events":
        for event in scenario.events:
            if event.id == ident:
                return getattr(event, name)
    raise KeyError(key)


def _same(own: Any, value: Any) -> bool:
    if isinstance(own, bool) or isinstance(value, bool):
        return own is value
    try:
        return math.isclose(float(own), float(value), rel_tol=0, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


def set_override(
    base: Scenario, overrides: Mapping[str, Any], key: str, value: Any
) -> dict[str, Any]:
    """``overrides`` with ``key`` set to ``value``, or dropped when that is the base's own value.

    Nothing is validated here: :func:`apply_settings` does that, so any value can be held and
    its message shown.
    """
    new = dict(overrides)
    try:
        own = current_value(base, key)
    except (KeyError, ValueError):
        own = None
    if _same(own, value):
        new.pop(key, None)
    else:
        new[key] = value
    return new


def parse_seed(text: str) -> int | str:
    """The seed typed: a whole number, or the text itself (which :func:`check_seed` refuses)."""
    text = str(text).strip()
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else text


def settings_query(
    scenario: str, seed: Any, overrides: Mapping[str, Any], *, compare: str | None = None
) -> str:
    """The page's settings as a URL query: ``scenario=...&seed=...&<key path>=<value>...``.

    ``scenario`` is the picker's label (a path relative to the folder of the scenario opened
    first); ``seed`` None (the scenario's own) is left out, as are values equal to the
    scenario's own (they are not in ``overrides``). :func:`parse_query` reads it back.
    """
    pairs = [("scenario", scenario)]
    if compare is not None:
        pairs.append(("compare", compare))
    if seed is not None:
        pairs.append(("seed", str(seed)))
    for key, value in sorted(overrides.items()):
        pairs.append((key, _toml(value) if isinstance(value, bool | int | float) else str(value)))
    return urllib.parse.urlencode(pairs, safe="/")


def parse_query(query: str | None) -> tuple[str | None, Any, dict[str, Any]]:
    """The settings of a URL query, as ``(scenario label or None, seed or None, overrides)``;
    the scenario compared with is :func:`compare_in_query`.

    Nothing is validated here: a value that is not a number (or ``true`` / ``false``) is kept
    as text, so the page shows why it cannot run it (:func:`apply_settings`), as it does for
    an unknown key path. The page opens only a scenario its picker lists.
    """
    scenario, seed, overrides = None, None, {}
    for key, text in urllib.parse.parse_qsl(query or "", keep_blank_values=True):
        if key in ("scenario", "compare"):
            scenario = text if key == "scenario" else scenario
        elif key == "seed":
            seed = parse_seed(text)
        elif text in ("true", "false"):
            overrides[key] = text == "true"
        else:
            try:
                overrides[key] = float(text)
            except ValueError:
                overrides[key] = text
    return scenario, seed, overrides


def compare_in_query(query: str | None) -> str | None:
    """The label of the scenario a URL query compares with (``compare=...``), or None."""
    return dict(urllib.parse.parse_qsl(query or "")).get("compare")


def check_seed(seed: Any) -> str | None:
    """None for a usable seed, else a one-line message."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        return f"{ORIGIN}: seed = {seed!r}: a whole number in [0, 2^63)"
    return None


def apply_settings(base: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """The base scenario with the dashboard's values, validated.

    Raises
    ------
    ScenarioError
        One line naming the key, the value and what is allowed (also when an event would push
        a parameter out of its range).
    """
    return base.with_overrides(dict(overrides), file=ORIGIN) if overrides else base


def try_settings(
    base: Scenario, overrides: Mapping[str, Any], seed: Any
) -> tuple[Scenario | None, str | None]:
    """``(scenario, None)`` for valid settings, ``(None, message)`` otherwise; never raises."""
    message = check_seed(seed)
    if message:
        return None, message
    try:
        return apply_settings(base, overrides), None
    except ScenarioError as error:
        return None, str(error)


# --------------------------------------------------------------------------------------------
# runs


def run_seed(seed: int) -> int:
    """The seed of the run shown: replicate 0 of batch seed ``seed``, as ``multivector run``."""
    return int(replicate_seeds(int(seed), 1)[0])


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One run's measures from the first month to the month it has reached.

    Attributes
    ----------
    scenario : the scenario it ran
    seed : the dashboard (batch) seed; the run is its replicate 0
    settings : the dashboard's overrides it ran with (key path -> value)
    month : months simulated so far (0 .. ``scenario.n_steps``)
    dependence : (month + 1, S) largest partner share of the dimension-weighted ties
    shares : (month + 1, S, P) dimension-weighted partner shares
    poles : (month + 1, S, Q) shares of the alignment poles (e.g. Russia, China, West)
    """

    scenario: Scenario
    seed: int
    settings: tuple[tuple[str, Any], ...]
    month: int
    dependence: np.ndarray
    shares: np.ndarray
    poles: np.ndarray

    @property
    def dates(self) -> np.ndarray:
        """The months recorded, ``datetime64[M]``."""
        return self.scenario.dates[: self.month + 1]

    @property
    def date(self) -> str:
        """The current month, ``YYYY-MM``."""
        return str(self.dates[-1])

    @property
    def finished(self) -> bool:
        return self.month >= self.scenario.n_steps

    def key(self) -> tuple:
        """What the run depends on: scenario file, settings and seed."""
        return (self.scenario.file, self.settings, self.seed)


def _settings_key(overrides: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(overrides.items()))


def start_model(scenario: Scenario, seed: int) -> MultivectorModel:
    """The Mesa model of ``scenario`` at its first month, seeded as replicate 0 of ``seed``."""
    return MultivectorModel(scenario, rng=run_seed(seed))


def trajectory(model: MultivectorModel, seed: int, overrides: Mapping[str, Any] = ()) -> Trajectory:
    """Measure the months ``model`` has recorded (a snapshot: later steps do not change it)."""
    month = model.month_step
    out = measure_batch(
        model.config,
        model.ties_history[: month + 1],
        model.regional_history[: month + 1],
    )
    return Trajectory(
        scenario=model.config,
        seed=int(seed),
        settings=_settings_key(dict(overrides)),
        month=month,
        dependence=out["largest_share"][..., -1],
        shares=out["shares"][..., -1],
        poles=out["poles"],
    )


def single_run(scenario: Scenario, seed: int, overrides: Mapping[str, Any] = ()) -> Trajectory:
    """Run ``scenario`` to its end with the dashboard seed ``seed``."""
    return trajectory(start_model(scenario, seed).run(), seed, overrides)


class Simulation:
    """A Mesa model being stepped, with the dashboard settings it started from.

    Parameters
    ----------
    model : the model, at any month
    seed : the dashboard seed (the model is its replicate 0)
    overrides : the dashboard's values the scenario was built with
    """

    def __init__(self, model: MultivectorModel, seed: int, overrides: Mapping[str, Any]):
        self.model, self.seed, self.overrides = model, int(seed), dict(overrides)

    @classmethod
    def start(cls, scenario: Scenario, seed: int, overrides: Mapping[str, Any] = ()) -> Simulation:
        """A new model of ``scenario`` at its first month."""
        return cls(start_model(scenario, seed), seed, dict(overrides))

    @property
    def finished(self) -> bool:
        return not self.model.running

    def advance(self, months: int | None) -> Trajectory:
        """Step ``months`` months (None: to the end) and return the trajectory so far."""
        if months is None:
            self.model.run()
        for _ in range(months or 0):
            if self.finished:
                break
            self.model.step()
        return trajectory(self.model, self.seed, self.overrides)


@dataclass(frozen=True)
class Action:
    """One press of Run, Restart, a step button or Ensemble, with the settings it was pressed with.

    Attributes
    ----------
    kind : ``"run"`` (to the end), ``"restart"`` (to the first month), ``"step"`` (continue the
        run being stepped), ``"play"`` (step it a few months a frame, to its end) or
        ``"ensemble"``
    scenario : the validated scenario of the settings at the press
    seed : the dashboard seed at the press
    settings : the dashboard's overrides at the press (key path -> value, sorted)
    months : months a step advances (0 for the others)
    """

    kind: str
    scenario: Scenario
    seed: int
    settings: tuple[tuple[str, Any], ...]
    months: int = 0

    def describe(self) -> str:
        """What the page says while it computes the action."""
        if self.kind == "play":
            return f"Playing the months: {used_values(self.seed, dict(self.settings))}"
        what = {
            "run": "the run",
            "restart": "the first month",
            "ensemble": f"{ENSEMBLE_RUNS} runs",
        }.get(self.kind, f"{self.months} month{'s' * (self.months != 1)}")
        return f"Computing {what}: {used_values(self.seed, dict(self.settings))}"


PLAY_MONTHS = 3
"""Months a frame of Play advances."""
PLAY_FRAME = 0.25
"""Seconds a frame of Play lasts at least (a frame that takes longer to show is not hurried)."""
QUEUE_LENGTH = 8
"""The most actions that wait for the one being computed; later presses are dropped."""


def queue_action(queue: list[Action], action: Action) -> list[Action]:
    """``queue`` with ``action`` added, merged with the last waiting action where it can be.

    Presses made while the page computes wait their turn, in order, so none is lost and none
    runs on settings other than those it was pressed with. A step after a waiting step adds
    its months to it (ten quick "+1 year" are one step of 120 months); a press repeating the
    last waiting action (same kind, same settings) is that action. A full queue
    (:data:`QUEUE_LENGTH`) keeps what it has.
    """
    if queue:
        last = queue[-1]
        same = (last.scenario, last.seed, last.settings) == (
            action.scenario,
            action.seed,
            action.settings,
        )
        if action.kind == last.kind == "step":
            return [
                *queue[:-1],
                Action(
                    "step", last.scenario, last.seed, last.settings, last.months + action.months
                ),
            ]
        if same and action.kind == last.kind:
            return list(queue)
    if len(queue) >= QUEUE_LENGTH:
        return list(queue)
    return [*queue, action]


@dataclass(frozen=True, eq=False)
class Ensemble:
    """An ensemble's dependence bands and final alignment.

    Attributes
    ----------
    scenario, seed, settings : as for :class:`Trajectory`
    runs : number of runs (replicates 0 .. runs - 1 of batch seed ``seed``)
    dependence : (3, T + 1, S) the 5%, 50% and 95% quantiles over runs, every month
    final_dependence : (runs, S) each run's dependence in the final month
    final_poles : (runs, S, Q) each run's pole shares in the final month
    """

    scenario: Scenario
    seed: int
    settings: tuple[tuple[str, Any], ...]
    runs: int
    dependence: np.ndarray
    final_dependence: np.ndarray
    final_poles: np.ndarray

    def key(self) -> tuple:
        return (self.scenario.file, self.settings, self.seed)


def run_ensemble(
    scenario: Scenario, seed: int, runs: int = ENSEMBLE_RUNS, overrides: Mapping[str, Any] = ()
) -> Ensemble:
    """Run replicates ``0 .. runs - 1`` of batch seed ``seed``, every month recorded.

    Uses the compiled ensemble engine when it is compiled (or cached on disk), else the Mesa
    model run by run (identical results, no compile wait); :func:`app_command` starts the
    compile in the background.
    """
    seeds = replicate_seeds(int(seed), runs)
    if compiled_already():
        ties, regional = simulate_ensemble(scenario.compiled, seeds)
    else:
        models = [MultivectorModel(scenario, rng=int(s)).run() for s in seeds]
        ties = np.stack([m.ties_history for m in models])
        regional = np.stack([m.regional_history for m in models])
    out = measure_batch(scenario, ties, regional)
    dependence = out["largest_share"][..., -1]  # (R, T + 1, S)
    return Ensemble(
        scenario=scenario,
        seed=int(seed),
        settings=_settings_key(dict(overrides)),
        runs=runs,
        dependence=np.quantile(dependence, [0.05, 0.5, 0.95], axis=0),
        final_dependence=dependence[:, -1],
        final_poles=out["poles"][:, -1],
    )


# --------------------------------------------------------------------------------------------
# charts: ECharts options (plain JSON-able dicts), drawn in the browser

STATE_COLOURS = ("#1B9E77", "#7570B3", "#E7298A", "#66A61E", "#A6761D", "#E6AB02", "#666666")
"""States' colours (ColorBrewer Dark2), apart from the powers' and the runs' colours."""
POWER_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
"""Powers' colours (Okabe-Ito without black), in the scenario's order of powers."""
RUN_COLOUR = "#111111"
"""This run (near black, thick)."""
LOADED_COLOUR = "#9E9E9E"
"""The scenario as loaded (grey, dashed)."""
ENSEMBLE_COLOUR = "#3D6FB6"
"""The ensemble's median and its 5-95% band."""
FONT = 14
"""Text size in the charts, px (readable on a projector at 1280x800)."""
OTHER_COLOUR = "#8E44AD"
"""A second scenario overlaid for comparison (purple, dotted)."""
_EVENT_COLOUR = "#B0B0B0"


@dataclass(frozen=True, eq=False)
class Chart:
    """An ECharts option as the page holds it: one object, compared by identity."""

    option: dict


def _finite(values: np.ndarray, decimals: int = 4) -> list:
    """Values rounded for the browser, non-finite ones as None (JSON has no NaN)."""
    rounded = np.round(np.asarray(values, dtype=float), decimals)
    return [None if not math.isfinite(v) else v for v in rounded.tolist()]


def _series_points(dates: np.ndarray, values: np.ndarray) -> list[list]:
    return [
        [d, v] for d, v in zip(np.asarray(dates).astype(str).tolist(), _finite(values), strict=True)
    ]


DEPENDENCE_HEIGHT = 560
"""Heights of the charts, px (their width follows the column)."""
SHARES_HEIGHT = SIMPLEX_HEIGHT = 470


def _panel_layout(n: int, height: int) -> list[dict]:
    """Grids for ``n`` panels, three a row, with a spare slot for the legend: left and width
    in percent of the chart's width, top and height in px of its ``height``."""
    cols, header, title, axis = 3, 56, 26, 30
    rows = math.ceil((n + 1) / cols)
    row = (height - header) / rows
    return [
        {
            "left": f"{6 + (k % cols) * 32}%",
            "width": "26%",
            "top": round(header + (k // cols) * row + title),
            "height": round(row - title - axis),
        }
        for k in range(n + 1)
    ]


def _panel_titles(texts: list[str], grids: list[dict]) -> list[dict]:
    return [
        {
            "text": text,
            "left": grid["left"],
            "top": grid["top"] - 24,
            "textStyle": {"fontSize": FONT, "fontWeight": "normal"},
        }
        for text, grid in zip(texts, grids, strict=False)
    ]


def _legend(names: list[str], grid: dict) -> dict:
    """A legend in the spare panel ``grid``."""
    return {
        "data": names,
        "orient": "vertical",
        "left": grid["left"],
        "top": grid["top"],
        "itemGap": 8,
        "textStyle": {"fontSize": FONT},
    }


def _time_axes(scenario: Scenario, n: int) -> list[dict]:
    first, last = (str(d) for d in scenario.dates[[0, -1]])
    return [
        {
            "type": "time",
            "gridIndex": k,
            "min": first,
            "max": last,
            "splitNumber": 4,
            "axisLabel": {"fontSize": FONT - 1, "hideOverlap": True},
            "splitLine": {"show": True, "lineStyle": {"color": "#EEEEEE"}},
        }
        for k in range(n)
    ]


def _event_marks(run: Trajectory, low: float, high: float) -> dict:
    """Marks on the time axis (of a panel showing ``low`` to ``high``) at the scenario's
    enabled events, named on hover: ticks rising from the axis, taller and darker for the key
    events (:data:`KEY_EVENTS`), so that 78 events do not hide the lines; and a dotted line at
    the current month of an unfinished run."""
    scenario = run.scenario
    first, last = scenario.start, scenario.start + scenario.n_steps

    def tick(date: str, name: str, height: float, style: dict) -> list[dict]:
        return [
            {"coord": [date, low], "name": name, "lineStyle": style},
            {"coord": [date, low + height * (high - low)]},
        ]

    marks = [
        tick(
            str(e.date),
            f"{e.date} {e.title}",
            0.14 if e.id in KEY_EVENTS else 0.07,
            {"color": "#444444", "width": 2}
            if e.id in KEY_EVENTS
            else {"color": _EVENT_COLOUR, "width": 1.2},
        )
        for e in scenario.events
        if e.enabled and first <= e.month <= last
    ]
    if not run.finished:
        marks.append(
            tick(run.date, f"now: {run.date}", 1.0, {"color": "#444444", "type": "dotted"})
        )
    return {
        "symbol": "none",
        "silent": False,
        "label": {"show": False},
        "emphasis": {"label": {"show": True, "formatter": "{b}", "fontSize": FONT - 2}},
        "lineStyle": {"type": "solid", "opacity": 0.9},
        "data": marks,
    }


def _common(title: str, n_axes: int, name: str) -> dict:
    return {
        "animation": False,
        "textStyle": {"fontSize": FONT},
        "title": [{"text": title, "left": "center", "textStyle": {"fontSize": FONT + 2}}],
        "tooltip": {"trigger": "axis", "textStyle": {"fontSize": FONT - 1}},
        "toolbox": {
            "right": 10,
            "feature": {
                "dataZoom": {"yAxisIndex": "none", "title": {"zoom": "zoom", "back": "back"}},
                "restore": {"title": "reset zoom"},
                "saveAsImage": {"name": name, "title": "save as PNG", "pixelRatio": 2},
            },
        },
        "dataZoom": [{"type": "inside", "xAxisIndex": list(range(n_axes))}],
    }


def dependence_chart(
    run: Trajectory,
    reference: Trajectory | None = None,
    ensemble: Ensemble | None = None,
    other: Trajectory | None = None,
) -> dict:
    """Each state's dependence (largest partner share) over time, one panel per state.

    ``run`` is drawn up to its current month (black); ``reference``, the scenario as loaded
    with the same seed, dashed grey; ``ensemble`` as its median (dashed blue) and 5-95% band
    (blue, stacked on its 5% line); ``other``, a second scenario's run with the same seed,
    dotted purple (its states matched by id). Events of ``run``'s scenario are marked on every
    time axis (named on hover).
    """
    scenario = run.scenario
    n = len(scenario.states)
    grids = _panel_layout(n, DEPENDENCE_HEIGHT)
    # the date once, in the title: panel titles stay short enough for a 1024 px wide page
    option = _common(f"Dependence to {run.date} — {run_title(run)}", n, "dependence")
    option["title"] += _panel_titles(
        [f"{s.name}: {run.dependence[-1, i]:.2f}" for i, s in enumerate(scenario.states)],
        grids,
    )
    option["grid"] = grids[:n]
    option["xAxis"] = _time_axes(scenario, n)
    # one range for all panels, fitted to what they show (0-1 would flatten the ensemble band)
    shown = [run.dependence] + [x.dependence for x in (reference, ensemble, other) if x is not None]
    values = np.concatenate([np.ravel(x) for x in shown])
    values = values[np.isfinite(values)]
    low, high = (values.min(), values.max()) if values.size else (0.0, 1.0)
    low, high = max(0.0, math.floor(low * 10) / 10), min(1.0, math.ceil(high * 10) / 10)
    option["yAxis"] = [
        {
            "type": "value",
            "gridIndex": k,
            "min": low,
            "max": max(high, low + 0.1),
            "name": "largest partner share" if k % 3 == 0 else "",
            "nameLocation": "middle",
            "nameGap": 40,
            "axisLabel": {"fontSize": FONT - 1},
        }
        for k in range(n)
    ]
    series = []
    marks = _event_marks(run, low, max(high, low + 0.1))
    for i in range(n):
        if ensemble is not None:
            low, mid, high = ensemble.dependence[:, :, i]
            common = {"type": "line", "xAxisIndex": i, "yAxisIndex": i, "showSymbol": False}
            series += [
                {
                    **common,
                    "name": "5% of runs",
                    "data": _series_points(scenario.dates, low),
                    "stack": f"band{i}",
                    "lineStyle": {"width": 0},
                    "itemStyle": {"color": ENSEMBLE_COLOUR},
                },
                {
                    **common,
                    "name": "5-95% of runs (width)",
                    "data": _series_points(scenario.dates, high - low),
                    "stack": f"band{i}",
                    "lineStyle": {"width": 0},
                    "areaStyle": {"color": ENSEMBLE_COLOUR, "opacity": 0.35},
                    "itemStyle": {"color": ENSEMBLE_COLOUR},
                },
                {
                    **common,
                    "name": f"median of {ensemble.runs} runs",
                    "data": _series_points(scenario.dates, mid),
                    "lineStyle": {"width": 1.5, "type": "dashed", "color": ENSEMBLE_COLOUR},
                    "itemStyle": {"color": ENSEMBLE_COLOUR},
                },
            ]
        if reference is not None:
            series.append(
                {
                    "type": "line",
                    "name": f"{Path(scenario.file).name} as loaded",
                    "xAxisIndex": i,
                    "yAxisIndex": i,
                    "showSymbol": False,
                    "data": _series_points(scenario.dates, reference.dependence[:, i]),
                    "lineStyle": {"width": 1.5, "type": "dashed", "color": LOADED_COLOUR},
                    "itemStyle": {"color": LOADED_COLOUR},
                }
            )
        other_ids = [] if other is None else [s.id for s in other.scenario.states]
        if other is not None and scenario.states[i].id in other_ids:
            series.append(
                {
                    "type": "line",
                    "name": f"{Path(other.scenario.file).name} (same seed)",
                    "xAxisIndex": i,
                    "yAxisIndex": i,
                    "showSymbol": False,
                    "data": _series_points(
                        other.dates, other.dependence[:, other_ids.index(scenario.states[i].id)]
                    ),
                    "lineStyle": {"width": 2, "type": "dotted", "color": OTHER_COLOUR},
                    "itemStyle": {"color": OTHER_COLOUR},
                }
            )
        series.append(
            {
                "type": "line",
                "name": "this run",
                "xAxisIndex": i,
                "yAxisIndex": i,
                "showSymbol": False,
                "data": _series_points(run.dates, run.dependence[:, i]),
                "lineStyle": {"width": 2.5, "color": RUN_COLOUR},
                "itemStyle": {"color": RUN_COLOUR},
                "markLine": marks,
                "z": 5,
            }
        )
    option["series"] = series
    names = [s for s in dict.fromkeys(x["name"] for x in series) if s != "5% of runs"]
    option["legend"] = _legend(names, grids[n])
    return option


def shares_chart(run: Trajectory) -> dict:
    """Each state's partner shares (dimension-weighted) over time, stacked, one panel per state."""
    scenario = run.scenario
    n = len(scenario.states)
    grids = _panel_layout(n, SHARES_HEIGHT)
    option = _common(f"Partner shares (weighted over dimensions), to {run.date}", n, "shares")
    option["title"] += _panel_titles([s.name for s in scenario.states], grids)
    option["grid"] = grids[:n]
    option["xAxis"] = _time_axes(scenario, n)
    option["yAxis"] = [
        {"type": "value", "gridIndex": k, "min": 0, "max": 1, "axisLabel": {"fontSize": FONT - 1}}
        for k in range(n)
    ]
    marks = _event_marks(run, 0.0, 1.0)
    option["series"] = [
        {
            "type": "line",
            "name": power.name,
            "xAxisIndex": i,
            "yAxisIndex": i,
            "stack": f"shares{i}",
            "showSymbol": False,
            "data": _series_points(run.dates, run.shares[:, i, p]),
            "lineStyle": {"width": 0},
            "areaStyle": {"opacity": 0.9},
            "itemStyle": {"color": POWER_COLOURS[p % len(POWER_COLOURS)]},
            **({"markLine": marks} if p == 0 else {}),
        }
        for i in range(n)
        for p, power in enumerate(scenario.powers)
    ]
    option["legend"] = _legend([p.name for p in scenario.powers], grids[n])
    return option


def _simplex_point(name: str, shares: np.ndarray, names: list[str], x: float, y: float) -> dict:
    parts = ", ".join(f"{pole} {share:.2f}" for pole, share in zip(names, shares, strict=True))
    return {"value": [round(float(x), 4), round(float(y), 4)], "name": f"{name}: {parts}"}


def simplex_chart(run: Trajectory, ensemble: Ensemble | None = None) -> dict:
    """The states' paths in the alignment simplex of the scenario's three poles.

    Oriented as the CLI's simplex figures (:data:`experiments.figures.SIMPLEX_CORNERS`: first
    pole bottom left, second bottom right, third on top) and zoomed to the data, with grid
    lines every 20% of a pole's share; a point a year, each named with its shares on hover;
    the ensemble's final positions as small dots above the paths.
    """
    scenario = run.scenario
    names = [name for name, _ in scenario.alignment.poles]
    option = {
        "animation": False,
        "textStyle": {"fontSize": FONT},
        "tooltip": {"trigger": "item", "formatter": "{b}", "textStyle": {"fontSize": FONT - 1}},
        "toolbox": {
            "right": 10,
            "feature": {
                "restore": {"title": "reset zoom"},
                "saveAsImage": {"name": "simplex", "title": "save as PNG", "pixelRatio": 2},
            },
        },
    }
    if len(names) != 3:
        option["title"] = {
            "text": f"The simplex needs 3 alignment poles; this scenario has {len(names)}."
        }
        return option
    members = dict(scenario.alignment.poles)
    labels = [n if len(members[n]) == 1 else f"{n} ({'+'.join(members[n])})" for n in names]
    option["title"] = {
        "text": f"Alignment: {' / '.join(labels)}",
        "subtext": "the poles' shares, renormalised to sum to 1; a point a year",
        "left": "center",
        "textStyle": {"fontSize": FONT + 2},
        "subtextStyle": {"fontSize": FONT - 2},
    }
    frame = [
        {
            "type": "line",
            "data": [[x, y] for x, y in zip(*simplex_xy(np.eye(3)[[0, 1, 2, 0]]), strict=True)],
            "lineStyle": {"color": "#333333", "width": 1},
            "showSymbol": False,
            "silent": True,
            "tooltip": {"show": False},
        }
    ]
    for level in (0.2, 0.4, 0.6, 0.8):
        for a, b in ((0, 1), (1, 2), (2, 0)):
            ends = np.zeros((2, 3))
            ends[:, a] = level
            ends[0, b], ends[1, 3 - a - b] = 1 - level, 1 - level
            x, y = simplex_xy(ends)
            frame.append(
                {
                    "type": "line",
                    "data": [[float(x[0]), float(y[0])], [float(x[1]), float(y[1])]],
                    "lineStyle": {"color": "#DDDDDD", "width": 0.8},
                    "showSymbol": False,
                    "silent": True,
                    "tooltip": {"show": False},
                }
            )
    cx, cy = simplex_xy(np.eye(3))
    frame.append(
        {
            "type": "scatter",
            "data": [
                {"value": [float(x), float(y)], "name": label}
                for x, y, label in zip(cx, cy, labels, strict=True)
            ],
            "symbolSize": 1,
            "silent": True,
            "label": {
                "show": True,
                "formatter": "{b}",
                "fontWeight": "bold",
                "fontSize": FONT,
                "position": "top",
            },
        }
    )
    yearly = np.unique(np.r_[np.arange(0, run.month + 1, 12), run.month])
    series, xs, ys = [], [], []
    for i, state in enumerate(scenario.states):
        colour = STATE_COLOURS[i % len(STATE_COLOURS)]
        poles = run.poles[yearly, i]
        x, y = simplex_xy(poles)
        xs.append(x)
        ys.append(y)
        totals = poles.sum(axis=-1, keepdims=True)
        shares = np.divide(poles, totals, out=np.full_like(poles, 1 / 3), where=totals > 0)
        points = [
            _simplex_point(f"{state.name} {run.dates[m]}", shares[k], names, x[k], y[k])
            for k, m in enumerate(yearly)
        ]
        series.append(
            {
                "type": "line",
                "name": state.name,
                "data": points,
                "symbol": "circle",
                "symbolSize": 5,
                "lineStyle": {"color": colour, "width": 2},
                "itemStyle": {"color": colour},
                "endLabel": {
                    "show": True,
                    "formatter": state.id,
                    "color": colour,
                    "fontWeight": "bold",
                    "fontSize": FONT - 1,
                },
                "z": 3,
            }
        )
        if ensemble is not None:
            ex, ey = simplex_xy(ensemble.final_poles[:, i])
            xs.append(ex)
            ys.append(ey)
            series.append(
                {
                    "type": "scatter",
                    "name": state.name,
                    "data": [
                        {
                            "value": [round(float(a), 4), round(float(b), 4)],
                            "name": f"{state.name}: a run of {ensemble.runs}, {scenario.dates[-1]}",
                        }
                        for a, b in zip(ex, ey, strict=True)
                    ],
                    "symbolSize": 6,
                    "itemStyle": {
                        "color": colour,
                        "opacity": 0.6,
                        "borderColor": "#FFFFFF",
                        "borderWidth": 0.5,
                    },
                    "z": 4,
                }
            )
    # zoomed to the data, with equal scales on both axes (the container is square)
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    finite = np.isfinite(x_all) & np.isfinite(y_all)
    if finite.any():
        x_lo, x_hi = float(x_all[finite].min()), float(x_all[finite].max())
        y_lo, y_hi = float(y_all[finite].min()), float(y_all[finite].max())
    else:
        x_lo, x_hi, y_lo, y_hi = 0.0, 1.0, 0.0, float(cy[2])
    span = max(x_hi - x_lo, y_hi - y_lo, 0.15) * 1.25
    mid_x, mid_y = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
    axis = {"show": False, "type": "value", "scale": True}
    option["grid"] = {"left": "8%", "right": "8%", "top": 80, "bottom": 50}
    option["xAxis"] = {**axis, "min": round(mid_x - span / 2, 4), "max": round(mid_x + span / 2, 4)}
    option["yAxis"] = {**axis, "min": round(mid_y - span / 2, 4), "max": round(mid_y + span / 2, 4)}
    option["dataZoom"] = [
        {"type": "inside", "xAxisIndex": 0, "filterMode": "none"},
        {"type": "inside", "yAxisIndex": 0, "filterMode": "none"},
    ]
    option["legend"] = {
        "data": [s.name for s in scenario.states],
        "bottom": 0,
        "textStyle": {"fontSize": FONT},
    }
    option["series"] = frame + series
    return option


def summary_html(run: Trajectory, reference: Trajectory | None, ensemble: Ensemble | None) -> str:
    """A table of each state's dependence now, in the scenario as loaded and in the ensemble.

    Each row carries ``data-state`` and ``data-dependence`` attributes (the end-to-end test
    reads them).
    """
    scenario = run.scenario
    last = run.month
    head = ["State", f"Dependence {run.date}", "Largest partner"]
    if reference is not None:
        head.append(f"{Path(scenario.file).name} as loaded")
    if ensemble is not None:
        head.append(f"{ensemble.runs} runs, {scenario.dates[-1]}: median (5-95%)")
    rows = []
    for i, state in enumerate(scenario.states):
        value = float(run.dependence[last, i])
        partner = scenario.powers[int(np.argmax(run.shares[last, i]))].name
        cells = [html.escape(state.name), f"{value:.3f}", html.escape(partner)]
        if reference is not None:
            cells.append(f"{reference.dependence[last, i]:.3f}")
        if ensemble is not None:
            low, mid, high = np.quantile(ensemble.final_dependence[:, i], [0.05, 0.5, 0.95])
            cells.append(f"{mid:.3f} ({low:.3f}-{high:.3f})")
        rows.append(
            f'<tr data-state="{state.id}" data-dependence="{value:.6f}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return (
        '<table class="mv-table"><thead><tr>'
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def summary_csv(run: Trajectory, reference: Trajectory | None, ensemble: Ensemble | None) -> str:
    """The summary table as CSV (one row a state), with the seed and the values changed."""
    scenario = run.scenario
    last = run.month
    head = ["state", "date", "dependence", "largest_partner"]
    if reference is not None:
        head.append("dependence_as_loaded")
    if ensemble is not None:
        head += [f"final_median_{ensemble.runs}_runs", "final_p05", "final_p95"]
    lines = [
        f"# {scenario.file}: seed {run.seed}, {_changed(len(run.settings))}"
        + "".join(f"; {key} = {value}" for key, value in run.settings),
        ",".join(head),
    ]
    for i, state in enumerate(scenario.states):
        partner = scenario.powers[int(np.argmax(run.shares[last, i]))].name
        cells = [state.id, run.date, f"{run.dependence[last, i]:.6f}", partner]
        if reference is not None:
            cells.append(f"{reference.dependence[last, i]:.6f}")
        if ensemble is not None:
            quantiles = np.quantile(ensemble.final_dependence[:, i], [0.5, 0.05, 0.95])
            cells += [f"{q:.6f}" for q in quantiles]
        lines.append(",".join(json.dumps(c) if "," in c else c for c in cells))
    return "\n".join(lines) + "\n"


def _changed(n: int) -> str:
    return "the scenario's own values" if n == 0 else f"{n} value{'s' * (n != 1)} changed"


def run_title(run: Trajectory) -> str:
    """The scenario's title, or when the run changed values, a title that says so.

    A title's closing remark in parentheses, such as "(posterior medians)", describes the
    scenario's own values, so it is replaced by the number of values changed.
    """
    title = run.scenario.title
    if not run.settings:
        return title
    plain = re.sub(r"\s*\([^()]*\)$", "", title)
    return f"{plain} ({_changed(len(run.settings))})"


def used_values(seed: Any, overrides: Mapping[str, Any]) -> str:
    """The values a computation uses, as the page shows them while it runs."""
    return f"seed {seed}, {_changed(len(overrides))}"


def finished_message(run: Trajectory | None) -> str:
    """What stepping a finished run says instead of starting a new one."""
    end = "its last month" if run is None else run.date
    return f"The run has reached {end}: press Restart (or Run) to start it again."


def latest_event(run: Trajectory) -> Event | None:
    """The last enabled event on or before the run's current month."""
    month = run.scenario.start + run.month
    passed = [e for e in run.scenario.events if e.enabled and e.month <= month]
    return max(passed, key=lambda e: e.month, default=None)


# --------------------------------------------------------------------------------------------
# saving the settings as a scenario


class SaveError(ValueError):
    """Why the settings could not be saved: one line."""


def check_save_name(name: str) -> str | None:
    """None for a usable name of a saved scenario, else a one-line message.

    A name is 1 to :data:`SAVE_NAME_LENGTH` letters, digits, ``-`` or ``_``: it is also the
    file name (``<name>.toml``), so it can neither leave the folder (``..``) nor make a hidden
    file (a leading dot), and an empty name is refused rather than replaced by a default.
    """
    if not name:
        return "save as: give the new scenario a name (letters, digits, '-' or '_')"
    if len(name) > SAVE_NAME_LENGTH:
        return f"save as {name[:20]!r}...: at most {SAVE_NAME_LENGTH} characters ({len(name)})"
    if not _SAVE_NAME.fullmatch(name):
        return f"save as {name!r}: a name of letters, digits, '-' or '_' only"
    return None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        text = repr(float(value))
        return text if any(c in text for c in ".en") else text + ".0"
    return json.dumps(str(value), ensure_ascii=False)


def scenario_text(
    base: Scenario,
    overrides: Mapping[str, Any],
    seed: int,
    *,
    name: str,
    extends: str,
) -> str:
    """The TOML of a scenario that ``extends`` ``base`` with the dashboard's values.

    Every changed value is written with its source (``{ value = ..., source = "dashboard: ..."
    }``); event switches as ``events.<id>.enabled = false``; a changed seed as ``run.seed``.
    """
    lines = [
        f"# Saved by the multivector dashboard on {date.today().isoformat()}: {extends} with the",
        "# values below changed. Run it as a batch, e.g. the dashboard's ensemble:",
        f"#   multivector run THIS_FILE --runs {ENSEMBLE_RUNS}",
        f"extends = {_toml(extends)}",
        "",
        f"scenario.name = {_toml(name)}",
        f"scenario.title = {_toml(f'{base.title} — dashboard settings')}",
    ]
    if seed != base.seed:
        source = f"dashboard: the seed of the runs shown (was {base.seed})"
        lines.append(f"run.seed = {{ value = {_toml(int(seed))}, source = {_toml(source)} }}")
    for key in sorted(overrides, key=lambda k: (k.startswith("events."), k)):
        value = overrides[key]
        if key.startswith("events."):
            lines.append(f"{key} = {_toml(value)}")
            continue
        old = current_value(base, key)
        if key.endswith(".adjustment_rate"):
            source = f"dashboard: inertia {1 - value:.6g} (was {1 - old:.6g} in {extends})"
        else:
            source = f"dashboard: was {old:.6g} in {extends}"
        lines.append(f"{key} = {{ value = {_toml(value)}, source = {_toml(source)} }}")
    return "\n".join(lines) + "\n"


def save_settings(
    base_path: str | Path,
    overrides: Mapping[str, Any],
    seed: int,
    name: str,
    folder: str | Path | None = None,
) -> Path:
    """Write the settings as ``<folder>/<name>.toml`` extending ``base_path``; never overwrites.

    Parameters
    ----------
    base_path : the scenario file the settings change
    overrides : key path -> value, as the dashboard holds them
    seed : the dashboard seed (written as ``run.seed`` when it is not the base's)
    name : the new scenario's name and file name, as :func:`check_save_name` allows (a
        trailing ``.toml`` and surrounding spaces are dropped first)
    folder : where to write (default: beside ``base_path``)

    Returns
    -------
    Path
        The file written; it loads with :func:`~model.scenario.load_scenario`.

    Raises
    ------
    SaveError
        A bad name, nothing to save, an existing file, or values the scenario rejects.
    """
    name = name.strip().removesuffix(".toml")
    message = check_save_name(name)
    if message:
        raise SaveError(message)
    base_path = Path(base_path)
    base = load_base(base_path)
    if not overrides and seed == base.seed:
        raise SaveError(f"nothing to save: every value is {shown_path(base_path)}'s own")
    message = check_seed(seed)
    if message:
        raise SaveError(message)
    try:
        apply_settings(base, overrides)
    except ScenarioError as error:
        raise SaveError(str(error)) from None
    folder = Path(folder) if folder is not None else base_path.parent
    path = folder / f"{name}.toml"
    extends = os.path.relpath(base_path.absolute(), folder.absolute())
    text = scenario_text(base, overrides, seed, name=name, extends=Path(extends).as_posix())
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise SaveError(f"{shown_path(path)}: exists already; choose another name") from None
    except OSError as error:
        raise SaveError(f"{shown_path(path)}: cannot write ({error.strerror})") from None
    try:
        load_scenario(path)
    except ScenarioError as error:  # pragma: no cover - the values were validated above
        path.unlink()
        raise SaveError(str(error)) from None
    return path


# --------------------------------------------------------------------------------------------
# the page

_CSS = """
.mv-sidebar-heading { font-weight: 600; font-size: 14px; margin: 10px 0 0 0; }
.mv-slider { margin: 0 0 -6px 0; }
.mv-slider .v-input__slot > .v-label { display: none; }
.mv-slider-label { font-size: 14px; display: flex; justify-content: space-between; }
.mv-slider-label .mv-changed { color: #C2185B; font-weight: 600; }
.mv-date { font-size: 30px; font-weight: 600; line-height: 1.1; white-space: nowrap; }
.mv-muted { color: #555555; font-size: 14px; }
.mv-events { max-height: 320px; overflow-y: auto; border: 1px solid #e0e0e0; padding: 2px 4px; }
.mv-events .v-input { margin-top: 0; padding-top: 0; }
.mv-events .mv-key-event label { font-weight: 600; }
.mv-events .v-messages { display: none; }
.mv-events label { font-size: 14px; line-height: 1.25; }
.mv-table { border-collapse: collapse; font-size: 15px; margin: 4px 0; }
.mv-table th, .mv-table td { padding: 2px 10px; text-align: right; }
.mv-table th:first-child, .mv-table td:first-child { text-align: left; }
.mv-table thead th { border-bottom: 1px solid #999999; font-weight: 600; }
"""


@solara.component
def ParameterSlider(
    control: Control, value: float, own: float, on_value: Callable[[str, float], None]
):
    """A labelled slider showing its value, marked when it differs from the scenario's own."""
    position = control.shown(value)
    changed = not _same(own, value)
    with solara.Div(classes=["mv-slider", control.css]):
        with solara.Div(classes=["mv-slider-label"]):
            solara.Text(control.label)
            with solara.Div():
                solara.Text(
                    f"{position:.3f}" + (f" (was {control.shown(own):.3f})" if changed else ""),
                    classes=["mv-value", "mv-changed"] if changed else ["mv-value"],
                )
                if changed:
                    solara.Button(
                        "reset",
                        on_click=lambda: on_value(control.key, own),
                        text=True,
                        x_small=True,
                        classes=["mv-reset"],
                    )
        solara.SliderFloat(
            label=f"{control.label} {control.quantity}",  # its accessible name; CSS hides it
            value=control.snapped(position),
            min=control.lo,
            max=control.hi,
            step=control.step,
            on_value=lambda x: on_value(control.key, control.value_at(x, own)),
            thumb_label=False,
        )


@solara.component
def CommitField(
    label: str, value: str, event_commit: Callable[[str], None], css: str = "", error: str = ""
):
    """A text field whose text reaches the server whole, when it is committed (Enter or leaving
    the field), never key by key.

    What is typed stays the browser's: the server never sets the text while one types (a
    render setting it would put back what the server last had, and a render comes whenever a
    run ends). The text is set once, when the field appears; the caller keys the field by
    ``value`` (``CommitField(...).key(...)``), so a new value from elsewhere (a reset, another
    scenario) makes a new field. The computations run outside the event handlers, so the
    server takes a commit at once even while a run computes, and pressing a button first takes
    the focus from the field, so its commit reaches the server before the press.

    The commit is the field's ``change`` event (leaving the field or Enter after a change),
    which carries the text itself: the browser holds back a widget's state while the server is
    busy, but not its events, so the field's state on the server can lag behind the event (the
    seed 20211231 typed during a run used to arrive as 2).
    """
    field = solara.v.TextField(
        label=label,
        error=bool(error),
        messages=[error] if error else [],
        hide_details="auto",
        class_=css,
    )

    commit = solara.use_ref(event_commit)
    commit.current = event_commit

    def show_value_and_listen():
        widget = solara.get_widget(field)
        widget.v_model = value

        def on_change(_widget, _event, text):
            commit.current(str(text or ""))

        widget.on_event("change", on_change)
        return lambda: widget.on_event("change", on_change, remove=True)

    solara.use_effect(show_value_and_listen, [])
    return field


@solara.component
def ChartView(chart: Chart, name: str, height: int):
    """An ECharts chart, drawn in the browser, as wide as its column (class ``mv-figure-<name>``).

    Hover shows values, the wheel or the toolbox zooms, and the toolbox saves a PNG. The option
    goes to the widget in an effect, not as an element's argument: the renderer walks every
    argument's lists and dicts looking for elements, and an option's thousands of points made
    each render of the page take a second.
    """
    with solara.Div(classes=["mv-figure", f"mv-figure-{name}"]):
        Echarts(chart, height)


@solara.component
def Echarts(chart: Chart, height: int):
    """The ECharts widget of :func:`ChartView`, its option set in an effect."""
    element = EchartsWidget.element(
        attributes={"style": f"height: {height}px; width: 100%;"}, responsive=True
    )

    def send():
        solara.get_widget(element).option = chart.option

    solara.use_effect(send, [chart])
    return element


@solara.component
def Dashboard(initial: str):
    """The whole page; ``initial`` is the scenario file opened first."""
    initial_path = Path(initial)
    router = solara.use_router()
    revision = solara.use_reactive(0)  # bumped when a scenario file is saved

    def list_files():
        """Picker label (path relative to the opened scenario's folder) -> path."""
        folder = initial_path.parent
        files = {f.relative_to(folder).as_posix(): f for f in scenario_files(folder)}
        if initial_path.name not in files:
            files[initial_path.name] = initial_path
        return files

    files = solara.use_memo(list_files, [initial, revision.value])

    def from_url(query: str | None) -> tuple[str, Any, dict[str, Any]]:
        """The path, seed and overrides a URL query asks for (a scenario the picker lists)."""
        label, seed_asked, values = parse_query(query)
        return str(files.get(label, initial_path)), seed_asked, values

    # the settings live in the URL (settings_query), so a reload or a shared link shows them
    first = solara.use_memo(lambda: from_url(router.search), [])
    path = solara.use_reactive(first[0])
    seed = solara.use_reactive(first[1])  # None: the scenario's run.seed
    overrides = solara.use_reactive(first[2])
    compare_with = solara.use_reactive(compare_in_query(router.search))  # a picker label
    run = solara.use_reactive(None)  # the Trajectory shown once the user ran or stepped
    ensemble = solara.use_reactive(None)
    save_name = solara.use_reactive(None)  # None: the suggested name, shown in the field
    notice = solara.use_reactive(None)  # (kind, text) after saving or stepping
    simulation = solara.use_ref(None)  # the Simulation being stepped

    label = next((k for k, f in files.items() if str(f) == path.value), Path(path.value).name)
    query = settings_query(label, seed.value, overrides.value, compare=compare_with.value)

    def url_to_settings():
        """Take the settings of a URL the browser went to (back, forward), not of our own."""
        if not router.search or router.search == query:
            return
        path_asked, seed_asked, values = from_url(router.search)
        if path_asked != path.value:
            open_scenario(path_asked)
        seed.set(seed_asked)
        compare_with.set(compare_in_query(router.search))
        overrides.set(values)

    def settings_to_url():
        if router.set_path is not None and router.search != query:
            router.push(f"{router.path}?{query}")

    solara.use_effect(url_to_settings, [router.search])
    solara.use_effect(settings_to_url, [query])

    def open_scenario(new_path: str) -> None:
        """Show another scenario file, with its own values."""
        path.set(new_path)
        overrides.set({})
        seed.set(None)
        run.set(None)
        ensemble.set(None)
        notice.set(None)
        simulation.current = None

    def load():
        try:
            return load_base(path.value), None
        except ScenarioError as error:
            return None, str(error)

    base, load_error = solara.use_memo(load, [path.value])
    seed_value = seed.value if seed.value is not None or base is None else base.seed

    def settings():
        if base is None:
            return None, load_error
        return try_settings(base, overrides.value, seed_value)

    scenario, error = solara.use_memo(settings, [base, _settings_key(overrides.value), seed_value])

    def reference_run():
        return None if base is None or check_seed(seed_value) else single_run(base, seed_value)

    reference = solara.use_memo(reference_run, [base, seed_value])

    def second_run():
        """The run of the scenario compared with, same seed: (run or None, message or None)."""
        if compare_with.value not in files or check_seed(seed_value):
            return None, None
        try:
            return single_run(load_base(files[compare_with.value]), seed_value), None
        except ScenarioError as problem:
            return None, f"Cannot compare: {problem}"

    other, other_error = solara.use_memo(second_run, [compare_with.value, seed_value, files])
    shown = run.value if run.value is not None else reference
    bands = ensemble.value
    if bands is not None and (shown is None or bands.key() != shown.key()):
        bands = None
    compare = (
        reference
        if shown is not None and reference is not None and shown.key() != reference.key()
        else None
    )
    # each chart is rebuilt (and sent to the browser) only when what it shows changed
    dependence = solara.use_memo(
        lambda: None if shown is None else Chart(dependence_chart(shown, compare, bands, other)),
        [shown, compare, bands, other],
    )
    shares = solara.use_memo(lambda: None if shown is None else Chart(shares_chart(shown)), [shown])
    simplex = solara.use_memo(
        lambda: None if shown is None else Chart(simplex_chart(shown, bands)), [shown, bands]
    )

    # One worker thread per page computes the queued actions in order: the page stays
    # responsive (and shows what it computes) meanwhile, and presses made while it is busy wait
    # their turn instead of being lost (see queue_action).
    lock = solara.use_memo(threading.Lock, [])
    queue = solara.use_ref([])  # the Actions waiting, in order
    working = solara.use_ref(False)  # whether the worker is (about to be) running
    status = solara.use_reactive(None)  # (what is computed, actions waiting) while busy

    def perform(action: Action) -> Callable[[], None]:
        """Compute ``action``; return what shows its result (applied with the end of the busy
        state in one render)."""
        overrides_then = dict(action.settings)
        if action.kind == "play":
            play(action)
            return lambda: None
        if action.kind == "step" and simulation.current is not None:
            if simulation.current.finished:
                message = finished_message(run.value)
                return lambda: notice.set(("info", message))
            stepped = simulation.current.advance(action.months)
            return lambda: run.set(stepped)
        current = Simulation.start(action.scenario, action.seed, overrides_then)
        months = {"restart": 0, "step": action.months}.get(action.kind)
        new_run = current.advance(months)
        bands = None
        if action.kind == "ensemble":
            bands = run_ensemble(action.scenario, action.seed, ENSEMBLE_RUNS, overrides_then)

        def show() -> None:
            simulation.current = current
            run.set(new_run)
            if bands is not None:
                ensemble.set(bands)

        return show

    playing = solara.use_ref(False)  # cleared by Pause (or any other press) to stop Play

    def play(action: Action) -> None:
        """Step the run shown :data:`PLAY_MONTHS` months a frame to its end, or until paused."""
        current = simulation.current
        if current is None or current.finished:
            current = Simulation.start(action.scenario, action.seed, dict(action.settings))
            simulation.current = current
        playing.current = True
        while playing.current and not current.finished:
            started = time.monotonic()
            run.set(current.advance(PLAY_MONTHS))
            time.sleep(max(0.0, PLAY_FRAME - (time.monotonic() - started)))
        playing.current = False

    render_context = reacton.core.get_render_context()

    def work() -> None:
        with lock:
            action, *queue.current = queue.current
        while True:
            try:
                show = perform(action)
            except Exception as problem:  # shown on the page: a failed action is never fatal
                message = f"{action.describe()} failed: {problem}"

                def show(message=message):
                    notice.set(("error", message))

            # the result and the next busy state (or its end) in one render, not two: each
            # render of the page costs a noticeable part of a Run
            with render_context, lock:
                show()
                if not queue.current:
                    working.current = False
                    status.set(None)
                    return
                action, *queue.current = queue.current
                status.set((action.describe(), len(queue.current)))

    job = solara.lab.use_task(work, dependencies=None, prefer_threaded=True, raise_error=False)

    def settings_now() -> tuple[Scenario | None, Any]:
        """The scenario and seed of the values as they are now.

        An event handler is the closure of the last render, which may not yet show a value
        committed just before (a commit arrives as the focus leaves a field for the button
        pressed, often while the worker is rendering): handlers read the values themselves.
        """
        try:
            base_now = load_base(path.value)
        except ScenarioError:
            return None, None
        seed_now = base_now.seed if seed.value is None else seed.value
        return try_settings(base_now, overrides.value, seed_now)[0], seed_now

    def press(kind: str, months: int = 0) -> None:
        """Queue an action with the settings as they are now; start the worker if idle.

        A press stops Play (at its next frame) rather than waiting for it to end.
        """
        playing.current = False
        if kind == "pause":
            return
        scenario_now, seed_now = settings_now()
        if scenario_now is None:
            return
        action = Action(kind, scenario_now, seed_now, _settings_key(overrides.value), months)
        notice.set(None)
        with lock:
            queue.current = queue_action(queue.current, action)
            if working.current:
                if status.value is not None:
                    status.set((status.value[0], len(queue.current)))
                return
            working.current = True
            status.set((action.describe(), len(queue.current) - 1))
        job()

    working_on = status.value  # read once: the worker may change it while this renders
    busy = working_on is not None

    def pick(name: str):
        if status.value is None:
            open_scenario(str(files[name]))

    def set_value(key: str, value: Any):
        overrides.set(set_override(load_base(path.value), overrides.value, key, value))

    def reset_values():
        overrides.set({})
        seed.set(None)

    suggested_name = "" if base is None else f"{base.name}-dashboard"
    name_value = suggested_name if save_name.value is None else save_name.value

    def do_save():
        _, seed_now = settings_now()
        name = suggested_name if save_name.value is None else save_name.value
        try:
            saved = save_settings(path.value, overrides.value, seed_now, name)
        except SaveError as problem:
            notice.set(("error", str(problem)))
            return
        notice.set(("success", f"Saved {shown_path(saved)}: multivector run {shown_path(saved)}"))
        revision.set(revision.value + 1)

    current_key = (
        None if scenario is None else (scenario.file, _settings_key(overrides.value), seed_value)
    )
    stale = shown is not None and current_key is not None and shown.key() != current_key
    blocked = scenario is None

    solara.Style(_CSS)
    solara.Title("multivector dashboard")
    with solara.Sidebar(), solara.Column(gap="6px"):
        solara.Select(
            label="Scenario",
            values=list(files),
            value=next((k for k, f in files.items() if str(f) == path.value), None),
            on_value=pick,
            disabled=busy,
        )
        solara.Select(
            label="Compare with (dotted purple, same seed)",
            values=["(none)", *files],
            value=compare_with.value if compare_with.value in files else "(none)",
            on_value=lambda name: compare_with.set(None if name == "(none)" else name),
        )
        seed_text = str(seed_value if base is not None else 0)
        CommitField(
            label="Seed (batch seed; the run shown is replicate 0)",
            value=seed_text,
            event_commit=lambda text: seed.set(parse_seed(text)),
            css="mv-seed",
        ).key(f"seed {seed_text}")
        with solara.Row(gap="6px"):
            solara.Button(
                "Run",
                on_click=lambda: press("run"),
                color="primary",
                disabled=blocked,
                classes=["mv-run"],
            )
            solara.Button(
                f"Ensemble ({ENSEMBLE_RUNS} seeds)",
                on_click=lambda: press("ensemble"),
                disabled=blocked,
                classes=["mv-ensemble"],
            )
        with solara.Row(gap="2px"):
            solara.Button(
                "Restart",
                on_click=lambda: press("restart"),
                disabled=blocked,
                text=True,
            )
            solara.Button(
                "+1 month",
                on_click=lambda: press("step", 1),
                disabled=blocked,
                text=True,
            )
            solara.Button(
                "+1 year",
                on_click=lambda: press("step", 12),
                disabled=blocked,
                text=True,
            )
            is_playing = busy and working_on[0].startswith("Playing")
            solara.Button(
                "Pause" if is_playing else "Play",
                icon_name="mdi-pause" if is_playing else "mdi-play",
                on_click=lambda: press("pause" if is_playing else "play"),
                disabled=blocked,
                text=True,
                classes=["mv-play"],
            )
        if base is not None:
            for heading, group in controls(base).items():
                solara.Div(children=[heading], classes=["mv-sidebar-heading"])
                for control in group:
                    own = current_value(base, control.key)
                    ParameterSlider(control, overrides.value.get(control.key, own), own, set_value)
            if base.events:
                solara.Div(
                    children=[f"Events ({len(base.events)}; untick to switch off)"],
                    classes=["mv-sidebar-heading"],
                )
                # every event of the scenario, by date, in a box of its own height; the key
                # events in bold
                with solara.Div(classes=["mv-events"]):
                    for event in sorted(base.events, key=lambda e: (e.month, e.id)):
                        key = f"events.{event.id}.enabled"
                        with solara.Div(classes=["mv-key-event"] if event.id in KEY_EVENTS else []):
                            solara.Checkbox(
                                label=f"{event.date} {event.title}",
                                value=overrides.value.get(key, event.enabled),
                                on_value=lambda on, key=key: set_value(key, bool(on)),
                            )
            solara.Button("Reset to the scenario's values", on_click=reset_values, text=True)
            solara.Div(children=["Save as scenario"], classes=["mv-sidebar-heading"])
            CommitField(
                label="Name (file name, without .toml)",
                value=name_value,
                event_commit=lambda text: save_name.set(str(text).strip()),
                css="mv-save-name",
                error=check_save_name(name_value.removesuffix(".toml")) or "",
            ).key(f"save name {name_value}")
            solara.Button(
                "Save settings as scenario",
                on_click=do_save,
                disabled=blocked,
                outlined=True,
                classes=["mv-save"],
            )
            if notice.value is not None:
                kind, text = notice.value
                alert = {"success": solara.Success, "info": solara.Info}.get(kind, solara.Error)
                alert(text, dense=True, classes=[f"mv-notice-{kind}"])

    with solara.Column(gap="8px"):
        # messages live in a container of their own, so that showing one does not move the
        # figures to new positions in the tree (which would redraw them)
        with solara.Column(gap="4px", classes=["mv-messages"]):
            if busy:
                with solara.Row(gap="8px", classes=["mv-busy"]):
                    what, waiting = working_on
                    solara.ProgressLinear(True)
                    solara.Text(what + (f" ({waiting} more waiting)" if waiting else ""))
            if error:
                solara.Error(f"Cannot run these settings: {error}", classes=["mv-error"])
            if other_error:
                solara.Error(other_error, classes=["mv-compare-error"])
            if shown is None:
                solara.Info("Nothing to show yet: correct the settings above, then press Run.")
            if stale:
                solara.Warning(
                    "The settings changed since this run: press Run (or Restart) to apply them.",
                    dense=True,
                    classes=["mv-stale"],
                )
            if shown is not None and not np.all(np.isfinite(shown.dependence)):
                solara.Warning("This run produced non-finite values; try less extreme settings.")
        if shown is not None:
            RunView(shown, compare, bands, (dependence, shares, simplex))


@solara.component
def RunView(
    shown: Trajectory,
    compare: Trajectory | None,
    bands: Ensemble | None,
    charts: tuple[Chart, Chart, Chart],
):
    """The current date, the summary table (and its export) and the three charts of the run."""
    event = latest_event(shown)
    with solara.Row(gap="24px", style={"align-items": "flex-end"}):
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(shown.date), classes=["mv-date"])
        solara.HTML(
            tag="div",
            unsafe_innerHTML=html.escape(
                f"month {shown.month} of {shown.scenario.n_steps} · seed {shown.seed} · "
                + _changed(len(shown.settings))
                + (f" · latest event: {event.date} {event.title}" if event else "")
            ),
            classes=["mv-muted"],
        )
    solara.HTML(
        tag="div", unsafe_innerHTML=summary_html(shown, compare, bands), classes=["mv-summary"]
    )
    solara.FileDownload(
        lambda: summary_csv(shown, compare, bands).encode(),
        filename=f"{shown.scenario.name}-{shown.date}-seed{shown.seed}.csv",
        label="Export the table (CSV)",
    )
    dependence, shares, simplex = charts
    ChartView(dependence, "dependence", DEPENDENCE_HEIGHT)
    with solara.Columns([1.5, 1]):
        ChartView(shares, "shares", SHARES_HEIGHT)
        ChartView(simplex, "simplex", SIMPLEX_HEIGHT)


@solara.component
def Page():
    """The dashboard page, served by ``solara run experiments.app:Page``.

    Opens the scenario named by the ``MULTIVECTOR_APP_SCENARIO`` environment variable
    (:func:`app_command` sets it), else ``scenarios/baseline.toml``.
    """
    Dashboard(initial=os.environ.get(SCENARIO_ENV) or shown_path(DEFAULT_SCENARIO))


# --------------------------------------------------------------------------------------------
# serving


def serve_command(host: str, port: int) -> list[str]:
    """The command that serves the page (the scenario goes in :data:`SCENARIO_ENV`)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        "experiments.app:Page",
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",  # no request to PyPI at each start
    ]


def serve(scenario: Path, host: str, port: int) -> None:
    """Serve the page for ``scenario`` until Ctrl-C; the Solara server replaces this process.

    The ensemble kernel is compiled in the background first if it is not cached (the ensemble
    button uses the Mesa model meanwhile).
    """
    if not compiled_already():
        compile_in_background()
    env = {
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage reports from a research tool
        "SOLARA_THEME_SHOW_BANNER": "False",
        # served on 127.0.0.1 over http, Solara warns about cookies at every visit
        "PYTHONWARNINGS": "ignore:Cookies with samesite=none:UserWarning",
        **os.environ,
        SCENARIO_ENV: shown_path(scenario),  # the server runs in this folder too
    }
    print(
        f"multivector: dashboard of {shown_path(scenario)} at http://{host}:{port}/ "
        "(Ctrl-C stops it)",
        flush=True,
    )
    # the server replaces this process, so Ctrl-C and kill reach it directly
    os.execve(sys.executable, serve_command(host, port), env)
