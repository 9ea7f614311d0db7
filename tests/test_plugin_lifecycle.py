"""A plugin's place in one engine: the router's declared share step sets the rollback's smallest move,
role objects are closed (``aclose``) with their engine, roles share state through ``BackendContext.shared``
rather than module dicts, and ``cockpit lint`` flags a ``[plugins.X]`` table that names no plugin."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import cockpit_backends.mock as mock
from cockpit.engine.clock import SimClock
from cockpit.engine.drill import run_drill
from cockpit.engine.session import open_drill
from cockpit.hookspecs import BackendSpec, Capabilities, hookimpl
from cockpit.paths import embedded_config_text
from cockpit.plugins import PluginHost

from .test_plugin_host_contract import cli


class SteppedMock:
    """The simulator, declared as a router that stores shares on a 0.05 grid."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.ceilings: list[float] = []  # every ceiling of every stage applied

    @hookimpl
    def cockpit_backends(self) -> list[BackendSpec]:
        (spec,) = mock.cockpit_backends()
        return [replace(spec, contract_version=2, capabilities=Capabilities(share_step=self.step))]

    @hookimpl
    def cockpit_stage_applied(self, stage: dict[str, Any]) -> None:
        self.ceilings += stage["ceilings"].values()


def _off_grid(values: list[float], step: float) -> list[float]:
    return [v for v in values if abs(v / step - round(v / step)) > 1e-6]


def test_a_routers_share_step_is_the_rollbacks_smallest_move(tmp_path: Path) -> None:
    coarse = SteppedMock(0.05)
    card = asyncio.run(run_drill("classic", host=PluginHost(entry_points=False, plugins=[("mock", coarse)])))
    assert card.restored
    partial = [c for c in coarse.ceilings if 0.0 < c < 1.0]
    assert partial, "the drill never planned a partial move: the test proves nothing"
    assert _off_grid(coarse.ceilings, 0.05) == []
    # the same drill on a router that stores any share plans ceilings off that grid
    fine = SteppedMock(0.0)
    asyncio.run(run_drill("classic", host=PluginHost(entry_points=False, plugins=[("mock", fine)])))
    assert _off_grid(fine.ceilings, 0.05)


def test_lint_flags_a_plugins_table_that_names_no_plugin(tmp_path: Path) -> None:
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(embedded_config_text() + "\n[plugins.redsi]\nurl = 'redis://127.0.0.1:6379/0'\n")
    out = cli("--config", str(cfg), "lint", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{cfg}: [plugins.redsi] names no installed plugin or backend; did you mean [plugins.redis]?" in (
        out.stdout.splitlines()
    )
    cfg.write_text(embedded_config_text())
    clean = cli("--config", str(cfg), "lint", cwd=tmp_path)
    assert clean.returncode == 0 and "names no installed plugin" not in clean.stdout, clean.stdout + clean.stderr


class Tracked:
    """One object serving two roles of one engine; it counts its closings."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        self.closed = 0

    async def regressions(self) -> dict[str, float]:
        return {}

    async def resolve(self, alias: str) -> str:
        return self.revision

    async def aclose(self) -> None:
        self.closed += 1


class Connection:
    """State a plugin's roles share, kept in context.shared rather than in a module."""

    def __init__(self) -> None:
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


class Lifecycle:
    def __init__(self) -> None:
        self.made: list[Tracked] = []
        self.declared: list[Any] = []  # what the declare hook found in its engine's context.shared

    @hookimpl
    def cockpit_backends(self) -> list[BackendSpec]:
        def factory(role: str, options: Any, context: Any) -> Tracked:
            if "life" not in context.shared:
                context.shared["life"] = Tracked(context.models.new)
                context.shared["life.connection"] = Connection()
                self.made.append(context.shared["life"])
            obj: Tracked = context.shared["life"]
            return obj

        return [BackendSpec("life", frozenset({"health", "provider"}), factory, contract_version=2)]

    @hookimpl
    def cockpit_incident_declared(self, incident: Any, context: Any) -> None:
        self.declared.append(context.shared["life"])


def _session(tmp_path: Path, name: str, host: PluginHost, roles: dict[str, str] | None = None) -> Any:
    return open_drill("classic", journal=tmp_path / f"{name}.db", clock=SimClock(), host=host, backends=roles)


def test_role_objects_and_shared_state_belong_to_one_engine_and_close_with_it(tmp_path: Path) -> None:
    plugin = Lifecycle()
    host = PluginHost(plugins=[("life", plugin)])
    roles = {"health": "life", "provider": "life"}
    one, two = _session(tmp_path, "one", host, roles), _session(tmp_path, "two", host, roles)
    a, b = plugin.made
    assert one.engine.context.shared["life"] is a and two.engine.context.shared["life"] is b
    # the simulator's world too: one per engine, not one per process
    assert one.engine.context.shared["mock"] is not two.engine.context.shared["mock"]
    asyncio.run(one.engine.command("declare", reason="drill"))
    assert plugin.declared == [a]  # the hook saw the declaring engine's state only
    connection = one.engine.context.shared["life.connection"]
    one.close()  # synchronous: no event loop runs here
    # once each, though `a` serves two roles and is also a value of context.shared
    assert (a.closed, connection.closed, b.closed) == (1, 1, 0)
    one.close()
    assert a.closed == 1

    async def in_a_loop() -> None:
        await two.aclose()

    asyncio.run(in_a_loop())
    assert (b.closed, two.engine.context.shared["life.connection"].closed) == (1, 1)


def test_forget_drops_the_simulated_world_of_one_engine_only(tmp_path: Path) -> None:
    host = PluginHost()
    one, two = _session(tmp_path, "one", host), _session(tmp_path, "two", host)
    try:
        kept = two.engine.context.shared["mock"]
        mock.forget(one.engine.context)
        assert "mock" not in one.engine.context.shared
        assert two.engine.context.shared["mock"] is kept
    finally:
        one.close()
        two.close()
