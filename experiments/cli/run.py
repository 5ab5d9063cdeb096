"""``multivector run`` (a batch, or ``--resume`` of one) and ``multivector show`` (a scenario)."""

from __future__ import annotations

import os
import sys

from experiments.cli.options import (
    UsageError,
    add_overrides,
    add_workers,
    check_out,
    load_checked,
    positive_int,
    runs,
    seed,
)
from model.parameters import PARAMETERS, lookup
from model.scenario import parse_override

__all__ = ["FIGURE_RUNS", "parameter_table_text", "register", "show_text"]

FIGURE_RUNS = 5_000
"""``run`` draws the figures and the report of batches up to this many runs."""

COMPILE_SECONDS = 25
"""About how long the one-time compile of the ensemble engine takes on 2 cores (measured)."""


def register(subparsers) -> None:
    """Add ``run`` and ``show`` to the ``multivector`` parser."""
    run = subparsers.add_parser(
        "run",
        help="run a batch (replicates, optionally a sweep) and write results and figures",
        description="Run a batch of a scenario: replicate seeds crossed with the points of "
        "a sweep, or each replicate with parameters drawn from a posterior (--posterior), in "
        "chunks, stored as Parquet under --out. Resume an interrupted batch with --resume DIR.",
    )
    run.add_argument("scenario", nargs="?", help="scenario TOML file, e.g. scenarios/baseline.toml")
    run.add_argument(
        "--runs",
        type=runs,
        help="replicates per point (default: the scenario's run.runs, 100 in the baseline)",
    )
    run.add_argument("--seed", type=seed, help="batch seed (default: the scenario's run.seed)")
    add_overrides(run)
    run.add_argument(
        "--sweep",
        dest="sweeps",
        action="append",
        default=[],
        metavar="KEY=LO:HI|KEY=V1,V2,...",
        help="sweep a key path over a range or listed values (repeatable; adds to [sweep])",
    )
    run.add_argument(
        "--design", choices=("grid", "lhs", "sobol"), help="sweep design (default: grid)"
    )
    run.add_argument(
        "--samples",
        type=positive_int,
        help="points of an lhs or sobol design; values per range of a grid",
    )
    run.add_argument(
        "--posterior",
        metavar="FILE",
        help="draw each run's parameters from a posterior: a Parquet file with one row per "
        "particle, a column per key path and a 'weight' column (not with a sweep)",
    )
    run.add_argument(
        "--store",
        choices=("metrics", "annual", "monthly"),
        help="kept per run: final-month metrics, yearly snapshots or every month (default: annual)",
    )
    run.add_argument(
        "--engine",
        choices=("ensemble", "mesa"),
        help="ensemble (many runs per call, default) or the Mesa model; identical results",
    )
    run.add_argument(
        "--executor",
        choices=("serial", "threads", "processes", "dask"),
        help="where chunks run (default: threads for the ensemble engine, processes for Mesa)",
    )
    add_workers(run, "worker threads or processes")
    run.add_argument("--chunk-size", type=positive_int, help="runs per stored chunk")
    run.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask.distributed scheduler (with --executor dask)"
    )
    run.add_argument(
        "--resume", metavar="DIR", help="finish an interrupted batch (a *.incomplete folder)"
    )
    run.add_argument(
        "--out", metavar="ROOT", help="results root (default: results; not with --resume)"
    )
    run.add_argument("--no-figures", action="store_true", help="write no figures or report")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=run_command)

    show = subparsers.add_parser(
        "show",
        help="print the resolved scenario with values and sources",
        description="Print every resolved parameter of a scenario with its value, source and "
        "the file that set it, then its events.",
    )
    show.add_argument("scenario", nargs="?", help="scenario TOML file")
    show.add_argument(
        "--parameters",
        action="store_true",
        help="print the parameter table instead: every key path with its kind, range, default, "
        "unit and meaning",
    )
    add_overrides(show)
    show.set_defaults(handler=show_command)


def run_command(args, command: list[str]) -> int:
    """Run (or resume) a batch, then draw its figures and report; print where it went."""
    result = _resume(args, command) if args.resume else _run(args, command)
    print(
        f"{result.runs} runs in {result.seconds:.1f} s (simulated and stored in "
        f"{result.simulation_seconds:.2f} s: {result.runs_per_second:,.0f} runs/s); "
        f"results: {result.path}"
    )
    if not args.no_figures:
        _draw(result)
    return 0


def _draw(result) -> None:
    """Figures (up to :data:`FIGURE_RUNS` runs of a store with trajectories) and the report."""
    from experiments.analysis import plot, write_report

    total = _total_runs(result.path)
    if result.store == "metrics":
        print(
            "multivector: no figures drawn: a metrics store keeps each run's final month only, "
            "so there are no trajectories; the final month's distribution: multivector plot "
            f"{result.path} --kind distribution",
            file=sys.stderr,
        )
    elif total <= FIGURE_RUNS:
        plot(result.path)
        print(f"figures: {result.path / 'figures'}")
    else:
        print(
            f"multivector: no figures drawn for {total:,} runs (more than {FIGURE_RUNS:,}); "
            f"draw them with: multivector plot {result.path}",
            file=sys.stderr,
        )
    write_report(result.path)


def _total_runs(path) -> int:
    from experiments.store import read_manifest

    return int(read_manifest(path)["batch"]["total_runs"])


def _run(args, command):
    from experiments.batch import run_batch
    from experiments.design import parse_sweep_option, sweep_of

    if args.scenario is None:
        raise UsageError("give a scenario file, or --resume DIR")
    overrides = dict(parse_override(text) for text in args.overrides)
    scenario = load_checked(args.scenario, overrides)
    sweep = sweep_of(
        scenario,
        [parse_sweep_option(text) for text in args.sweeps],
        design=args.design,
        samples=args.samples,
    )
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler: only with --executor dask")
    posterior = None
    if args.posterior is not None:
        posterior = _posterior(args.posterior, scenario, sweep, overrides)
    if (args.engine or "ensemble") == "ensemble":
        _announce_compile()
    return run_batch(
        scenario,
        runs=args.runs,
        seed=args.seed,
        sweep=sweep,
        store=args.store or "annual",
        engine=args.engine or "ensemble",
        executor=args.executor,
        workers=args.workers,
        chunk_size=args.chunk_size,
        scheduler=args.scheduler,
        out=check_out("results" if args.out is None else args.out),
        overrides=overrides,
        command=command,
        progress=not args.quiet,
        posterior=posterior,
    )


def _announce_compile() -> None:
    """Say, before the first ensemble batch on this machine, what the one-time compile costs."""
    from model.ensemble import compiled_already

    if not compiled_already():
        print(
            f"multivector: first ensemble batch on this machine: its engine is compiled once "
            f"(about {COMPILE_SECONDS} s on 2 cores) and cached for every later batch",
            file=sys.stderr,
        )


def _posterior(file, scenario, sweep, overrides):
    """The checked posterior of ``--posterior FILE``; refused with a sweep or a ``--set`` of
    one of its parameters."""
    from experiments.posterior import load_posterior

    if sweep is not None:
        where = "--sweep" if sweep.file == "--sweep" else f"the [sweep] of {sweep.file}"
        raise UsageError(
            f"--posterior {file}: not with a sweep ({where}); a posterior batch draws each "
            "run's parameters from the particles, a sweep sets them at points"
        )
    posterior = load_posterior(file, scenario)
    clashing = [key for key in posterior.keys if key in overrides]
    if clashing:
        raise UsageError(
            f"--set {clashing[0]}: the posterior {file} sets it for every run; drop one of them"
        )
    return posterior


def _resume(args, command):
    from experiments.batch import resume_batch

    # a value given on the command line, however falsy (--seed 0), clashes with the fixed plan
    clashing = [
        flag
        for flag, given in (
            ("SCENARIO", args.scenario is not None),
            ("--runs", args.runs is not None),
            ("--seed", args.seed is not None),
            ("--set", bool(args.overrides)),
            ("--sweep", bool(args.sweeps)),
            ("--design", args.design is not None),
            ("--samples", args.samples is not None),
            ("--posterior", args.posterior is not None),
            ("--chunk-size", args.chunk_size is not None),
            ("--store", args.store is not None),
            ("--engine", args.engine is not None),
            ("--out", args.out is not None),
        )
        if given
    ]
    if clashing:
        raise UsageError(
            f"--resume {args.resume}: the batch's plan is fixed (its manifest has the scenario, "
            f"seeds{' and posterior' if args.posterior is not None else ''}); "
            f"drop {', '.join(clashing)}"
        )
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler: only with --executor dask")
    return resume_batch(
        args.resume,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        command=command,
    )


def show_command(args, command: list[str]) -> int:
    """Print the resolved scenario (or the parameter table); survives ``| head``."""
    if args.parameters:
        text = parameter_table_text()
    elif args.scenario is None:
        raise UsageError("give a scenario file, or --parameters")
    else:
        overrides = dict(parse_override(text) for text in args.overrides)
        text = show_text(load_checked(args.scenario, overrides))
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `multivector show ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def parameter_table_text() -> str:
    """The parameter table (:mod:`model.parameters`), one parameter per line."""
    lines = ["# key path | kind | allowed | default | unit | dated | meaning"]
    for p in PARAMETERS:
        allowed = p.allowed() + (f" of {p.choices}" if p.choices else "")
        default = "required" if p.required else p.default
        if p.default is None:
            default = "the scenario name" if p.key == "scenario.title" else "the id"
        lines.append(
            f"{p.key} | {p.kind} | {allowed} | {default!s} | {p.unit} | "
            f"{'yes' if p.dated else 'no'} | {p.doc}"
        )
    return "\n".join(lines)


def show_text(scenario) -> str:
    """The resolved scenario as text: header, every parameter with its source, the events."""
    lines = [
        f"# {scenario.title}",
        f"# file: {scenario.file}   hash: {scenario.hash}",
        f"# horizon: {scenario.dates[0].astype(str)} to {scenario.dates[-1].astype(str)} "
        f"({scenario.n_steps} monthly steps); runs {scenario.runs}, seed {scenario.seed}",
        f"# states: {', '.join(f'{s.id} ({s.name})' for s in scenario.states)}",
        f"# powers: {', '.join(f'{p.id} ({p.name})' for p in scenario.powers)}",
        f"# dimensions: {', '.join(scenario.dimension_ids)}",
        "",
    ]
    width = max(len(k) for k in scenario.parameters)
    for key, leaf in scenario.parameters.items():
        if key.startswith("events."):
            continue
        parameter = lookup(key)
        unit = f"  ({parameter.unit})" if parameter is not None and parameter.unit != "-" else ""
        lines.append(
            f"{key:<{width}} = {leaf.value!r:<14} # {leaf.source}{unit}"
            + ("" if leaf.file == scenario.file else f"  [{leaf.file}]")
        )
    lines.append("")
    lines.append(
        f"# events ({sum(e.enabled for e in scenario.events)} enabled of {len(scenario.events)})"
    )
    for event in scenario.events:
        flag = "" if event.enabled else "  (disabled)"
        lines.append(f"{event.date}  {event.id}: {event.title}{flag}  # {event.source}")
        for change in event.changes:
            lines.append(f"           {change.key} {change.op} {change.value!r}")
    return "\n".join(lines)
