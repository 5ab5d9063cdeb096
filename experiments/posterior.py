"""Posterior files: the particles a batch draws each run's parameters from.

A posterior file is a Parquet table with one row per *particle* (as written by an ABC
calibration)::

    states.KAZ.balancing_propensity  powers.CHN.rivalry_response  weight  distance
    1.21                             0.84                         0.31    0.052
    ...

* one float64 column per parameter, named by its scenario key path (a ``number`` parameter of
  :data:`model.parameters.PARAMETERS`, for actors the scenario has), every value finite and in
  the parameter's range;
* ``weight``: non-negative and finite, not all zero (normalised here to sum to 1);
* ``distance`` (optional): the particle's ABC distance, read and ignored.

No other column is allowed. :func:`read_posterior` is the one place that reads and checks such
a file; every mistake is a :class:`PosteriorError` (a :class:`~model.scenario.ScenarioError`,
so the command line reports it in one line with exit status 2) naming the file, the column,
the particle (its row, counted from 0) and value where there is one, and what is allowed.

``multivector run SCENARIO --posterior FILE --runs R`` gives run ``r`` replicate seed ``r``
(as any batch) and a particle drawn for it: :func:`draw_particles` draws the ``R`` particle
indices once, with probabilities the normalised weights, from a generator seeded by the batch
seed through its own spawn key (:data:`PARTICLE_SPAWN_KEY`), so the draws do not share a
stream with any replicate seed. Its bands then show posterior and seed uncertainty together.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.parameters import lookup
from model.scenario import Scenario, ScenarioError

__all__ = [
    "DISTANCE",
    "PARTICLE_SPAWN_KEY",
    "WEIGHT",
    "Posterior",
    "PosteriorError",
    "check_particles",
    "draw_particles",
    "file_sha256",
    "load_posterior",
    "read_posterior",
]

WEIGHT = "weight"
DISTANCE = "distance"
PARTICLE_SPAWN_KEY = (2**32 - 1, 0)
"""The spawn key of the particle draws under ``SeedSequence(batch_seed)``: two words, so no
replicate's key (one word, ``(r,)``) is the same."""

_KEY_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+$")
_ALLOWED_COLUMNS = (
    f"{WEIGHT}, {DISTANCE} or a number parameter's key path such as "
    "states.KAZ.balancing_propensity (multivector show --parameters lists them)"
)
_FORMAT = (
    "a Parquet table with one row per particle: a float64 column per parameter named by its "
    f"key path, '{WEIGHT}' and optionally '{DISTANCE}'"
)


class PosteriorError(ScenarioError):
    """A mistake in a posterior file: one line naming the file, the column, the particle and
    value where there is one, and what is allowed.

    Parameters
    ----------
    file : the posterior file as given
    column : the offending column (a key path, ``weight``...), or None for the whole file
    value : the offending value, or None
    allowed : what would have been accepted
    particle : the particle (row, from 0) of the value, or None
    """

    def __init__(
        self,
        file: str,
        column: str | None,
        value: Any,
        allowed: str,
        *,
        particle: int | None = None,
    ):
        self.file, self.key, self.value, self.allowed = file, column or "", value, allowed
        self.particle = particle
        where = "" if column is None else f" column {column}"
        where += "" if particle is None else f", particle {particle}"
        where += "" if value is None else f" = {value!r}"
        ValueError.__init__(self, f"{file}:{where}: {allowed}" if where else f"{file}: {allowed}")


@dataclass(frozen=True, eq=False)
class Posterior:
    """A checked posterior file: its particles, normalised weights, path and sha256.

    Attributes
    ----------
    file : the path as given (for messages and sources)
    sha256 : the file's SHA-256 (hex) of the bytes read
    particles : one row per particle (index ``point``, from 0), one float64 column per key path
    weights : (n,) the weights normalised to sum to 1
    """

    file: str
    sha256: str
    particles: pd.DataFrame
    weights: np.ndarray

    @property
    def path(self) -> Path:
        return Path(self.file).resolve()

    @property
    def keys(self) -> list[str]:
        return list(self.particles.columns)

    def table(self) -> pd.DataFrame:
        """The particles with their normalised ``weight`` column (what :func:`read_posterior`
        returns)."""
        return self.particles.assign(**{WEIGHT: self.weights})


def read_posterior(path: str | Path, scenario: Scenario) -> pd.DataFrame:
    """Read and check a posterior file against a scenario.

    Parameters
    ----------
    path : the Parquet file (see the module docstring for its columns)
    scenario : the scenario whose parameters the file's key paths name

    Returns
    -------
    pandas.DataFrame
        One row per particle (index ``point``, the row in the file from 0), one float64 column
        per key path in the file's order, and ``weight`` normalised to sum to 1.

    Raises
    ------
    PosteriorError
        For any mistake (a missing or unreadable file, an unknown column or key, a value out of
        range, NaN or infinite, bad weights, no rows), in one line.
    """
    return load_posterior(path, scenario).table()


def load_posterior(path: str | Path, scenario: Scenario) -> Posterior:
    """:func:`read_posterior` with the file's identity: a :class:`Posterior`."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PosteriorError(file, None, None, f"no such file; give {_FORMAT}") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise PosteriorError(file, None, None, f"cannot be read ({reason})") from None
    frame = _parse(data, file)
    particles, weights = _check(frame, file, scenario)
    return Posterior(file, hashlib.sha256(data).hexdigest(), particles, weights)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _parse(data: bytes, file: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = _reason(error)
        raise PosteriorError(
            file, None, None, f"not a Parquet file ({reason}); give {_FORMAT}"
        ) from None
    names = list(table.column_names)
    for name in names:
        if names.count(name) > 1:
            raise PosteriorError(file, name, None, "each column once")
    for name, column in zip(names, table.columns, strict=True):
        if not _KEY_PATH.match(name) and name not in (WEIGHT, DISTANCE):
            raise PosteriorError(file, repr(name), None, f"not allowed; {_ALLOWED_COLUMNS}")
        kind = column.type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise PosteriorError(file, name, None, f"float64 values (this column is {kind})")
    if WEIGHT not in names:
        raise PosteriorError(file, WEIGHT, None, f"a '{WEIGHT}' column (missing)")
    if table.num_rows == 0:
        raise PosteriorError(file, None, None, "no particles; give at least one row")
    columns = zip(names, table.columns, strict=True)
    return pd.DataFrame({name: column.to_numpy().astype(np.float64) for name, column in columns})


def _reason(error: Exception, limit: int = 90) -> str:
    """An Arrow error's first line, without the input source it names, cut at a word."""
    text = (str(error).splitlines() or [type(error).__name__])[0]
    text = re.sub(r"^Could not open Parquet input source '[^']*': ", "", text)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "..."


def _check(frame: pd.DataFrame, file: str, scenario: Scenario) -> tuple[pd.DataFrame, np.ndarray]:
    keys = [c for c in frame.columns if c not in (WEIGHT, DISTANCE)]
    if not keys:
        raise PosteriorError(file, None, None, f"no parameter column; {_FORMAT}")
    for key in keys:
        _check_column(frame[key].to_numpy(), file, key, scenario)
    weights = frame[WEIGHT].to_numpy()
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if bad.size:
        raise PosteriorError(
            file,
            WEIGHT,
            float(weights[bad[0]]),
            "a finite weight >= 0",
            particle=int(bad[0]),
        )
    total = weights.sum()
    if not total > 0 or not math.isfinite(total):
        raise PosteriorError(file, WEIGHT, None, "weights that are not all zero")
    particles = frame[keys].rename_axis("point")
    return particles, weights / total


def _check_column(values: np.ndarray, file: str, key: str, scenario: Scenario) -> None:
    parameter = lookup(key)
    if parameter is None:
        # the scenario's own validation names the unknown part of the key path
        _check_value(scenario, file, key, float(values[0]), 0)
        raise PosteriorError(file, key, None, f"not a parameter; {_ALLOWED_COLUMNS}")
    if parameter.kind != "number":
        raise PosteriorError(
            file, key, None, f"a number parameter (this one is {parameter.allowed()})"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise PosteriorError(
            file, key, float(values[bad[0]]), parameter.allowed(), particle=int(bad[0])
        )
    low = values < parameter.low if not parameter.open_low else values <= parameter.low
    bad = np.flatnonzero(low | (values > parameter.high))
    if bad.size:
        raise PosteriorError(
            file, key, float(values[bad[0]]), parameter.allowed(), particle=int(bad[0])
        )
    # unknown actors, and events that scale the value out of range: the scenario decides, at
    # the column's extremes (events scale by positive factors, so the extremes are the worst)
    for particle in dict.fromkeys((int(np.argmin(values)), int(np.argmax(values)))):
        _check_value(scenario, file, key, float(values[particle]), particle)


def _check_value(scenario: Scenario, file: str, key: str, value: float, particle: int) -> None:
    try:
        scenario.with_overrides({key: value}, file=file)
    except ScenarioError as error:
        raise _particle_error(error, file, {key: value}, particle) from None


def _particle_error(
    error: ScenarioError, file: str, values: dict[str, float], particle: int
) -> PosteriorError:
    """A scenario's refusal of a particle's values, as a :class:`PosteriorError`."""
    for key, value in values.items():
        if error.key == key or error.key.startswith(key + "."):
            return PosteriorError(file, key, value, error.allowed, particle=particle)
    ours = [k for k in values if error.key == k.rsplit(".", 1)[0] or k.startswith(error.key + ".")]
    if ours:  # e.g. an unknown actor id, reported on a prefix of the key path
        return PosteriorError(file, ours[0], values[ours[0]], error.allowed, particle=particle)
    key = next(iter(values))
    return PosteriorError(
        file,
        key if len(values) == 1 else ", ".join(values),
        values[key] if len(values) == 1 else None,
        f"values for which {error.key} = {error.value!r} is {error.allowed}",
        particle=particle,
    )


def check_particles(
    scenario: Scenario, posterior: Posterior, points: Sequence[int], *, keep: int = 0
) -> dict[int, Scenario]:
    """Build the scenario at each particle of ``points``: a combination the scenario refuses
    (e.g. dimension weights that no longer sum to 1) is a :class:`PosteriorError`.

    Returns the first ``keep`` variants built (particle -> scenario), for reuse.
    """
    built: dict[int, Scenario] = {}
    for point in points:
        row = posterior.particles.iloc[int(point)]
        values = {k: float(v) for k, v in row.items()}
        try:
            variant = scenario.with_overrides(values, file=posterior.file)
        except ScenarioError as error:
            raise _particle_error(error, posterior.file, values, int(point)) from None
        if len(built) < keep:
            built[int(point)] = variant
    return built


def draw_particles(weights: np.ndarray, batch_seed: int, runs: int) -> np.ndarray:
    """The particle of each of ``runs`` replicates: ``choice(n, size=runs, p=weights)``.

    The generator is ``numpy.random.default_rng(SeedSequence(batch_seed,
    spawn_key=PARTICLE_SPAWN_KEY))``: seeded by the batch seed, on a stream of its own. A
    particle of weight 0 is never drawn.
    """
    sequence = np.random.SeedSequence(batch_seed, spawn_key=PARTICLE_SPAWN_KEY)
    rng = np.random.default_rng(sequence)
    return rng.choice(len(weights), size=runs, p=weights).astype(np.int64)
