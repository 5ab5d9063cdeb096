"""Simulations per second inside the calibration, as a ratio of the ensemble engine's raw rate.

Both measured in the same run, on the calibration's input (``scenarios/baseline-prior.toml``),
the machine's threads (``--threads``):

* **raw**: ``model.ensemble.simulate_ensemble`` on ``--particles`` variants of the prior (parameter
  vectors drawn from the calibration's prior) x ``--runs`` runs each, recording the months the
  calibration records (the patterns' months and every month of the fit-window observations),
  in the calibration's calls of ``RUNS_PER_CALL`` runs;
* **calibration**: :func:`experiments.calibration.losses` on the same variants and seeds, the
  distance the ABC-SMC sampler calls for each block of particles: building each variant
  (``Scenario.with_overrides``), simulating, measuring the patterns' quantities and the
  fit-window observations' loss.

It prints runs/s of each and the ratio (issue 14's target: at least one half), then the share of
the calibration's time spent outside the simulation. Compilation (the engine's and the distance's
kernels) is warmed up and not timed. On a shared machine, ``--repeat N`` alternates the two
measurements N times and reports the median ratio; the CPU seconds of each (all threads, from
``time.process_time``) show how much of a slow round was waiting for the machine.

Usage: ``python benchmarks/calibration_speed.py [--particles 256] [--runs 8] [--threads 2]
[--repeat 1]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from experiments.calibration import (
    RUNS_PER_CALL,
    calibration_spec,
    fit_targets,
    losses,
    particle_seeds,
    patterns_for,
    prior_draws,
    variant_with,
)
from experiments.patterns import months_needed
from model.ensemble import simulate_ensemble, stack_variants, warm_up
from model.scenario import load_scenario

PRIOR = Path(__file__).resolve().parents[1] / "scenarios" / "baseline-prior.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--particles", type=int, default=256)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median ratio")
    args = parser.parse_args()

    scenario = load_scenario(PRIOR)
    spec = calibration_spec(scenario)
    patterns, _ = patterns_for(scenario)
    targets = fit_targets(scenario, spec)
    draws = prior_draws(scenario, spec, args.particles, seed=1)
    keys = list(draws.columns)
    seeds = particle_seeds(np.arange(1, args.particles + 1, dtype=np.uint64), args.runs)
    warm_up()

    started = time.perf_counter()
    variants = [variant_with(scenario, keys, row) for row in draws.to_numpy()]
    building = time.perf_counter() - started
    feasible = [v for v in variants if v is not None]
    runs = len(feasible) * args.runs
    recorded = np.union1d(months_needed(patterns, scenario), targets.steps)

    stack = stack_variants([v.compiled for v in feasible])
    index = np.repeat(np.arange(len(feasible)), args.runs)
    flat = seeds[: len(feasible)].ravel()
    simulate_ensemble(stack, flat[: args.runs], variant=index[: args.runs], record=recorded)
    # the distance's own compiled kernels (shares, month means) load or compile on first use
    losses(variants[:1], patterns, seeds[:1], targets=targets, observed_weight=1.0)

    def raw_time() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, runs, RUNS_PER_CALL):  # in the calibration's chunks of runs
            part = slice(first, first + RUNS_PER_CALL)
            simulate_ensemble(
                stack, flat[part], variant=index[part], record=recorded, threads=args.threads
            )
        return time.perf_counter() - started, time.process_time() - cpu

    def inside_time() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        losses(
            variants, patterns, seeds, threads=args.threads, targets=targets, observed_weight=1.0
        )
        return time.perf_counter() - started + building, time.process_time() - cpu + building

    print(f"{len(feasible)} particles x {args.runs} runs = {runs} runs, {len(recorded)} months")
    ratios = []
    for _ in range(args.repeat):  # alternated, so that a change in the machine's load hits both
        (raw, raw_cpu), (inside, inside_cpu) = raw_time(), inside_time()
        ratios.append(raw / inside)
        print(
            f"raw ensemble:            {runs / raw:8.0f} runs/s ({raw:.2f} s, CPU {raw_cpu:.2f} s)"
        )
        print(
            f"inside the calibration:  {runs / inside:8.0f} runs/s ({inside:.2f} s, of which "
            f"{building:.2f} s building variants; CPU {inside_cpu:.2f} s)"
        )
    ratio = float(np.median(ratios))
    median = f"median of {args.repeat}: " if args.repeat > 1 else ""
    print(f"ratio: {median}{ratio:.2f} of the raw rate (target >= 0.5)")
    print(f"outside the simulation: {100 * (1 - ratio):.0f}% of the calibration's time")


if __name__ == "__main__":
    main()
