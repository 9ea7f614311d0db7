"""Building a running engine from a configuration or a drill scenario: the one place that wires the
plugin host, the journal and the clock together (the TUI, the headless drill and tests all use it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cockpit.config import Config, ConfigFile, build_config
from cockpit.engine.clock import Clock, RealClock, ScaledClock, SimClock
from cockpit.engine.journal import Journal
from cockpit.engine.loop import Engine
from cockpit.hookspecs import ROLES, BackendContext
from cockpit.plugins import PluginHost

SIMULATOR = "mock"  # the bundled simulator backend; drills need one that serves the "simulator" role


def make_clock(config: Config, speed: float | None = None) -> Clock:
    if config.file.cockpit.clock == "simulated" or speed is not None:
        return ScaledClock(speed or config.file.cockpit.speed, start=0.0)
    return RealClock()


def open_engine(
    config: Config,
    *,
    read_only: bool = False,
    operator: str | None = None,
    strategy: str = "cockpit",
    clock: Clock | None = None,
    host: PluginHost | None = None,
    journal: Journal | None = None,
) -> Engine:
    """A started engine (backends created, journal replayed). Raises CockpitError on bad input."""
    host = host or PluginHost()
    journal = journal or Journal(config.journal_path)
    engine = Engine(
        config, host, journal, clock or make_clock(config), operator=operator, read_only=read_only, strategy=strategy
    )
    engine.start()
    return engine


@dataclass
class DrillSession:
    engine: Engine
    simulator: Any
    info: dict[str, Any]

    def close(self) -> None:
        self.engine.journal.close()
        self.simulator.close()


def drill_config(info: dict[str, Any], journal: Path, config_dir: Path, options: dict[str, Any]) -> Config:
    """A configuration with every role on the simulator that runs the scenario described by `info`."""
    models = info["models"]
    raw = msgspec.convert(
        {
            "models": {"old": models["old"], "new": models["new"], "alias": models.get("alias", "")},
            "cockpit": {"journal": str(journal), "tick_s": info["tick_s"], "operator": "autopilot@drill"},
            "tiers": dict(info.get("tiers", {})),
            "backends": dict.fromkeys(ROLES, SIMULATOR),
            "plugins": {SIMULATOR: options},
        },
        ConfigFile,
    )
    return build_config(config_dir / "drill.toml", raw)


def open_drill(
    scenario: str,
    *,
    journal: Path,
    strategy: str = "cockpit",
    clock: Clock | None = None,
    state_file: str | None = None,
    config_dir: Path | None = None,
    host: PluginHost | None = None,
    operator: str | None = None,
    read_only: bool = False,
) -> DrillSession:
    """An engine whose every role is the simulator running `scenario` (a bundled name or a file)."""
    config_dir = config_dir or Path.cwd()
    clock = clock or SimClock(0.0)
    host = host or PluginHost()
    options: dict[str, Any] = {"scenario": scenario}
    if state_file:
        options["state_file"] = state_file
    # The simulator describes its scenario; the engine then runs on the same world (same clock).
    sim = host.create("simulator", SIMULATOR, options, BackendContext(clock=clock, config_dir=str(config_dir)))
    info = dict(sim.scenario_info())
    config = drill_config(info, journal, config_dir, options)
    j = Journal(journal, durable=state_file is not None)
    engine = Engine(config, host, j, clock, strategy=strategy, operator=operator, read_only=read_only)
    try:
        engine.start()
    except BaseException:
        j.close()
        sim.close()
        raise
    return DrillSession(engine, sim, info)
