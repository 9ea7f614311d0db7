"""Building a running engine from a configuration or a drill scenario: the one place that wires the
plugin host, the journal and the clock together (the TUI, the headless drill and tests all use it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cockpit.config import Config, ConfigFile, build_config
from cockpit.engine.clock import Clock, RealClock, ScaledClock, SimClock
from cockpit.engine.journal import Journal, JournalLike
from cockpit.engine.loop import Engine, run_soon
from cockpit.errors import ConfigError
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
    journal: JournalLike | None = None,
) -> Engine:
    """A started engine (backends created, journal replayed). Raises CockpitError on bad input."""
    host = host or PluginHost()
    if journal is None:
        if config.journal_url.startswith(("redis://", "rediss://", "unix://")):
            from cockpit.engine.journal_redis import open_journal  # redis-py only for a shared journal

            journal = open_journal(config.journal_url)
        else:
            # read-only: replay the journal, opened read-only, and write nothing anywhere
            journal = Journal(config.journal_path, read_only=read_only)
    engine = Engine(
        config, host, journal, clock or make_clock(config), operator=operator, read_only=read_only, strategy=strategy
    )
    try:
        engine.start()
    except BaseException:
        run_soon(engine.aclose())  # the plugin objects created before the failure (the journal is the caller's)
        raise
    return engine


@dataclass
class DrillSession:
    engine: Engine
    simulator: Any
    info: dict[str, Any]

    async def aclose(self) -> None:
        """The engine's plugin objects (``aclose``), its journal, the simulator."""
        await self.engine.aclose()
        self.engine.journal.close()
        self.simulator.close()

    def close(self) -> None:
        """`aclose` from synchronous code (inside a running event loop the plugins' closing is scheduled on
        it: await `aclose` there instead)."""
        self.engine.close_sync()
        self.simulator.close()


def drill_config(
    info: dict[str, Any],
    journal: Path,
    config_dir: Path,
    options: dict[str, Any],
    backends: dict[str, str] | None = None,
    plugin_options: dict[str, dict[str, Any]] | None = None,
    warmer: bool = False,
    overflow: bool = False,
) -> Config:
    """A configuration with every role on the simulator that runs the scenario described by `info`,
    except the roles `backends` hands to real backends (configured by `plugin_options`)."""
    models = info["models"]
    roles = dict.fromkeys(ROLES, SIMULATOR)
    for role, name in (backends or {}).items():
        if role not in roles:
            raise ConfigError(f"--backend {role}={name}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        roles[role] = name
    plugins = {k: dict(v) for k, v in (plugin_options or {}).items()}
    plugins[SIMULATOR] = options
    raw = msgspec.convert(
        {
            "models": {
                "old": models["old"],
                "new": models["new"],
                "alias": models.get("alias", ""),
                "old_alias": models.get("old_alias", ""),
            },
            "cockpit": {"journal": str(journal), "tick_s": info["tick_s"], "operator": "autopilot@drill"},
            "tiers": dict(info.get("tiers", {})),
            "backends": roles,
            "plugins": plugins,
            "warmer": {"enabled": warmer},
            "overflow": _overflow_section(info) if overflow else {},
            "rollout": dict(info.get("rollout") or {}),  # the scenario's calendar (default steps and bake)
        },
        ConfigFile,
    )
    return build_config(config_dir / "drill.toml", raw)


def _overflow_section(info: dict[str, Any]) -> dict[str, Any]:
    """`--overflow`: the cockpit's [overflow] is the scenario's overflow tier (its rate limit and price)."""
    tier = info.get("overflow")
    if not tier:
        raise ConfigError(
            f"--overflow: scenario {info.get('name')!r} has no [overflow] tier; add one (docs/scenarios.md)"
        )
    return {"enabled": True, **tier}


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
    backends: dict[str, str] | None = None,
    plugin_options: dict[str, dict[str, Any]] | None = None,
    warmer: bool = False,
    overflow: bool = False,
) -> DrillSession:
    """An engine whose every role is the simulator running `scenario` (a bundled name or a file)."""
    config_dir = config_dir or Path.cwd()
    clock = clock or SimClock(0.0)
    host = host or PluginHost()
    options: dict[str, Any] = {"scenario": scenario}
    if state_file:
        options["state_file"] = state_file
    # The simulator describes its scenario; the engine then runs on the same world (same shared state).
    shared: dict[str, Any] = {}
    context = BackendContext(clock=clock, config_dir=str(config_dir), shared=shared)
    sim = host.create("simulator", SIMULATOR, options, context)
    info = dict(sim.scenario_info())
    try:
        config = drill_config(info, journal, config_dir, options, backends, plugin_options, warmer, overflow)
    except BaseException:
        sim.close()
        raise
    j = Journal(journal, durable=state_file is not None)
    engine = Engine(config, host, j, clock, strategy=strategy, operator=operator, read_only=read_only, shared=shared)
    try:
        engine.start()
    except BaseException:
        engine.close_sync()
        sim.close()
        raise
    return DrillSession(engine, sim, info)
