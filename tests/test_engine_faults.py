"""A backend that errors or times out: the engine holds, shows the degraded backend, retries, and never
records an actuation that the read-back does not confirm."""

from __future__ import annotations

import asyncio

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.hookspecs import ApplyResult, BackendSpec, hookimpl
from cockpit.plugins import PluginHost


class FlakyRouter:
    """Wraps the simulator's router: `mode` decides what goes wrong."""

    def __init__(self, inner):
        self.inner = inner
        self.mode = "ok"

    async def read_traffic(self):
        if self.mode == "hang":
            await asyncio.sleep(3600)
        return await self.inner.read_traffic()

    async def apply_shares(self, shares, request_id):
        if self.mode == "lie":  # claims success, changes nothing
            return ApplyResult(applied=dict(shares))
        if self.mode == "error":
            raise ConnectionError("connection refused")
        return await self.inner.apply_shares(shares, request_id)


class FlakyPlugin:
    def __init__(self):
        self.router = None

    @hookimpl
    def cockpit_backends(self):
        def factory(role, options, ctx):
            from cockpit_mock import _factory

            self.router = FlakyRouter(_factory("router", {"scenario": "classic"}, ctx))
            return self.router

        return [BackendSpec("flaky", frozenset({"router"}), factory)]


def test_router_lies_errors_and_hangs_then_recovers(tmp_path):
    plugin = FlakyPlugin()
    host = PluginHost(plugins=[("flaky", plugin)])

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock, host=host)
        e = s.engine
        # swap the router for the flaky one (same world: same clock)
        e.backends.router = host.create("router", "flaky", {}, e.context)
        e.backends.names["router"] = "flaky"
        e.config.file.cockpit.backend_timeout_s = 0.05
        try:
            clock.set(640)
            await e.tick()
            await e.command("arm", scope="regressing")
            plugin.router.mode = "lie"
            for _ in range(3):
                clock.advance(1)
                await e.tick()
            lied = [a.data for a in e.journal.entries(kinds=("actuation_ack",)) if "confirmed" in a.data]
            stages_while_lying = e.journal.count("stage_applied")
            degraded_lie = dict(e.degraded)
            plugin.router.mode = "error"
            clock.advance(1)
            await e.tick()
            degraded_error = dict(e.degraded)
            plugin.router.mode = "hang"
            clock.advance(1)
            snap = await e.tick()
            plugin.router.mode = "ok"
            for _ in range(300):
                clock.advance(1)
                await e.tick()
                if e.rollback.done:
                    break
            return lied, stages_while_lying, degraded_lie, degraded_error, snap, e.rollback.done, dict(e.degraded)
        finally:
            s.close()

    lied, stages_lying, deg_lie, deg_err, hung, done, deg_end = asyncio.run(go())
    assert lied and all(not a["verified"] and a["failed_count"] > 0 for a in lied)
    assert stages_lying == 0  # a stage the read-back does not confirm is never recorded as applied
    assert "not applied" in deg_lie["router"]
    assert "ConnectionError: connection refused" in deg_err["router"]
    assert hung.hold == "router unreachable: holding" and "timed out" in hung.degraded["router"]
    assert done and "router" not in deg_end
