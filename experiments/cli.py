"""The ``multivector`` command line.

``multivector run SCENARIO`` runs a batch and prints where it was written; ``multivector show
SCENARIO`` prints the resolved scenario with every parameter's value and source. A user mistake
(bad file, key, value or flag) prints one line on stderr and exits with status 2; nothing is
written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from model.scenario import ScenarioError, load_scenario, parse_override

__all__ = ["main"]


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class UsageError(Exception):
    """A bad command-line value: reported in one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 2^63)")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for scenario errors
        self.exit(2, f"{self.prog}: error: {message}\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [1, 65535]")
    return value


def add_app_parser(subparsers) -> argparse.ArgumentParser:
    """The ``app`` command's parser (here, so that other commands need not import Solara)."""
    parser = subparsers.add_parser(
        "app",
        help="serve the interactive dashboard in the browser",
        description="Serve the dashboard (Solara): tweak balancing parameters, events and the "
        "seed, run one seed or a 50-seed ensemble, and save the settings as a scenario file.",
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        help="scenario file opened first (default: scenarios/baseline.toml); the picker lists "
        "the scenario files beside it",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="multivector",
        description="Multi-vector foreign policy of the Central "
        "Asian states: an agent-based model (Mesa).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run a batch (replicates, optionally a sweep) and write results and figures",
        description="Run a batch of a scenario: replicate seeds crossed with the points of "
        "a sweep, in chunks, stored as Parquet under --out. Resume an interrupted batch with "
        "--resume DIR.",
    )
    run.add_argument("scenario", nargs="?", help="scenario TOML file, e.g. scenarios/baseline.toml")
    run.add_argument(
        "--runs",
        type=_positive_int,
        help="replicates per point (default: the scenario's run.runs, 100 in the baseline)",
    )
    run.add_argument("--seed", type=_seed, help="batch seed (default: the scenario's run.seed)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a scenario value (repeatable)",
    )
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
        type=_positive_int,
        help="points of an lhs or sobol design; values per range of a grid",
    )
    run.add_argument(
        "--store",
        choices=("metrics", "annual", "monthly"),
        default="annual",
        help="kept per run: final-month metrics, yearly snapshots or every month (default: annual)",
    )
    run.add_argument(
        "--engine",
        choices=("ensemble", "mesa"),
        default="ensemble",
        help="ensemble (many runs per call, default) or the Mesa model; identical results",
    )
    run.add_argument(
        "--executor",
        choices=("serial", "threads", "processes", "dask"),
        help="where chunks run (default: threads for the ensemble engine, processes for Mesa)",
    )
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="worker threads or processes (default: all cores)",
    )
    run.add_argument("--chunk-size", type=_positive_int, help="runs per stored chunk")
    run.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask.distributed scheduler (with --executor dask)"
    )
    run.add_argument(
        "--resume", metavar="DIR", help="finish an interrupted batch (a *.incomplete folder)"
    )
    run.add_argument("--out", default="results", help="results root (default: results)")
    run.add_argument("--no-figures", action="store_true", help="write no figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    validate = sub.add_parser(
        "validate",
        help="score scenarios against the article's patterns (k of n hold)",
        description="Run each scenario for --runs seeds and check every pattern of the "
        "registry; prints the pattern table and writes validation.md and validation.parquet.",
    )
    validate.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenario files (default: scenarios/baseline.toml)",
    )
    validate.add_argument("--runs", type=_positive_int, default=100, help="seeds (default 100)")
    validate.add_argument("--seed", type=_seed, help="batch seed (default: the scenario's)")
    validate.add_argument(
        "--patterns", help="pattern registry (default: patterns.toml beside the scenario)"
    )
    validate.add_argument(
        "--workers", type=_positive_int, default=os.cpu_count() or 1, help="threads"
    )
    validate.add_argument("--out", default="results", help="results root (default: results)")

    calibrate = sub.add_parser(
        "calibrate",
        help="fit the scenario's free parameters to the patterns",
        description="Fit the parameters in the scenario's [calibration.free] table to the "
        "pattern registry by differential evolution, and write a scenario that extends it.",
    )
    calibrate.add_argument("scenario")
    calibrate.add_argument(
        "--until", metavar="YYYY-MM", help="fit only patterns ending by this month"
    )
    calibrate.add_argument(
        "--output", help="scenario file to write (default: <scenario>-calibrated.toml beside it)"
    )
    calibrate.add_argument("--name", help="the fitted scenario's name")
    calibrate.add_argument("--patterns", help="pattern registry")
    calibrate.add_argument("--maxiter", type=_positive_int, help="generations")
    calibrate.add_argument(
        "--workers", type=_positive_int, default=os.cpu_count() or 1, help="threads"
    )
    calibrate.add_argument(
        "--force", action="store_true", help="replace the output file if it exists"
    )
    calibrate.add_argument("--quiet", action="store_true", help="no progress bar")

    plot = sub.add_parser(
        "plot",
        help="figures of a stored batch (trajectories, shares, simplex, sweep)",
        description="Write figures of a stored batch into its figures/ folder (PNG and SVG).",
    )
    plot.add_argument("batch", metavar="DIR", help="a batch folder under results/")
    plot.add_argument(
        "--kind",
        action="append",
        choices=("trajectories", "shares", "simplex", "regional", "sweep"),
        help="figure kind (repeatable; default: all that the batch supports)",
    )
    plot.add_argument("--metric", default="dependence", help="metric (default: dependence)")
    plot.add_argument("--states", nargs="+", metavar="STATE", help="states (default: all)")
    plot.add_argument("--by", metavar="PARAM", help="split by a swept parameter")
    plot.add_argument("--overlay", action="store_true", help="all states on one panel")
    plot.add_argument(
        "--dimension", default="overall", help="dimension of the shares figure (default overall)"
    )

    compare = sub.add_parser(
        "compare",
        help="two batches side by side: difference of medians over time with its band",
    )
    compare.add_argument("batch_a", metavar="DIR_A")
    compare.add_argument("batch_b", metavar="DIR_B")
    compare.add_argument("--metric", default="dependence")
    compare.add_argument("--out", help="output folder (default: results/compare/A-vs-B-<stamp>)")

    discover = sub.add_parser(
        "discover",
        help="scenario discovery (PRIM) over a sweep's parameters",
    )
    discover.add_argument("batch", metavar="DIR")
    discover.add_argument(
        "--outcome",
        required=True,
        help="per-run condition, e.g. 'dependence_KAZ > 0.5' or 'share_KGZ_RUS_economic > 0.5'",
    )
    discover.add_argument("--date", metavar="YYYY-MM", help="month (default: the final month)")

    report = sub.add_parser("report", help="write report.html for a stored batch")
    report.add_argument("batch", metavar="DIR")

    from experiments.sensitivity import add_parser as add_sensitivity_parser

    add_sensitivity_parser(sub)
    add_app_parser(sub)

    show = sub.add_parser("show", help="print the resolved scenario with values and sources")
    show.add_argument("scenario")
    show.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE"
    )
    return parser


def _show(scenario) -> str:
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
        lines.append(
            f"{key:<{width}} = {leaf.value!r:<14} # {leaf.source}"
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multivector`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    from experiments.batch import BatchError, BatchInterrupted

    command = ["multivector", *(sys.argv[1:] if argv is None else argv)]
    try:
        if args.command in ("plot", "compare", "discover", "report"):
            return _analyse(args)
        if args.command == "app":
            from experiments.app import app_command

            return app_command(args)
        if args.command == "sensitivity":
            from experiments.sensitivity import command as sensitivity_command

            return sensitivity_command(args, command)
        if args.command == "validate":
            from experiments.reports import validate_command

            return validate_command(args, command)
        if args.command == "calibrate":
            from experiments.reports import calibrate_command

            return calibrate_command(args, command)
        if args.command == "run" and args.resume:
            result = _resume(args, command)
        else:
            if args.scenario is None:
                raise UsageError("give a scenario file, or --resume DIR")
            overrides = dict(parse_override(text) for text in getattr(args, "overrides", []))
            scenario = load_scenario(args.scenario, overrides)
            if args.command == "show":
                try:
                    print(_show(scenario), flush=True)
                except BrokenPipeError:  # e.g. `multivector show ... | head`
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 0
            result = _run(args, scenario, overrides, command)
    except (ScenarioError, UsageError, BatchError) as error:
        print(f"multivector: error: {error}", file=sys.stderr)
        return 2
    except BatchInterrupted as stop:
        print(f"multivector: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("multivector: interrupted; no results folder was written", file=sys.stderr)
        return 130
    print(
        f"{result.runs} runs in {result.seconds:.1f} s (simulated and stored in "
        f"{result.simulation_seconds:.2f} s: {result.runs_per_second:,.0f} runs/s); "
        f"results: {result.path}"
    )
    if result.figures is not None:
        print(f"figures: {result.figures}")
    return 0


def _analyse(args) -> int:
    from experiments import analysis

    if args.command == "plot":
        for path in analysis.plot(
            args.batch,
            kinds=args.kind or ("auto",),
            metric=args.metric,
            states=args.states,
            by=args.by,
            overlay=args.overlay,
            dimension=args.dimension,
        ):
            print(path)
    elif args.command == "compare":
        folder, table = analysis.compare(
            args.batch_a, args.batch_b, metric=args.metric, out=args.out
        )
        print(f"{args.metric} in {table['date'][0]}: B - A (90% bootstrap band)")
        for row in table.itertuples():
            print(
                f"  {row.state}  A {row.median_a:.3f}  B {row.median_b:.3f}  "
                f"diff {row.difference:+.3f} [{row.low_90:+.3f}, {row.high_90:+.3f}]"
            )
        print(f"written: {folder}")
    elif args.command == "discover":
        folder, result = analysis.discover(args.batch, args.outcome, date=args.date)
        print(
            f"{args.outcome}: true in {result['true_share']:.1%} of {result['runs']} runs; "
            f"PRIM box coverage {result['coverage']:.2f}, density {result['density']:.2f}"
        )
        for key, (lo, hi) in result["box"].items():
            print(f"  {lo:.3g} <= {key} <= {hi:.3g}")
        if not result["box"]:
            print("  (no restriction found)")
        print(f"written: {folder}")
    else:
        print(analysis.write_report(args.batch))
    return 0


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for results")
    if not os.access(out if out.exists() else _existing_parent(out), os.W_OK):
        raise UsageError(f"--out {out}: not writable; give a folder you can write to")


def _run(args, scenario, overrides, command):
    from experiments.batch import run_batch
    from experiments.design import parse_sweep_option, sweep_of

    sweep = sweep_of(
        scenario,
        [parse_sweep_option(text) for text in args.sweeps],
        design=args.design,
        samples=args.samples,
    )
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler: only with --executor dask")
    out = Path(args.out)
    _check_out(out)
    return run_batch(
        scenario,
        runs=args.runs,
        seed=args.seed,
        sweep=sweep,
        store=args.store,
        engine=args.engine,
        executor=args.executor,
        workers=args.workers,
        chunk_size=args.chunk_size,
        scheduler=args.scheduler,
        out=out,
        overrides=overrides,
        command=command,
        progress=not args.quiet,
        figures=not args.no_figures,
    )


def _resume(args, command):
    from experiments.batch import resume_batch

    clashing = [
        flag
        for flag, given in (
            ("SCENARIO", args.scenario),
            ("--runs", args.runs),
            ("--seed", args.seed),
            ("--set", args.overrides),
            ("--sweep", args.sweeps),
            ("--design", args.design),
            ("--samples", args.samples),
            ("--chunk-size", args.chunk_size),
        )
        if given
    ]
    if clashing:
        raise UsageError(
            f"--resume {args.resume}: the batch's plan is fixed; drop {', '.join(clashing)}"
        )
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler: only with --executor dask")
    return resume_batch(
        args.resume,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        figures=not args.no_figures,
        command=command,
    )


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


if __name__ == "__main__":
    raise SystemExit(main())
