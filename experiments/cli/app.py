"""``multivector app``: serve the interactive dashboard (:mod:`experiments.app`)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from experiments.cli.options import port

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "register"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def register(subparsers) -> None:
    """Add ``app`` to the ``multivector`` parser (Solara is imported only when it runs)."""
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
        "--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.set_defaults(handler=app_command)


def app_command(args, command: list[str]) -> int:
    """Check the scenario and the port, then serve until Ctrl-C.

    Returns 2, after one line on stderr, for a bad scenario file (raised as a
    :class:`~model.scenario.ScenarioError`) or a port it cannot listen on; otherwise the Solara
    server replaces this process and serves until it is stopped.
    """
    from experiments.app import DEFAULT_SCENARIO, load_base, serve

    scenario = Path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    load_base(scenario)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind((args.host, args.port))
    except OSError as error:
        print(
            f"multivector: error: --host {args.host} --port {args.port}: cannot listen there "
            f"({error.strerror}); choose another --port",
            file=sys.stderr,
        )
        return 2
    serve(scenario, args.host, args.port)
    return 0  # pragma: no cover - not reached: the server replaced this process
