"""Batches of runs: plan -> execute in chunks -> store, resumably.

A batch is a scenario, a design of parameter *points* (one point when nothing is swept; see
:mod:`experiments.design`) and ``runs`` replicate seeds crossed with every point. Run ``k`` is
replicate ``k % runs`` of point ``k // runs``. Replicate ``r``'s seed is child ``r`` of
``SeedSequence(batch_seed)``, the same at every point (common random numbers, so differences
between points are not seed noise). A run's results depend only on its scenario, point and seed:
identical whatever the engine, executor, number of workers or chunking.

A *posterior* batch (``--posterior FILE``, :mod:`experiments.posterior`) pairs points with
replicates instead of crossing them: the points are the file's particles, and run ``r`` is
replicate ``r`` with the particle drawn for it (``Plan.draws[r]``, drawn once from the
normalised weights with a generator of its own under the batch seed). Its runs vary in their
parameters and their seeds, so its bands show posterior and seed uncertainty together.

The runs are cut into contiguous chunks. Each chunk is simulated (ensemble engine by default,
or the Mesa model) and measured where it runs, and written by this process atomically (a
temporary file, then a rename) as one Parquet part per table. A batch folder is first named
``<name>.incomplete`` (:func:`batch_name`: ``<scenario>-<stamp>-<plan hash>``); ``multivector
run --resume`` finishes an interrupted one (no run lost or repeated), and it is renamed to
``<name>`` when complete. :func:`load` reads it
back as one table (:mod:`experiments.store` holds the folder's format).

Stores: ``metrics`` keeps each run's metrics in the final month; ``annual`` keeps the metrics,
dimension and share tables every twelfth month from the start and in the final month;
``monthly`` keeps every month.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyarrow import ArrowException
from tqdm import tqdm

from experiments.design import MAX_RUNS, MAX_TOTAL_RUNS, check_batch_size
from experiments.posterior import (
    PARTICLE_SPAWN_KEY,
    Posterior,
    check_particles,
    draw_particles,
    file_sha256,
)
from experiments.provenance import code_state
from experiments.store import (
    DESIGN,
    INCOMPLETE,
    MANIFEST,
    POSTERIOR,
    STORES,
    TABLES_OF_STORE,
    BatchError,
    BatchFolder,
    stamp,
    versions,
)
from model.files import UnreadableFile, check_regular_file, describe_os_error
from model.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "ENGINES",
    "EXECUTORS",
    "BatchInterrupted",
    "BatchResult",
    "Plan",
    "draws_table",
    "evaluate",
    "make_plan",
    "replicate_seeds",
    "resume_batch",
    "run_batch",
    "simulate_chunk",
]

ENGINES = ("ensemble", "mesa")
EXECUTORS = ("serial", "threads", "processes", "dask")
# runs per chunk at most: a monthly chunk of 100 runs holds ~220 MB of share rows
CHUNK_CAP = {"monthly": 100, "annual": 500, "metrics": 2000}
MIN_CHUNK = {"ensemble": 250, "mesa": 4}
# on a cold compile cache, batches this small per worker run on the Mesa engine (~40 runs/s
# per worker), which finishes before the ensemble kernel would have compiled (~24 s)
SMALL_BATCH = 200
SERIAL_MESA_BATCH = 64
# a posterior batch's variants built while planning (to check them) are kept for the chunks
# simulated in the planning process, up to this many (about 0.5 MB each): building one costs
# about 10 ms, as much as simulating 50 runs
KEPT_VARIANTS = 512


class BatchInterrupted(Exception):
    """The batch stopped early (Ctrl-C); its folder can be resumed."""

    def __init__(self, path: Path, done: int, total: int):
        self.path, self.done, self.total = path, done, total
        super().__init__(
            f"interrupted after {done} of {total} runs; "
            f"resume with: multivector run --resume {path}"
        )


def replicate_seeds(batch_seed: int, n_runs: int, first: int = 0) -> np.ndarray:
    """Seeds of replicates ``first .. first + n_runs - 1``: child ``k`` of ``SeedSequence``.

    ``SeedSequence(batch_seed, spawn_key=(k,))`` is what ``SeedSequence(batch_seed).spawn()``
    yields as its k-th child, so a replicate's seed does not depend on the batch size. Computed
    for all replicates in one compiled loop (:func:`model.seeding.spawned_seeds`).
    """
    from model.seeding import spawned_seeds  # numba: imported only when seeds are needed

    return spawned_seeds(batch_seed, n_runs, first)


def recorded_months(kept) -> tuple[np.ndarray, np.ndarray]:
    """Months to simulate so that the months ``kept`` can become rows.

    The drift metrics need month 0 and each kept month's year-earlier month, so those are
    recorded too. Returns ``(steps, keep)``: increasing month indices and a bool mask.
    """
    kept = {int(k) for k in kept}
    steps = np.array(sorted(kept | {0} | {max(k - 12, 0) for k in kept}), dtype=np.int64)
    return steps, np.isin(steps, sorted(kept))


def recording(store: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`recorded_months` of a store: every month, every twelfth and the last, or the last."""
    if store == "monthly":
        return recorded_months(range(n_steps + 1))
    if store == "annual":
        return recorded_months(set(range(0, n_steps + 1, 12)) | {n_steps})
    return recorded_months({n_steps})


@dataclass(frozen=True, eq=False)
class Plan:
    """What a batch runs: scenario, design points, replicates, chunking, store and engine.

    Points and replicates are crossed (a sweep, or one point), or, with ``draws``, paired: run
    ``r`` is replicate ``r`` at point ``draws[r]`` (a posterior batch, whose points are the
    posterior's particles and whose ``posterior`` describes the file).
    """

    scenario: Scenario
    design: pd.DataFrame
    runs: int
    batch_seed: int
    store: str = "annual"
    engine: str = "ensemble"
    chunk_size: int = 1
    sweep: dict[str, Any] = field(default_factory=dict)
    draws: np.ndarray | None = None
    posterior: dict[str, Any] = field(default_factory=dict)
    built: dict[int, Scenario] = field(default_factory=dict, repr=False)
    """Variants already built in this process (point -> scenario); never sent to workers."""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "built": {}}

    @cached_property
    def seeds(self) -> np.ndarray:
        """(runs,) replicate seeds, shared by every point."""
        return replicate_seeds(self.batch_seed, self.runs)

    @property
    def n_points(self) -> int:
        return len(self.design)

    @property
    def n_runs(self) -> int:
        return self.runs if self.draws is not None else self.n_points * self.runs

    @property
    def swept(self) -> list[str]:
        """The key paths that vary between points (swept, or set by the posterior)."""
        return list(self.design.columns)

    @property
    def uncertainty(self) -> str:
        """What varies between the runs of a point: ``seeds``, or ``posterior+seeds``."""
        return "posterior+seeds" if self.draws is not None else "seeds"

    def locate(self, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point and the replicate of each run."""
        if self.draws is not None:
            return self.draws[runs], runs
        return runs // self.runs, runs % self.runs

    @cached_property
    def chunks(self) -> list[tuple[int, int]]:
        """Contiguous ``[first, stop)`` run ranges."""
        size = self.chunk_size
        return [(lo, min(lo + size, self.n_runs)) for lo in range(0, self.n_runs, size)]

    @cached_property
    def recording(self) -> tuple[np.ndarray, np.ndarray]:
        return recording(self.store, self.scenario.n_steps)

    def point_values(self, point: int) -> dict[str, Any]:
        """A point's swept values as plain Python values (key path -> value)."""
        row = self.design.iloc[int(point)]
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}

    def variant(self, point: int) -> Scenario:
        """The scenario at a design point."""
        if int(point) in self.built:
            return self.built[int(point)]
        values = self.point_values(point)
        file = self.posterior.get("file", "sweep")
        return self.scenario.with_overrides(values, file=file) if values else self.scenario


def default_executor(engine: str, n_runs: int = SERIAL_MESA_BATCH) -> str:
    """``threads`` for the ensemble (its kernel releases the GIL); for the Mesa engine,
    ``processes``, or ``serial`` below ``SERIAL_MESA_BATCH`` runs, where starting worker
    processes (about 1.5 s, and each compiles or loads the rules) costs more than it saves."""
    if engine == "ensemble":
        return "threads"
    return "serial" if n_runs < SERIAL_MESA_BATCH else "processes"


def default_chunk_size(n_runs: int, store: str, engine: str, workers: int) -> int:
    """About four chunks per worker, at least ``MIN_CHUNK`` and at most ``CHUNK_CAP`` runs."""
    size = max(MIN_CHUNK[engine], math.ceil(n_runs / (4 * max(workers, 1))))
    return max(1, min(size, CHUNK_CAP[store], n_runs))


def make_plan(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    sweep=None,
    store: str = "annual",
    engine: str = "ensemble",
    chunk_size: int | None = None,
    workers: int = 1,
    posterior: Posterior | None = None,
) -> Plan:
    """Plan a batch (the design is drawn here, from the sweep's seed or the batch seed).

    With a ``posterior`` (:func:`experiments.posterior.load_posterior`), each of the ``runs``
    replicates gets a particle drawn from it; every particle drawn is checked here by building
    the scenario with it, so a combination the scenario refuses stops the batch before its
    folder exists.
    """
    runs = scenario.runs if runs is None else runs
    seed = scenario.seed if seed is None else seed
    points = 1 if sweep is None or posterior is not None else sweep.n_points
    check_batch_size(runs, points, file=scenario.file if sweep is None else sweep.file)
    if store not in STORES:
        raise BatchError(f"--store {store}: one of {', '.join(STORES)}")
    if engine not in ENGINES:
        raise BatchError(f"--engine {engine}: one of {', '.join(ENGINES)}")
    if posterior is not None:
        if sweep is not None:
            raise BatchError(
                f"--posterior {posterior.file}: not with a sweep (--sweep or the scenario's "
                "[sweep]); a posterior batch draws each run's parameters, a sweep sets them"
            )
        return _posterior_plan(scenario, posterior, runs, seed, store, engine, chunk_size, workers)
    if sweep is None:
        design = pd.DataFrame(index=pd.RangeIndex(1, name="point"))
        spec: dict[str, Any] = {}
    else:
        design = sweep.points(seed)
        spec = {
            "design": sweep.design,
            "samples": sweep.samples,
            "seed": seed if sweep.seed is None else sweep.seed,
            "parameters": {
                p.key: (list(p.values) if not p.is_range else {"low": p.low, "high": p.high})
                for p in sweep.parameters
            },
        }
    n_runs = len(design) * runs
    size = chunk_size or default_chunk_size(n_runs, store, engine, workers)
    return Plan(scenario, design, runs, seed, store, engine, size, spec)


def _posterior_plan(scenario, posterior, runs, seed, store, engine, chunk_size, workers) -> Plan:
    draws = draw_particles(posterior.weights, seed, runs)
    drawn = pd.unique(draws)  # in the order the runs first need them
    built = check_particles(scenario, posterior, drawn, keep=KEPT_VARIANTS)
    spec = {
        "file": posterior.file,
        "path": str(posterior.path),
        "sha256": posterior.sha256,
        "particles": len(posterior.particles),
        "particles_drawn": int(drawn.size),
        "parameters": posterior.keys,
        "draws": (
            f"numpy.random.default_rng(SeedSequence(batch_seed, spawn_key="
            f"{PARTICLE_SPAWN_KEY})).choice(particles, size=runs, p=normalised weights)"
        ),
        "table": POSTERIOR,
    }
    size = chunk_size or default_chunk_size(runs, store, engine, workers)
    return Plan(
        scenario, posterior.particles, runs, seed, store, engine, size, {}, draws, spec, built
    )


# --------------------------------------------------------------------------------------------
# simulating and measuring one chunk (runs in a worker)


def simulate_chunk(plan: Plan, first: int, stop: int, threads: int = 1) -> dict[str, pd.DataFrame]:
    """Simulate and measure runs ``first .. stop - 1`` of a plan: the store's tables."""
    runs = np.arange(first, stop, dtype=np.int64)
    points, replicates = plan.locate(runs)
    unique, variant = np.unique(points, return_inverse=True)
    columns: dict[str, np.ndarray] = {
        "run": runs,
        "point": points,
        "replicate": replicates,
        "seed": plan.seeds[replicates],
    }
    for key in plan.swept:
        columns[key] = plan.design[key].to_numpy()[points]
    steps, keep = plan.recording
    return _simulate_and_measure(
        [plan.variant(p) for p in unique],
        variant,
        columns,
        steps,
        keep,
        TABLES_OF_STORE[plan.store],
        plan.engine,
        threads,
    )


def _simulate_and_measure(scenarios, variant, columns, steps, keep, tables, engine, threads):
    from experiments.tables import batch_tables

    ties, regional = _simulate(engine, scenarios, columns["seed"], variant, steps, threads)
    if _same_measures(scenarios):
        return batch_tables(
            scenarios[0], columns, ties, regional, steps=steps, keep=keep, tables=tables
        )
    # swept dimension weights or poles: measure each variant with its own
    parts = [
        batch_tables(
            scenarios[v],
            {k: c[variant == v] for k, c in columns.items()},
            ties[variant == v],
            regional[variant == v],
            steps=steps,
            keep=keep,
            tables=tables,
        )
        for v in range(len(scenarios))
    ]
    return {
        name: pd.concat([p[name] for p in parts], ignore_index=True)
        .sort_values("run", kind="stable")
        .reset_index(drop=True)
        for name in tables
    }


def evaluate(
    scenario: Scenario,
    parameters: pd.DataFrame | None,
    seeds: Sequence[int],
    *,
    dates: Sequence[str] | None = None,
    engine: str = "ensemble",
    threads: int = 1,
) -> pd.DataFrame:
    """Outcomes of every parameter row crossed with every seed: the model as a function.

    A pure function for other tools (SALib, the EMA Workbench, optimisers): nothing is
    written, and the same inputs give the same table.

    Parameters
    ----------
    scenario : the scenario the parameter rows modify
    parameters : one row per point, one column per key path (e.g.
        ``states.KAZ.balancing_propensity``); None or no columns for the scenario as it is
    seeds : run seeds, each run at every point (as ``MultivectorModel(..., rng=seed)``)
    dates : months ``"YYYY-MM"`` to measure (default: the final month)
    engine : ``ensemble`` or ``mesa`` (identical results)

    Returns
    -------
    pandas.DataFrame
        The metrics table (see ``docs/ODD.md``): one row per point, seed, date and state, with
        columns ``run``, ``point``, ``replicate``, ``seed``, the parameter columns, ``date``,
        ``state`` and every metric.
    """
    design = (
        pd.DataFrame(index=pd.RangeIndex(1))
        if parameters is None or len(parameters.columns) == 0
        else parameters.reset_index(drop=True)
    )
    seeds = np.asarray([int(s) for s in seeds], dtype=np.uint64)
    if seeds.size == 0 or len(design) == 0:
        raise ValueError("evaluate: give at least one parameter row and one seed")
    plan = Plan(scenario, design, len(seeds), 0, "metrics", engine, 1)
    scenarios = [plan.variant(p) for p in range(len(design))]  # validates every row
    n_steps = scenario.n_steps
    if dates is None:
        kept = {n_steps}
    else:
        months = ((np.array(dates, dtype="datetime64[M]") - scenario.dates[0]).astype(int)).tolist()
        bad = [d for d, m in zip(dates, months, strict=True) if not 0 <= m <= n_steps]
        if bad:
            raise ScenarioError(
                "evaluate",
                "dates",
                bad[0],
                f"months from {scenario.dates[0]} to {scenario.dates[-1]}",
            )
        kept = set(months)
    steps, keep = recorded_months(kept)
    runs = np.arange(len(design) * len(seeds), dtype=np.int64)
    points = runs // len(seeds)
    replicates = runs % len(seeds)
    columns = {"run": runs, "point": points, "replicate": replicates, "seed": seeds[replicates]}
    for key in design.columns:
        columns[key] = design[key].to_numpy()[points]
    return _simulate_and_measure(
        scenarios,
        points,
        columns,
        steps,
        keep,
        ("metrics",),
        engine,
        threads,
    )["metrics"]


def _same_measures(scenarios: Sequence[Scenario]) -> bool:
    first = scenarios[0].compiled
    return all(
        np.array_equal(s.compiled.dimension_weight, first.dimension_weight)
        and np.array_equal(s.compiled.substitution_difficulty, first.substitution_difficulty)
        and np.array_equal(s.compiled.pole_matrix, first.pole_matrix)
        and s.alignment == scenarios[0].alignment
        for s in scenarios[1:]
    )


def _simulate(engine, scenarios, seeds, variant, steps, threads):
    if engine == "ensemble":
        from model.ensemble import simulate_ensemble, stack_variants

        stack = stack_variants([s.compiled for s in scenarios])
        return simulate_ensemble(stack, seeds, variant=variant, record=steps, threads=threads)
    from model.model import MultivectorModel

    c = scenarios[0].compiled
    n_states, n_powers, n_dims = c.initial_ties.shape
    ties = np.empty((len(seeds), steps.size, n_states, n_powers, n_dims))
    regional = np.empty((len(seeds), steps.size, n_states, n_states))
    for k, seed in enumerate(seeds):
        model = MultivectorModel(scenarios[variant[k]], rng=int(seed)).run()
        ties[k] = model.ties_history[steps]
        regional[k] = model.regional_history[steps]
    return ties, regional


_WORKER_PLAN: Plan | None = None


def _init_worker(plan: Plan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = plan


def _chunk_in_worker(first: int, stop: int) -> dict[str, pd.DataFrame]:
    assert _WORKER_PLAN is not None
    return simulate_chunk(_WORKER_PLAN, first, stop)


# --------------------------------------------------------------------------------------------
# executors


def execute(
    plan: Plan,
    pending: Sequence[int],
    on_done: Callable[[int, dict[str, pd.DataFrame]], None],
    *,
    executor: str = "processes",
    workers: int = 1,
    scheduler: str | None = None,
    client=None,
) -> None:
    """Run the pending chunks of a plan; ``on_done(chunk, tables)`` as each finishes.

    ``serial`` runs chunks here, one after another (the ensemble engine then shares each
    chunk over ``workers`` threads); ``threads`` on ``workers`` threads of this process (the
    ensemble kernel releases the GIL; nothing to start, so the default for the ensemble);
    ``processes`` on a pool of ``workers`` processes (the default for the Mesa engine, whose
    Python steps hold the GIL); ``dask`` on a ``dask.distributed`` cluster: the one at
    ``scheduler``, or a local cluster of ``workers`` processes (see :func:`dask_client`;
    ``client``, when given, is the one to use). A single chunk or a single worker runs here.
    """
    if executor not in EXECUTORS:
        raise BatchError(f"--executor {executor}: one of {', '.join(EXECUTORS)}")
    if not pending:
        return
    local = executor in ("threads", "processes") and (workers <= 1 or len(pending) == 1)
    if executor == "serial" or local:
        threads = workers if plan.engine == "ensemble" else 1
        for c in pending:
            on_done(c, simulate_chunk(plan, *plan.chunks[c], threads=threads))
    elif executor == "threads":
        _execute_threads(plan, pending, on_done, workers)
    elif executor == "processes":
        _execute_processes(plan, pending, on_done, workers)
    elif client is not None:
        _execute_dask(plan, pending, on_done, client)
    else:
        with dask_client(executor, scheduler, workers) as connected:
            _execute_dask(plan, pending, on_done, connected)


def _execute_threads(plan, pending, on_done, workers) -> None:
    pool = ThreadPoolExecutor(min(workers, len(pending)))
    calls = {c: (simulate_chunk, plan, *plan.chunks[c]) for c in pending}
    _drain(pool, calls, on_done, window=workers + 1)


def _execute_processes(plan, pending, on_done, workers) -> None:
    # forkserver: no fork of a threaded parent; workers import the model once
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["model.model", "model.ensemble", "experiments.batch"])
    pool = ProcessPoolExecutor(
        min(workers, len(pending)), mp_context=context, initializer=_init_worker, initargs=(plan,)
    )
    calls = {c: (_chunk_in_worker, *plan.chunks[c]) for c in pending}
    _drain(pool, calls, on_done, window=2 * workers)


def _drain(pool, calls, on_done, window: int) -> None:
    """Submit ``{chunk: (function, *args)}``, at most ``window`` at a time, and hand each
    result to ``on_done`` as it comes; the window bounds the finished chunks held in memory."""
    queue = iter(calls.items())
    futures: dict = {}
    try:
        for c, call in itertools.islice(queue, window):
            futures[pool.submit(*call)] = c
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                on_done(futures.pop(future), future.result())
                for c, call in itertools.islice(queue, 1):
                    futures[pool.submit(*call)] = c
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _execute_dask(plan, pending, on_done, client) -> None:
    shared = client.scatter(plan, broadcast=True)
    futures = {
        client.submit(simulate_chunk, shared, *plan.chunks[c], pure=False): c for c in pending
    }
    from dask.distributed import as_completed

    for future in as_completed(futures):
        on_done(futures[future], future.result())


@contextmanager
def dask_client(executor: str | None, scheduler: str | None, workers: int):
    """A ``dask.distributed`` client for ``--executor dask`` (None for other executors),
    connected before any folder is made, so a failed connection leaves nothing behind.

    With ``scheduler``, the cluster at that address; otherwise a local cluster of ``workers``
    processes on 127.0.0.1 that other local users cannot use: its connections are TLS with
    credentials generated for it (``Security.temporary()``), and its HTTP servers, which
    Dask always starts, listen on random ports with no routes (no dashboard).
    """
    if executor != "dask":
        yield None
        return
    import dask
    from dask.distributed import Client, LocalCluster
    from distributed.security import Security

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError, TypeError) as error:
            raise BatchError(f"--scheduler {scheduler}: cannot connect ({error})") from None
        try:
            yield client
        finally:
            client.close()
        return
    scratch = tempfile.mkdtemp(prefix="multivector-dask-")
    routes = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
    try:
        with dask.config.set(routes):
            security = Security.temporary()
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    security=security,
                    local_directory=scratch,
                ) as cluster,
                Client(cluster, security=security) as client,
            ):
                yield client
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# the batch's manifest


def _manifest(plan: Plan, overrides: dict, command: Sequence[str]) -> dict:
    scenario = plan.scenario
    return {
        "status": "running",
        "scenario": {
            "name": scenario.name,
            "title": scenario.title,
            "file": str(scenario.file),
            "path": str(Path(scenario.file).resolve()),
            "hash": scenario.hash,
            "start": scenario.dates[0].astype(str),
            "end": scenario.dates[-1].astype(str),
        },
        "overrides": overrides,
        "sweep": plan.sweep,
        "uncertainty": plan.uncertainty,
        **({"posterior": plan.posterior} if plan.posterior else {}),
        "batch": {
            "runs": plan.runs,
            "points": plan.n_points,
            "total_runs": plan.n_runs,
            "batch_seed": plan.batch_seed,
            "seeds": [int(s) for s in plan.seeds],
            "run_index": (
                f"run = replicate; point = the particle drawn for it ({POSTERIOR}); "
                "seed = seeds[replicate]"
                if plan.draws is not None
                else "run = point * runs + replicate; seed = seeds[replicate]"
            ),
            "store": plan.store,
            "engine": plan.engine,
            "chunk_size": plan.chunk_size,
            "chunks": len(plan.chunks),
            "tables": list(TABLES_OF_STORE[plan.store]),
            "recorded_months": [str(d) for d in plan.scenario.dates[plan.recording[0]]],
        },
        "parameters": scenario.resolved(),
        "events": [
            {"id": e.id, "date": e.date, "title": e.title, "source": e.source, "enabled": e.enabled}
            for e in scenario.events
        ],
        "versions": versions(),
        "code": code_state(),
        "command": list(command),
        "sessions": [],
    }


@dataclass(frozen=True)
class BatchResult:
    """Where a batch was written and how long it took."""

    path: Path
    runs: int
    seconds: float
    simulation_seconds: float = 0.0
    store: str = "annual"

    @property
    def runs_per_second(self) -> float:
        """Runs simulated, measured and stored per second (setup excluded)."""
        seconds = self.simulation_seconds or self.seconds
        return self.runs / seconds if seconds > 0 else float("inf")


def batch_name(plan: Plan, overrides: dict) -> str:
    """A new batch's folder name, ``<scenario>-<stamp>-<plan>``.

    ``<plan>`` is 8 hex digits of a hash of the whole plan: the resolved scenario (its hash, so
    overrides included), the seed, the runs, the sweep or the posterior file, the store, the
    engine and the overrides as given. Two seeds, a sweep, another store or a null model give
    different names; the same plan run twice differs only in its stamp.
    """
    fields = {
        "scenario": plan.scenario.hash,
        "seed": plan.batch_seed,
        "runs": plan.runs,
        "sweep": plan.sweep,
        "posterior": plan.posterior.get("sha256"),
        "store": plan.store,
        "engine": plan.engine,
        "overrides": overrides,
    }
    text = json.dumps(fields, sort_keys=True, default=str)
    return f"{plan.scenario.name}-{stamp()}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def run_batch(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    sweep=None,
    store: str = "annual",
    engine: str = "ensemble",
    executor: str | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    scheduler: str | None = None,
    out: str | Path = "results",
    command: Sequence[str] | None = None,
    overrides: dict | None = None,
    progress: bool = True,
    posterior: Posterior | None = None,
) -> BatchResult:
    """Plan, run and store a batch under ``out/<scenario>/<name>/`` (:func:`batch_name`).

    See the module docstring for the folder's layout and :func:`execute` for executors (default:
    ``threads`` for the ensemble engine, ``processes`` for the Mesa engine). Nothing is drawn
    here: figures and the report are the command's work, after the run. With a ``posterior``,
    each run's parameters are a particle drawn from it (see :func:`make_plan`).
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    n_runs = (scenario.runs if runs is None else runs) * (
        1 if sweep is None or posterior is not None else sweep.n_points
    )
    if engine == "ensemble" and n_runs <= SMALL_BATCH * workers and _kernel_not_compiled():
        # compiling the ensemble kernel (~24 s, once per machine) would take longer than these
        # runs on the Mesa engine, whose results are identical; compile it for next time
        print(
            f"multivector: the ensemble engine is not compiled yet on this machine; running "
            f"these {n_runs} runs on the Mesa engine (identical results), then compiling it in "
            "the background for the next batch",
            file=sys.stderr,
        )
        engine = "mesa"
        compile_after = True
    else:
        compile_after = False
    executor = executor or default_executor(engine, n_runs)
    plan = make_plan(
        scenario,
        runs=runs,
        seed=seed,
        sweep=sweep,
        store=store,
        engine=engine,
        chunk_size=chunk_size,
        workers=workers if executor != "serial" else 1,
        posterior=posterior,
    )
    if executor not in EXECUTORS:
        raise BatchError(f"--executor {executor}: one of {', '.join(EXECUTORS)}")
    command = list(command) if command is not None else list(sys.argv)
    with dask_client(executor, scheduler, workers) as client:  # before the folder exists
        folder = BatchFolder.create(
            Path(out) / plan.scenario.name,
            batch_name(plan, overrides or {}),
            tables=TABLES_OF_STORE[plan.store],
            design=plan.design,
            manifest=_manifest(plan, overrides or {}, command),
            draws=None if posterior is None else draws_table(plan, posterior.weights),
        )
        try:
            result = _complete(folder, plan, executor, workers, client, progress, command)
        finally:
            folder.unlock()
    if compile_after:  # after the batch, so the compile does not slow it down
        compile_in_background()
    return result


def resume_batch(
    path: str | Path,
    *,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> BatchResult:
    """Finish an interrupted batch: run only the chunks not yet stored.

    The folder is locked for the resume (a second resume of it, meanwhile, is refused), its
    manifest and design are checked, and temporary parts left by a killed session removed.
    """
    folder = BatchFolder(Path(path))
    _resumable(folder, path)
    folder.lock()
    try:
        manifest = _resumable(folder, path)  # again: it may have finished while we waited
        plan = plan_from_manifest(folder.path, manifest)
        executor = executor or default_executor(plan.engine, plan.n_runs)
        workers = (os.cpu_count() or 1) if workers is None else workers
        command = list(command) if command is not None else list(sys.argv)
        folder.remove_temporary_files()
        with dask_client(executor, scheduler, workers) as client:
            return _complete(folder, plan, executor, workers, client, progress, command)
    finally:
        folder.unlock()


def _resumable(folder: BatchFolder, path) -> dict:
    """The checked manifest of a batch that ``--resume`` can finish; one line if none."""
    if not folder.path.is_dir():
        raise BatchError(f"--resume {path}: no such folder")
    if not (folder.path / MANIFEST).is_file():
        finished = sorted(folder.path.parent.glob(folder.path.name.removesuffix(INCOMPLETE) + "*"))
        finished = [f for f in finished if f != folder.path]
        if folder.path.name.endswith(INCOMPLETE) and finished:
            raise BatchError(f"--resume {path}: already complete, as {finished[0]}")
        raise BatchError(f"--resume {path}: not a batch folder (no {MANIFEST})")
    manifest = folder.manifest
    if manifest.get("status") == "complete":
        raise BatchError(f"--resume {path}: the batch is already complete")
    check_manifest(folder.path, manifest)
    return manifest


def _whole(lo: int, hi: int):
    def check(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    return check, f"a whole number in [{lo:,}, {hi:,}]"


MANIFEST_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "scenario.path": (lambda v: isinstance(v, str) and v != "", "the scenario file's path"),
    "scenario.hash": (lambda v: isinstance(v, str), "the scenario's hash, a string"),
    "batch.runs": _whole(1, MAX_RUNS),
    "batch.total_runs": _whole(1, MAX_TOTAL_RUNS),
    "batch.batch_seed": _whole(0, 2**63 - 1),
    "batch.store": (lambda v: v in STORES, f"one of {', '.join(STORES)}"),
    "batch.engine": (lambda v: v in ENGINES, f"one of {', '.join(ENGINES)}"),
    "batch.chunk_size": _whole(1, MAX_TOTAL_RUNS),
    "sessions": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list"),
}
"""What a resume reads from a manifest, with the check each value must pass and what it
allows; ``overrides``, ``sweep`` and ``posterior``, when present, must be JSON objects."""
OPTIONAL_TABLES = ("overrides", "sweep", "posterior")


def check_manifest(path: Path, manifest: dict) -> None:
    """Refuse a manifest a resume cannot rebuild its plan from, in one line naming the key."""
    file = Path(path) / MANIFEST

    def fail(key: str, value: Any, allowed: str):
        shown = "(missing)" if value is _ABSENT else repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise BatchError(f"{file}: {key} = {shown}: {allowed}; start a new batch")

    for key, (check, allowed) in MANIFEST_FIELDS.items():
        node: Any = manifest
        for part in key.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is _ABSENT or not check(node):
            fail(key, node, allowed)
    for key in OPTIONAL_TABLES:
        if not isinstance(manifest.get(key, {}), dict):
            fail(key, manifest[key], "a JSON object")
    posterior = manifest.get("posterior") or {}
    for key in ("path", "sha256") if posterior else ():
        if not isinstance(posterior.get(key), str):
            fail(f"posterior.{key}", posterior.get(key, _ABSENT), "a string")


_ABSENT = object()


def _read_table(path: Path, name: str, columns=None) -> pd.DataFrame:
    """A batch's ``design.parquet`` or ``posterior.parquet``; one line if missing or corrupt."""
    file = path / name
    try:
        check_regular_file(file, limit=None)
        return pd.read_parquet(file, columns=columns)
    except UnreadableFile as error:
        raise BatchError(f"{file}: {error.problem}; start a new batch") from None
    except (OSError, ValueError, KeyError, ArrowException) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise BatchError(f"{file}: not a readable table ({reason}); start a new batch") from None


def draws_table(plan: Plan, weights: np.ndarray) -> pd.DataFrame:
    """A posterior batch's draws, one row per run: ``run``, ``replicate``, ``seed``, the
    particle ``point``, its normalised ``weight`` and the parameter values drawn."""
    assert plan.draws is not None
    runs = np.arange(plan.runs, dtype=np.int64)
    table = pd.DataFrame(
        {
            "run": runs,
            "replicate": runs,
            "seed": plan.seeds,
            "point": plan.draws,
            "weight": np.asarray(weights, dtype=np.float64)[plan.draws],
        }
    )
    for key in plan.swept:
        table[key] = plan.design[key].to_numpy()[plan.draws]
    return table


def plan_from_manifest(path: Path, manifest: dict) -> Plan:
    """Rebuild a batch's plan from its folder, checking that the scenario (and the posterior
    file, for a posterior batch) is unchanged."""
    info = manifest["scenario"]
    try:
        scenario = load_scenario(info["path"], manifest.get("overrides", {}))
    except (ScenarioError, UnreadableFile) as error:
        raise BatchError(f"{path}: its scenario no longer loads ({error})") from None
    if scenario.hash != info["hash"]:
        raise BatchError(
            f"{path}: {info['path']} has changed since the batch started "
            f"(hash {scenario.hash}, was {info['hash']}); start a new batch"
        )
    batch = manifest["batch"]
    design = _read_table(path, DESIGN)
    if "point" not in design.columns or not design["point"].is_unique:
        raise BatchError(f"{path / DESIGN}: no column of unique points; start a new batch")
    design = design.set_index("point")
    if manifest.get("posterior"):
        return _posterior_plan_from_folder(path, manifest, scenario, design)
    if len(design) * batch["runs"] != batch["total_runs"]:
        raise BatchError(
            f"{path}: {DESIGN} does not match the manifest's {batch['total_runs']} runs"
        )
    return Plan(
        scenario,
        design,
        batch["runs"],
        batch["batch_seed"],
        batch["store"],
        batch["engine"],
        batch["chunk_size"],
        manifest.get("sweep", {}),
    )


def _posterior_plan_from_folder(path: Path, manifest: dict, scenario, design) -> Plan:
    """A posterior batch's plan: its stored draws, once the posterior file is unchanged."""
    spec, batch = manifest["posterior"], manifest["batch"]
    try:
        sha256 = file_sha256(spec["path"])
    except OSError as error:
        raise BatchError(
            f"{path}: its posterior file {spec['path']} can no longer be read "
            f"({error.strerror or type(error).__name__}); start a new batch"
        ) from None
    if sha256 != spec["sha256"]:
        raise BatchError(
            f"{path}: {spec['path']} has changed since the batch started "
            f"(sha256 {sha256[:12]}, was {spec['sha256'][:12]}); start a new batch"
        )
    draws = _read_table(path, POSTERIOR, columns=["run", "point"]).sort_values("run")
    if (
        len(draws) != batch["runs"]
        or batch["runs"] != batch["total_runs"]
        or not draws["point"].between(0, len(design) - 1).all()
    ):
        raise BatchError(f"{path}: {POSTERIOR} does not match the manifest's {batch['runs']} runs")
    return Plan(
        scenario,
        design,
        batch["runs"],
        batch["batch_seed"],
        batch["store"],
        batch["engine"],
        batch["chunk_size"],
        {},
        draws["point"].to_numpy(dtype=np.int64),
        spec,
    )


def _complete(folder, plan, executor, workers, client, progress, command):
    tables = TABLES_OF_STORE[plan.store]
    pending = [c for c in range(len(plan.chunks)) if not folder.chunk_done(c, tables)]
    done_runs = plan.n_runs - sum(plan.chunks[c][1] - plan.chunks[c][0] for c in pending)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    if plan.engine == "ensemble" and pending:
        from model.ensemble import announce_compile

        announce_compile()
    bar = tqdm(
        total=plan.n_runs,
        initial=done_runs,
        desc=plan.scenario.name,
        unit="run",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    state = {"done": done_runs}
    manifest = folder.manifest
    for session in manifest["sessions"]:  # a session still "running" was interrupted
        if session.get("status") == "running":
            session["status"] = "interrupted"
    manifest["sessions"].append(
        {
            "started": started.isoformat(),
            "status": "running",
            "runs_stored_before": done_runs,
            "executor": executor,
            "workers": workers,
            "command": list(command),
        }
    )
    folder.write_manifest(manifest)

    def on_done(chunk: int, chunk_tables: dict[str, pd.DataFrame]) -> None:
        folder.write_chunk(chunk, chunk_tables)
        first, stop = plan.chunks[chunk]
        state["done"] += stop - first
        bar.update(stop - first)

    try:
        execute(plan, pending, on_done, executor=executor, workers=workers, client=client)
    except KeyboardInterrupt:
        raise BatchInterrupted(folder.path, state["done"], plan.n_runs) from None
    except OSError as error:  # a full disk: what is stored is kept, and can be resumed
        raise BatchError(
            f"{describe_os_error(error)}; {state['done']} of {plan.n_runs} runs are stored: "
            f"make room, then resume with: multivector run --resume {folder.path}"
        ) from None
    finally:
        bar.close()
    simulated = time.perf_counter() - clock
    manifest = folder.manifest
    new_runs = plan.n_runs - done_runs
    manifest["sessions"][-1].update(
        status="complete",
        runs=new_runs,
        seconds=simulated,
        runs_per_second=new_runs / simulated if simulated > 0 else None,
    )
    manifest["status"] = "complete"
    manifest["tables"] = {
        t: {"parts": len(plan.chunks), "folder": t, "read_with": "experiments.batch.load"}
        for t in tables
    }
    folder.write_manifest(manifest)
    final = folder.finish()
    return BatchResult(final, new_runs, time.perf_counter() - clock, simulated, plan.store)


def _kernel_not_compiled() -> bool:
    from model.ensemble import compiled_already

    return not compiled_already()


def compile_in_background() -> None:
    """Compile and cache the ensemble kernel in a detached process (for the next batch).

    At most one such compile starts per user every five minutes (a lock file in the
    temporary folder), so many small batches in a row do not start many compiles.
    """
    lock = Path(tempfile.gettempdir()) / f"multivector-compile-{os.getuid()}.lock"
    try:
        if time.time() - lock.stat().st_mtime < 300:
            return
        lock.unlink()
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    subprocess.Popen(
        [sys.executable, "-c", "from model.ensemble import warm_up; warm_up()"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
