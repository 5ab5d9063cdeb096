"""What every command shares: the parser class, the option checks, the usage error.

Each check is written once here and used as an argparse ``type=`` (so a bad value is one line,
exit status 2, before anything runs) or called by a handler for checks that need the file
system (:func:`check_out`).
"""

from __future__ import annotations

import argparse
import os
import stat
import tomllib
from pathlib import Path

from model.files import (
    MAX_PATH_BYTES,
    UnreadableFile,
    check_path_text,
    describe_os_error,
    gibibytes,
    read_data,
)
from model.parameters import lookup
from model.scenario import Scenario, load_scenario, month_index

__all__ = [
    "DEFAULT_WORKERS",
    "Parser",
    "UsageError",
    "add_out",
    "add_overrides",
    "add_workers",
    "check_out",
    "check_toml_file",
    "load_checked",
    "month",
    "port",
    "positive_int",
    "runs",
    "seed",
]

DEFAULT_WORKERS = os.cpu_count() or 1
MAX_WORKERS = 1024
RESULTS_PATH_BYTES = 400
"""Bytes a results folder's own path takes below ``--out`` at most: the scenario's name (100),
the folder's stamp and hash, a table and a part's temporary name."""


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


def runs(text: str) -> int:
    """Replicate runs per point (``--runs``): a whole number in [1, ``run.runs``'s bound], the
    bound a scenario file's ``run.runs`` has too."""
    value = positive_int(text)
    high = int(lookup("run.runs").high)
    if value > high:
        raise argparse.ArgumentTypeError(
            f"{text!r} must be at most {high:,}, as run.runs (the seeds alone would take "
            f"{gibibytes(8 * value)})"
        )
    return value


def workers(text: str) -> int:
    """Threads or processes (``--workers``): a whole number in [1, :data:`MAX_WORKERS`]."""
    value = positive_int(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r} must be at most {MAX_WORKERS}")
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
        type=workers,
        default=DEFAULT_WORKERS,
        help=f"{what} (default: all cores, {DEFAULT_WORKERS})",
    )


def add_out(parser: argparse.ArgumentParser) -> None:
    """``--out ROOT``: the results root under which the command makes its folder."""
    parser.add_argument(
        "--out", default="results", metavar="ROOT", help="results root (default: results)"
    )


def check_out(out: str | Path) -> Path:
    """The results root ``out``: refused in one line if it is empty, a file, below a file, not
    writable, or too long a path to hold a results folder."""
    text = os.fspath(out)
    if text.strip() == "":
        raise UsageError("--out '': give a folder for results")
    try:
        check_path_text(text)
    except UnreadableFile as error:
        raise UsageError(f"--out {error}") from None
    out = Path(text)
    absolute = out.absolute()
    if len(os.fsencode(str(absolute))) > MAX_PATH_BYTES - RESULTS_PATH_BYTES:
        raise UsageError(
            f"--out {text[:100]}...: too long a path (results need {RESULTS_PATH_BYTES} bytes "
            f"below it, within {MAX_PATH_BYTES})"
        )
    parent = absolute
    while True:  # the nearest existing folder at or above out
        try:
            status = parent.stat()
        except FileNotFoundError:
            parent = parent.parent
            continue
        except OSError as error:
            raise UsageError(f"--out {describe_os_error(error)}") from None
        break
    if not stat.S_ISDIR(status.st_mode):
        where = "is a file" if parent == absolute else f"is below {parent}, a file"
        raise UsageError(f"--out {out}: {where}; give a folder for results")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: not writable; give a folder you can write to")
    return out


def check_toml_file(path: str | Path, option: str) -> Path:
    """The TOML file given to ``option`` (``--patterns``): a regular UTF-8 file of bounded size
    and depth, refused in one line otherwise (its content is checked by its reader)."""
    try:
        read_data(path, tomllib.loads, kind="TOML")
    except UnreadableFile as error:
        raise UsageError(f"{option} {error}") from None
    return Path(path)


def load_checked(path: str | Path, overrides=()) -> Scenario:
    """A scenario as every command loads it: the file, and its ``[sweep]`` and
    ``[calibration]`` tables checked too, so ``show`` and ``validate`` refuse what ``run`` and
    ``calibrate`` would."""
    from experiments.design import sweep_of

    scenario = load_scenario(path, overrides)
    sweep_of(scenario)
    if any(key.startswith("calibration.") for key in scenario.parameters):
        from experiments.calibration import calibration_spec

        calibration_spec(scenario)
    return scenario
