"""Read-only mode: every binding in the registry is tried, by key and by action; nothing changes."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.engine.loop import ReadOnlyError
from cockpit.ui.app import MUTATING, CockpitApp


def _state(engine) -> tuple:
    rb = engine.rollback.snapshot()
    return (
        engine.incident,
        rb,
        dict(engine.snapshot.effective),
        dict(engine.snapshot.traffic.shares),
        engine.journal.count("command"),
        engine.journal.count("actuation"),
    )


def test_every_binding_is_refused_in_read_only(ro_drill) -> None:
    asyncio.run(_walk(ro_drill))


async def _walk(d) -> None:
    app = d.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await d.run_ticks(app, 75)  # regressing by now: arm would have a scope
        engine = d.engine
        before = _state(engine)
        bindings = [b for b in CockpitApp.BINDINGS if b.id]
        assert {b.action for b in bindings} >= MUTATING
        for b in bindings:
            if b.id == "quit":
                continue
            for key in b.key.split(","):
                await pilot.press(key, "y")  # "y" would confirm any modal that slipped through
                await pilot.pause()
                while len(app.screen_stack) > 1:  # help / timeline open read-only views: close them
                    await pilot.press("escape")
                    await pilot.pause()
            if b.action in MUTATING:
                assert not app.check_action(b.action, ())
                await app.run_action(b.action)  # by action name too: check_action refuses it
                await pilot.pause()
                assert len(app.screen_stack) == 1
        assert _state(engine) == before
        assert engine.incident is None and not engine.rollback.armed
    # The engine refuses on its own too, for a view that bypasses the app.
    for name in ("declare", "arm", "advance", "prescale"):
        with pytest.raises(ReadOnlyError):
            await engine.command(name)


def test_read_only_banner_and_help_say_so(ro_drill) -> None:
    async def go() -> None:
        app = ro_drill.app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ro_drill.run_ticks(app, 2)
            assert "READ-ONLY" in str(app.query_one("#banner").render())
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.id == "help"
            assert "Read-only" in app.help_text()

    asyncio.run(go())
