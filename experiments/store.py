"""The results folders: where every command writes, and how analysis reads them back.

Two kinds of folder live under a results root (``results/`` by default):

*Batch folders* ``<root>/<scenario>/<stamp>-<hash>/``, written by :mod:`experiments.batch`.
A batch folder is first named ``<stamp>-<hash>.incomplete`` and renamed when every chunk is
stored, so a crash leaves a folder that ``multivector run --resume`` can finish::

    manifest.json        the plan, the resolved scenario with sources, seeds, versions, sessions
    design.parquet       the sweep's points (one row when nothing is swept), or the particles
                         of a posterior batch
    posterior.parquet    (a posterior batch) each run's drawn particle, its weight and values
    metrics/part-NNNNNN.parquet      one Parquet part per chunk and table
    dimensions/ shares/              (annual and monthly stores)
    figures/ report.html             drawn by the command, after the run

*Report folders* (validation, calibration, sensitivity, comparison, discovery): written whole
under a hidden temporary name and renamed when complete (:class:`NewFolder`), so a results
folder is never half-written.

Every write is atomic (a temporary file, then :func:`os.replace`). :func:`load` reads a batch's
table whatever its chunking, and :class:`Batch` is the reader analysis uses. Nothing here runs
the model or draws.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from model.files import UnreadableFile, check_path_text, read_data

__all__ = [
    "DESIGN",
    "INCOMPLETE",
    "MANIFEST",
    "POSTERIOR",
    "STORES",
    "TABLES_OF_STORE",
    "UNCERTAINTY",
    "Batch",
    "BatchError",
    "BatchFolder",
    "NewFolder",
    "load",
    "read_manifest",
    "stamp",
    "versions",
    "write_atomic",
]

STORES = ("metrics", "annual", "monthly")
TABLES_OF_STORE = {
    "metrics": ("metrics",),
    "annual": ("metrics", "dimensions", "shares"),
    "monthly": ("metrics", "dimensions", "shares"),
}
MANIFEST = "manifest.json"
DESIGN = "design.parquet"
POSTERIOR = "posterior.parquet"
UNCERTAINTY = {"seeds": "seeds only", "posterior+seeds": "posterior and seeds"}
"""What the runs of a batch's point vary in (the manifest's ``uncertainty``), as bands say it."""
INCOMPLETE = ".incomplete"
MAX_MANIFEST_BYTES = 2**30
"""Largest manifest read: 1 GiB (10 million runs' seeds take about 200 MB)."""
VERSIONED_PACKAGES = (
    "multivector",
    "mesa",
    "numpy",
    "numba",
    "scipy",
    "SALib",
    "pandas",
    "pyarrow",
    "matplotlib",
)


class BatchError(Exception):
    """A user mistake about a results folder (bad folder, incomplete batch): one line, exit 2."""


def stamp() -> str:
    """The current UTC time as a folder stamp, ``YYYYMMDDTHHMMSS``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def versions() -> dict[str, str]:
    """The Python version and the versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename;
    if the write fails (a full disk), the temporary file is removed and ``path`` unchanged."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_folders(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it made, outermost first, for
    :func:`remove_empty` to take back if what was to go in them cannot be written."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def remove_empty(folders: Sequence[Path]) -> None:
    """Remove the ``folders`` (innermost first) that are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


class NewFolder:
    """A report folder claimed atomically: written under a hidden name, renamed when done.

    ``with NewFolder(parent, stem) as folder:`` creates ``parent/.<stem>.<pid>.partial`` and
    yields it as ``folder.path``; when the block ends without an error the folder is renamed to
    ``parent/<stem>`` (``<stem>-<n>`` if taken) and ``folder.path`` names the final folder; if
    the block raises (Ctrl-C included), the partial folder is removed and nothing is left.
    """

    def __init__(self, parent: str | Path, stem: str):
        self.parent = Path(parent)
        self.stem = stem
        self.path = self.parent / stem

    def __enter__(self) -> NewFolder:
        self.made = make_folders(self.parent)
        self.path = self.parent / f".{self.stem}.{os.getpid()}.partial"
        shutil.rmtree(self.path, ignore_errors=True)  # a leftover of this pid's earlier crash
        try:
            self.path.mkdir()
        except BaseException:
            remove_empty(self.made)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            remove_empty(self.made)
            return
        final = _rename_to_free_name(self.path, self.parent, self.stem)
        if final is None:
            shutil.rmtree(self.path, ignore_errors=True)
            raise BatchError(f"{self.parent / self.stem}: could not name the finished folder")
        self.path = final


class BatchFolder:
    """A batch's folder: manifest, design, one Parquet part per table and chunk, figures."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock: int | None = None

    @classmethod
    def create(
        cls,
        parent: Path,
        stem: str,
        *,
        tables: Sequence[str],
        design: pd.DataFrame,
        manifest: dict,
        draws: pd.DataFrame | None = None,
    ) -> BatchFolder:
        """Claim ``parent/<stem>.incomplete`` (``<stem>-<n>`` if taken), lock it and write the
        plan (and a posterior batch's ``draws``); if that fails (a full disk), nothing is left."""
        made = make_folders(parent)
        for n in range(10_000):
            name = stem if n == 0 else f"{stem}-{n}"
            if (parent / name).exists():
                continue
            try:  # mkdir is atomic: two batches never share a folder
                (parent / f"{name}{INCOMPLETE}").mkdir()
            except FileExistsError:
                continue
            break
        folder = cls(parent / f"{name}{INCOMPLETE}")
        try:
            folder.lock()
            for table in tables:
                (folder.path / table).mkdir()
            design.rename_axis("point").reset_index().to_parquet(folder.path / DESIGN, index=False)
            if draws is not None:
                draws.to_parquet(folder.path / POSTERIOR, index=False)
            folder.write_manifest(manifest)  # last: a folder with a manifest is a batch
        except BaseException:
            shutil.rmtree(folder.path, ignore_errors=True)
            remove_empty(made)
            folder.unlock()
            raise
        return folder

    def lock(self) -> None:
        """Hold the batch for this process: a lock on its folder (``flock``), released by
        :meth:`unlock` or when the process ends, however it ends; refused in one line while
        another process holds it."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise BatchError(
                f"{self.path}: cannot open the batch folder ({error.strerror})"
            ) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise BatchError(
                f"{self.path}: another multivector process is running this batch; "
                "wait for it to finish (or stop it, then resume)"
            ) from None
        self._lock = descriptor

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def remove_temporary_files(self) -> list[Path]:
        """Remove the temporary files a killed session left (``.part-*.tmp``, a manifest's);
        call while holding the lock, when no write can be under way. Returns them."""
        found = [*self.path.glob("*/.part-*.tmp"), *self.path.glob(".*.tmp")]
        for tmp in found:
            tmp.unlink(missing_ok=True)
        return found

    @property
    def manifest(self) -> dict:
        return read_manifest(self.path)

    def write_manifest(self, manifest: dict) -> None:
        write_atomic(self.path / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    def part(self, table: str, chunk: int) -> Path:
        return self.path / table / f"part-{chunk:06d}.parquet"

    def chunk_done(self, chunk: int, tables: Sequence[str]) -> bool:
        return all(self.part(t, chunk).exists() for t in tables)

    def write_chunk(self, chunk: int, tables: dict[str, pd.DataFrame]) -> None:
        for name, table in tables.items():
            final = self.part(name, chunk)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            # dictionaries for the index columns only: the float32 measurements rarely repeat,
            # and trying a dictionary on them took half of the writing time
            keys = [c for c, dtype in table.dtypes.items() if dtype != np.float32]
            try:
                table.to_parquet(tmp, index=False, use_dictionary=keys)
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    def finish(self) -> Path:
        """Rename ``<name>.incomplete`` to ``<name>`` (or ``<name>-<n>`` if taken)."""
        final = _rename_to_free_name(
            self.path, self.path.parent, self.path.name.removesuffix(INCOMPLETE)
        )
        if final is None:
            raise BatchError(f"{self.path}: could not rename the finished batch")
        self.path = final
        return final


def _rename_to_free_name(path: Path, parent: Path, stem: str) -> Path | None:
    """Rename ``path`` to ``parent/<stem>``, or ``<stem>-<n>`` if taken; None if none could be."""
    for n in range(10_000):
        final = parent / (stem if n == 0 else f"{stem}-{n}")
        if final.exists():
            continue
        try:
            path.rename(final)
        except OSError:
            continue
        return final
    return None


def read_manifest(path: str | Path) -> dict:
    """A batch folder's ``manifest.json`` as a dict; one-line :class:`BatchError` if unreadable.

    The file must be a regular file of at most :data:`MAX_MANIFEST_BYTES` (a manifest lists
    every replicate's seed: about 20 bytes a run) holding a JSON object.
    """
    file = Path(path) / MANIFEST
    try:
        check_path_text(file)
    except UnreadableFile as error:
        raise BatchError(f"{error}") from None
    if not file.is_file():
        raise BatchError(f"{path}: not a batch folder (no {MANIFEST})")
    try:
        manifest = read_data(file, json.loads, kind="JSON", limit=MAX_MANIFEST_BYTES, keys=None)
    except UnreadableFile as error:
        raise BatchError(f"{file}: not a readable manifest ({error.problem})") from None
    if not isinstance(manifest, dict):
        raise BatchError(f"{file}: not a readable manifest (a JSON object is expected)")
    return manifest


def _read(path: Path, table: str, columns=None, filters=None) -> pd.DataFrame:
    frame = pd.read_parquet(path / table, columns=columns, filters=filters)
    if not frame["run"].is_monotonic_increasing:
        frame = frame.sort_values("run", kind="stable", ignore_index=True)
    return frame


def load(
    path: str | Path,
    table: str = "metrics",
    *,
    columns: Sequence[str] | None = None,
    filters: Any = None,
) -> pd.DataFrame:
    """A stored batch's table as one DataFrame, in run order, whatever its chunking.

    Parameters
    ----------
    path : the batch folder (``results/<scenario>/<stamp>-<hash>``)
    table : ``metrics`` (default), ``dimensions`` or ``shares`` (annual and monthly stores)
    columns, filters : passed to :func:`pandas.read_parquet` (pyarrow), to read less
    """
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("status") != "complete":
        raise BatchError(
            f"{path}: an incomplete batch; finish it with: multivector run --resume {path}"
        )
    available = manifest["batch"]["tables"]
    if table not in available:
        raise BatchError(
            f"{path}: no table {table!r} in a {manifest['batch']['store']} store "
            f"(tables: {', '.join(available)})"
        )
    return _read(path, table, columns=list(columns) if columns else None, filters=filters)


class Batch:
    """A complete stored batch: its manifest and tables (read lazily)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise BatchError(f"{path}: no such batch folder")
        load(self.path, columns=["run"], filters=[("run", "<", 0)])  # checks it is complete
        self.manifest = read_manifest(self.path)
        params = self.manifest["parameters"]
        self.title = self.manifest["scenario"]["title"]
        self.name = self.manifest["scenario"]["name"]
        self.store = self.manifest["batch"]["store"]
        self.tables = self.manifest["batch"]["tables"]
        self.swept = list(self.manifest.get("sweep", {}).get("parameters", {}))
        self.posterior = self.manifest.get("posterior", {})
        # batches written before posterior batches existed varied in their seeds only
        self.uncertainty = self.manifest.get("uncertainty", "seeds")
        self.state_names = _names(params, "states")
        self.power_names = _names(params, "powers")
        self.poles = [k.split(".")[2] for k in params if k.startswith("alignment.poles.")]
        self._metrics: pd.DataFrame | None = None

    @property
    def states(self) -> list[str]:
        return list(self.state_names)

    @property
    def varied(self) -> list[str]:
        """The key paths whose values are columns of the metrics table: swept or drawn."""
        return self.swept + list(self.posterior.get("parameters", []))

    @property
    def band_note(self) -> str | None:
        """What a band over this batch's runs shows, ``seeds only`` or ``posterior and seeds``;
        None for a sweep, whose bands are per point or pooled over points."""
        return None if self.swept else UNCERTAINTY.get(self.uncertainty, self.uncertainty)

    def metrics(self) -> pd.DataFrame:
        if self._metrics is None:
            self._metrics = load(self.path)
        return self._metrics

    def metric_names(self) -> list[str]:
        fixed = {"run", "point", "replicate", "seed", "date", "state", "largest_partner"}
        varied = set(self.varied)
        return [c for c in self.metrics().columns if c not in fixed and c not in varied]

    def shares(self, dimension: str = "overall") -> pd.DataFrame:
        if "shares" not in self.tables:
            raise BatchError(
                f"{self.path}: a {self.store} store keeps no shares; run with --store annual"
            )
        return load(self.path, "shares", filters=[("dimension", "==", dimension)])

    def check_metric(self, metric: str) -> None:
        if metric not in self.metric_names():
            raise BatchError(
                f"--metric {metric}: not a metric of this batch "
                f"(one of {', '.join(self.metric_names())})"
            )

    def check_states(self, states: Sequence[str] | None) -> list[str]:
        if not states:
            return self.states
        bad = [s for s in states if s not in self.state_names]
        if bad:
            raise BatchError(f"--states {bad[0]}: not a state (one of {', '.join(self.states)})")
        return list(states)

    def check_trajectories(self) -> None:
        if self.store == "metrics":
            raise BatchError(
                f"{self.path}: a metrics store keeps the final month only; trajectories need "
                "--store annual or monthly"
            )


def _names(params: dict, section: str) -> dict[str, str]:
    out = {}
    for key, leaf in params.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == section and parts[2] == "name":
            out[parts[1]] = leaf["value"]
    return out
