"""Hypothesis strategies for the multivector tests: the valid domains, encoded once.

Ranges come from :mod:`model.scenario` (the same tables that validate scenario files), so a
drawn value is one a scenario file could hold. Event changes are range-checked after they are
applied (``mul = 3.0`` on a base value of 10 leaves ``[0, 20]``), so :func:`event_safe_interval`
narrows each base value to those for which every dated change of the scenario stays in range.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model.scenario import POWER_RANGES, REGIONAL_RANGES, STATE_RANGES, Scenario

__all__ = [
    "MODEL_RANGES",
    "REGIONAL_SETTING_RANGES",
    "event_safe_interval",
    "override_texts",
    "parameter_overrides",
    "seeds",
    "share_vectors",
    "tie_matrices",
]

# declared in model.scenario._build (inline there, so repeated here); temperature is [0.01, 10]
MODEL_RANGES = {
    "temperature": (0.01, 10.0),
    "noise": (0.0, 0.5),
    "rivalry_memory": (1.0, 240.0),
    "lockin_bonus": (0.0, 10.0),
    "lockin_floor": (0.0, 0.3),
}
REGIONAL_SETTING_RANGES = {
    "initial": (0.0, 1.0),
    "base": REGIONAL_RANGES["base"],
    "adjustment_rate": (0.0, 1.0),
    "noise": (0.0, 0.2),
}
STATE_KEYS = (
    "balancing_propensity",
    "adjustment_rate",
    "regime_sensitivity",
    "neutrality",
    "openness",
)
POWER_KEYS = ("interest", "rivalry_response", "conditionality")

# compile_scenario applies changes one after another; the closed-form interval below may sit an
# ulp or so outside what sequential rounding allows, so bounds set by events are pulled in a bit
_ROUNDING_MARGIN = 1e-9


def event_safe_interval(scenario: Scenario, key: str, lo: float, hi: float) -> tuple[float, float]:
    """Base values ``x`` in ``[lo, hi]`` for which every dated change of ``key`` stays in range.

    Each ``set``/``add``/``mul`` change keeps the value an affine function ``a x + b`` of the
    base value; the value after every change must lie in ``[lo, hi]``.
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

    ``min_temperature`` > 0 draws temperature from ``[min_temperature, 10]`` instead of the
    declared ``(0, 10]`` (see ``test_invariants.test_tiny_temperature_gives_finite_ties``).
    """
    optional: dict[str, st.SearchStrategy[float]] = {}

    def add(key: str, lo: float, hi: float) -> None:
        low, high = event_safe_interval(scenario, key, lo, hi)
        optional[key] = _floats(low, high)

    for state in scenario.state_ids:
        for name in STATE_KEYS:
            add(f"states.{state}.{name}", *STATE_RANGES[name])
    for power in scenario.power_ids:
        for name in POWER_KEYS:
            add(f"powers.{power}.{name}", *POWER_RANGES[name])
    for name, (lo, hi) in MODEL_RANGES.items():
        if name == "temperature":
            optional["model.temperature"] = (
                _floats(lo, hi, exclude_min=True)
                if min_temperature <= 0.0
                else _floats(min_temperature, hi)
            )
        else:
            add(f"model.{name}", lo, hi)
    for name, (lo, hi) in REGIONAL_SETTING_RANGES.items():
        add(f"regional.{name}", lo, hi)
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
