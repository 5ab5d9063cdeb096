"""``multivector export``: a batch's summary or runs as CSV, Parquet or NetCDF files."""

from __future__ import annotations

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``export`` to the ``multivector`` parser."""
    from experiments.export import EXPORT_FORMATS, WHAT

    export = subparsers.add_parser(
        "export",
        help="export a batch's summary over runs, or its runs, as CSV, Parquet or NetCDF",
        description="Export a stored batch as files for other tools. The summary has one row "
        "per date, state and metric (and sweep point): the runs, their mean, median and 5th, "
        "25th, 75th and 95th percentiles; the runs are the batch's own tables. NetCDF files "
        "have named dimensions (date, state, metric, point or run).",
    )
    export.add_argument("batch", metavar="BATCH", help="a stored batch folder")
    export.add_argument(
        "--what", choices=WHAT, default="summary", help="what to export (default: summary)"
    )
    export.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="csv",
        help="file format (default: csv); netcdf is NetCDF-3, written by xarray",
    )
    export.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        help="the folder to write into (default: the current folder); files are named "
        "<batch>-<what>[-<table>].<format>",
    )
    export.set_defaults(handler=export_command)


def export_command(args, command: list[str]) -> int:
    from experiments.cli.options import check_out
    from experiments.export import export

    for path in export(args.batch, what=args.what, fmt=args.format, out=check_out(args.out)):
        print(path)
    return 0
