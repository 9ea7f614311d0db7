"""Plugin actions: keys a plugin adds show in help and the palette, run through the engine's command
entry (journaled, confirmed) and are refused in read-only mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp


def _session(tmp_path: Path, read_only: bool = False):
    return open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(), read_only=read_only)


def test_a_plugin_action_is_bound_confirmed_and_journaled(tmp_path):
    asyncio.run(_bound_confirmed_journaled(tmp_path))


async def _bound_confirmed_journaled(tmp_path):
    s = _session(tmp_path)
    try:
        app = CockpitApp(s.engine, auto_tick=False, operator="tester@test")
        async with app.run_test(size=(100, 30)) as pilot:
            await app.step()
            assert "Game day: crash 2 old replicas" in app.main.help_text()
            # the help screen says which configuration this screen runs (here the drill's)
            assert app.main.help_text().startswith(f"configuration: {s.engine.config.path}")
            titles = [t for t, _, _ in app.palette_commands()]
            assert "plugin mock: game day: crash 2 old replicas" in titles
            ready = s.engine.snapshot.old_tier.ready
            await pilot.press("x")
            await pilot.pause()
            assert "Game day: crash 2 old replicas?" in str(app.screen.query_one("#dialog-title").render())
            await pilot.press("y")
            await pilot.pause()
            s.engine.clock.advance(1)
            await app.step()
            assert s.engine.snapshot.old_tier.ready == ready - 2
            cmds = [(e.actor, e.data["command"], e.data["args"]) for e in s.engine.journal.entries(kinds=("command",))]
            assert cmds == [("tester@test", "plugin-action", {"id": "mock.crash"})]
    finally:
        s.close()


def test_read_only_refuses_plugin_actions(tmp_path):
    asyncio.run(_read_only_refuses(tmp_path))


async def _read_only_refuses(tmp_path):
    s = _session(tmp_path, read_only=True)
    try:
        app = CockpitApp(s.engine, auto_tick=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.step()
            ready = s.engine.snapshot.old_tier.ready
            await pilot.press("x")
            await pilot.pause()
            assert len(app.screen_stack) == 1  # no confirmation opened
            s.engine.clock.advance(1)
            await app.step()
            assert s.engine.snapshot.old_tier.ready == ready
            assert "(refused: read-only)" in next(ln for ln in app.main.help_text().splitlines() if "crash" in ln)
            assert s.engine.journal.count("command") == 0
    finally:
        s.close()
