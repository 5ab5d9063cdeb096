"""Sweeps: which parameter values a batch runs (the experimental design).

A sweep varies scenario key paths (``states.KAZ.balancing_propensity``, ``powers.CHN.interest``,
``events.bri_2013.enabled``) over *points*; every point is crossed with the batch's replicate
seeds. Three designs, as in NetLogo BehaviorSpace and the EMA Workbench:

``grid``
    the full factorial of listed values (or of ``samples`` evenly spaced values per range);
``lhs``
    a Latin hypercube of ``samples`` points over ranges (McKay, Beckman & Conover 1979);
``sobol``
    a scrambled Sobol' sequence of ``samples`` (a power of two) points over ranges.

Samples come from :mod:`scipy.stats.qmc`, seeded, so a design is reproducible. In a scenario
file::

    [sweep]
    design = "lhs"          # grid | lhs | sobol
    samples = 100           # lhs and sobol; grid over ranges: values per parameter
    seed = 1                # default: the batch seed
    [sweep.parameters]
    "states.KAZ.balancing_propensity" = [0.5, 3.0]     # lhs/sobol: [low, high]
    "powers.CHN.interest" = [0.8, 1.0, 1.2]             # grid: the values

On the command line: ``--sweep KEY=LO:HI`` (a range) or ``--sweep KEY=V1,V2,...`` (values),
``--design`` and ``--samples``. Every value is checked by building the scenario with it, so a
bad key or an out-of-range value is one clear line naming the file and key.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import qmc

from model.scenario import Leaf, Scenario, ScenarioError, parse_override

__all__ = ["DESIGNS", "Sweep", "SweepParameter", "check_value", "parse_sweep_option", "sweep_of"]

DESIGNS = ("grid", "lhs", "sobol")
MAX_POINTS = 10_000_000
DEFAULT_GRID_SAMPLES = 5


@dataclass(frozen=True)
class SweepParameter:
    """One swept key path: listed ``values``, or a range ``low``..``high``."""

    key: str
    values: tuple | None = None
    low: float | None = None
    high: float | None = None
    file: str = "--sweep"

    @property
    def is_range(self) -> bool:
        return self.values is None


@dataclass(frozen=True)
class Sweep:
    """A validated sweep; :meth:`points` builds its design table."""

    design: str
    parameters: tuple[SweepParameter, ...]
    samples: int | None = None
    seed: int | None = None
    file: str = "--sweep"

    def points(self, default_seed: int = 0) -> pd.DataFrame:
        """The design: one row per point, one column per key path (index ``point``)."""
        keys = [p.key for p in self.parameters]
        if self.design == "grid":
            axes = [
                p.values
                if not p.is_range
                else tuple(np.linspace(p.low, p.high, self.samples or DEFAULT_GRID_SAMPLES))
                for p in self.parameters
            ]
            rows = list(itertools.product(*axes))
            table = pd.DataFrame(rows, columns=keys)
        else:
            rng = np.random.default_rng(default_seed if self.seed is None else self.seed)
            d = len(keys)
            if self.design == "lhs":
                unit = qmc.LatinHypercube(d=d, rng=rng).random(self.samples)
            else:
                unit = qmc.Sobol(d=d, scramble=True, rng=rng).random_base2(
                    int(math.log2(self.samples))
                )
            lows = [p.low for p in self.parameters]
            highs = [p.high for p in self.parameters]
            table = pd.DataFrame(qmc.scale(unit, lows, highs), columns=keys)
        table.index.name = "point"
        return table

    @property
    def n_points(self) -> int:
        if self.design == "grid":
            return math.prod(
                len(p.values) if not p.is_range else (self.samples or DEFAULT_GRID_SAMPLES)
                for p in self.parameters
            )
        return int(self.samples or 0)


def check_value(scenario: Scenario, parameter: SweepParameter, value, where: str) -> None:
    """Build the scenario with ``value`` at the key: the model's own validation decides."""
    if isinstance(value, list | dict | str) or value is None:
        raise ScenarioError(parameter.file, where, value, "numbers or true/false")
    try:
        scenario.with_overrides({parameter.key: value}, file=parameter.file)
    except ScenarioError as error:
        if error.key == parameter.key or error.key.startswith(parameter.key + "."):
            raise ScenarioError(parameter.file, where, value, error.allowed) from None
        # the value is fine for the key but an event pushes a dated value out of range
        raise ScenarioError(
            parameter.file, where, value, f"a value for which {error.key} is {error.allowed}"
        ) from None


def _validate(scenario: Scenario, sweep: Sweep) -> Sweep:
    where_design = "sweep.design"
    if sweep.design not in DESIGNS:
        raise ScenarioError(sweep.file, where_design, sweep.design, f"one of {', '.join(DESIGNS)}")
    if not sweep.parameters:
        raise ScenarioError(sweep.file, "sweep.parameters", "(none)", "at least one swept key path")
    seen = set()
    for p in sweep.parameters:
        where = f"sweep.parameters.{p.key}"
        if p.key in seen:
            raise ScenarioError(p.file, where, p.key, "each key path swept once")
        seen.add(p.key)
        if sweep.design != "grid" and not p.is_range:
            raise ScenarioError(
                p.file, where, list(p.values), f"a range [low, high] for design {sweep.design}"
            )
        if p.is_range:
            ok = all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in (p.low, p.high)
            )
            if not ok or not p.low < p.high:
                raise ScenarioError(
                    p.file, where, [p.low, p.high], "a range [low, high], low < high"
                )
            check_value(scenario, p, float(p.low), where)
            check_value(scenario, p, float(p.high), where)
        else:
            if not p.values:
                raise ScenarioError(p.file, where, [], "a non-empty list of values")
            for value in p.values:
                check_value(scenario, p, value, where)
    if sweep.design == "grid":
        if sweep.samples is not None and sweep.samples < 2:
            raise ScenarioError(sweep.file, "sweep.samples", sweep.samples, "an integer >= 2")
    else:
        n = sweep.samples
        if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ScenarioError(
                sweep.file, "sweep.samples", n, f"an integer >= 2 (points of the {sweep.design})"
            )
        if sweep.design == "sobol" and n & (n - 1):
            raise ScenarioError(
                sweep.file, "sweep.samples", n, "a power of two for a Sobol' design (e.g. 256)"
            )
    if sweep.n_points > MAX_POINTS:
        raise ScenarioError(sweep.file, "sweep", sweep.n_points, f"at most {MAX_POINTS} points")
    if sweep.seed is not None and (
        isinstance(sweep.seed, bool) or not isinstance(sweep.seed, int) or not sweep.seed >= 0
    ):
        raise ScenarioError(sweep.file, "sweep.seed", sweep.seed, "an integer >= 0")
    return sweep


def sweep_of(
    scenario: Scenario,
    options: Sequence[SweepParameter] = (),
    *,
    design: str | None = None,
    samples: int | None = None,
) -> Sweep | None:
    """The scenario's ``[sweep]``, with command-line parameters, design and samples on top.

    Returns None when nothing is swept.
    """
    leaves: Mapping[str, Leaf] = {
        k[len("sweep.") :]: v for k, v in scenario.parameters.items() if k.startswith("sweep.")
    }
    allowed = ("design", "samples", "seed", "parameters")
    file = scenario.file
    for key, leaf in leaves.items():
        if key.split(".")[0] not in allowed:
            raise ScenarioError(
                leaf.file,
                f"sweep.{key}",
                leaf.value,
                f"unknown key (allowed: {', '.join(allowed)})",
            )
    parameters: dict[str, SweepParameter] = {}
    for key, leaf in leaves.items():
        if not key.startswith("parameters."):
            continue
        path = key[len("parameters.") :]
        file = leaf.file
        value = leaf.value
        if not isinstance(value, list):
            raise ScenarioError(
                leaf.file, f"sweep.{key}", value, "a list: values (grid) or [low, high]"
            )
        parameters[path] = SweepParameter(path, tuple(value), file=leaf.file)
    chosen = design or (leaves["design"].value if "design" in leaves else None)
    chosen = chosen or "grid"
    # a two-element list is a range for lhs/sobol
    if chosen != "grid":
        parameters = {
            k: SweepParameter(k, None, p.values[0], p.values[1], p.file)
            if p.values is not None and len(p.values) == 2
            else p
            for k, p in parameters.items()
        }
    for option in options:
        parameters[option.key] = option
    if not parameters:
        if "design" in leaves or design is not None:
            raise ScenarioError(file, "sweep.parameters", "(none)", "at least one swept key path")
        return None
    n = (
        samples
        if samples is not None
        else (leaves["samples"].value if "samples" in leaves else None)
    )
    seed = leaves["seed"].value if "seed" in leaves else None
    sweep_file = "--sweep" if options else file
    return _validate(scenario, Sweep(chosen, tuple(parameters.values()), n, seed, sweep_file))


def parse_sweep_option(text: str) -> SweepParameter:
    """``KEY=LO:HI`` (a range) or ``KEY=V1,V2,...`` (values), as given to ``--sweep``."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise ScenarioError("--sweep", text, text, "KEY=LO:HI or KEY=V1,V2,...")
    if ":" in spec:
        low, _, high = spec.partition(":")
        try:
            return SweepParameter(key, None, float(low), float(high))
        except ValueError:
            raise ScenarioError("--sweep", key, spec, "LO:HI with two numbers") from None
    values = []
    for item in spec.split(","):
        _, value = parse_override(f"{key}={item.strip()}")
        values.append(value)
    return SweepParameter(key, tuple(values))
