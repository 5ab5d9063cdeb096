"""The analysis commands on stored batches: ``plot``, ``compare``, ``discover``, ``report``.

They read batch folders and never re-run the model (:mod:`experiments.analysis`).
"""

from __future__ import annotations

import argparse

from experiments.cli.options import add_out, check_out, month
from experiments.figures import DEFAULT_FORMATS, FIGURE_KINDS, FORMATS, SIZES

__all__ = ["add_look", "look_of", "register"]


def _metric_names() -> str:
    from model.metrics import METRICS

    return ", ".join(m.name for m in METRICS if not m.categorical)


def add_look(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--size`` and ``--no-title``: how figures are drawn and saved."""
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        help=f"file format of the figures (repeatable; default: {' and '.join(DEFAULT_FORMATS)}); "
        "SVG text stays editable, PDF fonts are embedded",
    )
    parser.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="double",
        help="figure width: a journal's single column (3.5 in, 7 pt text) or double column "
        "(7.2 in, 8 pt; the default), both at 300 dpi, or a 16:9 slide",
    )
    parser.add_argument(
        "--no-title",
        action="store_true",
        help="draw no title above the figure (a paper's caption says it)",
    )


def look_of(args):
    """The :class:`experiments.figures.Look` of ``--format``, ``--size`` and ``--no-title``."""
    from experiments.figures import Look

    formats = tuple(dict.fromkeys(args.formats)) if args.formats else DEFAULT_FORMATS
    return Look(size=args.size, title=not args.no_title, formats=formats)


def add_metric(parser: argparse.ArgumentParser) -> None:
    """``--metric NAME``, with the metrics of the registry listed in its help."""
    parser.add_argument(
        "--metric",
        default="dependence",
        help=f"the metric to draw (default: dependence); one of {_metric_names()}, or a "
        "pole_<pole> or relative_<a>_<b> column",
    )


def register(subparsers) -> None:
    """Add ``plot``, ``compare``, ``discover`` and ``report`` to the ``multivector`` parser."""
    plot = subparsers.add_parser(
        "plot",
        help="draw figures of a stored batch (trajectories, shares, simplex, sweep)",
        description="Draw figures of a stored batch into its figures/ folder: "
        + "; ".join(f"{kind}: {what}" for kind, what in FIGURE_KINDS.items())
        + ".",
    )
    plot.add_argument("batch", metavar="DIR", help="a batch folder under results/")
    plot.add_argument(
        "--kind",
        action="append",
        choices=tuple(FIGURE_KINDS),
        help="figure kind (repeatable; default: all that the batch supports)",
    )
    add_metric(plot)
    plot.add_argument("--states", nargs="+", metavar="STATE", help="states (default: all)")
    plot.add_argument("--by", metavar="PARAM", help="split by a swept parameter (its key path)")
    plot.add_argument("--overlay", action="store_true", help="draw all states on one panel")
    plot.add_argument(
        "--dimension",
        default="overall",
        help="dimension of the shares figure (default: overall, the weighted sum)",
    )
    plot.add_argument(
        "--events",
        nargs="+",
        default=[],
        metavar="ID",
        help="mark these events (ids, as `multivector show` lists them) on figures over time",
    )
    add_look(plot)
    plot.set_defaults(handler=plot_command)

    compare = subparsers.add_parser(
        "compare",
        help="compare batches: their trajectories overlaid, and each minus the first",
        description="Compare two or more stored batches of one horizon and store. The first "
        "is the reference A. Draws each batch's median and 90% band over runs on one figure, "
        "and each other batch's difference of medians from A per state and date with a 90% "
        "bootstrap band (paired when the batches share their seeds); writes both figures, the "
        "difference at every month (CSV, Parquet) and the final month (Markdown) to a new "
        "folder under ROOT/compare/.",
    )
    compare.add_argument(
        "batches", nargs="+", metavar="DIR", help="batch folders: A (the reference), B, C ..."
    )
    add_metric(compare)
    add_out(compare)
    add_look(compare)
    compare.set_defaults(handler=compare_command)

    discover = subparsers.add_parser(
        "discover",
        help="find the swept parameter values where a condition holds (PRIM)",
        description="Find the box of swept parameter values where a per-run condition is "
        "mostly true: scenario discovery with PRIM (EMA Workbench). Writes the box and the "
        "peeling trajectory to a new folder under ROOT/discover/, never inside the batch.",
    )
    discover.add_argument("batch", metavar="DIR", help="a stored sweep batch")
    discover.add_argument(
        "--outcome",
        required=True,
        help="per-run condition over <metric>_<STATE> and share_<STATE>_<POWER>_<dimension> "
        "columns and swept key paths in backticks, numbers, + - * /, comparisons and "
        "and/or/not, e.g. 'dependence_KAZ > 0.5'",
    )
    discover.add_argument(
        "--date", type=month, metavar="YYYY-MM", help="month (default: the final month)"
    )
    add_out(discover)
    discover.set_defaults(handler=discover_command)

    report = subparsers.add_parser(
        "report",
        help="write report.html for a stored batch",
        description="Write report.html into a stored batch's folder: one self-contained page "
        "with the headline figure first and a caption under each, the final-month tables (per "
        "sweep point for a sweep), the validation scores when a validation exists, the "
        "parameters and the events.",
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
        events=args.events,
        look=look_of(args),
    ):
        print(path)
    return 0


def compare_command(args, command: list[str]) -> int:
    from experiments import analysis
    from experiments.cli.options import UsageError

    if len(args.batches) < 2:
        raise UsageError("compare: give two batches or more (the first is the reference)")
    out = check_out(args.out)
    folder, table = analysis.compare(*args.batches, metric=args.metric, out=out, look=look_of(args))
    final = table[table["date"] == table["date"].max()]
    when = final["date"].iloc[0]
    print(f"{args.metric} in {when}: B - A (90% bootstrap band), A = {args.batches[0]}")
    for batch, rows in final.groupby("batch", sort=False):
        print(f"B = {batch}")
        for row in rows.itertuples():
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
