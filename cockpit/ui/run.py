"""`cockpit` with no subcommand: load and validate everything, open the engine, then run the app.

Every error a user can cause (config, keymap, scenario, theme) is raised as a CockpitError before
`App.run()`, so the CLI prints one sentence and exits 2 instead of drawing a broken screen.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cockpit.config import Config, default_operator
from cockpit.errors import ConfigError
from cockpit.paths import discover, find_config, load_found


def binding_ids() -> set[str]:
    from cockpit.ui.keys import BINDINGS

    return {b.id for b in BINDINGS if b.id}


def check_keymap(config: Config) -> dict[str, str]:
    known = binding_ids()
    for key in config.file.keymap:
        if key not in known:
            raise ConfigError(f"{config.path}: keymap.{key}: unknown binding id; use one of {', '.join(sorted(known))}")
    return dict(config.file.keymap)


def _engine_listening(address: str) -> bool:
    """Is a `cockpit engine` answering there? A quick TCP/Unix connect, nothing more."""
    from cockpit.engine.address import parse_address
    from cockpit.engine.ask import NoEngine, connect

    try:
        connect(parse_address(address, "--attach"), 0.3).close()
    except NoEngine:
        return False
    return True


def attach_tui(args: argparse.Namespace, address: str) -> int:
    """A screen on an engine that runs elsewhere: state flows in, commands flow out, journaled with this
    operator's identity. Read-only until the operator takes control (c)."""
    import asyncio

    from cockpit.engine.ask import credentials
    from cockpit.engine.remote import RemoteEngine
    from cockpit.ui.app import CockpitApp
    from cockpit.ui.themes import DEFAULT, load_all, load_theme

    theme = load_theme(getattr(args, "theme", None) or DEFAULT)
    themes = load_all()
    keymap = check_keymap(discover(getattr(args, "config", None)))
    token, tls = credentials(getattr(args, "token_file", None), os.environ)  # and mutual TLS: $COCKPIT_TLS_*

    async def main() -> int:
        operator = getattr(args, "operator", None) or default_operator()
        observer = bool(getattr(args, "read_only", False))  # --read-only holds attached as well
        engine = await RemoteEngine.connect(address, operator, token=token, tls=tls, observer=observer)
        try:
            await engine.first_snapshot()
            app = CockpitApp(engine, keymap=keymap, theme=theme, themes=themes, freeze_gc=True)
            await app.run_async()
            return app.return_code or 0
        finally:
            await engine.close()

    return asyncio.run(main())


def run_tui(args: argparse.Namespace) -> int:
    """The garbage collector is off from here to the first frame: start-up allocates much (modules, the
    engine and its world, the screen) and frees little, and its passes over what it allocated were 70-80
    ms of a cold start (one a full pass). At the first frame the app freezes what is alive then (start-up's
    few cyclic leftovers with it, about 2 MB) and turns the collector back on (CockpitApp._freeze_gc)."""
    gc.disable()
    try:
        return _run_tui(args)
    finally:
        gc.enable()  # had the app not drawn (an error before its first frame) or not frozen (a test's app)


def _run_tui(args: argparse.Namespace) -> int:
    from cockpit.engine.session import make_clock, open_engine
    from cockpit.ui.app import CockpitApp

    drill = getattr(args, "drill", None)
    speed = getattr(args, "speed", None)
    attach = getattr(args, "attach", None)
    if attach:
        return attach_tui(args, attach)
    if not drill and not getattr(args, "local", False):
        from cockpit.cli_engine import DEFAULT_LISTEN

        if _engine_listening(DEFAULT_LISTEN):
            return attach_tui(args, DEFAULT_LISTEN)
    read_only = bool(getattr(args, "read_only", False))
    # A drill runs on its scenario; a configuration found on disk still gives it the keymap and operator.
    source = find_config(getattr(args, "config", None))
    config = load_found(source) if not drill or not source.embedded else None
    keymap = check_keymap(config) if config is not None else {}
    host = None
    if drill and config is not None:  # the drill takes only the keymap and operator from it: still checked
        from cockpit.plugins import PluginHost, refuse_unknown_tables

        host = PluginHost()  # the drill's engine uses the same host: its plugins are loaded once
        refuse_unknown_tables(config, host)
    from cockpit.ui.themes import DEFAULT, load_all, load_theme

    theme = load_theme(getattr(args, "theme", None) or DEFAULT)
    themes = load_all()
    tmp = None
    session = None
    if drill:
        tmp, session = _open_tui_drill(args, drill, config, read_only, host)
        engine = session.engine
    else:
        assert config is not None  # loaded above: only a drill may run without one
        engine = open_engine(
            config, read_only=read_only, clock=make_clock(config, speed), operator=getattr(args, "operator", None)
        )
    previous = _exit_on_sigterm() if tmp is not None else None  # SIGTERM runs the cleanup below too
    try:
        app = CockpitApp(
            engine, keymap=keymap, drill=session, scenario=drill, theme=theme, themes=themes, freeze_gc=True
        )
        # Which configuration this is (visible once the screen closes; config.source is on the engine too).
        print(f"cockpit: config: {config.source if config else f'none (drill {drill})'}", file=sys.stderr)
        app.run()
        return app.return_code or 0
    finally:
        if session is not None:
            session.close()
        else:
            engine.close_sync()  # the plugins' objects (aclose), then the journal
        if tmp is not None:
            tmp.cleanup()
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _open_tui_drill(args: argparse.Namespace, drill: str, config: Config | None, read_only: bool, host: Any) -> Any:
    """The drill's session on a journal in a temporary directory (--speed is checked by cockpit.cli_checks);
    the directory is removed if the drill does not open."""
    from cockpit.engine.clock import ScaledClock
    from cockpit.engine.session import open_drill

    tmp = tempfile.TemporaryDirectory(prefix="cockpit-tui-drill-")
    operator = getattr(args, "operator", None) or (config.operator if config else default_operator())
    try:
        session = open_drill(
            drill,
            journal=Path(tmp.name) / "journal.db",
            clock=ScaledClock(getattr(args, "speed", None) or 60.0, start=0.0),
            read_only=read_only,
            operator=operator,
            overflow=bool(getattr(args, "overflow", False)),
            host=host,
        )
    except BaseException:
        tmp.cleanup()  # the drill never opened: its temporary journal goes too
        raise
    return tmp, session


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit(143) so a killed TUI drill still closes its journal and removes its
    temporary directory; returns the handler it replaced (None off the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)
