"""``multivector list``: the batches under a results folder, one line each."""

from __future__ import annotations

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``list`` to the ``multivector`` parser."""
    listing = subparsers.add_parser(
        "list",
        help="list the batches under a results folder, one line each",
        description="List the batches under a results folder (default: results), oldest "
        "first, one line each: name, scenario, runs, sweep points, seed, store, status "
        "(complete or incomplete), when it was created (UTC) and its size on disk. Report "
        "folders (validation, calibration, sensitivity, compare, discover) are left out.",
    )
    listing.add_argument(
        "folder",
        nargs="?",
        default="results",
        metavar="FOLDER",
        help="a results root, a scenario's folder in it, or a batch (default: results)",
    )
    listing.set_defaults(handler=list_command)


def list_command(args, command: list[str]) -> int:
    from experiments.listing import batches, listing_text

    table = batches(args.folder)
    if table.empty:
        print(f"no batches under {args.folder}")
        return 0
    print(listing_text(table))
    return 0
