"""ctrl+p: namespaced commands from the binding registry; read-only refusal applies to them too."""

from __future__ import annotations

import asyncio

from cockpit.ui.keys import BINDINGS, PALETTE_TITLES
from cockpit.ui.themes import load_all


async def _palette(pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)
    await pilot.pause(0.3)  # the palette searches in a worker
    await pilot.press("enter")
    await pilot.pause()


def test_palette_lists_every_binding_and_theme(drill) -> None:
    app = drill.app(scenario=None, themes=load_all())
    titles = {title for title, _run, _help in app.palette_commands()}
    ids = {b.id for b in BINDINGS if b.id and b.show}
    assert {PALETTE_TITLES[i] for i in ids} <= titles
    assert all(":" in t for t in titles)
    assert {"theme: light", "theme: dark", "theme: high-contrast"} <= titles


def test_palette_declares_and_arms_with_confirmation(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None, themes=load_all())
        async with app.run_test(size=(100, 30)) as pilot:
            await drill.run_ticks(app, 75)
            await _palette(pilot, "incident: declare")
            assert app.screen.__class__.__name__ == "ConfirmScreen"  # same action, same confirmation
            await pilot.press("y")
            await pilot.pause()
            assert drill.engine.incident is not None and drill.engine.incident.open
            await _palette(pilot, "rollback: arm for regressing")
            await pilot.press("y")
            await pilot.pause()
            assert drill.engine.rollback.armed
            await _palette(pilot, "theme: light")
            assert app.theme == "cockpit-light"

    asyncio.run(go())


def test_palette_is_refused_in_read_only(ro_drill) -> None:
    async def go() -> None:
        app = ro_drill.app(scenario=None)
        async with app.run_test(size=(100, 30)) as pilot:
            await ro_drill.run_ticks(app, 75)
            helps = {t: h for t, _r, h in app.palette_commands()}
            assert "refused: read-only" in helps["incident: declare (freeze)"]
            assert "refused" not in helps["view: timeline of journal events"]
            for query in ("incident: declare", "rollback: arm for regressing", "capacity: pre-scale"):
                await _palette(pilot, query)
                await pilot.press("y")
                await pilot.pause()
                assert len(app.screen_stack) == 1
            assert ro_drill.engine.incident is None and not ro_drill.engine.rollback.armed

    asyncio.run(go())
