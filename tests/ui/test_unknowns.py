"""Unknown is a state, on screen too: a tenant whose health cannot be read reads `? unknown` in the table
(a word, not a colour), a line says how many are unknown and the first reason, and the arm confirmation
lists the tenants with unknown rps and what the plan assumed for them.

The engine runs the demo scenario with the simulator's router reporting no rates (`router_rates = false`,
as a router that cannot measure them), so rates come from the health backend; that backend is a plugin
whose readings are `SignalReading`s naming the tenants it cannot read, as the prometheus backend's do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.journal import Journal
from cockpit.engine.loop import Engine
from cockpit.engine.session import SIMULATOR, DrillSession, drill_config
from cockpit.hookspecs import BackendContext, BackendSpec, SignalReading, hookimpl
from cockpit.plugins import PluginHost
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens import ConfirmScreen

OPERATOR = "tester@ui"
HEALTH_WHY = "errors: too few samples on the new revision: 3 < 20"
RPS_WHY = "no request series for this tenant (plugins.prometheus.rates)"


class PartialHealth:
    """Reads every tenant but the ones named in `unknown` (health) and `rates_unknown` (rps)."""

    def __init__(self) -> None:
        self.tenants: tuple[str, ...] = ()
        self.regress: dict[str, float] = {}
        self.unknown: dict[str, str] = {}
        self.rates_unknown: dict[str, str] = {}

    async def regressions(self) -> SignalReading:
        values = {t: self.regress.get(t, 0.0) for t in self.tenants if t not in self.unknown}
        return SignalReading(values, dict(self.unknown), "no series for this tenant in any check")

    async def rates(self) -> SignalReading:
        values = {t: 40.0 + i for i, t in enumerate(self.tenants) if t not in self.rates_unknown}
        return SignalReading(values, dict(self.rates_unknown), "no request series for this tenant")


class Session:
    def __init__(self, tmp: Path) -> None:
        self.health = PartialHealth()
        health = self.health

        class Plugin:
            @hookimpl
            def cockpit_backends(self):
                return [BackendSpec("partial", frozenset({"health"}), lambda role, options, context: health)]

        host = PluginHost(plugins=[("partial", Plugin())])
        self.clock = SimClock(0.0)
        options = {"scenario": "demo", "router_rates": False}
        context = BackendContext(clock=self.clock, config_dir=str(tmp))
        sim = host.create("simulator", SIMULATOR, options, context)
        info = dict(sim.scenario_info())
        config = drill_config(info, tmp / "journal.db", tmp, options, backends={"health": "partial"})
        engine = Engine(config, host, Journal(tmp / "journal.db"), self.clock, operator=OPERATOR, shared=context.shared)
        engine.start()
        self.session = DrillSession(engine, sim, info)
        self.engine = engine
        self.tick_s = info["tick_s"]

    async def run_ticks(self, app: CockpitApp, n: int) -> None:
        for _ in range(n):
            await app.step()
            self.clock.advance(self.tick_s)


@pytest.fixture
def partial(tmp_path: Path):
    s = Session(tmp_path)
    yield s
    s.session.close()


def _text(widget) -> str:
    return str(widget.render())


def test_unknown_health_and_rates_are_shown_and_the_arm_confirmation_lists_them(partial) -> None:
    asyncio.run(_drive(partial))


async def _drive(partial: Session) -> None:
    app = CockpitApp(partial.engine, operator=OPERATOR, auto_tick=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await partial.run_ticks(app, 1)
        tenants = tuple(partial.engine.snapshot.traffic.shares)
        assert partial.engine.snapshot.traffic.rps == {}  # the router measures no rates
        partial.health.tenants = tenants
        await partial.run_ticks(app, 2)
        await pilot.pause()
        main = app.main
        # Everything read: no unknown line, and every tenant's health is a reading.
        assert not main.unknown.display
        assert "unknown" not in _text(main.tablebar)
        assert all(main.table.row(t)[6] == "✓ ok" for t in tenants)

        # acme regresses and its rate cannot be read; wonka (on the new revision) cannot be judged.
        partial.health.regress = {"acme": 0.9}
        partial.health.unknown = {"wonka": HEALTH_WHY}
        partial.health.rates_unknown = {"acme": RPS_WHY}
        await partial.run_ticks(app, 2)
        await pilot.pause()
        snap = partial.engine.snapshot
        assert snap.unknown["health"] == {"wonka": HEALTH_WHY}
        assert set(snap.unknown["rps"]) == {"acme"}

        # (a) the health column says unknown in words, never "ok"; the regressing tenant still reads REGR
        assert main.table.row("wonka")[6] == "? unknown"
        assert main.table.order[:2] == ["acme", "wonka"]  # regressing first, then unknown
        assert main.table.row("acme")[6].startswith("✗ REGR")
        assert "1 unknown" in _text(main.tablebar)
        # a line says how many tenants are unknown and the first reason; and what was assumed for rps
        assert main.unknown.display
        lines = _text(main.unknown).splitlines()
        assert lines[0] == f"? health unknown: 1 tenant(s) (never counted healthy) · wonka: {HEALTH_WHY}"
        assert lines[1].startswith(
            f"? rps unknown: 1 tenant(s) (planned at a stated estimate) · acme: rps unknown ({RPS_WHY})"
        )
        assert "planned at" in lines[1] and "the highest in cohort 'enterprise'" in lines[1]
        # filtering by the word finds exactly the unknown tenant
        await pilot.press("slash", *"unknown")
        await pilot.pause()
        assert main.table.order == ["wonka"]
        await pilot.press("escape")
        await pilot.pause()

        # (b) the arm confirmation lists the tenants with unknown readings and what the plan assumed
        await pilot.press("a")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, ConfirmScreen):
                break
        assert isinstance(app.screen, ConfirmScreen)
        body = app.screen.body
        assert "Roll back 1 tenant(s): acme" in body
        assert "? Unknown readings for 2 tenant(s), planned conservatively:" in body
        acme = next(ln for ln in body.splitlines() if ln.startswith("  acme: "))
        assert acme.startswith(f"  acme: rps unknown ({RPS_WHY}): planned at ") and " rps, the highest in" in acme
        assert f"  wonka: {HEALTH_WHY}" in body.splitlines()
        await pilot.press("n")  # not armed
        await pilot.pause()
        assert not partial.engine.rollback.armed

        # read again: the unknown line goes and the health column reads the value
        partial.health.unknown = {}
        partial.health.rates_unknown = {}
        await partial.run_ticks(app, 2)
        await pilot.pause()
        assert not main.unknown.display
        assert main.table.row("wonka")[6] == "✓ ok"
