"""`cockpit` with no subcommand: load and validate everything, open the engine, then run the app.

Every error a user can cause (config, keymap, scenario, theme) is raised as a CockpitError before
`App.run()`, so the CLI prints one sentence and exits 2 instead of drawing a broken screen.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cockpit.config import Config, default_operator, load_config
from cockpit.errors import ConfigError


def binding_ids() -> set[str]:
    from cockpit.ui.app import CockpitApp

    return {b.id for b in CockpitApp.BINDINGS if getattr(b, "id", None)}


def check_keymap(config: Config) -> dict[str, str]:
    known = binding_ids()
    for key in config.file.keymap:
        if key not in known:
            raise ConfigError(f"{config.path}: keymap.{key}: unknown binding id; use one of {', '.join(sorted(known))}")
    return dict(config.file.keymap)


def run_tui(args: argparse.Namespace) -> int:
    from cockpit.engine.clock import ScaledClock
    from cockpit.engine.session import make_clock, open_drill, open_engine
    from cockpit.ui.app import CockpitApp

    drill = getattr(args, "drill", None)
    speed = getattr(args, "speed", None)
    read_only = bool(getattr(args, "read_only", False))
    config_path = Path(args.config)
    config = None
    if not drill or config_path.exists():
        config = load_config(config_path)
    keymap = check_keymap(config) if config is not None else {}
    from cockpit.ui.themes import DEFAULT, load_all, load_theme

    theme = load_theme(getattr(args, "theme", None) or DEFAULT)
    themes = load_all()
    tmp = None
    session = None
    if drill:
        if speed is not None and speed <= 0:
            raise ConfigError(f"--speed: expected a positive number, got {speed:g}")
        tmp = tempfile.TemporaryDirectory(prefix="cockpit-tui-drill-")
        operator = config.operator if config else default_operator()
        session = open_drill(
            drill,
            journal=Path(tmp.name) / "journal.db",
            clock=ScaledClock(speed or 60.0, start=0.0),
            read_only=read_only,
            operator=operator,
        )
        engine = session.engine
    else:
        engine = open_engine(config, read_only=read_only, clock=make_clock(config, speed))
    try:
        app = CockpitApp(engine, keymap=keymap, drill=session, scenario=drill, theme=theme, themes=themes)
        app.run()
        return app.return_code or 0
    finally:
        if session is not None:
            session.close()
        else:
            engine.journal.close()
        if tmp is not None:
            tmp.cleanup()
