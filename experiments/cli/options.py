"""What every command shares: the parser class, the option checks, the usage error.

Each check is written once here and used as an argparse ``type=`` (so a bad value is one line,
exit status 2, before anything runs) or called by a handler for checks that need the file
system (:func:`check_out`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from model.scenario import month_index

__all__ = [
    "DEFAULT_WORKERS",
    "Parser",
    "UsageError",
    "add_out",
    "add_overrides",
    "add_workers",
    "check_out",
    "month",
    "port",
    "positive_int",
    "seed",
]

DEFAULT_WORKERS = os.cpu_count() or 1


class UsageError(Exception):
    """A bad command-line value: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and exit status 2, as for scenario errors."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """A whole number of at least 1 (``--runs``, ``--workers``, ``--samples``...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def seed(text: str) -> int:
    """A batch seed: a whole number in [0, 2^63)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 2^63)")
    return value


def port(text: str) -> int:
    """A TCP port number in [1, 65535]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [1, 65535]")
    return value


def month(text: str) -> str:
    """A month ``YYYY-MM``."""
    try:
        month_index(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a month "YYYY-MM"') from None
    return text.strip()


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable): values set after the scenario's files."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a scenario value (repeatable)",
    )


def add_workers(parser: argparse.ArgumentParser, what: str = "threads") -> None:
    """``--workers N`` (default: all cores)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=DEFAULT_WORKERS,
        help=f"{what} (default: all cores, {DEFAULT_WORKERS})",
    )


def add_out(parser: argparse.ArgumentParser) -> None:
    """``--out ROOT``: the results root under which the command makes its folder."""
    parser.add_argument(
        "--out", default="results", metavar="ROOT", help="results root (default: results)"
    )


def check_out(out: str | Path) -> Path:
    """The results root ``out``: refused in one line if it is a file or not writable."""
    out = Path(out)
    if str(out).strip() == "":
        raise UsageError("--out '': give a folder for results")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for results")
    parent = out.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: not writable; give a folder you can write to")
    return out
