"""`cockpit engine`: the control loop as a headless service that screens attach to.

With the default SQLite journal it is the only engine and actuates at once. With a shared journal
(`[cockpit] journal = "redis://host:port/db?stream=name"`) several can run: the one holding the lease
in Redis actuates, the others stand by, serve their screens read-only, and take over when the lease
lapses (new fencing epoch, state restored from the shared journal, reconciled against the backends on
the first tick before anything moves).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cockpit.cli import STRATEGY_NAMES
from cockpit.engine.address import DEFAULT_LISTEN
from cockpit.errors import CockpitError
from cockpit.logs import FORMATS, LEVELS
from cockpit.logs import setup as setup_logging


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("engine", help="run the control loop headless; screens attach to it (--listen)")
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT or unix:/path.sock to serve screens (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--http-listen",
        metavar="HOST:PORT",
        help="serve /metrics (Prometheus), /healthz and leader-aware /readyz on this address (off by default)",
    )
    p.add_argument("--lease-ttl", type=float, default=3.0, help="seconds an actuation lease lasts (Redis journal)")
    p.add_argument("--strategy", default="cockpit", choices=list(STRATEGY_NAMES))
    p.add_argument("--operator", help="the engine's own identity in the journal (default: user@host)")
    p.add_argument(
        "--autopilot",
        action="store_true",
        help="game days: declare and arm as the drill's autopilot does (the simulator's scorecard is journaled)",
    )
    p.add_argument("--log-level", default="info", choices=LEVELS, help="the least severe log records kept")
    p.add_argument(
        "--log-format",
        default="text",
        choices=FORMATS,
        help="text, or json: one object a line",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.engine.server import parse_address
    from cockpit.engine.service import EngineService
    from cockpit.paths import discover

    if args.lease_ttl <= 0:
        raise CockpitError(f"--lease-ttl {args.lease_ttl:g}: must be a positive number of seconds")
    address = parse_address(args.listen)
    http = parse_address(args.http_listen, "--http-listen") if args.http_listen else None
    if http is not None and http.path:
        raise CockpitError(f"--http-listen {args.http_listen!r}: expected HOST:PORT (metrics are served over TCP)")
    setup_logging(args.log_level, args.log_format)
    config = discover(getattr(args, "config", None))
    try:
        return asyncio.run(EngineService(config, args).serve(address))
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m cockpit.cli_engine engine ...`: the same as `cockpit engine ...`."""
    from cockpit.cli import main as cli_main

    return cli_main(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
