"""Runs per second of the engines on the calibrated baseline (1991-2021, monthly), in one run.

Prints runs/s and the ratio to ``mesa.batch_run`` with 2 processes, measured in the same run:

* ``mesa.batch_run`` on our model, 1 and 2 processes (the anchor);
* our Mesa engine (``experiments.batch.execute``), 1 and 2 worker processes;
* the ensemble engine (``model.ensemble.simulate_ensemble``), 1 and 2 threads, yearly records.

Usage: ``python benchmarks/engines.py [--runs N] [--ensemble R]``. Compilation is warmed up
first and not timed. Machines are noisy (about 15%): compare figures from one run only.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import mesa
import numba
import numpy as np

from experiments.batch import execute, replicate_seeds
from model.ensemble import simulate_ensemble
from model.model import MultivectorModel
from model.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"


def timed(label, runs, func):
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    return label, runs, seconds, runs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs for the Mesa-based engines")
    parser.add_argument("--ensemble", type=int, default=1000, help="runs for the ensemble")
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    seeds = replicate_seeds(scenario.seed, args.runs)
    big = replicate_seeds(scenario.seed, args.ensemble)
    yearly = np.arange(0, scenario.n_steps + 1, 12)
    MultivectorModel(scenario, rng=1).run()  # warm the compiled rules' cache
    simulate_ensemble(scenario.compiled, big[:4], record=yearly)

    def batch_run(processes):
        return lambda: mesa.batch_run(
            MultivectorModel,
            {"scenario": scenario},
            rng=[int(s) for s in seeds],
            max_steps=10_000,
            number_processes=processes,
            display_progress=False,
        )

    def ensemble(threads):
        def go():
            numba.set_num_threads(threads)
            simulate_ensemble(scenario.compiled, big, record=yearly)

        return go

    rows = [
        timed("mesa.batch_run, 1 process", args.runs, batch_run(1)),
        timed("mesa.batch_run, 2 processes", args.runs, batch_run(2)),
        timed(
            "Mesa engine, 1 worker",
            args.runs,
            lambda: execute(scenario, seeds, workers=1, progress=False),
        ),
        timed(
            "Mesa engine, 2 workers",
            args.runs,
            lambda: execute(scenario, seeds, workers=2, progress=False),
        ),
        timed("ensemble, 1 thread", args.ensemble, ensemble(1)),
        timed("ensemble, 2 threads", args.ensemble, ensemble(2)),
    ]
    anchor = rows[1][3]
    print(
        f"baseline: {scenario.n_steps} monthly steps, {len(scenario.states)} states, "
        f"{len(scenario.powers)} powers, {len(scenario.dimensions)} dimensions"
    )
    print(f"{'engine':32} {'runs':>6} {'seconds':>8} {'runs/s':>9} {'x batch_run(2)':>15}")
    for label, runs, seconds, rate in rows:
        print(f"{label:32} {runs:6d} {seconds:8.2f} {rate:9.1f} {rate / anchor:15.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
