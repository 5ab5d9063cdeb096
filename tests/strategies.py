"""Hypothesis strategies for the multivector tests: the valid domains, encoded once.

Ranges come from the parameter table :mod:`model.parameters` (the one that validates scenario
files), so a drawn value is one a scenario file could hold. Event changes are range-checked
after they are applied (``mul = 3.0`` on a base value of 10 leaves ``[0, 20]``), so
:func:`event_safe_interval` narrows each base value to those for which every dated change of
the scenario stays in range.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model.parameters import PARAMETERS, Parameter
from model.scenario import Scenario

__all__ = [
    "BEHAVIOURAL_PARAMETERS",
    "event_safe_interval",
    "override_texts",
    "parameter_overrides",
    "seeds",
    "share_vectors",
    "tie_matrices",
]


def _behavioural(parameter: Parameter) -> bool:
    """A number per state or per power (no second id), or a model or regional setting.

    The event scales (``model.event_scale.<kind>``) are left out: each moves every change of its
    kind at once, so no interval per key keeps the events in range (tests/test_scenario.py
    tests them).
    """
    parts = parameter.key.split(".")
    if parameter.kind != "number" or parameter.key.startswith("model.event_scale."):
        return False
    if parts[0] in ("states", "powers"):
        return len(parts) == 3
    return parts[0] in ("model", "regional") and "<" not in parameter.key


BEHAVIOURAL_PARAMETERS = tuple(p for p in PARAMETERS if _behavioural(p))
"""The table's behavioural parameters that :func:`parameter_overrides` draws."""

# compile_scenario applies changes one after another; the closed-form interval below may sit an
# ulp or so outside what sequential rounding allows, so bounds set by events are pulled in a bit
_ROUNDING_MARGIN = 1e-9


def event_safe_interval(scenario: Scenario, key: str, lo: float, hi: float) -> tuple[float, float]:
    """Base values ``x`` in ``[lo, hi]`` for which every dated change of ``key`` stays in range.

    Each ``set``/``add``/``mul`` change keeps the value an affine function ``a x + b`` of the
    base value; the value after every change must lie in ``[lo, hi]``. An event with a kind
    acts with its scale ``s`` (``model.event_scale.<kind>``): ``mul = m`` as ``m ** s`` and
    ``add = a`` as ``s * a``, as :func:`model.scenario.compile_scenario` applies them.
    """
    a, b = 1.0, 0.0
    low, high = lo, hi
    narrowed_low = narrowed_high = False
    for event in scenario.events:  # already in compile order: by (month, id)
        if not event.enabled or not scenario.start <= event.month <= scenario.end:
            continue
        for change in event.changes:
            if change.key != key or change.op not in ("set", "add", "mul"):
                continue
            value = float(change.value)
            if event.kind is not None and change.op != "set":
                scale = scenario.values[f"model.event_scale.{event.kind}"]
                value = value**scale if change.op == "mul" else scale * value
            if change.op == "set":
                a, b = 0.0, value
            elif change.op == "add":
                b += value
            else:
                a, b = a * value, b * value
            if a == 0.0:
                continue
            first, second = sorted(((lo - b) / a, (hi - b) / a))
            if first > low:
                low, narrowed_low = first, True
            if second < high:
                high, narrowed_high = second, True
    if narrowed_low:
        low += _ROUNDING_MARGIN * max(1.0, abs(low))
    if narrowed_high:
        high -= _ROUNDING_MARGIN * max(1.0, abs(high))
    return low, high


def _floats(lo: float, hi: float, *, exclude_min: bool = False) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, exclude_min=exclude_min, allow_nan=False, allow_infinity=False)


def parameter_overrides(
    scenario: Scenario, *, min_temperature: float = 0.0
) -> st.SearchStrategy[dict[str, float]]:
    """A dict of key path -> value for a random subset of the scenario's behavioural parameters.

    Per state: balancing propensity, adjustment rate, regime sensitivity, neutrality, openness;
    per power: interest, rivalry response, conditionality; the model settings (temperature,
    noise, rivalry memory, lock-in bonus and floor) and the regional settings. Every value is
    inside its declared range and keeps the scenario's event changes in range, so
    ``scenario.with_overrides(drawn)`` always validates.

    ``min_temperature`` draws temperature from ``[max(min_temperature, 0.01), 10]`` instead of
    the declared ``[0.01, 10]`` (see ``test_invariants.test_tiny_temperature_gives_finite_ties``).
    """
    optional: dict[str, st.SearchStrategy[float]] = {}
    for parameter in BEHAVIOURAL_PARAMETERS:
        section, *rest = parameter.key.split(".")
        ids = {"states": scenario.state_ids, "powers": scenario.power_ids}.get(section, [None])
        for ident in ids:
            key = parameter.key if ident is None else f"{section}.{ident}.{rest[-1]}"
            lo, hi = parameter.range
            if key == "model.temperature":
                optional[key] = _floats(max(lo, min_temperature), hi)
                continue
            optional[key] = _floats(*event_safe_interval(scenario, key, lo, hi))
    return st.fixed_dictionaries({}, optional=optional)


def seeds() -> st.SearchStrategy[int]:
    """Run seeds as a scenario's ``run.seed`` accepts them: integers in [0, 2**63 - 1]."""
    return st.integers(0, 2**63 - 1)


@st.composite
def share_vectors(
    draw, *, min_partners: int = 2, max_partners: int = 8, subnormal: bool = True
) -> np.ndarray:
    """A share vector: P >= 2 entries in [0, 1] summing to 1 (some may be exactly 0).

    ``subnormal=False`` flushes entries below the smallest normal float to 0 (see
    ``test_metrics.test_jsd_of_a_subnormal_share_is_bounded`` for why that can matter).
    """
    n = draw(st.integers(min_partners, max_partners))
    weights = np.array(draw(st.lists(_floats(0.0, 1.0), min_size=n, max_size=n)))
    position = draw(st.integers(0, n - 1))
    weights[position] += draw(_floats(1e-3, 1.0))  # at least one partner has a tie
    shares = weights / weights.sum()
    if not subnormal:
        shares[shares < np.finfo(float).tiny] = 0.0  # changes the sum by < 1e-307
    return shares


def tie_matrices(
    *, max_partners: int = 6, max_dimensions: int = 4
) -> st.SearchStrategy[np.ndarray]:
    """Tie arrays (P, D) with P >= 2 partners: entries >= 0, whole dimensions may be all zero."""
    shapes = st.tuples(st.integers(2, max_partners), st.integers(1, max_dimensions))
    return hnp.arrays(float, shapes, elements=_floats(0.0, 100.0) | st.just(0.0))


def override_texts() -> st.SearchStrategy[str]:
    """Right-hand sides of ``--set KEY=VALUE``: TOML-looking values and arbitrary text."""
    toml_like = st.sampled_from(
        [
            "1.5",
            "-1",
            "1e400",
            "nan",
            "inf",
            "true",
            '"high"',
            "[]",
            "[1, 2]",
            "{ value = 2.0 }",
            "{ value = 2.0, source = 3 }",
            "{ a = 1 }",
            "1995-01-01",
            "abc",
            "",
            "=",
            "'",
        ]
    )
    return st.one_of(
        toml_like,
        st.text(max_size=30),
        st.floats().map(repr),
        st.integers().map(str),
    )


# --------------------------------------------------------------------------------------------
# blocks of rule arguments (model/rules.py), runs on the last axis

RULE_ARRAY_NAMES = (
    "ties",
    "shares",
    "memory",
    "regional",
    "base_offer",
    "log_base_offer",
    "rivalry_response",
    "offers",
    "log_offers",
    "attraction",
    "membership",
    "floor",
    "need",
    "balancing_propensity",
    "leverage",
    "adjustment_rate",
    "temperature",
    "lockin_bonus",
    "noise",
    "keys",
    "rivalry_memory",
    "regional_target",
    "regional_adjustment_rate",
    "regional_noise",
)
"""The keys of :func:`rule_block` besides ``step``."""


def _sometimes(rng: np.random.Generator, values: np.ndarray, probability: float, special: float):
    """``values`` with each entry replaced by ``special`` with the given probability."""
    return np.where(rng.random(values.shape) < probability, special, values)


def _simplex(rng: np.random.Generator, shape: tuple[int, ...], zero_probability: float):
    """Share vectors along axis 1 (powers): some entries exactly 0, every vector sums to 1."""
    weights = _sometimes(rng, rng.gamma(0.7, size=shape), zero_probability, 0.0)
    first = np.zeros(shape, dtype=bool)
    first[:, :1] = True
    empty = weights.sum(axis=1, keepdims=True) == 0.0
    weights = np.where(empty & first, 1.0, weights)  # at least one partner per vector
    return weights / weights.sum(axis=1, keepdims=True)


def _symmetric(values: np.ndarray) -> np.ndarray:
    """(S, S, L) from its upper triangle, mirrored, with a zero diagonal."""
    upper = np.triu(np.moveaxis(values, -1, 0), k=1)
    return np.ascontiguousarray(np.moveaxis(upper + np.swapaxes(upper, -1, -2), 0, -1))


def rule_block(
    rng: np.random.Generator,
    *,
    n_states: int = 3,
    n_powers: int = 4,
    n_dims: int = 2,
    n_lanes: int = 5,
    edge_lanes: bool = True,
) -> dict[str, np.ndarray | int]:
    """Arguments of the rules for a block of ``n_lanes`` runs, each value in its valid domain.

    Shapes as in :func:`model.rules.advance_runs`: ties, shares, memory, offers, membership and
    floors (S, P, D, L); attraction (S, P, L); need (S, D, L); per-state parameters (S, L);
    rivalry response (P, L); regional ties and target (S, S, L); settings and keys (L,). Ranges
    are those of the scenario tables (``model/scenario.py``), narrowed to where runs live (offers
    up to about 10, utilities of a few units); exact edge values are drawn often: zero base
    offers, zero rivalry response, no loss (``memory == shares``), zero balancing propensity,
    adjustment rates 0 and 1, temperature 0.01, zero noise, memory time 1, regional ties at
    and near their bounds. Shares are the ties' shares and memory a share vector. Floors are
    ``phi min(M, 1)`` rescaled to 0.6 when they sum to more (ODD 7.1), so most sums are > 0.

    With ``edge_lanes`` the first lanes are edge cases throughout: lane 0 has no noise, lane 1
    no rivalry response and frozen ties (lambda = 0), lane 2 adjustment rate 1, temperature 0.01
    and no loss, lane 3 memory time 1 and strong regional noise on ties at 0 and 1, lane 4 no
    sovereignty cost (beta = 0) and no regional adjustment. ``step`` is a month in [1, 400].
    """
    S, P, D, L = n_states, n_powers, n_dims, n_lanes
    shape = (S, P, D, L)

    totals = rng.uniform(0.05, 2.0, size=(S, 1, D, L))
    shares = _simplex(rng, shape, 0.15)
    ties = shares * totals
    shares = ties / ties.sum(axis=1, keepdims=True)
    memory = _simplex(rng, shape, 0.1)
    no_loss = rng.random(L) < 0.2
    memory = np.where(no_loss, shares, memory)

    base_offer = _sometimes(rng, rng.lognormal(-0.3, 0.8, size=shape), 0.15, 0.0)
    rivalry_response = _sometimes(rng, rng.uniform(0.0, 3.0, size=(P, L)), 0.25, 0.0)
    offers = base_offer * rng.uniform(1.0, 2.5, size=shape)
    membership = rng.choice([0.0, 0.0, 0.0, 0.15, 0.5, 1.0, 2.0], size=shape)
    lockin_floor = rng.uniform(0.0, 0.3, size=L)
    floor = lockin_floor * np.minimum(membership, 1.0)
    floor_sum = floor.sum(axis=1, keepdims=True)
    floor = np.where(floor_sum > 0.6, floor * 0.6 / np.maximum(floor_sum, 1e-300), floor)

    block: dict[str, np.ndarray | int] = {
        "ties": ties,
        "shares": shares,
        "memory": memory,
        "base_offer": base_offer,
        "rivalry_response": rivalry_response,
        "offers": offers,
        "attraction": rng.uniform(-2.0, 2.0, size=(S, P, L)),
        "membership": membership,
        "floor": floor,
        "need": _sometimes(rng, rng.uniform(0.0, 2.0, size=(S, D, L)), 0.1, 0.0),
        "balancing_propensity": _sometimes(rng, rng.uniform(0.0, 3.0, size=(S, L)), 0.2, 0.0),
        "adjustment_rate": _sometimes(
            rng, _sometimes(rng, rng.uniform(0.0, 1.0, size=(S, L)), 0.15, 0.0), 0.15, 1.0
        ),
        "temperature": _sometimes(
            rng, np.exp(rng.uniform(np.log(0.01), np.log(10.0), L)), 0.2, 0.01
        ),
        "lockin_bonus": rng.uniform(0.0, 2.0, size=L),
        "noise": _sometimes(rng, rng.uniform(0.0, 0.5, size=L), 0.25, 0.0),
        "keys": rng.integers(0, 2**64 - 1, size=L, dtype=np.uint64, endpoint=True),
        "rivalry_memory": _sometimes(rng, rng.uniform(1.0, 240.0, size=L), 0.2, 1.0),
        "regional": _symmetric(
            np.where(
                rng.random((S, S, L)) < 0.4,
                rng.choice([0.0, 1.0, 0.01, 0.99], size=(S, S, L)),
                rng.uniform(0.0, 1.0, size=(S, S, L)),
            )
        ),
        "regional_target": _symmetric(1.0 / (1.0 + np.exp(-rng.normal(0.0, 2.0, (S, S, L))))),
        "regional_adjustment_rate": _sometimes(
            rng, _sometimes(rng, rng.uniform(0.0, 1.0, size=L), 0.15, 0.0), 0.15, 1.0
        ),
        "regional_noise": _sometimes(rng, rng.uniform(0.0, 0.2, size=L), 0.25, 0.0),
    }
    if edge_lanes:
        edges = {
            0: {"noise": 0.0, "regional_noise": 0.0},
            1: {"rivalry_response": 0.0, "adjustment_rate": 0.0},
            2: {"adjustment_rate": 1.0, "temperature": 0.01},
            3: {"rivalry_memory": 1.0, "regional_noise": 0.2},
            4: {"balancing_propensity": 0.0, "regional_adjustment_rate": 0.0},
        }
        for lane, values in edges.items():
            if lane < L:
                for name, value in values.items():
                    block[name][..., lane] = value
        if L > 2:
            block["memory"][..., 2] = block["shares"][..., 2]
        if L > 3:
            corners = rng.choice([0.0, 1.0], size=(S, S))
            block["regional"][..., 3] = _symmetric(corners[..., None])[..., 0]
    block["log_base_offer"] = np.log(np.maximum(block["base_offer"], 1e-300))
    block["log_offers"] = np.log(np.maximum(block["offers"], 1e-300))
    step = int(rng.integers(1, 401))
    # drawn last, so the other arrays are those drawn before powers had a leverage
    block["leverage"] = _sometimes(rng, rng.uniform(0.0, 4.0, size=(P, L)), 0.3, 1.0)
    if edge_lanes and L > 5:
        block["leverage"][:, 5] = 0.0
    arrays = {name: np.ascontiguousarray(block[name]) for name in RULE_ARRAY_NAMES}
    return {**arrays, "step": step}


@st.composite
def rule_blocks(
    draw, *, max_states: int = 4, max_powers: int = 5, max_dims: int = 3, max_lanes: int = 6
) -> dict[str, np.ndarray | int]:
    """A :func:`rule_block` of drawn size (S >= 1, P >= 2, D >= 1, L >= 1) and generator seed."""
    return rule_block(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        n_states=draw(st.integers(1, max_states)),
        n_powers=draw(st.integers(2, max_powers)),
        n_dims=draw(st.integers(1, max_dims)),
        n_lanes=draw(st.integers(1, max_lanes)),
        edge_lanes=draw(st.booleans()),
    )
