"""Parameter recovery: does the ABC-SMC calibration find parameters it is given? (issue 14)

For each of ``--truths`` parameter vectors drawn from the calibration's prior (the
``[calibration.free]`` ranges of the scenario, flat):

1. simulate the truth (``--truth-runs`` runs): its values of the fit-window observations
   (:meth:`experiments.observed.ObservationTargets.simulated`) replace the observed ones, and
   the scored patterns it meets (in at least 80% of its runs) are its patterns; those it
   fails are dropped, so the synthetic data are ones the truth is consistent with;
2. calibrate against these synthetic data with the same distance, priors and sampler as
   ``multivector calibrate`` (:func:`experiments.calibration.calibrate_posterior`), with the
   settings given here;
3. record each parameter's posterior median and 90% credible interval, and whether the
   interval covers the truth.

It prints, last, the line docs/calibration.md quotes:
``recovery: 90% intervals cover the truth in C% of K synthetic fits`` (C over all K x k
parameter intervals), writes ``recovery.parquet`` (one row per truth and parameter) and
``recovery.png`` (posterior median and 90% interval against the truth, one panel per
parameter: a parameter the data identify lies on the diagonal; one they do not spans its
prior range whatever the truth) to ``results/recovery/<stamp>/``.

Usage::

    .venv/bin/python tools/recovery.py scenarios/baseline-prior.toml --truths 20 \\
        --particles 100 --generations 4 --moves 3 --runs 4 --workers 2

Each fit runs with the sampler settings given here (smaller than the committed calibration's,
so that 20 fits take minutes, not hours); the note in docs/calibration.md says which.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.batch import replicate_seeds  # noqa: E402
from experiments.calibration import (  # noqa: E402
    calibrate_posterior,
    calibration_spec,
    fit_targets,
    patterns_for,
    prior_draws,
    synthetic_data,
    variant_with,
)
from experiments.figures import OKABE_ITO, STYLE, save_figure  # noqa: E402
from experiments.posterior_report import short_key  # noqa: E402
from experiments.store import NewFolder, stamp  # noqa: E402
from model.scenario import load_scenario  # noqa: E402


def recovery_figure(table: pd.DataFrame, spec):
    import matplotlib
    from matplotlib.figure import Figure

    free = spec.free
    columns = 4
    rows = -(-len(free) // columns)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 1.75 * rows + 0.4), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax, p in zip(axes.flat, free, strict=False):
            part = table[table["parameter"] == p.key]
            covered = part["covered"].to_numpy()
            for flag, colour in ((True, OKABE_ITO[0]), (False, OKABE_ITO[1])):
                sub = part[covered == flag]
                ax.errorbar(
                    sub["truth"],
                    sub["median"],
                    yerr=[sub["median"] - sub["ci05"], sub["ci95"] - sub["median"]],
                    fmt="o",
                    ms=2.5,
                    lw=0.8,
                    color=colour,
                )
            ax.plot([p.low, p.high], [p.low, p.high], color="0.6", lw=0.8, ls="--")
            ax.set_xlim(p.low, p.high)
            ax.set_ylim(p.low, p.high)
            ax.set_title(short_key(p.key), fontsize=7)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(free) :]:
            ax.set_visible(False)
        fig.supxlabel("truth", fontsize=8)
        fig.supylabel("posterior median and 90% interval", fontsize=8)
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--truths", type=int, default=20)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--moves", type=int, default=3)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--truth-runs", type=int, default=16)
    parser.add_argument(
        "--floor-sample", type=int, default=None, help="default: the scenario's [calibration]"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    spec = replace(
        calibration_spec(scenario),
        particles=args.particles,
        generations=args.generations,
        moves=args.moves,
        runs=args.runs,
    )
    if args.floor_sample is not None:
        spec = replace(spec, floor_sample=args.floor_sample)
    patterns, _ = patterns_for(scenario)
    truths = prior_draws(scenario, spec, args.truths, args.seed)
    targets = fit_targets(scenario, spec)  # the observed fit-window targets, read once
    rows = []
    started = time.perf_counter()
    for n, (_, truth) in enumerate(truths.iterrows()):
        data_seed = 10_000 + n
        variant = variant_with(scenario, list(truth.index), truth.to_numpy())
        if variant is None:  # an event pushes a value out of its range: no data to recover
            raise SystemExit(
                f"recovery: truth {n} ({truth.to_dict()}) is rejected by {args.scenario}"
            )
        seeds = replicate_seeds(data_seed, args.truth_runs)
        synthetic, kept = synthetic_data(variant, patterns, targets, seeds, args.workers)
        fit = calibrate_posterior(
            scenario,
            patterns=kept or [p for p in patterns if p.scored][:1],
            spec=replace(spec, seed=args.seed * 1000 + n),
            threads=args.workers,
            progress=False,
            targets=synthetic,
        )
        q = fit.posterior.quantiles([0.05, 0.5, 0.95])
        for p in spec.free:
            lo, med, hi = (float(q[p.key].iloc[i]) for i in range(3))
            value = float(truth[p.key])
            rows.append(
                {
                    "truth_id": n,
                    "parameter": p.key,
                    "truth": value,
                    "median": med,
                    "ci05": lo,
                    "ci95": hi,
                    "covered": lo <= value <= hi,
                    "ci_share_of_prior": (hi - lo) / (p.high - p.low),
                    "patterns_kept": len(kept),
                    "final_epsilon": fit.posterior.generations[-1].epsilon,
                    "generations_run": len(fit.posterior.generations) - 1,
                }
            )
        done = pd.DataFrame(rows)
        print(
            f"truth {n + 1}/{args.truths}: {len(kept)} patterns met; covered "
            f"{int(done[done['truth_id'] == n]['covered'].sum())} of {len(spec.free)}; "
            f"{len(fit.posterior.generations) - 1} generations; "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    table = pd.DataFrame(rows)
    by_parameter = table.groupby("parameter", sort=False).agg(
        coverage=("covered", "mean"),
        ci_share_of_prior=("ci_share_of_prior", "mean"),
        correlation=("truth", lambda s: np.corrcoef(s, table.loc[s.index, "median"])[0, 1]),
    )
    settings = (
        f"{args.particles} particles, {args.generations} generations, {args.moves} moves, "
        f"{args.runs} runs per particle, noise floor from {spec.floor_sample} particles; truths "
        f"from seed {args.seed}"
    )
    with NewFolder(Path("results") / "recovery", f"recovery-{stamp()}") as folder:
        table.to_parquet(folder.path / "recovery.parquet", index=False)
        by_parameter.to_parquet(folder.path / "by-parameter.parquet")
        save_figure(recovery_figure(table, spec), folder.path, "recovery")
        (folder.path / "settings.txt").write_text(settings + "\n")
    print(by_parameter.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"settings: {settings}; {time.perf_counter() - started:.0f} s")
    print(f"written: {folder.path}")
    coverage = 100 * table["covered"].mean()
    fits = args.truths
    print(f"recovery: 90% intervals cover the truth in {coverage:.0f}% of {fits} synthetic fits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
