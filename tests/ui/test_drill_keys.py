"""A whole drill driven by keystrokes only; the assertions are on the engine, not the screen."""

from __future__ import annotations

import asyncio
import time

from cockpit.engine.clock import RealClock
from cockpit.engine.drill import SETTLE_AFTER_RESTORE_S
from cockpit.ui import view


def test_whole_drill_by_keystrokes(drill) -> None:
    asyncio.run(_drive(drill))


async def _drive(drill) -> None:
    app = drill.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await drill.run_ticks(app, 75)  # the enterprise cohort regresses ~45 s in, seen by ~60 s
        engine = drill.engine
        regressing = sorted(t for t, h in engine.snapshot.harm.items() if h >= 0.2)
        assert regressing, "the scenario should be regressing by now"

        await pilot.press("d")  # declare: a confirm modal, default no
        await pilot.press("enter")  # enter on the focused "No" does nothing
        await pilot.pause()
        assert engine.incident is None
        await pilot.press("d", "y")
        await pilot.pause()
        assert engine.incident is not None and engine.incident.open
        assert "FROZEN" in str(app.query_one("#banner").render())

        await pilot.press("a", "y")  # arm for the regressing tenants
        await pilot.pause()
        assert engine.rollback.armed
        assert sorted(engine.rollback.scope) == regressing
        await pilot.press("m")  # auto -> manual: no confirmation needed to stop moving on its own
        await pilot.pause()
        assert str(engine.rollback.mode) == "manual"

        for _ in range(200):
            if engine.rollback.done:
                break
            await pilot.press("n", "y")  # advance one stage, confirmed
            await pilot.pause()
            await drill.run_ticks(app, 5)
        assert engine.rollback.done
        await pilot.pause()
        # Scored only after the same 300 simulated seconds of settling the baselines get.
        assert app.screen.id != "scorecard"
        assert "scored in" in str(app.query_one("#rollback").render())
        finished = app.score.finished_at
        while app.screen.id != "scorecard":
            assert engine.clock.now() - finished <= SETTLE_AFTER_RESTORE_S + 2 * drill.tick_s
            await drill.run_ticks(app, 10)
            await pilot.pause()
        assert engine.clock.now() - finished >= SETTLE_AFTER_RESTORE_S
        await app.workers.wait_for_complete()
        await pilot.pause()
        body = str(app.screen.query_one("#text-body").render())
        assert "you (TUI)" in body and "abort" in body and "fixed-stages" in body
        # the operator's own run is scored against the same limits as the baselines
        for row in ("capacity bound", "clairvoyant time to restore", "clairvoyant harmed requests"):
            line = next(x for x in body.splitlines() if row in x)
            assert line.split("|")[2].strip() not in ("", "—"), line

    engine = drill.engine
    snap = engine.snapshot
    for t in regressing:
        assert snap.effective[t] == 0.0
        assert snap.traffic.shares[t] == 0.0
    # Tenants out of scope keep their rollout progress.
    assert any(snap.effective[t] > 0 for t in snap.traffic.shares if t not in regressing)
    assert engine.rollback.stage >= 1


def test_keymap_remaps_a_binding(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None, keymap={"declare": "x"})
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 3)
            await pilot.press("d", "y")  # the old key no longer declares
            await pilot.pause()
            assert drill.engine.incident is None
            await pilot.press("x", "y")
            await pilot.pause()
            assert drill.engine.incident is not None and drill.engine.incident.open
            assert "x" in app.main.help_text().split("Declare")[0].splitlines()[-1]

    asyncio.run(go())


def test_quit_during_rollback_asks_and_defaults_to_no(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 75)
            await pilot.press("a", "y")
            await pilot.pause()
            assert drill.engine.rollback.armed and not drill.engine.rollback.done
            await pilot.press("q")
            await pilot.pause()
            assert "journaled" in str(app.screen.query_one("#dialog-body").render())
            await pilot.press("enter")  # "No" has the focus
            await pilot.pause()
            assert app.is_running and len(app.screen_stack) == 1
            await pilot.press("q", "y")
            await pilot.pause()
            assert not app.is_running

    asyncio.run(go())


def test_settle_time_matches_the_baselines() -> None:
    assert view.SETTLE_S == SETTLE_AFTER_RESTORE_S


def test_timeline_is_wall_clock_on_a_real_clock_and_t_plus_on_a_simulated_one(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 75)
            await pilot.press("t")
            await pilot.pause()
            body = str(app.screen.query_one("#text-body").render())
            assert "T+00:00:" in body and "wall-clock" not in body
            await pilot.press("escape")
            await pilot.pause()
            # The same journal read as if by an engine on a real clock: dates and times of day.
            now = time.time()
            for e in drill.engine.journal.entries():
                assert e.ts < 1e8
            assert view.stamp(now, True) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            assert view.stamp(75.0, False).strip() == "T+00:01:15"
            drill.engine.clock = RealClock()
            await pilot.press("t")
            await pilot.pause()
            body = str(app.screen.query_one("#text-body").render())
            assert "wall-clock" in body
            assert time.strftime("%Y-", time.localtime(0)) in body and "T+" not in body

    asyncio.run(go())
