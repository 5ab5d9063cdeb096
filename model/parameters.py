"""The parameter table: every scenario parameter declared once.

Each :class:`Parameter` gives a key path (with placeholders for actor ids), its kind, its
allowed range, its default (or that it is required), its unit, a one-line meaning, and whether
dated events may change it. Everything else reads this table: the scenario validator and
compiler (:mod:`model.scenario`), the error hints, ``multivector show``, the dashboard's
controls and the tests' hypothesis strategies. Adding a parameter is one row here plus its use
in :func:`model.scenario.compile_scenario` or a rule.

Placeholders in key paths: ``<S>`` a state id, ``<P>`` a power id, ``<D>`` a dimension id,
``<I>`` an institution id, ``<Q>`` a pole name, ``<S-S>`` a pair of states ``A-B`` with ``A``
before ``B`` in the scenario's order. Units and meanings follow docs/ODD.md sections 2.3 and
7.8.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVENT_KINDS",
    "KINDS",
    "PARAMETERS",
    "PLACEHOLDERS",
    "REQUIRED",
    "Parameter",
    "allowed_children",
    "dated_hint",
    "expand",
    "lookup",
]


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()
"""The default of a parameter that every scenario must set."""

KINDS = ("number", "integer", "boolean", "string", "month", "ids", "pairs")
PLACEHOLDERS = {"<S>": "states", "<P>": "powers", "<D>": "dimensions", "<I>": "institutions"}
"""Placeholders and the section whose ids they stand for (``<Q>`` and ``<S-S>`` are special)."""

EVENT_KINDS: dict[str, str] = {
    "membership": "institutions led by an outside power and unions with it (CSTO, SCO, EAEU, "
    "Customs Union, CCTS)",
    "infrastructure": "pipelines, railways, power lines and corridors (BRI projects among them), "
    "and the gas they carry",
    "doctrine": "a state's own foreign-policy course: concepts, neutrality, no blocs",
    "security": "an outside power's military presence (bases, transit centres)",
    "diplomacy": "bilateral ties with an outside power: visits, declarations, partnerships, loans",
    "regional": "relations among the five: their own unions, summits, border deals and clashes",
    "shock": "wars, crises and ruptures: civil war, financial crisis, Andijan, COVID-19",
}
"""The kinds an event may declare (``kind = "..."``), with what each covers (docs/ODD.md §6).

An event of kind ``k`` has its ``mul`` and numeric ``add`` magnitudes scaled by
``model.event_scale.<k>``, so a calibration estimates one scale per kind instead of each
hand-set magnitude (issue 14). An event without a kind is never scaled."""


@dataclass(frozen=True)
class Parameter:
    """One scenario parameter.

    Attributes
    ----------
    key : key path with placeholders, e.g. ``states.<S>.balancing_propensity``
    kind : ``number``, ``integer``, ``boolean``, ``string``, ``month``, ``ids`` (a list of ids
        from ``choices``) or ``pairs`` (a list of ``[a, b]`` pairs)
    low, high : the closed range of a number (``open_low``: the low end excluded)
    default : the value when a file leaves it out, or :data:`REQUIRED`
    unit : the unit (``-`` for a pure number)
    doc : one line: what it means in the model
    dated : dated events may change it (``set``/``add``/``mul``; ``add``/``remove`` for ids)
    choices : for ``ids`` and ``string``: the placeholder of the ids allowed (``<I>``, ``<P>``,
        ``<D>``)
    symbol : the symbol in docs/ODD.md, if any
    """

    key: str
    kind: str
    doc: str
    unit: str = "-"
    low: float | None = None
    high: float | None = None
    default: Any = REQUIRED
    dated: bool = False
    choices: str | None = None
    symbol: str = ""
    open_low: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def range(self) -> tuple[float, float] | None:
        """``(low, high)`` of a number, else None."""
        return None if self.low is None else (float(self.low), float(self.high))

    def allowed(self) -> str:
        """What a value must be, as error messages say it (e.g. ``a number in [0.0, 20.0]``)."""
        if self.kind in ("number", "integer"):
            what = "an integer" if self.kind == "integer" else "a number"
            low = int(self.low) if self.kind == "integer" else float(self.low)
            high = int(self.high) if self.kind == "integer" else float(self.high)
            return f"{what} in {'(' if self.open_low else '['}{low}, {high}]"
        return {
            "boolean": "true or false",
            "string": "a string",
            "month": 'a month "YYYY-MM"',
            "ids": "a list of ids",
            "pairs": "a list of [a, b] pairs",
        }[self.kind]


def _p(
    key: str, kind: str, doc: str, unit: str = "-", low=None, high=None, **options: Any
) -> Parameter:
    return Parameter(key, kind, doc, unit, low, high, **options)


PARAMETERS: tuple[Parameter, ...] = (
    # -- the scenario and the run
    _p("scenario.name", "string", "the scenario's name (folder names in results/)"),
    _p("scenario.title", "string", "a title for figures and reports", default=None),
    _p("scenario.description", "string", "a longer description", default=""),
    _p("scenario.start", "month", "first month, the initial state (December 1991)"),
    _p("scenario.end", "month", "last month of the horizon"),
    _p("run.runs", "integer", "replicate runs per point", "count", 1, 10_000_000, default=100),
    _p("run.seed", "integer", "root seed of the batch", "-", 0, 2**63 - 1, default=0),
    # -- dimensions of ties
    _p("dimensions.<D>.label", "string", "the dimension's label", default=None),
    _p(
        "dimensions.<D>.weight", "number", "weight in the alignment vector", "-", 0, 1, symbol="w_d"
    ),
    _p(
        "dimensions.<D>.substitution_difficulty",
        "number",
        "cost of replacing a channel (vulnerability only)",
        "-",
        0,
        1,
        default=0.5,
        symbol="c_d",
    ),
    _p(
        "dimensions.<D>.bloc",
        "boolean",
        "neutrality and the no-blocs rule act on this dimension",
        default=False,
    ),
    # -- powers
    _p("powers.<P>.name", "string", "the power's name", default=None),
    _p(
        "powers.<P>.interest",
        "number",
        "regional interest",
        "multiplier",
        0,
        10,
        dated=True,
    ),
    _p(
        "powers.<P>.capacity.<D>",
        "number",
        "comparative advantage per dimension",
        "multiplier",
        0,
        100,
        dated=True,
    ),
    _p(
        "powers.<P>.rivalry_response",
        "number",
        "offer boost per unit of share lost to rivals",
        "per unit share",
        0,
        20,
        dated=True,
        symbol="rho",
    ),
    _p(
        "powers.<P>.conditionality",
        "number",
        "reform conditions attached to ties",
        "utility units per unit of regime sensitivity",
        0,
        10,
        default=0.0,
        dated=True,
    ),
    _p(
        "powers.<P>.leverage",
        "number",
        "weight of the power in every state's sovereignty cost beta x sum_j w_j s_j^2",
        "multiplier",
        0,
        20,
        default=1.0,
        dated=True,
        symbol="w",
    ),
    _p(
        "powers.<P>.focus.<S>",
        "number",
        "attention to a particular state",
        "multiplier",
        0,
        10,
        default=1.0,
        dated=True,
    ),
    # -- institutions
    _p("institutions.<I>.name", "string", "the institution's name", default=None),
    _p("institutions.<I>.power", "string", "the leading power", choices="<P>"),
    _p("institutions.<I>.dimensions", "ids", "the dimensions it covers", choices="<D>"),
    _p("institutions.<I>.source", "string", "where the institution is described", default=""),
    # -- states
    _p("states.<S>.name", "string", "the state's name", default=None),
    _p(
        "states.<S>.balancing_propensity",
        "number",
        "weight of the sovereignty cost beta x HHI",
        "utility units",
        0,
        20,
        dated=True,
        symbol="beta",
    ),
    _p(
        "states.<S>.adjustment_rate",
        "number",
        "monthly speed toward the target ties (1 - inertia)",
        "per month",
        0,
        1,
        dated=True,
        symbol="lambda",
    ),
    _p(
        "states.<S>.regime_sensitivity",
        "number",
        "cost of conditionality to the regime",
        "-",
        0,
        10,
        default=0.0,
        dated=True,
    ),
    _p(
        "states.<S>.neutrality",
        "number",
        "scales bloc-dimension needs and memberships by 1 - nu",
        "-",
        0,
        1,
        default=0.0,
        dated=True,
        symbol="nu",
    ),
    _p(
        "states.<S>.no_blocs",
        "boolean",
        "zero every bloc-dimension membership",
        default=False,
        dated=True,
    ),
    _p(
        "states.<S>.openness",
        "number",
        "regional openness in the regional target",
        "logit units",
        -10,
        10,
        default=0.0,
        dated=True,
    ),
    _p(
        "states.<S>.needs.<D>",
        "number",
        "tie volume demanded (scale of V)",
        "relative tie-volume units",
        0,
        100,
        dated=True,
    ),
    _p(
        "states.<S>.affinity.<P>",
        "number",
        "affinity (Russian-speaking, Turkic, Persian)",
        "utility (log-offer) units",
        -10,
        10,
        default=0.0,
        dated=True,
    ),
    _p(
        "states.<S>.memberships",
        "ids",
        "institution memberships",
        default=(),
        dated=True,
        choices="<I>",
    ),
    # -- initial ties and bilateral links
    _p(
        "ties.<S>.<P>.<D>",
        "number",
        "initial tie, in the start month",
        "relative tie-volume units",
        0,
        100,
        default=0.0,
    ),
    _p("ties.<S>.<P>.source", "string", "the source of a row of initial ties", default=""),
    _p(
        "links.<S>.<P>.<D>",
        "number",
        "bilateral channel multiplier (pipelines, railways, treaties)",
        "multiplier",
        0,
        1000,
        default=1.0,
        dated=True,
    ),
    # -- regional ties among the states
    _p("regional.initial", "number", "regional ties in the start month", "-", 0, 1),
    _p(
        "regional.base",
        "number",
        "common term of the regional target",
        "logit units",
        -20,
        20,
        dated=True,
    ),
    _p(
        "regional.adjustment_rate",
        "number",
        "monthly speed of regional ties toward their target",
        "per month",
        0,
        1,
        symbol="lambda_r",
    ),
    _p(
        "regional.noise",
        "number",
        "sd of the additive regional noise",
        "per month",
        0,
        0.2,
        default=0.0,
        symbol="sigma_r",
    ),
    _p(
        "regional.pairs.<S-S>",
        "number",
        "pair term of the regional target",
        "logit units",
        -20,
        20,
        default=0.0,
        dated=True,
    ),
    # -- the model's behavioural constants
    _p(
        "model.temperature",
        "number",
        "logit choice scale (below 0.01 the logit is an argmax and u / tau overflows)",
        "utility units",
        0.01,
        10,
        symbol="tau",
    ),
    _p(
        "model.noise",
        "number",
        "sd of the multiplicative tie noise",
        "per month",
        0,
        0.5,
        symbol="sigma",
    ),
    _p(
        "model.rivalry_memory",
        "number",
        "memory time of the powers",
        "months",
        1,
        240,
        symbol="tau_m",
    ),
    _p(
        "model.lockin_bonus",
        "number",
        "utility of a membership",
        "utility units",
        0,
        10,
        symbol="b",
    ),
    _p(
        "model.lockin_floor",
        "number",
        "floor on the target share per membership",
        "share",
        0,
        0.3,
        symbol="phi",
    ),
    # -- one scale per kind of event: mul = m acts as m ** s, a numeric add = a as s * a
    *(
        _p(
            f"model.event_scale.{kind}",
            "number",
            f"scale s of {kind} events: mul = m acts as m ** s, a numeric add = a as s * a",
            "multiple of the hand-set magnitude",
            0,
            3,
            default=1.0,
        )
        for kind in EVENT_KINDS
    ),
    # -- observation: poles and axes of alignment
    _p("alignment.poles.<Q>", "ids", "a pole: a group of powers", choices="<P>"),
    _p("alignment.axes", "pairs", "pole pairs for relative alignment", default=()),
)

_BY_KEY = {p.key: p for p in PARAMETERS}
_PATTERN = {
    p.key: re.compile(
        "^"
        + re.escape(p.key)
        .replace(re.escape("<S-S>"), r"[^.]+-[^.]+")
        .replace("<S>", "[^.]+")
        .replace("<P>", "[^.]+")
        .replace("<D>", "[^.]+")
        .replace("<I>", "[^.]+")
        .replace("<Q>", "[^.]+")
        + "$"
    )
    for p in PARAMETERS
}


@functools.cache
def lookup(key: str) -> Parameter | None:
    """The parameter a concrete key path belongs to (``states.KAZ.needs.economic``), or None.

    Ids are not checked here; the scenario's validation checks them. Kept per key (the table
    never changes), as every scenario built looks up each of its keys.
    """
    if key in _BY_KEY:
        return _BY_KEY[key]
    for name, pattern in _PATTERN.items():
        if pattern.match(key):
            return _BY_KEY[name]
    return None


def expand(parameter: Parameter, ids: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, ...]]:
    """Every concrete key path of a parameter, as tuples of parts, for the scenario's ids.

    ``ids`` maps ``states``, ``powers``, ``dimensions``, ``institutions``, ``poles`` and
    ``pairs`` (``"A-B"`` strings) to the scenario's ids, in order.
    """
    parts = parameter.key.split(".")
    choices = []
    for part in parts:
        if part in PLACEHOLDERS:
            choices.append(tuple(ids[PLACEHOLDERS[part]]))
        elif part == "<Q>":
            choices.append(tuple(ids["poles"]))
        elif part == "<S-S>":
            choices.append(tuple(ids["pairs"]))
        else:
            choices.append((part,))
    yield from itertools.product(*choices)


def allowed_children(ids: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """For every table (key path prefix) of a scenario, the keys allowed directly under it."""
    children: dict[tuple[str, ...], dict[str, None]] = {}
    for parameter in PARAMETERS:
        for path in expand(parameter, ids):
            for n in range(len(path)):
                children.setdefault(path[:n], {}).setdefault(path[n], None)
    return {prefix: tuple(names) for prefix, names in children.items()}


def dated_hint(section: str) -> str:
    """The dated key paths under a section, for error messages (``states.<STATE>.a|b|...``)."""
    keys = [p.key for p in PARAMETERS if p.dated and p.key.split(".")[0] == section]
    if not keys:
        return ""
    shown = {"<S>": "<STATE>", "<P>": "<POWER>", "<D>": "<DIM>", "<S-S>": "<STATE>-<STATE>"}
    for short, long in shown.items():
        keys = [k.replace(short, long) for k in keys]
    heads = {".".join(k.split(".")[:2]) for k in keys}
    if len(heads) == 1:
        (head,) = heads
        return head + "." + "|".join(k[len(head) + 1 :] for k in keys)
    return " or ".join(keys)
