"""Runs per second of the engines on the calibrated baseline (1991-2021, monthly), in one run.

Prints runs/s and the ratio to ``mesa.batch_run`` with 2 processes, measured in the same run:

* ``mesa.batch_run`` on our model, 1 and 2 processes (the anchor);
* our Mesa engine (``experiments.batch.evaluate(engine="mesa")``), one process;
* the ensemble engine (``model.ensemble.simulate_ensemble``) for R = 1,000 and 10,000 runs on 1
  and 2 threads, recording yearly states (what the annual store keeps);
* a whole metrics-only batch of 10,000 runs through ``multivector run`` (``run_batch``: the default
  threads executor, 2 workers, measured and stored), against the issue's 10-second bound.

Then the peak memory of this process. Usage: ``python benchmarks/engines.py [--runs N]
[--ensemble R ...]``. Compilation is warmed up first and not timed. Machines are noisy (about
15%): compare figures from one run only.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import mesa
import numpy as np

from experiments.batch import evaluate, replicate_seeds, run_batch
from model.ensemble import simulate_ensemble, warm_up
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
    parser.add_argument(
        "--ensemble", type=int, nargs="+", default=[1000, 10000], help="ensemble sizes R"
    )
    parser.add_argument("--batch", type=int, default=10000, help="runs of the stored batch")
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    seeds = replicate_seeds(scenario.seed, args.runs)
    yearly = np.arange(0, scenario.n_steps + 1, 12)
    warm_up()
    MultivectorModel(scenario, rng=1).run()  # warm the compiled rules' cache
    simulate_ensemble(scenario.compiled, seeds[:4], record=yearly)

    def batch_run(processes):
        return lambda: mesa.batch_run(
            MultivectorModel,
            {"scenario": scenario},
            rng=[int(s) for s in seeds],
            max_steps=10_000,
            number_processes=processes,
            display_progress=False,
        )

    def ensemble(big, threads):
        return lambda: simulate_ensemble(scenario.compiled, big, record=yearly, threads=threads)

    rows = [
        timed("mesa.batch_run, 1 process", args.runs, batch_run(1)),
        timed("mesa.batch_run, 2 processes", args.runs, batch_run(2)),
        timed(
            "Mesa engine, 1 process",
            args.runs,
            lambda: evaluate(scenario, None, seeds, engine="mesa"),
        ),
    ]
    for size in args.ensemble:
        big = replicate_seeds(scenario.seed, size)
        for threads in (1, 2):
            label = f"ensemble R={size:,}, {threads} thread{'s' if threads > 1 else ''}"
            rows.append(timed(label, size, ensemble(big, threads)))
    with tempfile.TemporaryDirectory() as out:
        rows.append(
            timed(
                f"batch of {args.batch:,}, metrics, 2 workers",
                args.batch,
                lambda: run_batch(
                    scenario,
                    runs=args.batch,
                    store="metrics",
                    workers=2,
                    out=out,
                    progress=False,
                    figures=False,
                    command=["benchmarks/engines.py"],
                ),
            )
        )
    anchor = rows[1][3]
    print(
        f"baseline: {scenario.n_steps} monthly steps, {len(scenario.states)} states, "
        f"{len(scenario.powers)} powers, {len(scenario.dimensions)} dimensions"
    )
    print(f"{'engine':40} {'runs':>7} {'seconds':>8} {'runs/s':>9} {'x batch_run(2)':>15}")
    for label, runs, seconds, rate in rows:
        print(f"{label:40} {runs:7d} {seconds:8.2f} {rate:9.1f} {rate / anchor:15.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")
    best = max(rate for label, _, _, rate in rows if label.startswith("ensemble"))
    batch_seconds = rows[-1][2]
    print(
        f"must: ensemble >= 100x batch_run(2): {best / anchor:.0f}x "
        f"({'holds' if best >= 100 * anchor else 'FAILS'}); "
        f"{args.batch:,}-run metrics-only batch <= 10 s: {batch_seconds:.1f} s "
        f"({'holds' if batch_seconds <= 10 else 'FAILS'}); "
        f"target >= 2,000 runs/s: {best:,.0f} ({'holds' if best >= 2000 else 'not reached'})"
    )


if __name__ == "__main__":
    main()
