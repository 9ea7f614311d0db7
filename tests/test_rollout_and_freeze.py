"""The rollout scheduler walks its calendar, and an open incident freezes it."""

from __future__ import annotations

import asyncio

from cockpit.domain.rollout import RolloutPlan, RolloutScheduler
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill


def test_calendar_steps_with_bake_time():
    r = RolloutScheduler(RolloutPlan((0.01, 0.05, 0.25), 100.0), {"a": 0, "b": 2, "c": -1}, {"a": 0.0, "b": 0.0})
    assert r.tick(99.0) == {}
    assert r.tick(100.0) == {"a": 0.05}
    assert r.tick(150.0) == {}
    assert r.tick(200.0) == {"a": 0.25}
    assert r.tick(10_000.0) == {}  # b is at the last step; c is not enrolled
    assert r.targets == {"a": 0.25, "b": 0.25, "c": 0.0}


def test_frozen_scheduler_does_not_advance_and_frozen_time_is_not_bake_time():
    r = RolloutScheduler(RolloutPlan((0.1, 0.5, 1.0), 100.0), {"a": 0}, {"a": 0.0})
    r.freeze(50.0)
    assert r.tick(500.0) == {}  # the calendar says "advance" four times over; frozen says no
    r.thaw(1050.0)  # frozen for 1000 s: a has baked 50 s, needs 50 more
    assert r.tick(1099.0) == {}
    assert r.tick(1100.0) == {"a": 0.5}


def test_adopting_an_observed_fleet_keeps_exact_shares():
    r = RolloutScheduler.from_observed(RolloutPlan(bake_s=10.0), {"a": 0.3, "b": 0.0, "c": 1.0}, now=0.0)
    assert r.targets == {"a": 0.3, "b": 0.0, "c": 1.0}
    assert r.tick(10.0) == {"a": 0.5}


def test_engine_rollout_does_not_resume_during_an_open_incident(tmp_path):
    """The free cohort sits at 50 % with a 1 h bake; the calendar would take it to 100 %.
    With the incident open for two simulated hours, it stays at 50 %."""

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            await e.tick()
            await e.command("declare", reason="test")
            for _ in range(2 * 3600 // 10):
                clock.advance(10)
                await e.tick()
            frozen_targets = dict(e.rollout.targets)
            steps = e.journal.count("rollout_step")
            await e.command("release", confirm=True)
            clock.advance(3600)
            await e.tick()
            return frozen_targets, steps, dict(e.rollout.targets), e.snapshot
        finally:
            s.close()

    frozen, steps, after, snap = asyncio.run(go())
    assert frozen["tyrell"] == 0.5 and steps == 0
    assert after["tyrell"] == 1.0  # released: the calendar resumes where it was
    assert snap.traffic.shares["tyrell"] == 1.0
