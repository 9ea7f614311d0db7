"""The plan's ETA while a rollback runs: it counts down as the asked replicas start (a plan made mid-rollback
does not wait a whole start-up estimate again), a held rollback still has a plan (what resuming does), and
the rollback line shows no ETA while it waits for the operator."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.ui import view


def _run_demo(tmp_path: Path, hold_at: float | None = None) -> list[tuple[float, float | None, float | None, bool]]:
    """(seconds since armed, the plan's ETA, the engine's capacity ETA, plan finishes) every 10 s of the
    demo's rollback, armed as soon as a tenant regresses."""

    async def go() -> list[tuple[float, float | None, float | None, bool]]:
        clock = SimClock()
        s = open_drill("demo", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        seen: list[tuple[float, float | None, float | None, bool]] = []
        armed_at = None
        try:
            while not (e.rollback.armed and e.rollback.done) and clock.now() < 600:
                snap = await e.tick()
                if armed_at is None and any(h >= 0.2 for h in snap.harm.values()):
                    await e.command("arm", scope="regressing", confirm=True)
                    armed_at = clock.now()
                elif armed_at is not None and hold_at is not None and clock.now() - armed_at == hold_at:
                    await e.command("pause")
                if armed_at is not None and (clock.now() - armed_at) % 10 == 0 and not e.rollback.done:
                    plan = await e.plan(sorted(e.rollback.scope))
                    seen.append((clock.now() - armed_at, plan.eta_s, snap.capacity_eta_s, plan.finishes))
                clock.advance(1)
                if hold_at is not None and armed_at is not None and clock.now() - armed_at > 40:
                    break
            return seen
        finally:
            s.close()

    return asyncio.run(go())


def test_the_plan_counts_down_with_the_replicas_starting(tmp_path: Path):
    seen = _run_demo(tmp_path)
    starting = [(t, eta, cap) for t, eta, cap, _ in seen if cap is not None and cap > 0]
    assert len(starting) >= 3, seen
    etas = [eta for _, eta, _ in starting]
    assert all(e is not None for e in etas)
    # ten seconds later, ten seconds sooner: the plan waits for the replicas the engine expects, not for a
    # fresh start-up estimate counted from each new plan (before: the same ETA at every sample)
    assert all(abs((a - b) - 10.0) <= 1.0 for a, b in pairwise(etas)), starting  # type: ignore[operator]
    # and it never finishes before the capacity it waits for is expected ready
    assert all(eta >= cap for _, eta, cap in starting), starting  # type: ignore[operator]


def test_a_held_rollback_still_has_a_plan_and_the_line_shows_no_eta(tmp_path: Path):
    seen = _run_demo(tmp_path, hold_at=20)
    held = [row for row in seen if row[0] > 20]
    assert held and all(finishes and eta is not None for _, eta, _, finishes in held), held
    snap_rb = {"armed": True, "paused": True, "mode": "auto", "stage": 2}
    line = view.rollback_line(_Snap(snap_rb), None, 75.0)
    assert "ETA" not in line and "r resumes" in line
    assert "ETA" not in view.rollback_line(_Snap(snap_rb | {"paused": False, "mode": "manual"}), None, 75.0)
    assert "ETA 1m15" in view.rollback_line(_Snap(snap_rb | {"paused": False}), None, 75.0)


class _Snap:
    """The fields rollback_line reads."""

    def __init__(self, rollback: dict) -> None:
        self.rollback = rollback
        self.progress: dict = {}
        self.restore_bound_s = None
        self.hold = None


def test_a_finished_rollback_is_not_advanced_or_held(tmp_path: Path):
    """`n` on a DONE rollback offered 'Advance one stage? (stage 13)' and switched the mode to manual; `h`
    said 'rollback held'. The engine refuses both, in one sentence, and changes nothing."""
    from cockpit.engine.commands import CommandError

    async def go() -> None:
        clock = SimClock()
        s = open_drill("demo", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            while not (e.rollback.armed and e.rollback.done) and clock.now() < 600:
                snap = await e.tick()
                if not e.rollback.armed and any(h >= 0.2 for h in snap.harm.values()):
                    await e.command("arm", scope="regressing", confirm=True)
                clock.advance(1)
            assert e.rollback.done
            for name in ("advance", "pause", "resume"):
                with pytest.raises(CommandError, match="the rollback is done"):
                    await e.command(name)
            assert str(e.rollback.mode) == "auto" and not e.rollback.paused
        finally:
            s.close()

    asyncio.run(go())
