"""``multivector sensitivity``: Sobol' or Morris indices of an outcome (SALib)."""

from __future__ import annotations

import json
import shlex
import sys
import time

from experiments.cli.options import add_out, add_workers, check_out, positive_int, runs, seed

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``sensitivity`` to the ``multivector`` parser."""
    from experiments.sensitivity import DEFAULT_RUNS, METHODS

    parser = subparsers.add_parser(
        "sensitivity",
        help="Sobol' or Morris sensitivity of an outcome to parameter ranges (SALib)",
        description="Global sensitivity analysis: a SALib design over --params ranges, each "
        "point run with --runs replicate seeds (the same at every point), the outcome averaged "
        "over the seeds; reports first-order and total Sobol' indices (or Morris mu*, sigma) "
        "with bootstrap confidence intervals and the seed-variance share, and writes a table "
        "and a bar chart under --out.",
    )
    parser.add_argument("scenario", help="scenario TOML file, e.g. scenarios/baseline.toml")
    parser.add_argument(
        "--method", choices=METHODS, default="sobol", help="sobol (default) or morris"
    )
    parser.add_argument(
        "--params",
        action="extend",
        nargs="+",
        required=True,
        metavar="KEY=LO:HI",
        help="parameter key paths and their ranges, e.g. states.KAZ.balancing_propensity=0.5:3",
    )
    parser.add_argument(
        "--outcome",
        required=True,
        metavar="METRIC:STATE[:YYYY-MM]",
        help="the analysed outcome, e.g. dependence:KAZ (final month) or pole_China:KAZ:2015-12",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        help="Sobol' base samples N, a power of two (default 256; N (k+2) points), or Morris "
        "trajectories (default 20; N (k+1) points)",
    )
    parser.add_argument(
        "--runs",
        type=runs,
        default=DEFAULT_RUNS,
        help=f"replicate seeds per design point (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--seed", type=seed, help="seed of the seeds, design and bootstrap (default: run.seed)"
    )
    add_out(parser)
    add_workers(parser, "threads of the ensemble engine")
    parser.set_defaults(handler=sensitivity_command)


def sensitivity_command(args, argv: list[str]) -> int:
    """Run ``multivector sensitivity``.

    ``argv`` is the command line as typed (recorded in ``indices.md`` and ``manifest.json``).
    Every mistake (file, key, range, outcome, samples, ``--out``) is found before any run.
    """
    import numpy as np
    import pandas as pd

    from experiments import sensitivity as sa
    from experiments.batch import replicate_seeds
    from experiments.store import NewFolder, stamp, versions
    from model.scenario import ScenarioError, load_scenario

    scenario = load_scenario(args.scenario)
    parameters = sa.parse_parameters(scenario, args.params)
    outcome = sa.parse_outcome(scenario, args.outcome)
    method = args.method
    samples = sa.DEFAULT_SAMPLES[method] if args.samples is None else args.samples
    if method == "sobol" and (samples < 2 or samples & (samples - 1)):
        raise ScenarioError(
            "--samples", "samples", samples, "a power of two for Sobol' (e.g. 128, 256, 1024)"
        )
    if method == "morris" and samples < 2:
        raise ScenarioError("--samples", "samples", samples, "at least 2 Morris trajectories")
    out = check_out(args.out)
    batch_seed = scenario.seed if args.seed is None else args.seed
    seeds = replicate_seeds(batch_seed, args.runs)
    problem = sa.problem_of(parameters)

    clock = time.perf_counter()
    X = sa.sample(problem, method=method, samples=samples, seed=batch_seed)
    model = sa.model_outcome(
        scenario, parameters, outcome, threads=args.workers, progress=sys.stderr.isatty()
    )
    Y = model(X, seeds)
    simulated = time.perf_counter() - clock
    table = sa.analyse(problem, X, Y, method=method, samples=samples, seed=batch_seed)
    seconds = time.perf_counter() - clock
    attrs = dict(table.attrs)

    name = sa.SOBOL_NAME if method == "sobol" else "Morris"
    label = outcome.label(scenario)
    design = (
        f"{samples} base samples x ({len(parameters)} + 2)"
        if method == "sobol"
        else f"{samples} trajectories x ({len(parameters)} + 1)"
    )
    runs_line = (
        f"{design} = {attrs['points']:,} points x {attrs['seeds']} seeds = "
        f"{attrs['model_runs']:,} runs in {seconds:.1f} s"
    )
    print(f"{name} indices of {label} in {scenario.name} ({scenario.file}): {runs_line}")
    print(sa.text_table(table))
    print("  " + sa.noise_sentence(attrs))

    with NewFolder(out / scenario.name, f"sensitivity-{stamp()}-{scenario.hash[:8]}") as folder:
        frame = table.reset_index()
        frame.attrs = {}
        frame.to_parquet(folder.path / "indices.parquet", index=False)
        outcomes = pd.DataFrame(X, columns=problem["names"]).rename_axis("point").reset_index()
        outcomes = outcomes.loc[outcomes.index.repeat(len(seeds))].reset_index(drop=True)
        outcomes.insert(1, "replicate", np.tile(np.arange(len(seeds)), attrs["points"]))
        outcomes.insert(2, "seed", np.tile(seeds, attrs["points"]))
        outcomes[outcome.metric] = np.asarray(Y, dtype=float).ravel()
        outcomes.to_parquet(folder.path / "outcomes.parquet", index=False)
        shown = shlex.join(argv)
        (folder.path / "indices.md").write_text(
            sa.report_markdown(scenario, table, outcome, parameters, runs_line, shown)
        )
        manifest = {
            "scenario": {"name": scenario.name, "file": str(scenario.file), "hash": scenario.hash},
            "method": method,
            "outcome": outcome.text,
            "parameters": {p.key: [p.low, p.high] for p in parameters},
            "batch_seed": int(batch_seed),
            "seeds": [int(s) for s in seeds],
            "analysis": attrs,
            "seconds": {"simulation": simulated, "total": seconds},
            "versions": versions(),
            "command": list(argv),
        }
        (folder.path / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        subtitle = (
            f"{scenario.title}, scenario {scenario.name}\n"
            f"{attrs['model_runs']:,} runs: {design} points x {attrs['seeds']} seeds; "
            f"seed-variance share {attrs['seed_variance_share']:.1%}"
        )
        figure = sa.sensitivity_figure(table, title=f"{name} indices of {label}", subtitle=subtitle)
        figure.savefig(folder.path / "sensitivity.png", dpi=200)
        figure.savefig(folder.path / "sensitivity.svg")
    print(f"results: {folder.path}")
    return 0
