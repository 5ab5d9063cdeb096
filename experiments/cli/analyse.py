"""The analysis commands on stored batches: ``plot``, ``compare``, ``discover``, ``report``.

They read batch folders and never re-run the model (:mod:`experiments.analysis`).
"""

from __future__ import annotations

from experiments.cli.options import add_out, check_out, month

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``plot``, ``compare``, ``discover`` and ``report`` to the ``multivector`` parser."""
    plot = subparsers.add_parser(
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
    plot.set_defaults(handler=plot_command)

    compare = subparsers.add_parser(
        "compare",
        help="two batches side by side: difference of medians over time with its band",
        description="Compare two stored batches of one horizon and store: B minus A, the "
        "difference of medians over runs per state and date with a 90% bootstrap band (paired "
        "when the batches share their seeds); writes a figure and a final-month table to a new "
        "folder under ROOT/compare/.",
    )
    compare.add_argument("batch_a", metavar="DIR_A", help="batch A (the reference)")
    compare.add_argument("batch_b", metavar="DIR_B", help="batch B")
    compare.add_argument("--metric", default="dependence", help="metric (default: dependence)")
    add_out(compare)
    compare.set_defaults(handler=compare_command)

    discover = subparsers.add_parser(
        "discover",
        help="scenario discovery (PRIM) over a sweep's parameters",
        description="Scenario discovery: PRIM (EMA Workbench) finds the box of swept parameter "
        "values where a per-run condition is mostly true; writes the box and the peeling "
        "trajectory to a new folder under ROOT/discover/.",
    )
    discover.add_argument("batch", metavar="DIR", help="a stored sweep batch")
    discover.add_argument(
        "--outcome",
        required=True,
        help="per-run condition over <metric>_<STATE> and share_<STATE>_<POWER>_<dimension> "
        "columns, numbers, + - * /, comparisons and and/or/not, e.g. 'dependence_KAZ > 0.5'",
    )
    discover.add_argument(
        "--date", type=month, metavar="YYYY-MM", help="month (default: the final month)"
    )
    add_out(discover)
    discover.set_defaults(handler=discover_command)

    report = subparsers.add_parser(
        "report",
        help="write report.html for a stored batch",
        description="Write report.html into a stored batch's folder: self-contained, with its "
        "figures inlined, the final-month tables, the parameters and events.",
    )
    report.add_argument("batch", metavar="DIR", help="a stored batch")
    report.set_defaults(handler=report_command)


def plot_command(args, command: list[str]) -> int:
    from experiments import analysis

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
    return 0


def compare_command(args, command: list[str]) -> int:
    from experiments import analysis

    out = check_out(args.out)
    folder, table = analysis.compare(args.batch_a, args.batch_b, metric=args.metric, out=out)
    print(f"{args.metric} in {table['date'][0]}: B - A (90% bootstrap band)")
    for row in table.itertuples():
        print(
            f"  {row.state}  A {row.median_a:.3f}  B {row.median_b:.3f}  "
            f"diff {row.difference:+.3f} [{row.low_90:+.3f}, {row.high_90:+.3f}]"
        )
    print(f"written: {folder}")
    return 0


def discover_command(args, command: list[str]) -> int:
    from experiments import analysis

    out = check_out(args.out)
    folder, result = analysis.discover(args.batch, args.outcome, date=args.date, out=out)
    print(
        f"{args.outcome}: true in {result['true_share']:.1%} of {result['runs']} runs; "
        f"PRIM box coverage {result['coverage']:.2f}, density {result['density']:.2f}"
    )
    for key, (lo, hi) in result["box"].items():
        print(f"  {lo:.3g} <= {key} <= {hi:.3g}")
    if not result["box"]:
        print("  (no restriction found)")
    print(f"written: {folder}")
    return 0


def report_command(args, command: list[str]) -> int:
    from experiments import analysis

    print(analysis.write_report(args.batch))
    return 0
