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

from model.files import gibibytes
from model.parameters import lookup
from model.scenario import Leaf, Scenario, ScenarioError, parse_override

__all__ = [
    "DESIGNS",
    "MAX_POINTS",
    "MAX_RUNS",
    "MAX_TOTAL_RUNS",
    "Sweep",
    "SweepParameter",
    "check_batch_size",
    "check_value",
    "parse_sweep_option",
    "sweep_of",
]

DESIGNS = ("grid", "lhs", "sobol")
MAX_POINTS = 10_000_000
"""Most points of a sweep (``--samples``, ``sweep.samples`` or a grid's product)."""
MAX_RUNS = int(lookup("run.runs").high)
"""Most replicates per point, ``--runs`` or ``run.runs``: the parameter table's bound."""
MAX_TOTAL_RUNS = 1_000_000_000
"""Most runs of one batch, points times replicates."""
DEFAULT_GRID_SAMPLES = 5
UNSWEPT = ("scenario", "run", "sweep", "calibration")
"""Sections a sweep cannot vary: they name and size batches and fits, not the model."""


def check_batch_size(runs: int, points: int, *, file: str, keys: int = 0) -> None:
    """Refuse a batch over :data:`MAX_RUNS` replicates, :data:`MAX_POINTS` points or
    :data:`MAX_TOTAL_RUNS` runs, saying the memory its seeds, design or run index would take
    (8 bytes a number)."""
    if runs > MAX_RUNS:
        raise ScenarioError(
            file,
            "run.runs",
            runs,
            f"at most {MAX_RUNS:,} replicates per point (their seeds alone would take "
            f"{gibibytes(8 * runs)})",
        )
    if points > MAX_POINTS:
        raise ScenarioError(
            file,
            "sweep",
            f"{points:,} points",
            f"at most {MAX_POINTS:,} points (the design alone would take "
            f"{gibibytes(8 * points * max(keys, 1))})",
        )
    if runs * points > MAX_TOTAL_RUNS:
        raise ScenarioError(
            file,
            "run.runs",
            runs,
            f"at most {MAX_TOTAL_RUNS:,} runs in a batch ({points:,} points x {runs:,} "
            f"replicates; the run index alone would take {gibibytes(8 * runs * points)})",
        )


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
    if parameter.key.split(".")[0] in UNSWEPT:
        raise ScenarioError(
            parameter.file,
            where,
            value,
            "a model parameter to sweep (not " + ", ".join(f"{u}.*" for u in UNSWEPT) + ")",
        )
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
    n = sweep.samples
    if sweep.design == "grid":
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
            raise ScenarioError(sweep.file, "sweep.samples", n, "an integer >= 2")
    else:
        if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ScenarioError(
                sweep.file, "sweep.samples", n, f"an integer >= 2 (points of the {sweep.design})"
            )
        if sweep.design == "sobol" and n & (n - 1):
            raise ScenarioError(
                sweep.file, "sweep.samples", n, "a power of two for a Sobol' design (e.g. 256)"
            )
    if sweep.n_points > MAX_POINTS:
        check_batch_size(1, sweep.n_points, file=sweep.file, keys=len(sweep.parameters))
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
        if key == "parameters":
            raise ScenarioError(
                leaf.file,
                "sweep.parameters",
                leaf.value,
                'a table of key paths, e.g. "states.KAZ.balancing_propensity" = [0.5, 3.0]',
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
    given = [option.key for option in options]
    for key in given:
        if given.count(key) > 1:
            raise ScenarioError("--sweep", key, given.count(key), "each key path swept once")
    for option in options:  # a --sweep of a key in the file's [sweep] replaces it
        parameters[option.key] = option
    if not parameters:
        if "design" in leaves or "samples" in leaves or design is not None:
            raise ScenarioError(file, "sweep.parameters", "(none)", "at least one swept key path")
        if samples is not None:
            raise ScenarioError(
                "--samples", "samples", samples, "a sweep to sample (--sweep or [sweep])"
            )
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
