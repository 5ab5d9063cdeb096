"""Run a batch of replicate runs of a scenario and store it: design -> execute -> store.

Seeds come from ``numpy.random.SeedSequence(batch_seed).spawn(n)``: run ``k``'s seed is the
first 64-bit word of child ``k``, which depends only on the batch seed and ``k``. Each run is a
:class:`model.MultivectorModel` seeded with it, so a run's results are identical whether it runs
alone, in any batch, or on any number of worker processes.

A batch folder is written under a temporary name and renamed when complete, so an interrupted
or failed batch never leaves a half-written results folder behind.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.model import MultivectorModel
from model.scenario import Scenario

__all__ = ["BatchResult", "replicate_seeds", "run_batch", "simulate"]


def replicate_seeds(batch_seed: int, n_runs: int, first: int = 0) -> np.ndarray:
    """Seeds of runs ``first .. first + n_runs - 1``: child ``k`` of ``SeedSequence(batch_seed)``.

    ``SeedSequence(batch_seed, spawn_key=(k,))`` is what ``SeedSequence(batch_seed).spawn()``
    yields as its k-th child, so a run's seed does not depend on the batch size.
    """
    return np.array(
        [
            np.random.SeedSequence(batch_seed, spawn_key=(k,)).generate_state(1, dtype=np.uint64)[0]
            for k in range(first, first + n_runs)
        ],
        dtype=np.uint64,
    )


def simulate(scenario: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One run of the Mesa model: its tie (T+1, S, P, D) and regional (T+1, S, S) trajectories."""
    model = MultivectorModel(scenario, rng=int(seed)).run()
    return model.ties_history, model.regional_history


_WORKER_SCENARIO: Scenario | None = None


def _init_worker(scenario: Scenario) -> None:
    global _WORKER_SCENARIO
    _WORKER_SCENARIO = scenario


def _simulate_in_worker(seeds: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    assert _WORKER_SCENARIO is not None
    return [simulate(_WORKER_SCENARIO, seed) for seed in seeds]


@dataclass(frozen=True)
class BatchResult:
    """Where a batch was written and how long it took."""

    path: Path
    runs: int
    seconds: float

    @property
    def figures(self) -> Path:
        return self.path / "figures"


def _chunks(items: np.ndarray, size: int) -> list[np.ndarray]:
    return [items[k : k + size] for k in range(0, len(items), size)]


def execute(
    scenario: Scenario, seeds: np.ndarray, *, workers: int = 1, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run every seed; returns stacked trajectories ``(R, T+1, S, P, D)`` and ``(R, T+1, S, S)``
    in seed order, whatever the number of workers."""
    n = len(seeds)
    results: list[tuple[np.ndarray, np.ndarray]] = []
    bar = tqdm(
        total=n,
        desc=f"{scenario.name}",
        unit="run",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        if workers <= 1 or n <= 1:
            for seed in seeds:
                results.append(simulate(scenario, seed))
                bar.update()
        else:
            # small chunks keep both workers busy to the end; results come back in order
            size = max(1, min(8, n // (4 * workers)))
            # forkserver: no fork of a threaded parent; workers import the model once
            context = multiprocessing.get_context(
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None
            )
            if context.get_start_method() == "forkserver":
                context.set_forkserver_preload(["model.model", "experiments.batch"])
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=(scenario,)
            ) as pool:
                for chunk in pool.map(_simulate_in_worker, _chunks(seeds, size)):
                    results.extend(chunk)
                    bar.update(len(chunk))
    finally:
        bar.close()
    ties = np.stack([r[0] for r in results])
    regional = np.stack([r[1] for r in results])
    return ties, regional


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("multivector", "mesa", "numpy", "numba", "pandas", "pyarrow", "matplotlib"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def run_batch(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    out: str | Path = "results",
    command: Sequence[str] | None = None,
    overrides: dict | None = None,
    progress: bool = True,
    figures: bool = True,
) -> BatchResult:
    """Run ``runs`` replicates of ``scenario`` and write ``out/<scenario>/<timestamp>-<hash>/``.

    The folder holds ``manifest.json``, ``metrics.parquet`` (run, seed, date, state),
    ``dimensions.parquet`` (... , dimension), ``shares.parquet`` (..., dimension, power) and
    ``figures/``. It appears only when complete.
    """
    from experiments.figures import write_figures  # matplotlib only when figures are drawn
    from experiments.tables import batch_tables

    runs = scenario.runs if runs is None else runs
    seed = scenario.seed if seed is None else seed
    workers = (os.cpu_count() or 1) if workers is None else workers
    seeds = replicate_seeds(seed, runs)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    ties, regional = execute(scenario, seeds, workers=workers, progress=progress)
    simulated = time.perf_counter() - clock

    stamp = started.strftime("%Y%m%dT%H%M%S")
    name = f"{stamp}-{scenario.hash[:8]}"
    parent = Path(out) / scenario.name
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / name
    suffix = 1
    while final.exists():
        final = parent / f"{name}-{suffix}"
        suffix += 1
    partial = parent / f".partial-{final.name}-{os.getpid()}"
    try:
        partial.mkdir()
        tables = batch_tables(scenario, np.arange(runs), seeds, ties, regional)
        for table_name, table in tables.items():
            table.to_parquet(partial / f"{table_name}.parquet", index=False)
        if figures:
            write_figures(tables, scenario, partial / "figures")
        elapsed = time.perf_counter() - clock
        manifest = {
            "scenario": {
                "name": scenario.name,
                "title": scenario.title,
                "file": str(scenario.file),
                "hash": scenario.hash,
                "start": scenario.dates[0].astype(str),
                "end": scenario.dates[-1].astype(str),
            },
            "overrides": overrides or {},
            "batch": {
                "runs": runs,
                "batch_seed": seed,
                "seeds": [int(s) for s in seeds],
                "workers": workers,
                "engine": "mesa",
            },
            "parameters": scenario.resolved(),
            "events": [
                {
                    "id": e.id,
                    "date": e.date,
                    "title": e.title,
                    "source": e.source,
                    "enabled": e.enabled,
                }
                for e in scenario.events
            ],
            "versions": _versions(),
            "command": list(command) if command is not None else list(sys.argv),
            "timings": {
                "started": started.isoformat(),
                "simulation_seconds": simulated,
                "total_seconds": elapsed,
                "runs_per_second": runs / simulated,
            },
            "tables": {k: {"rows": len(v), "columns": list(v.columns)} for k, v in tables.items()},
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BatchResult(final, runs, elapsed)
