"""Snapshots of the main screen at 80x24, 120x40 and 200x60 under NO_COLOR, on a SimClock (no wall-clock text)."""

from __future__ import annotations

import pytest

from cockpit.ui.themes import load_theme, theme_files

SIZES = [(80, 24), (120, 40), (200, 60)]


def _app(drill, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    return drill.app(scenario=None)  # no baseline worker: nothing running behind the picture


async def _mid_rollback(drill, app, pilot) -> None:
    await drill.run_ticks(app, 75)
    await drill.engine.command("declare", reason="snapshot")
    await drill.engine.command("arm", scope="regressing", mode="auto")
    await drill.run_ticks(app, 40)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_main_screen_normal(snap_compare, drill, monkeypatch, size) -> None:
    app = _app(drill, monkeypatch)

    async def before(pilot) -> None:
        await drill.run_ticks(app, 30)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_main_screen_frozen_mid_rollback(snap_compare, drill, monkeypatch, size) -> None:
    app = _app(drill, monkeypatch)

    async def before(pilot) -> None:
        await _mid_rollback(drill, app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_scope_picker(snap_compare, drill, monkeypatch, size) -> None:
    app = _app(drill, monkeypatch)

    async def before(pilot) -> None:
        await drill.run_ticks(app, 75)
        await pilot.press("A")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_restored_and_released(snap_compare, drill, monkeypatch, size) -> None:
    app = _app(drill, monkeypatch)

    async def before(pilot) -> None:
        await _mid_rollback(drill, app, pilot)
        while not drill.engine.rollback.done:
            await drill.run_ticks(app, 1)
        await drill.run_ticks(app, 1)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_arm_modal_shows_the_plan(snap_compare, drill, monkeypatch) -> None:
    app = _app(drill, monkeypatch)

    async def before(pilot) -> None:
        await drill.run_ticks(app, 75)
        await pilot.press("a")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


@pytest.mark.parametrize("theme", sorted(theme_files()))
def test_main_screen_per_theme(snap_compare, drill, monkeypatch, theme) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = drill.app(scenario=None, theme=load_theme(theme))

    async def before(pilot) -> None:
        await _mid_rollback(drill, app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
