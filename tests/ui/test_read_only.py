"""Read-only mode: every binding in the registry is tried, by key and by action; nothing changes. Which
keys are refused is the engine's command table's say, not a list of the screen's own."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from cockpit.engine import commands
from cockpit.engine.commands import COMMANDS, ReadOnlyError
from cockpit.ui import keys


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


def _mutating_actions() -> set[str]:
    return {a for a, c in keys.ACTION_COMMANDS.items() if c in COMMANDS and COMMANDS[c].mutating}


def test_every_action_maps_to_a_known_command() -> None:
    assert set(keys.ACTION_COMMANDS.values()) <= set(COMMANDS)
    bound = {b.action for b in keys.BINDINGS}
    assert set(keys.ACTION_COMMANDS) - {"plugin"} <= bound
    # The keys that give commands are the ones the old screen-side list named, now by command name.
    assert keys.ACTION_COMMANDS["auto"] == "mode" and keys.ACTION_COMMANDS["hold"] == "pause"
    assert keys.ACTION_COMMANDS["arm_scope"] == "arm"


def test_refusal_follows_the_command_table(monkeypatch) -> None:
    """Every action whose command mutates is refused read-only, a non-mutating one is not; and flipping a
    command's `mutating` in the table flips the screen's refusal with it."""
    for action in keys.ACTION_COMMANDS:
        if action == "plugin":
            continue
        assert keys.refused(True, action, {}, ()) == COMMANDS[keys.ACTION_COMMANDS[action]].mutating
        assert not keys.refused(False, action, {}, ())
    for view_action in keys.VIEW_ACTIONS | {"quit"}:
        assert not keys.refused(True, view_action, {}, ())
    table = dict(COMMANDS)
    table["warmer"] = dataclasses.replace(COMMANDS["warmer"], mutating=False)
    table["pause"] = dataclasses.replace(COMMANDS["pause"], mutating=False)
    monkeypatch.setattr(commands, "COMMANDS", table)
    monkeypatch.setattr(keys, "COMMANDS", table)
    assert not keys.refused(True, "warmer", {}, ())
    assert not keys.refused(True, "hold", {}, ())
    assert keys.refused(True, "declare", {}, ())


def test_every_binding_is_refused_in_read_only(ro_drill) -> None:
    asyncio.run(_walk(ro_drill))


async def _walk(d) -> None:
    app = d.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await d.run_ticks(app, 75)  # regressing by now: arm would have a scope
        engine = d.engine
        main = app.main
        before = _state(engine)
        mutating = _mutating_actions()
        assert {"declare", "release", "arm", "arm_scope", "advance", "auto", "hold", "resume", "prescale"} <= mutating
        bindings = [b for b in main.BINDINGS if b.id]
        for b in bindings:
            if b.id == "quit":
                continue
            for key in b.key.split(","):
                await pilot.press(key, "y")  # "y" would confirm any modal that slipped through
                await pilot.pause()
                while app.screen is not main:  # help / timeline open read-only views: close them
                    await pilot.press("escape")
                    await pilot.pause()
            if b.action in mutating:
                assert not main.check_action(b.action, ())
                assert not await app.run_action(b.action, main)  # by action name too: refused
                await pilot.pause()
                assert app.screen is main
            else:
                assert main.check_action(b.action, ())
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
            help_text = app.main.help_text()
            assert "Read-only" in help_text
            refused = help_text.split("Read-only:")[1]
            assert "declare" in refused and "hold" in refused and "timeline" not in refused

    asyncio.run(go())
