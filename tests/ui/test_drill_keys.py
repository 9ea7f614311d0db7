"""A whole drill driven by keystrokes only; the assertions are on the engine, not the screen."""

from __future__ import annotations

import asyncio


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
        assert app.screen.id == "scorecard"
        await app.workers.wait_for_complete()
        await pilot.pause()
        body = str(app.screen.query_one("#text-body").render())
        assert "you (TUI)" in body and "abort" in body and "fixed-stages" in body

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
            assert "x" in app.help_text().split("Declare")[0].splitlines()[-1]

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
