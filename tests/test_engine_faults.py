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
            from cockpit_backends.mock import _factory

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


class FlakyAutoscaler:
    def __init__(self, inner):
        self.inner = inner
        self.read_fails = False
        self.write_fails = False

    async def read_tier(self, tier):
        if self.read_fails:
            raise ConnectionError("metrics API unreachable")
        return await self.inner.read_tier(tier)

    async def scale_tier(self, tier, replicas, request_id):
        if self.write_fails:
            raise PermissionError("forbidden: cannot patch deployments/scale")
        return await self.inner.scale_tier(tier, replicas, request_id)


def test_no_stage_on_a_stale_capacity_reading_and_write_failures_stay_visible(tmp_path):
    from cockpit.engine.loop import CommandError

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        flaky = FlakyAutoscaler(e.backends.autoscaler)
        e.backends.autoscaler = flaky
        try:
            clock.set(640)
            await e.tick()
            flaky.write_fails = True
            await e.command("arm", scope="regressing")
            clock.advance(1)
            await e.tick()
            write_degraded = dict(e.degraded)
            try:
                await e.command("prescale")
                prescale_error = None
            except CommandError as exc:
                prescale_error = str(exc)
            flaky.write_fails = False
            flaky.read_fails = True
            stages_before = e.rollback.stage
            holds = []
            for _ in range(10):
                clock.advance(1)
                holds.append((await e.tick()).hold)
            stages_blind = e.rollback.stage - stages_before
            flaky.read_fails = False
            for _ in range(300):
                clock.advance(1)
                await e.tick()
                if e.rollback.done:
                    break
            failed = [x.data for x in e.journal.entries(kinds=("command_failed",))]
            return write_degraded, prescale_error, holds, stages_blind, e.rollback.done, failed
        finally:
            s.close()

    degraded, prescale_error, holds, stages_blind, done, failed = asyncio.run(go())
    assert "pre-scale not confirmed" in degraded["autoscaler"] and "forbidden" in degraded["autoscaler"]
    assert prescale_error and "not confirmed" in prescale_error
    assert [f["command"] for f in failed] == ["prescale"]  # the refusal is journaled too
    assert stages_blind == 0 and set(holds) == {"autoscaler unreachable: holding"}
    assert done


def test_a_bad_mode_changes_nothing_and_is_journaled(tmp_path):
    from cockpit.engine.loop import CommandError

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            clock.set(640)
            await e.tick()
            try:
                await e.command("arm", scope="regressing", mode="turbo")
            except CommandError as exc:
                err = str(exc)
            return (
                err,
                e.rollback.armed,
                e.incident,
                [x.data["command"] for x in e.journal.entries(kinds=("command_failed",))],
            )
        finally:
            s.close()

    err, armed, incident, failed = asyncio.run(go())
    assert err == "mode 'turbo': expected 'auto' or 'manual'"
    assert not armed and incident is None and failed == ["arm"]


def test_the_actuation_guard_stops_a_write_after_its_intent(tmp_path):
    """A leader whose lease may have lapsed between journaling an intent and calling the router does not
    touch the fleet; the intent stays unacknowledged for the next leader to reconcile."""
    from cockpit.engine.journal_redis import FencedError

    class Counting:
        def __init__(self, inner):
            self.inner, self.applies = inner, 0

        async def read_traffic(self):
            return await self.inner.read_traffic()

        async def apply_shares(self, shares, request_id):
            self.applies += 1
            return await self.inner.apply_shares(shares, request_id)

    def lapsed():
        raise FencedError("lease cockpit:lease: not renewed within its time; not actuating")

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        router = e.backends.router = Counting(e.backends.router)
        try:
            clock.set(640)
            await e.tick()
            await e.command("arm", scope="regressing")
            e.actuation_guard = lapsed
            clock.advance(1)
            try:
                await e.tick()
            except FencedError as exc:
                fenced = str(exc)
            intents = [x.data["id"] for x in e.journal.entries(kinds=("actuation",))]
            acks = [x.data["id"] for x in e.journal.entries(kinds=("actuation_ack",))]
            return fenced, router.applies, intents, acks
        finally:
            s.close()

    fenced, applies, intents, acks = asyncio.run(go())
    assert "not actuating" in fenced
    assert applies == 0
    assert intents and set(intents) - set(acks)  # journaled, not acknowledged: the next leader reconciles it
