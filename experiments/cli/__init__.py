"""The ``multivector`` command line: one module per command or command group.

Each module of this package adds its subcommand(s) with a ``register(subparsers)`` function
that declares the parser and sets its ``handler(args, command) -> int``; :func:`main` parses,
calls the handler and turns every user mistake (a bad file, key, value, flag or folder) into one
line on stderr and exit status 2, with nothing written. To add a command, add a module here with
``register`` and list it in :data:`COMMANDS`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from experiments.cli import (
    analyse,
    app,
    calibrate,
    export,
    listing,
    run,
    sensitivity,
    validate,
)
from experiments.cli.options import Parser, UsageError

__all__ = ["COMMANDS", "main", "parser"]

COMMANDS = (run, listing, validate, calibrate, analyse, export, sensitivity, app)
"""The command modules, in the order their commands are listed in ``--help``."""


def parser() -> Parser:
    """The ``multivector`` parser with every command's subparser."""
    top = Parser(
        prog="multivector",
        description="Multi-vector foreign policy of the Central Asian states: an agent-based "
        "model (Mesa). Run scenario batches, validate and calibrate them, and analyse the "
        "stored results.",
    )
    subparsers = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS:
        module.register(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multivector`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    from experiments.batch import BatchInterrupted
    from experiments.expressions import ExpressionError
    from experiments.sensitivity import SensitivityError
    from experiments.store import BatchError
    from model.files import UnreadableFile, describe_os_error
    from model.scenario import ScenarioError

    command = ["multivector", *(sys.argv[1:] if argv is None else argv)]
    try:
        return args.handler(args, command)
    except (
        ScenarioError,
        UsageError,
        BatchError,
        SensitivityError,
        ExpressionError,
        UnreadableFile,
    ) as error:
        print(f"multivector: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the file system's refusal: a full disk, a path too long
        print(f"multivector: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except BatchInterrupted as stop:
        print(f"multivector: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("multivector: interrupted; no results folder was written", file=sys.stderr)
        return 130
