"""Scenario files: load TOML, resolve ``extends``, validate, and compile to arrays.

A scenario is data: the actors (states, powers, dimensions, institutions), the initial ties, the
parameters (each with its source), the dated events and the run settings. It is read once with
:mod:`tomllib` into frozen dataclasses; every mistake in a file becomes one :class:`ScenarioError`
naming the file, the key path, the value and what is allowed.

Values may be written bare (``balancing_propensity = 1.5``) or with their source
(``balancing_propensity = { value = 1.5, source = "article §Doctrine, fn 1-4" }``). A bare value's
source is the file that set it.

``extends = "baseline.toml"`` inherits every key of the parent file (path relative to the child)
and overrides only what the child sets; tables merge key by key, values and lists replace.
Events are tables keyed by an id, so a child can switch one off (``events.bri_2013.enabled =
false``), change it, or add new ones.

Compilation turns the resolved scenario into :class:`CompiledScenario`: piecewise-constant
parameter arrays, one slice per *epoch* (the interval between two event dates), which the rules
in :mod:`model.rules` read without any further parsing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from model.files import MAX_DEPTH, UnreadableFile, check_path_text, check_shape, read_text
from model.parameters import (
    EVENT_KINDS,
    PARAMETERS,
    PLACEHOLDERS,
    Parameter,
    allowed_children,
    dated_hint,
    expand,
    lookup,
)

__all__ = [
    "CompiledScenario",
    "Scenario",
    "ScenarioError",
    "compile_scenario",
    "load_scenario",
    "month_index",
    "month_label",
]

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 100
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME - 1}}}")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
MAX_EXTENDS = 32
"""Longest chain of ``extends``."""


class ScenarioError(ValueError):
    """A user mistake in a scenario file or override: one line, no traceback.

    Parameters
    ----------
    file : str
        The file (or ``--set``) where the offending value was written.
    key : str
        Dotted key path of the value, e.g. ``states.KAZ.balancing_propensity``.
    value : object
        The offending value (``None`` when the key is missing).
    allowed : str
        What would have been accepted.
    """

    def __init__(self, file: str, key: str, value: Any, allowed: str):
        self.file, self.key, self.value, self.allowed = file, key, value, allowed
        shown = "(missing)" if value is _MISSING else _short(value)
        super().__init__(f"{_one_line(file)}: {_one_line(key)} = {shown}: {allowed}")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


def _one_line(text: Any) -> str:
    """``text`` with control characters escaped (a key or path may hold a newline)."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------------
# dates


def month_index(text: Any) -> int:
    """Months since January of year 0 for ``"YYYY-MM"`` (or a TOML date); ValueError if not."""
    if hasattr(text, "year") and hasattr(text, "month"):
        return int(text.year) * 12 + int(text.month) - 1
    if not isinstance(text, str):
        raise ValueError(text)
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(text)
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_label(index: int) -> str:
    """Inverse of :func:`month_index`: ``"YYYY-MM"``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --------------------------------------------------------------------------------------------
# reading files into flat leaves with provenance


@dataclass(frozen=True, slots=True)
class Leaf:
    """One resolved value with its source and the file that set it."""

    value: Any
    source: str
    file: str


def _is_sourced_value(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and set(node) <= {"value", "source"}


def _flatten(node: Mapping[str, Any], file: str, prefix: tuple[str, ...] = ()):
    # a table's own `source` (e.g. a row of initial ties) is the source of its bare values
    shared = node.get("source") if isinstance(node.get("source"), str) else None
    for key, value in node.items():
        path = (*prefix, str(key))
        if shared is not None and key != "source" and not isinstance(value, dict):
            yield path, Leaf(value, shared, file)
        elif _is_sourced_value(value):
            source = value.get("source", f"set in {file}")
            if not isinstance(source, str):
                raise ScenarioError(file, ".".join((*path, "source")), source, "a string")
            yield path, Leaf(value["value"], source, file)
        elif isinstance(value, dict) and value:
            yield from _flatten(value, file, path)
        elif isinstance(value, dict):  # an empty table sets nothing: tables merge key by key
            continue
        else:
            yield path, Leaf(value, f"set in {file}", file)


def _read_toml(path: Path, shown: str, referrer: str) -> dict[str, Any]:
    """A scenario file's TOML, read through :func:`model.files.read_text` (a regular file of
    bounded size) and of bounded depth and key count; every problem is one ScenarioError."""
    key = "extends" if referrer != shown else "file"
    try:
        data = tomllib.loads(read_text(path))
        check_shape(data, shown)
    except UnreadableFile as error:
        if error.problem == "no such file":
            raise ScenarioError(referrer, key, shown, "no such scenario file") from None
        if error.problem.startswith("a directory"):
            raise ScenarioError(referrer, key, shown, "a scenario file, not a directory") from None
        if error.problem.startswith("not UTF-8"):
            raise ScenarioError(shown, "(syntax)", error.problem, "UTF-8 TOML text") from None
        if error.problem.startswith(("nested", "more than")):
            raise ScenarioError(shown, "(syntax)", error.problem, "a scenario's size") from None
        raise ScenarioError(referrer, key, shown, f"a scenario file ({error.problem})") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(shown, "(syntax)", str(error), "valid TOML") from None
    except RecursionError:
        problem = f"nested deeper than {MAX_DEPTH} levels"
        raise ScenarioError(shown, "(syntax)", problem, "valid TOML") from None
    return data


def _resolve_files(path: Path, shown: str, stack: tuple[Path, ...], referrer: str):
    """Yield ``(shown_name, data)`` from the root ancestor down to ``path``."""
    try:
        check_path_text(path)
        real = path.resolve()
    except (UnreadableFile, OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
        problem = error.problem if isinstance(error, UnreadableFile) else "a loop of symbolic links"
        key = "extends" if referrer != shown else "file"
        raise ScenarioError(referrer, key, shown, f"a scenario file ({problem})") from None
    if real in stack:
        chain = " -> ".join(p.name for p in (*stack, real))
        raise ScenarioError(shown, "extends", path.name, f"no cycle (found {chain})")
    if len(stack) >= MAX_EXTENDS:
        raise ScenarioError(shown, "extends", path.name, f"at most {MAX_EXTENDS} files in a chain")
    data = _read_toml(path, shown, referrer)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(
                shown,
                "extends",
                parent,
                "a path to a scenario file (absolute, or relative to this file)",
            )
        absolute = Path(parent).is_absolute()
        parent_path = Path(parent) if absolute else path.parent / parent
        parent_shown = parent if absolute else str(Path(shown).parent / parent)
        yield from _resolve_files(parent_path, parent_shown, (*stack, real), shown)
    yield shown, data


def _merge(flat: dict[tuple[str, ...], Leaf], new: Iterable[tuple[tuple[str, ...], Leaf]]):
    """Lay ``new`` leaves over ``flat`` (in place): a child value replaces whatever the parent
    had at its path or below it, and a child table replaces a parent value at one of its
    prefixes. Linear in the number of keys times their depth (an index of the keys below each
    prefix), so a file of many keys loads in proportion to its size."""
    below: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for key in flat:
        for i in range(1, len(key)):
            below.setdefault(key[:i], set()).add(key)
    for path, leaf in new:
        doomed = set(below.get(path, ()))
        doomed.update(path[:i] for i in range(1, len(path)) if path[:i] in flat)
        if path in flat:
            doomed.add(path)
        for old in doomed:
            del flat[old]
            for i in range(1, len(old)):
                below[old[:i]].discard(old)
        flat[path] = leaf
        for i in range(1, len(path)):
            below.setdefault(path[:i], set()).add(path)


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``KEY.PATH=VALUE`` and read VALUE as a TOML value (bare words are strings)."""
    if "=" not in text:
        raise ScenarioError("--set", text, _MISSING, "KEY.PATH=VALUE")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not key or any(not part for part in key.split(".")):
        raise ScenarioError(
            "--set",
            key or "(empty)",
            raw,
            "a dotted key path such as states.KAZ.balancing_propensity",
        )
    if "\n" in raw or "\r" in raw:
        raise ScenarioError("--set", key, raw, "a single value on one line")
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return key, raw
    if set(parsed) != {"v"}:
        raise ScenarioError("--set", key, raw, "a single TOML value")
    return key, parsed["v"]


# --------------------------------------------------------------------------------------------
# the frozen scenario types


@dataclass(frozen=True, slots=True)
class Dimension:
    """A kind of tie (economic, security, ...); its parameters are in :attr:`Scenario.values`."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Power:
    """An external power; its parameters are in :attr:`Scenario.values` (``powers.<id>.*``)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class State:
    """A Central Asian state; its parameters are in :attr:`Scenario.values` (``states.<id>.*``)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Institution:
    """A membership organisation led by one power (EAEU, CSTO, SCO, CCTS, ...)."""

    id: str
    name: str
    power: str
    dimensions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One change an event makes: ``op`` is ``set``, ``add``, ``mul`` or ``remove``."""

    key: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Event:
    """A dated event from the article's timeline.

    ``kind`` is one of :data:`model.parameters.EVENT_KINDS`, or None: the magnitudes of an
    event of kind ``k`` are scaled by ``model.event_scale.<k>``; an event without a kind is
    never scaled.
    """

    id: str
    month: int
    title: str
    source: str
    enabled: bool
    changes: tuple[Change, ...]
    kind: str | None = None

    @property
    def date(self) -> str:
        return month_label(self.month)


@dataclass(frozen=True, slots=True)
class Alignment:
    """Poles of the alignment simplex (groups of powers) and the relative-alignment axes."""

    poles: tuple[tuple[str, tuple[str, ...]], ...]
    axes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scenario:
    """A loaded, validated scenario. Build with :func:`load_scenario`; never mutate.

    ``values`` maps the key path of every parameter of the table (:mod:`model.parameters`) to
    its validated value, defaults filled in, before any event. ``parameters`` maps every key
    path the files set to its :class:`Leaf` (value, source, file), so a variant is made by
    :meth:`with_overrides`, which re-validates.
    """

    name: str
    title: str
    description: str
    file: str
    start: int
    end: int
    runs: int
    seed: int
    dimensions: tuple[Dimension, ...]
    powers: tuple[Power, ...]
    states: tuple[State, ...]
    institutions: tuple[Institution, ...]
    alignment: Alignment
    events: tuple[Event, ...]
    values: Mapping[str, Any] = field(repr=False)
    parameters: Mapping[str, Leaf] = field(repr=False)
    compiled: CompiledScenario = field(repr=False, compare=False)

    @property
    def n_steps(self) -> int:
        """Number of monthly steps from ``start`` to ``end``."""
        return self.end - self.start

    @property
    def dates(self) -> np.ndarray:
        """The ``n_steps + 1`` recorded months as ``datetime64[M]``."""
        return (np.arange(self.start, self.end + 1) - 1970 * 12).astype("datetime64[M]")

    @property
    def state_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.states)

    @property
    def power_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.powers)

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions)

    @property
    def hash(self) -> str:
        """Short SHA-256 of the resolved parameters (what a run uses, not how files spell it).

        ``[sweep]`` and ``[calibration]`` are left out: they describe batches and fits, not a run.
        """
        payload = json.dumps(
            {
                k: _jsonable(v.value)
                for k, v in sorted(self.parameters.items())
                if k.split(".")[0] not in _BATCH_TABLES
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def resolved(self) -> dict[str, dict[str, Any]]:
        """Every resolved parameter as ``{path: {"value", "source", "file"}}`` (for manifests)."""
        return {
            k: {"value": _jsonable(v.value), "source": v.source, "file": v.file}
            for k, v in self.parameters.items()
        }

    def with_overrides(self, overrides: Mapping[str, Any], *, file: str = "--set") -> Scenario:
        """A new validated scenario with some key paths set (sweeps, ``--set``, the dashboard,
        a fit's candidates).

        When every override is a valid number for a numeric parameter of the scenario, only
        what numbers change is worked out again (:meth:`_with_numbers`: the same checks, the
        same arrays, in about a millisecond); anything else, and a variant those checks
        reject, goes through the whole validation, whose message names the file that set what.
        """
        numbers = self._numbers(overrides, file)
        if numbers is not None:
            try:
                return self._with_numbers(numbers, overrides, file)
            except ScenarioError:
                pass  # rejected: the whole validation below raises the full message
        flat = {tuple(k.split(".")): v for k, v in self.parameters.items()}
        _check_override_ids(flat, overrides, file)
        _merge(flat, _override_leaves(overrides, file))
        return _build(flat, self.file)

    def _numbers(self, overrides: Mapping[str, Any], file: str) -> dict[str, float] | None:
        """The overrides as validated numbers (:func:`_read_value`), or None unless each sets
        a parameter of kind ``number`` that the scenario has to a valid value."""
        numbers = {}
        for key, value in overrides.items():
            parameter = lookup(key)
            if parameter is None or parameter.kind != "number" or key not in self.values:
                return None
            path = tuple(key.split("."))
            reader = _Reader({path: Leaf(value, f"override ({file})", file)}, self.file)
            try:
                numbers[key] = _read_value(reader, parameter, path, {})
            except ScenarioError:
                return None
        return numbers

    def _with_numbers(
        self, numbers: Mapping[str, float], overrides: Mapping[str, Any], file: str
    ) -> Scenario:
        """The variant with ``numbers`` (checked values of numeric parameters): the checks
        that read several values (:func:`_check_totals`) and the epoch arrays, with the
        events replayed on the new values (:class:`_Timeline`), as :func:`_build` does them."""
        values = {**self.values, **numbers}
        _check_totals(
            _Reader({}, self.file), values, self.dimension_ids, self.power_ids, self.state_ids
        )
        parameters = {k: v for k, v in self.parameters.items() if k not in overrides}
        parameters.update((k, Leaf(v, f"override ({file})", file)) for k, v in overrides.items())
        compiled = self._timeline.compile(values)
        return replace(self, values=values, parameters=parameters, compiled=compiled)

    @cached_property
    def _timeline(self) -> _Timeline:
        """The scenario's epochs and events' changes, for variants that change numbers."""
        fields_ = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "compiled"}
        return _Timeline(fields_)


_ID_SECTIONS = {"states": "state", "powers": "power", "institutions": "institution"}


def _check_override_ids(flat: Mapping[tuple[str, ...], Leaf], overrides, file: str) -> None:
    """An override may not create an actor: ``states.XYZ...`` needs state XYZ in the files."""
    known = {(p[0], p[1]) for p in flat if len(p) > 1}
    for key, value in overrides.items():
        parts = key.split(".")
        if len(parts) > 2 and parts[0] in _ID_SECTIONS and (parts[0], parts[1]) not in known:
            ids = sorted({p[1] for p in known if p[0] == parts[0]})
            kind = _ID_SECTIONS[parts[0]]
            raise ScenarioError(file, key, value, f"a known {kind} id ({', '.join(ids)})")


def _override_leaves(overrides: Mapping[str, Any], file: str):
    for key, value in overrides.items():
        leaf = Leaf(value, f"override ({file})", file)
        if isinstance(value, dict):
            yield from _flatten(value, file, tuple(key.split(".")))
        else:
            yield tuple(key.split(".")), leaf


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | Sequence[str] = ()) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The scenario TOML file.
    overrides : mapping or sequence of ``"KEY.PATH=VALUE"`` strings
        Values set after the files, as by ``--set`` on the command line.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        For any mistake, with a one-line message naming file, key, value and what is allowed.
    """
    shown = str(path)
    path = Path(path)
    flat: dict[tuple[str, ...], Leaf] = {}
    for file, data in _resolve_files(path, shown, (), shown):
        _merge(flat, _flatten(data, file))
    if not isinstance(overrides, Mapping):
        overrides = dict(parse_override(text) for text in overrides)
    _check_override_ids(flat, overrides, "--set")
    _merge(flat, _override_leaves(overrides, "--set"))
    return _build(flat, shown)


# --------------------------------------------------------------------------------------------
# validation


class _Reader:
    """Reads typed values out of the flat leaf map, remembering what was used."""

    def __init__(self, flat: dict[tuple[str, ...], Leaf], root_file: str):
        self.flat = flat
        self.root_file = root_file
        self.used: set[tuple[str, ...]] = set()
        # every proper prefix of a key -> the next parts below it, in file order
        self._below: dict[tuple[str, ...], dict[str, None]] = {}
        for p in flat:
            for n in range(len(p)):
                self._below.setdefault(p[:n], {}).setdefault(p[n], None)

    def set_later(self, path: tuple[str, ...], other: tuple[str, ...]) -> bool:
        """Whether the first key at or below ``path`` was set after every key at or below
        ``other`` (later files' keys come later in the leaf map)."""
        order = {p: n for n, p in enumerate(self.flat)}

        def first(prefix):
            return min((n for p, n in order.items() if p[: len(prefix)] == prefix), default=-1)

        def last(prefix):
            return max((n for p, n in order.items() if p[: len(prefix)] == prefix), default=-1)

        return first(path) > last(other)

    def file_of(self, path: tuple[str, ...]) -> str:
        if path in self.flat:
            return self.flat[path].file
        below = [leaf.file for p, leaf in self.flat.items() if p[: len(path)] == path]
        return below[-1] if below else self.root_file

    def error(self, path: tuple[str, ...], value: Any, allowed: str) -> ScenarioError:
        return ScenarioError(self.file_of(path), ".".join(path), value, allowed)

    def has(self, path: tuple[str, ...]) -> bool:
        return path in self.flat or path in self._below

    def leaf(self, path: tuple[str, ...], default: Any = _MISSING) -> Leaf:
        if path in self.flat:
            self.used.add(path)
            return self.flat[path]
        if self.has(path):
            raise self.error(path, "(a table)", "a single value")
        if default is _MISSING:
            raise self.error(path, _MISSING, "a required key")
        return Leaf(default, "default", "(default)")

    def number(self, path, lo, hi, default=_MISSING, *, integer=False, open_lo=False) -> float:
        value = self.leaf(path, default).value
        kind = "an integer" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if (
            isinstance(value, bool)
            or not ok_type
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise self.error(path, value, f"{kind} in {_interval(lo, hi, open_lo)}")
        if value < lo or value > hi or (open_lo and value == lo):
            raise self.error(path, value, f"{kind} in {_interval(lo, hi, open_lo)}")
        return int(value) if integer else float(value)

    def boolean(self, path, default=_MISSING) -> bool:
        value = self.leaf(path, default).value
        if not isinstance(value, bool):
            raise self.error(path, value, "true or false")
        return value

    def string(self, path, default=_MISSING, choices: Sequence[str] | None = None) -> str:
        value = self.leaf(path, default).value
        if not isinstance(value, str) or (choices is not None and value not in choices):
            allowed = f"one of {', '.join(choices)}" if choices is not None else "a string"
            raise self.error(path, value, allowed)
        return value

    def strings(self, path, default=_MISSING, choices: Sequence[str] | None = None) -> tuple:
        value = self.leaf(path, default).value
        allowed = "a list of strings" + (f" from {', '.join(choices)}" if choices else "")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(path, value, allowed)
        if choices is not None and any(v not in choices for v in value):
            raise self.error(path, value, allowed)
        if len(set(value)) != len(value):
            raise self.error(path, value, allowed + ", each at most once")
        return tuple(value)

    def month(self, path, lo=None, hi=None) -> int:
        value = self.leaf(path).value
        try:
            index = month_index(value)
        except ValueError:
            raise self.error(path, value, 'a month "YYYY-MM"') from None
        if lo is not None and not lo <= index <= hi:
            raise self.error(
                path,
                value,
                f"a month from {month_label(lo)} to {month_label(hi)} (the scenario's horizon)",
            )
        return index

    def children(self, path: tuple[str, ...]) -> list[str]:
        return list(self._below.get(path, ()))

    def check_unused(self, allowed_by_prefix: Mapping[tuple[str, ...], Sequence[str]]):
        for path, leaf in self.flat.items():
            if path in self.used:
                continue
            # find the deepest known prefix to say what would have been allowed there
            best: tuple[str, ...] = ()
            for prefix in allowed_by_prefix:
                if path[: len(prefix)] == prefix and len(prefix) > len(best):
                    best = prefix
            allowed = allowed_by_prefix.get(best, ())
            raise ScenarioError(
                leaf.file,
                ".".join(path),
                leaf.value,
                "unknown key" + (f" (allowed here: {', '.join(allowed)})" if allowed else ""),
            )


def _interval(lo, hi, open_lo=False) -> str:
    return f"{'(' if open_lo else '['}{lo}, {hi}]"


_SECTIONS = tuple(dict.fromkeys(p.key.split(".")[0] for p in PARAMETERS))
_BATCH_TABLES = ("sweep", "calibration")
_TOP = (*_SECTIONS, "events", *_BATCH_TABLES)
_EVENT_KEYS = ("date", "title", "kind", "source", "enabled", "changes")
_DATED_SECTIONS = ", ".join(sorted({p.key.split(".")[0] + "." for p in PARAMETERS if p.dated}))
_NAMED = {"scenario.title", "dimensions.<D>.label", "powers.<P>.name", "states.<S>.name"}
_NAMED |= {"institutions.<I>.name"}
"""Parameters whose default (None in the table) is the actor's id, or the scenario's name."""
_SPECIAL = ("scenario.start", "scenario.end", "alignment.poles.<Q>", "alignment.axes")
"""Parameters read with checks of their own in :func:`_build`."""


def _read_value(r: _Reader, parameter: Parameter, path: tuple[str, ...], ids) -> Any:
    """One value of the table's ``parameter`` at ``path``, typed and range-checked."""
    default = _MISSING if parameter.required else parameter.default
    kind = parameter.kind
    choices = ids[PLACEHOLDERS[parameter.choices]] if parameter.choices else None
    if kind in ("number", "integer"):
        convert = int if kind == "integer" else float  # as messages show the range
        return r.number(
            path,
            convert(parameter.low),
            convert(parameter.high),
            default,
            integer=kind == "integer",
            open_lo=parameter.open_low,
        )
    if kind == "boolean":
        return r.boolean(path, default)
    if kind == "ids":
        return r.strings(path, list(default) if default is not _MISSING else default, choices)
    if default is None and not r.has(path):  # a name or label: the id (or the scenario's name)
        return None
    return r.string(path, default, choices)


def _check_keys(r: _Reader, ids) -> None:
    """Every key outside ``events`` and the batch tables must be one of the table's paths."""
    allowed = allowed_children(ids)
    for path, leaf in r.flat.items():
        if path[0] in ("events", *_BATCH_TABLES):
            continue
        for n in range(1, len(path)):
            names = allowed.get(path[:n])
            if names is None:  # the prefix is a single value, not a table
                raise ScenarioError(
                    r.file_of(path[:n]), ".".join(path[:n]), "(a table)", "a single value"
                )
            if path[n] not in names:
                raise ScenarioError(
                    leaf.file,
                    ".".join(path[: n + 1]) if n + 1 < len(path) else ".".join(path),
                    leaf.value if n + 1 == len(path) else "(a table)",
                    f"unknown key (allowed here: {', '.join(names)})",
                )


def _build(flat: dict[tuple[str, ...], Leaf], root_file: str) -> Scenario:
    r = _Reader(flat, root_file)
    for top in {p[0] for p in flat}:
        if top not in _TOP:
            path = next(p for p in flat if p[0] == top)
            raise ScenarioError(
                flat[path].file,
                top,
                flat[path].value,
                f"unknown key (allowed: extends, {', '.join(_TOP)})",
            )

    def section_ids(section: str) -> list[str]:
        found = r.children((section,))
        for i in found:
            if not _ID.fullmatch(i):
                raise r.error(
                    (section, i), i, "an id of letters, digits and '_' starting with a letter"
                )
        return found

    dim_ids = section_ids("dimensions")
    if not dim_ids:
        raise r.error(("dimensions",), _MISSING, "at least one dimension table")
    power_ids = section_ids("powers")
    state_ids = section_ids("states")
    if len(power_ids) < 2:
        raise r.error(("powers",), len(power_ids), "at least two powers")
    if len(state_ids) < 2:
        raise r.error(
            ("states",), len(state_ids), "at least two states (regional ties join two states)"
        )
    clash = set(power_ids) & set(state_ids)
    if clash:
        first = sorted(clash)[0]
        # blame the actor added last: a child's states.RUS beside its parent's powers.RUS
        if r.set_later(("states", first), ("powers", first)):
            raise r.error(("states", first), first, "an id not also used for a power")
        raise r.error(("powers", first), first, "an id not also used for a state")
    ids = {
        "dimensions": dim_ids,
        "powers": power_ids,
        "states": state_ids,
        "institutions": section_ids("institutions"),
        "poles": r.children(("alignment", "poles")),
        "pairs": [f"{a}-{b}" for i, a in enumerate(state_ids) for b in state_ids[i + 1 :]],
    }
    _check_keys(r, ids)

    # every parameter of the table, typed and range-checked, defaults filled in
    values: dict[str, Any] = {}
    for parameter in PARAMETERS:
        if parameter.key in _SPECIAL:
            continue
        for path in expand(parameter, ids):
            value = _read_value(r, parameter, path, ids)
            if value is None and parameter.key in _NAMED:
                value = values["scenario.name"] if path[0] == "scenario" else path[1]
            values[".".join(path)] = value

    name = values["scenario.name"]
    if not _NAME.fullmatch(name):
        raise r.error(
            ("scenario", "name"),
            name,
            f"letters, digits, '-', '_' or '.', at most {MAX_NAME} (a folder's name)",
        )
    start = values["scenario.start"] = r.month(("scenario", "start"))
    end = values["scenario.end"] = r.month(("scenario", "end"))
    if end <= start:
        # blame the month set last: a child's start after its parent's end is the child's
        if r.set_later(("scenario", "start"), ("scenario", "end")):
            raise r.error(
                ("scenario", "start"),
                month_label(start),
                f"a month before the end {month_label(end)}",
            )
        raise r.error(
            ("scenario", "end"), month_label(end), f"a month after the start {month_label(start)}"
        )
    if end - start > 12 * 200:
        raise r.error(("scenario", "end"), month_label(end), "a horizon of at most 200 years")
    _check_totals(r, values, dim_ids, power_ids, state_ids)

    base = ("alignment",)
    pole_names = ids["poles"]
    if len(pole_names) < 2:
        raise r.error(
            (*base, "poles"), len(pole_names), "at least two poles, each a list of power ids"
        )
    poles = tuple((n, r.strings((*base, "poles", n), choices=power_ids)) for n in pole_names)
    members = [p for _, group in poles for p in group]
    if len(set(members)) != len(members) or any(not group for _, group in poles):
        raise r.error(
            (*base, "poles"),
            {n: list(g) for n, g in poles},
            "non-empty poles with no power in two poles",
        )
    axes_value = r.leaf((*base, "axes"), []).value
    if not isinstance(axes_value, list) or not all(
        isinstance(a, list) and len(a) == 2 and all(x in pole_names for x in a) and a[0] != a[1]
        for a in axes_value
    ):
        raise r.error(
            (*base, "axes"),
            axes_value,
            f"a list of [pole, pole] pairs from {', '.join(pole_names)}",
        )
    alignment = Alignment(poles, tuple((a, b) for a, b in axes_value))
    for n, group in poles:
        values[f"alignment.poles.{n}"] = group
    values["alignment.axes"] = alignment.axes

    events = []
    for e in section_ids("events"):
        base = ("events", e)
        for child in r.children(base):
            if child not in _EVENT_KEYS:
                raise r.error(
                    (*base, child),
                    r.flat.get((*base, child), Leaf(None, "", "")).value,
                    f"unknown key (allowed here: {', '.join(_EVENT_KEYS)})",
                )
        month = r.month((*base, "date"), start, end)
        changes_value = r.leaf((*base, "changes"), []).value
        changes = _read_changes(r, (*base, "changes"), changes_value)
        kind_path = (*base, "kind")
        kind = r.string(kind_path, choices=tuple(EVENT_KINDS)) if r.has(kind_path) else None
        events.append(
            Event(
                e,
                month,
                r.string((*base, "title"), e),
                r.string((*base, "source")),
                r.boolean((*base, "enabled"), True),
                changes,
                kind,
            )
        )
    events.sort(key=lambda ev: (ev.month, ev.id))

    for path in flat:  # read by experiments.design and experiments.calibration, not the model
        if path[0] in _BATCH_TABLES:
            r.used.add(path)
    r.check_unused({(): _TOP})

    parameters = {".".join(p): leaf for p, leaf in flat.items()}
    scenario_args = dict(
        name=name,
        title=values["scenario.title"],
        description=values["scenario.description"],
        file=root_file,
        start=start,
        end=end,
        runs=values["run.runs"],
        seed=values["run.seed"],
        dimensions=tuple(Dimension(d, values[f"dimensions.{d}.label"]) for d in dim_ids),
        powers=tuple(Power(p, values[f"powers.{p}.name"]) for p in power_ids),
        states=tuple(State(s, values[f"states.{s}.name"]) for s in state_ids),
        institutions=tuple(
            Institution(
                k,
                values[f"institutions.{k}.name"],
                values[f"institutions.{k}.power"],
                values[f"institutions.{k}.dimensions"],
            )
            for k in ids["institutions"]
        ),
        alignment=alignment,
        events=tuple(events),
        values=values,
        parameters=parameters,
    )
    compiled = compile_scenario(scenario_args, r)
    return Scenario(**scenario_args, compiled=compiled)


def _check_totals(r: _Reader, values: Mapping[str, Any], dim_ids, power_ids, state_ids) -> None:
    """The checks of :func:`_build` that read several numbers: dimension weights summing to 1
    and, per state and dimension, a positive initial tie with some power."""
    total_weight = sum(values[f"dimensions.{d}.weight"] for d in dim_ids)
    if abs(total_weight - 1.0) > 1e-9:
        raise r.error(("dimensions",), round(total_weight, 6), "dimension weights that sum to 1")
    for s in state_ids:
        for d in dim_ids:
            if sum(values[f"ties.{s}.{p}.{d}"] for p in power_ids) <= 0:
                raise r.error(
                    ("ties", s),
                    0,
                    f"a positive initial tie with at least one power on dimension {d}",
                )


def _read_changes(r: _Reader, path: tuple[str, ...], value: Any) -> tuple[Change, ...]:
    if not isinstance(value, list):
        raise r.error(path, value, "a list of { key = ..., set|add|mul|remove = ... } tables")
    changes = []
    for n, item in enumerate(value):
        where = (*path[:-1], f"changes[{n}]")
        if not isinstance(item, dict) or "key" not in item:
            raise r.error(where, item, "a table { key = ..., set|add|mul|remove = ... }")
        ops = [op for op in ("set", "add", "mul", "remove") if op in item]
        extra = set(item) - {"key", "set", "add", "mul", "remove"}
        if len(ops) != 1 or extra:
            raise r.error(where, item, "exactly one of set, add, mul, remove beside key")
        if not isinstance(item["key"], str):
            raise r.error((*where, "key"), item["key"], "a dotted key path string")
        changes.append(Change(item["key"], ops[0], item[ops[0]]))
    return tuple(changes)


# --------------------------------------------------------------------------------------------
# compilation to epoch arrays


@dataclass(frozen=True, eq=False)
class CompiledScenario:
    """Piecewise-constant parameter arrays for the rules, one slice per epoch.

    Shapes use S states, P powers, D dimensions, K epochs and T = ``n_steps``. Epoch ``k`` holds
    from step ``epoch_start[k]`` (inclusive); ``epoch_of_step[t]`` gives the epoch used when
    computing the transition from step ``t`` to ``t + 1``. Arrays are read-only.
    """

    epoch_start: np.ndarray  # (K,) int64
    epoch_of_step: np.ndarray  # (T,) int64
    base_offer: np.ndarray  # (K, S, P, D) capacity x interest x focus x link
    log_base_offer: np.ndarray  # (K, S, P, D) log of base_offer (floored at 1e-300)
    rivalry_response: np.ndarray  # (K, P)
    attraction: np.ndarray  # (K, S, P) affinity - regime_sensitivity x conditionality
    membership: np.ndarray  # (K, S, P, D) effective memberships after bloc constraints
    floor: np.ndarray  # (K, S, P, D) lock-in floors on target shares
    balancing_propensity: np.ndarray  # (K, S)
    leverage: np.ndarray  # (K, P) each power's weight in the sovereignty cost
    adjustment_rate: np.ndarray  # (K, S)
    need: np.ndarray  # (K, S, D) tie volume demanded, after neutrality on bloc dimensions
    regional_target: np.ndarray  # (K, S, S) logistic(base + openness_i + openness_k + pair)
    initial_ties: np.ndarray  # (S, P, D)
    initial_regional: np.ndarray  # (S, S), zero diagonal
    temperature: float
    noise: float
    rivalry_memory: float
    lockin_bonus: float
    regional_adjustment_rate: float
    regional_noise: float
    dimension_weight: np.ndarray  # (D,)
    substitution_difficulty: np.ndarray  # (D,)
    pole_matrix: np.ndarray  # (poles, P) 0/1

    RULE_ARGUMENT_NDIM: ClassVar[dict[str, int]] = {
        "epoch_of_step": 1,
        "initial_ties": 3,
        "initial_regional": 2,
        "base_offer": 4,
        "log_base_offer": 4,
        "rivalry_response": 2,
        "attraction": 3,
        "membership": 4,
        "floor": 4,
        "balancing_propensity": 2,
        "leverage": 2,
        "adjustment_rate": 2,
        "need": 3,
        "regional_target": 3,
        "temperature": 0,
        "lockin_bonus": 0,
        "noise": 0,
        "rivalry_memory": 0,
        "regional_adjustment_rate": 0,
        "regional_noise": 0,
    }
    """The rules' scenario arguments, in the engine's order, with each array's ndim: declared
    once. The epoch arrays (first axis: epoch) and the run settings (scalars) follow the
    three arrays of the initial state; :func:`model.rules.advance_runs` reads the last two
    groups, as ``parameters``, in this order."""
    RULE_ARGUMENTS: ClassVar[tuple[str, ...]] = tuple(RULE_ARGUMENT_NDIM)
    """Names of :meth:`rule_arguments`, in order."""
    EPOCH_ARRAYS: ClassVar[tuple[str, ...]] = tuple(
        name for name, ndim in list(RULE_ARGUMENT_NDIM.items())[3:] if ndim > 0
    )
    """The rule arguments indexed by epoch first."""
    RUN_SETTINGS: ClassVar[tuple[str, ...]] = tuple(
        name for name, ndim in RULE_ARGUMENT_NDIM.items() if ndim == 0
    )
    """The rule arguments constant over a run (scalars)."""
    BLOCK_PARAMETERS: ClassVar[tuple[str, ...]] = RULE_ARGUMENTS[3:]
    """The ``parameters`` of :func:`model.rules.advance_runs`: epoch arrays, then settings."""

    def rule_arguments(self, n_steps: int | None = None) -> tuple:
        """The scenario arguments of the ensemble engine's kernel, in its order.

        ``n_steps`` limits the run to its first months (default: the whole horizon).
        """
        return (
            self.epoch_of_step[:n_steps],
            *(getattr(self, name) for name in self.RULE_ARGUMENTS[1:]),
        )


def _apply(op: str, old: float, value: float, scale: float | None = None) -> float:
    """One numeric change; ``scale`` (an event kind's, None without a kind) scales its size.

    With a scale ``s``, ``mul = m`` acts as ``m ** s`` and ``add = a`` as ``s * a``; ``set`` is
    never scaled. ``s = 1`` gives exactly the unscaled result (``m ** 1.0 == m`` and
    ``1.0 * a == a`` in IEEE arithmetic).
    """
    if op == "set":
        return value
    if op == "add":
        return old + (value if scale is None else scale * value)
    if scale is None:
        return old * value
    try:
        return old * value**scale
    except OverflowError:  # m ** s beyond the largest float: out of any range unless old is 0
        return old * math.inf if old else old


def compile_scenario(args: Mapping[str, Any], reader: _Reader | None = None) -> CompiledScenario:
    """Turn scenario fields into epoch arrays, applying and range-checking event changes.

    ``args`` holds the :class:`Scenario` fields (``values`` among them: every parameter of the
    table by key path). The dated parameters are copied and changed by the enabled events,
    month by month; each epoch's snapshot becomes one slice of the derived arrays (ODD 2.3, 6
    and 7.1). See :class:`_Timeline`.
    """
    return _Timeline(args, reader).compile(args["values"], reader)


class _Timeline:
    """A scenario's epochs and the changes its enabled events make in each, checked once.

    Built from the :class:`Scenario` fields ``args``: the events are applied month by month
    (:func:`_apply_change`, which checks every change and its range), the memberships and
    ``no_blocs`` (lists and booleans, which no number changes) are kept per epoch, and the
    numeric changes are kept in order. :meth:`compile` then gives the epoch arrays for any
    values of the numeric parameters: the scenario's own, or a variant's that changes numbers
    only (:meth:`Scenario.with_overrides`), replaying the numeric changes on them.
    """

    def __init__(self, args: Mapping[str, Any], reader: _Reader | None = None):
        values_in: Mapping[str, Any] = args["values"]
        self.args = args
        self.d_ids = [d.id for d in args["dimensions"]]
        self.p_ids = [p.id for p in args["powers"]]
        self.s_ids = [s.id for s in args["states"]]
        self.inst_ids = [k.id for k in args["institutions"]]
        # the dated parameters, mutable: events change them, keyed by the same paths events use
        values: dict[str, Any] = {}
        for key, value in values_in.items():
            parameter = lookup(key)
            if parameter is not None and parameter.dated:
                values[key] = list(value) if parameter.kind == "ids" else value
        start, end = args["start"], args["end"]
        events = [e for e in args["events"] if e.enabled]
        months = sorted({e.month for e in events if start < e.month <= end} | {start})
        # an event dated month m acts on the transition out of month m (step m - start);
        # numeric parameters of every epoch are rows of one (K, n) table, gathered by key path;
        # memberships and no_blocs (lists, booleans) are kept per epoch as they are
        self.numeric = [k for k, v in values.items() if not isinstance(v, list | bool)]
        others = [k for k, v in values.items() if isinstance(v, list | bool)]
        self.column = {k: n for n, k in enumerate(self.numeric)}
        self.changes: list[tuple[int, Change, tuple[str, ...], str | None]] = []
        self.snapshots = []
        for epoch, m in enumerate(months):
            for event in (e for e in events if e.month == m):
                scale_key = None if event.kind is None else f"model.event_scale.{event.kind}"
                for n, change in enumerate(event.changes):
                    where = ("events", event.id, f"changes[{n}]")
                    _apply_change(
                        values, change, where, reader, self.inst_ids, scale_key, values_in
                    )
                    if change.key in self.column:
                        self.changes.append((epoch, change, where, scale_key))
            self.snapshots.append({k: copy(values[k]) for k in others})
        self.epoch_start = np.array([m - start for m in months], dtype=np.int64)
        steps = np.arange(end - start)
        self.epoch_of_step = np.searchsorted(self.epoch_start, steps, side="right") - 1
        self.epoch_of_step = self.epoch_of_step.astype(np.int64)
        self._key_paths: dict[str, tuple[list[str], list[int]]] = {}
        self.bloc = np.array([values_in[f"dimensions.{d}.bloc"] for d in self.d_ids], dtype=bool)
        self.membership_entries = self._membership_entries(args["institutions"])

    def _membership_entries(self, institutions: Sequence[Institution]) -> tuple[np.ndarray, ...]:
        """Every (epoch, state, power, dimension) a membership adds to, in the order of the
        epochs, states, their memberships and the institutions' dimensions, and whether the
        dimension is a bloc one (weight ``1 - neutrality``); none on a bloc dimension for a
        state under ``no_blocs``."""
        power_of = {k.id: self.p_ids.index(k.power) for k in institutions}
        dims_of = {k.id: [self.d_ids.index(d) for d in k.dimensions] for k in institutions}
        entries = [
            (k, i, power_of[inst], d, self.bloc[d])
            for k, snapshot in enumerate(self.snapshots)
            for i, s in enumerate(self.s_ids)
            for inst in snapshot[f"states.{s}.memberships"]
            for d in dims_of[inst]
            if not (self.bloc[d] and snapshot[f"states.{s}.no_blocs"])
        ]
        columns = list(zip(*entries, strict=True)) if entries else [()] * 5
        return (*(np.array(c, dtype=np.int64) for c in columns[:4]), np.array(columns[4], bool))

    def key_paths(self, pattern: str, axes: Mapping[str, Sequence[str]]):
        """The key paths of ``pattern`` (e.g. ``"powers.{p}.interest"``) over the ids ``axes``
        in C order, and the axes' lengths; worked out once per pattern."""
        if pattern not in self._key_paths:
            names = list(axes)
            shape = [len(axes[n]) for n in names]
            grids = np.indices(shape).reshape(len(names), -1).T
            keys = [
                pattern.format(**{n: axes[n][i] for n, i in zip(names, g, strict=True)})
                for g in grids
            ]
            self._key_paths[pattern] = keys, shape
        return self._key_paths[pattern]

    def table(self, values_in: Mapping[str, Any], reader: _Reader | None = None) -> np.ndarray:
        """(K, n) values of the numeric dated parameters in each epoch, the events' numeric
        changes applied to ``values_in`` in order and range-checked (:class:`ScenarioError`)."""
        values = {k: values_in[k] for k in self.numeric}
        table = np.empty((len(self.snapshots), len(self.numeric)))
        table[:] = np.array(list(values.values()), dtype=float)
        for epoch, change, where, scale_key in self.changes:
            _apply_change(values, change, where, reader, self.inst_ids, scale_key, values_in)
            table[epoch:, self.column[change.key]] = values[change.key]
        return table

    def compile(self, values_in: Mapping[str, Any], reader: _Reader | None = None):
        """The epoch arrays for the parameter values ``values_in`` (every parameter of the
        table by key path, as :attr:`Scenario.values`), ODD 2.3, 6 and 7.1."""
        args = self.args
        d_ids, p_ids, s_ids = self.d_ids, self.p_ids, self.s_ids
        S, P, D = len(s_ids), len(p_ids), len(d_ids)
        table = self.table(values_in, reader)
        K = len(table)
        column = self.column

        def gather(pattern: str, **axes: Sequence[str]) -> np.ndarray:
            """A dated parameter in each epoch, as a (K, ...) array over its axes."""
            keys, shape = self.key_paths(pattern, axes)
            return table[:, [column[k] for k in keys]].reshape(K, *shape)

        def constant(pattern: str, **axes: Sequence[str]) -> np.ndarray:
            """A parameter events cannot change, as an array over its axes."""
            keys, shape = self.key_paths(pattern, axes)
            return np.array([values_in[k] for k in keys], dtype=float).reshape(shape)

        capacity = gather("powers.{p}.capacity.{d}", p=p_ids, d=d_ids)  # (K, P, D)
        interest = gather("powers.{p}.interest", p=p_ids)  # (K, P)
        focus = gather("powers.{p}.focus.{s}", s=s_ids, p=p_ids)  # (K, S, P)
        links = gather("links.{s}.{p}.{d}", s=s_ids, p=p_ids, d=d_ids)  # (K, S, P, D)
        base_offer = capacity[:, None, :, :] * interest[:, None, :, None] * focus[..., None] * links
        neutrality = gather("states.{s}.neutrality", s=s_ids)  # (K, S)
        attraction = (
            gather("states.{s}.affinity.{p}", s=s_ids, p=p_ids)
            - gather("states.{s}.regime_sensitivity", s=s_ids)[:, :, None]
            * gather("powers.{p}.conditionality", p=p_ids)[:, None, :]
        )
        scale = np.where(self.bloc[None, None, :], 1.0 - neutrality[:, :, None], 1.0)
        need = gather("states.{s}.needs.{d}", s=s_ids, d=d_ids) * scale

        # each membership adds 1 to its power's dimensions, 1 - nu on a bloc dimension
        membership = np.zeros((K, S, P, D))
        epoch, state, power, dimension, on_bloc = self.membership_entries
        weight = np.where(on_bloc, 1.0 - neutrality[epoch, state], 1.0)
        np.add.at(membership, (epoch, state, power, dimension), weight)  # in the entries' order

        # regional target of each pair: logistic(base + openness_i + openness_k + pair)
        first, second = np.triu_indices(S, 1)
        openness = gather("states.{s}.openness", s=s_ids)
        pair_keys = [
            f"regional.pairs.{s_ids[i]}-{s_ids[j]}" for i, j in zip(first, second, strict=True)
        ]
        x = (
            table[:, [column["regional.base"]]]
            + openness[:, first]
            + openness[:, second]
            + table[:, [column[k] for k in pair_keys]]
        )
        logistic = [1.0 / (1.0 + math.exp(-v)) for v in x.ravel().tolist()]  # libm's exp
        regional_target = np.zeros((K, S, S))
        regional_target[:, first, second] = np.reshape(logistic, x.shape)
        regional_target[:, second, first] = regional_target[:, first, second]

        floor = values_in["model.lockin_floor"] * np.minimum(membership, 1.0)
        total_floor = floor.sum(axis=2, keepdims=True)
        # floors reserve at most 60% of a dimension, so the choice stays a choice
        floor = np.where(total_floor > 0.6, floor * 0.6 / np.maximum(total_floor, 1e-300), floor)

        pole_matrix = np.zeros((len(args["alignment"].poles), P))
        for n, (_, group) in enumerate(args["alignment"].poles):
            for p in group:
                pole_matrix[n, p_ids.index(p)] = 1.0
        initial_regional = np.full((S, S), values_in["regional.initial"])
        np.fill_diagonal(initial_regional, 0.0)

        arrays = dict(
            epoch_start=self.epoch_start,
            epoch_of_step=self.epoch_of_step,
            base_offer=base_offer,
            log_base_offer=np.log(np.maximum(base_offer, 1e-300)),
            rivalry_response=gather("powers.{p}.rivalry_response", p=p_ids),
            attraction=attraction,
            membership=membership,
            floor=floor,
            balancing_propensity=gather("states.{s}.balancing_propensity", s=s_ids),
            leverage=gather("powers.{p}.leverage", p=p_ids),
            adjustment_rate=gather("states.{s}.adjustment_rate", s=s_ids),
            need=need,
            regional_target=regional_target,
            initial_ties=constant("ties.{s}.{p}.{d}", s=s_ids, p=p_ids, d=d_ids),
            initial_regional=initial_regional,
            dimension_weight=constant("dimensions.{d}.weight", d=d_ids),
            substitution_difficulty=constant("dimensions.{d}.substitution_difficulty", d=d_ids),
            pole_matrix=pole_matrix,
        )
        for a in arrays.values():
            a.setflags(write=False)
        return CompiledScenario(
            **arrays,
            temperature=values_in["model.temperature"],
            noise=values_in["model.noise"],
            rivalry_memory=values_in["model.rivalry_memory"],
            lockin_bonus=values_in["model.lockin_bonus"],
            regional_adjustment_rate=values_in["regional.adjustment_rate"],
            regional_noise=values_in["regional.noise"],
        )


def _apply_change(values, change: Change, where, reader, inst_ids, scale_key=None, values_in=None):
    """Apply one change of an event to ``values``, range-checked.

    ``scale_key`` is the event's ``model.event_scale.<kind>`` (None without a kind); its value
    in ``values_in`` scales ``mul`` (as a power) and numeric ``add`` changes.
    """

    def fail(value, allowed, sub="key"):
        path = (*where, sub)
        if reader is None:
            raise ScenarioError("(scenario)", ".".join(path), value, allowed)
        listed = reader.flat.get((*where[:2], "changes"))  # the file that declares the event
        file = listed.file if listed is not None else reader.file_of(path)
        raise ScenarioError(file, ".".join(path), value, allowed)

    key = change.key
    if key not in values:
        section = key.split(".")[0]
        hint = dated_hint(section)
        fail(
            key,
            "a dated parameter of this scenario"
            + (f" ({hint}) with known actor ids" if hint else f" under {_DATED_SECTIONS}"),
        )
    parameter = lookup(key)
    old = values[key]
    if parameter.kind == "ids":
        if change.op not in ("add", "remove") or change.value not in inst_ids:
            fail(
                change.value,
                f"add or remove one institution id from {', '.join(inst_ids)}",
                change.op,
            )
        if change.op == "add" and change.value not in old:
            old.append(change.value)
        elif change.op == "remove" and change.value in old:
            old.remove(change.value)
        return
    if parameter.kind == "boolean":
        if change.op != "set" or not isinstance(change.value, bool):
            fail(change.value, "set = true or false", change.op)
        values[key] = change.value
        return
    if change.op == "remove":
        fail(change.value, "set, add or mul for a number", "remove")
    if isinstance(change.value, bool) or not isinstance(change.value, int | float):
        fail(change.value, "a number", change.op)
    scale = None if scale_key is None or change.op == "set" else values_in[scale_key]
    if scale is not None and change.op == "mul" and change.value < 0:
        fail(change.value, f"a number >= 0 (it acts as mul ** {scale_key})", change.op)
    new = _apply(change.op, old, float(change.value), scale)
    lo, hi = parameter.range
    if not lo <= new <= hi:
        scaled = origin = ""
        if scale is not None and scale != 1.0:
            scaled = f" with {scale_key} = {scale:g}" + _set_by(reader, scale_key)
        base = _set_by(reader, key)
        if base:
            origin = f"; {key} = {reader.flat[tuple(key.split('.'))].value!r} is{base}"
        fail(
            change.value,
            f"a change leaving {key} in [{lo}, {hi}] (it would be {new:g}{scaled}{origin})",
            change.op,
        )
    values[key] = new


def _set_by(reader: _Reader | None, key: str) -> str:
    """`` set by <file>`` when an override (``--set``, a sweep, a fit) set ``key``, else ``""``."""
    leaf = reader.flat.get(tuple(key.split("."))) if reader is not None else None
    if leaf is None or str(leaf.file).endswith(".toml"):
        return ""
    return f" set by {leaf.file}"
