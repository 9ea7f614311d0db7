"""Issue 14's speed, as behaviour: a filter keystroke is one frame (its scroll bar included), and the scope
picker is built while the app is idle and kept between openings, opening (first or again) in one frame
as a fresh one would, and the text screens are kept too."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

from textual.color import Color

from cockpit.ui.scope import ScopeScreen
from cockpit.ui.screens import TextScreen
from cockpit.ui.table import TenantTable


def _frames(app) -> list[int]:
    """Counts the frames written out (the app's display, wrapped as benchmarks/tui_latency.py does)."""
    count = [0]
    display = app._display

    def counting(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None:
            count[0] += 1

    app._display = counting
    return count


def test_a_filter_keystroke_is_one_frame_and_the_scroll_bar_follows_the_rows(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 30)
            await pilot.pause()
            table = app.main.query_one("#tenants", TenantTable)
            bar = table.vertical_scrollbar
            await pilot.press("slash")  # the box takes 3 lines: 13 lines (12 tenants, the header) need a bar
            await pilot.pause()
            assert len(table.order) == 12 and table.show_vertical_scrollbar and bar.window_virtual_size == 13
            frames = _frames(app)
            seen = set()
            for key in ("e", "n", "t", "backspace", "backspace", "backspace"):  # 12 -> a few ("ent") -> 12
                before = frames[0]
                await pilot.press(key)
                await pilot.pause()
                rows = len(table.order)
                fits = rows + 1 <= table.container_size.height
                assert table.show_vertical_scrollbar is not fits, key
                if not fits:  # the bar is drawn in the keystroke's one frame, for the new row count
                    assert frames[0] - before == 1 and bar.window_virtual_size == rows + 1, key
                seen.add(fits)
            assert seen == {True, False}  # the bar went and came back
            await pilot.press("e", "n", "t")
            await pilot.pause()
            assert "acme" in table.order and "hooli" not in table.order and len(table.order) < 12
            await pilot.press("escape")  # cleared: every row back
            await pilot.pause()
            assert len(table.order) == 12 and table.scroll_offset.y == 0

    asyncio.run(go())


def test_the_scope_picker_is_kept_and_opens_again_as_new(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await drill.run_ticks(app, 75)
            await pilot.press("A")
            await pilot.pause()
            picker = app.screen
            assert isinstance(picker, ScopeScreen)
            regressing = sorted(picker.selected)
            assert len(regressing) == 4
            await pilot.press("x", "slash", "g", "r", "o", "enter", "down", "space")  # changed, then left
            await pilot.pause()
            assert len(picker.shown) == 4 and len(picker.selected) == 1
            await pilot.press("escape", "escape")  # clears the filter, then back
            await pilot.pause()
            assert app.screen is app.main
            frames = _frames(app)
            await pilot.press("A")
            await pilot.pause()
            assert app.screen is picker  # the same screen, not built again ...
            assert frames[0] == 1  # the switch of screens, and nothing after it
            drawn = frames[0]
            await drill.run_ticks(app, 5)  # the main screen under the picker redraws its panels ...
            await pilot.pause()
            assert frames[0] == drawn  # ... and the picker on top is not drawn again for it
            assert sorted(picker.selected) == regressing and len(picker.shown) == 12  # ... but as a new one
            assert not picker.box.value and not picker.box.has_class("shown")
            table = picker.query_one(TenantTable)
            assert table.cursor == 0 and table.has_focus
            assert [r[0] for r in table.visible_rows()[:5]] == ["[x]"] * 4 + ["[ ]"]
            assert str(picker.query_one("#scope-count").render()) == "Rollback scope: 4 of 12 selected"
            await pilot.press("enter")  # and its answer still goes to this opening's confirmation
            await pilot.pause()
            assert "Roll back 4 tenant(s)" in str(app.screen.query_one("#dialog-body").render())

    asyncio.run(go())


def test_the_scope_picker_is_built_while_idle_and_opens_in_one_frame(drill) -> None:
    """Built once the fleet is observed, off screen: the first `A` shows it in one frame (no compose, no
    layout, no scroll bar repainted after it), as it is then; closing it is one frame too."""

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 14)) as pilot:  # 12 tenants do not fit: the table has a scroll bar
            await drill.run_ticks(app, 1)
            await pilot.pause()
            assert app.is_screen_installed("scope")
            picker = app.get_screen("scope")
            assert isinstance(picker, ScopeScreen) and picker.is_mounted and app.screen is app.main
            table = picker.query_one(TenantTable)
            assert table.size.height > 0 and table.show_vertical_scrollbar  # laid out for this terminal
            await drill.run_ticks(app, 75)  # the regression starts after it was built
            await pilot.pause()
            frames = _frames(app)
            await pilot.press("A")
            await pilot.pause()
            assert app.screen is picker and frames[0] == 1
            assert str(picker.query_one("#scope-count").render()) == "Rollback scope: 4 of 12 selected"
            assert [r[0] for r in table.visible_rows()[:5]] == ["[x]"] * 4 + ["[ ]"] and table.has_focus
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.main and frames[0] == 2
            await pilot.press("A")  # and again: one frame
            await pilot.pause()
            assert app.screen is picker and frames[0] == 3

    asyncio.run(go())


def test_text_screens_are_kept_and_show_their_new_text(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await drill.run_ticks(app, 5)
            await pilot.press("question_mark")
            await pilot.pause()
            helpscreen = app.screen
            assert isinstance(helpscreen, TextScreen) and helpscreen.id == "help"
            await pilot.press("escape", "t")
            await pilot.pause()
            timeline = app.screen
            assert isinstance(timeline, TextScreen) and timeline.id == "timeline" and timeline is not helpscreen
            first = timeline.body
            await pilot.press("escape")
            await pilot.pause()
            await drill.run_ticks(app, 75)
            await drill.engine.command("declare", reason="frames test")
            await pilot.press("t")
            await pilot.pause()
            assert app.screen is timeline and timeline.body != first  # the same screen, the new entries
            assert "INC-1 declared" in timeline.body.splitlines()[0]  # newest first (the title says so)
            assert str(timeline.query_one("#dialog-title").render()).startswith("Timeline")
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            assert app.screen is helpscreen and "configuration:" in helpscreen.body

    asyncio.run(go())


def test_the_drill_baselines_start_after_the_first_frame(drill) -> None:
    """Seconds of CPU on a thread: not while the first frame is being drawn; they still arrive."""

    async def go() -> None:
        app = drill.app()  # scenario "demo": the baselines are computed
        events: list[str] = []
        display = app._display
        compute = app._compute_baselines

        def stamped(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is not None:
                events.append("frame")

        def baselines() -> None:
            events.append("baselines")
            compute()

        app._display = stamped
        app._compute_baselines = baselines
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert events[0] == "frame" and "baselines" in events
            assert app.score is not None and [c.strategy for c in app.score.baselines or []] == [
                "abort",
                "fixed-stages",
            ]

    asyncio.run(go())


def test_a_tui_drill_loads_the_plugins_once(monkeypatch, capsys) -> None:
    """`cockpit --drill demo` with a configuration checks its tables with the host the drill then uses."""
    from cockpit.cli import main
    from cockpit.plugins import PluginHost
    from cockpit.ui.app import CockpitApp

    hosts: list[PluginHost] = []
    init = PluginHost.__init__

    def counted(self, *a, **kw) -> None:
        hosts.append(self)
        init(self, *a, **kw)

    used: list[CockpitApp] = []

    def run(self, **kw) -> None:  # no terminal: the app as the command built it is all this test needs
        used.append(self)

    monkeypatch.setattr(PluginHost, "__init__", counted)
    monkeypatch.setattr(CockpitApp, "run", run)
    config = str(Path(__file__).resolve().parents[2] / "cockpit" / "data" / "cockpit.toml")
    assert main(["--config", config, "--drill", "demo"]) == 0
    assert len(hosts) == 1 and len(used) == 1
    assert used[0].engine.host is hosts[0]  # type: ignore[attr-defined]
    assert used[0].freeze_gc  # the command's app freezes what is alive once its screen is up (below)


def test_the_command_s_app_freezes_the_garbage_collector_after_its_first_frame(drill, monkeypatch) -> None:
    import cockpit.ui.app as app_module

    events: list[str] = []
    monkeypatch.setattr(app_module.gc, "freeze", lambda: events.append("freeze"))

    async def go(freeze: bool) -> None:
        app = drill.app(scenario=None, freeze_gc=freeze)
        display = app._display

        def stamped(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is not None:
                events.append("frame")

        app._display = stamped
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 3)
            await pilot.pause()

    asyncio.run(go(False))  # tests' apps (many in one process) do not
    assert "frame" in events and "freeze" not in events
    events.clear()
    gc.disable()  # as the command starts it (below): the freeze turns the collector back on
    try:
        asyncio.run(go(True))
        assert events[0] == "frame" and events.count("freeze") == 1 and gc.isenabled()
    finally:
        gc.enable()


def test_the_command_runs_with_the_collector_off_until_the_app_turns_it_on(monkeypatch) -> None:
    from cockpit.cli import main
    from cockpit.ui.app import CockpitApp

    seen: list[bool] = []
    monkeypatch.setattr(CockpitApp, "run", lambda self, **kw: seen.append(gc.isenabled()))
    config = str(Path(__file__).resolve().parents[2] / "cockpit" / "data" / "cockpit.toml")
    assert main(["--config", config, "--drill", "demo"]) == 0
    assert seen == [False] and gc.isenabled()  # on again once the command returns, drawn or not


def test_the_theme_is_set_before_the_app_starts(drill, monkeypatch) -> None:
    """Its stylesheet is parsed once, with the theme's variables: no refresh_css (a second parse and a
    restyle of every widget) before the first frame, and the theme's classes and colours as textual's
    own watcher sets them."""
    from textual.app import App

    from cockpit.ui.themes import load_theme

    refreshed: list[bool] = []
    refresh_css = App.refresh_css

    def counted(self, *a, **kw) -> None:
        refreshed.append(True)
        refresh_css(self, *a, **kw)

    monkeypatch.setattr(App, "refresh_css", counted)

    async def go() -> None:
        app = drill.app(scenario=None, theme=load_theme("light"))
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 2)
            await pilot.pause()
            assert not refreshed and app.theme == "cockpit-light" and app.current_theme.dark is False
            assert {"-theme-cockpit-light", "-light-mode"} <= app.classes and "-dark-mode" not in app.classes
            assert app.screen.styles.background == Color.parse(app.current_theme.background)
            app.theme = "textual-dark"  # switched later: textual's watcher, as ever
            await pilot.pause()
            assert refreshed and "-dark-mode" in app.classes and "-theme-cockpit-light" not in app.classes

    asyncio.run(go())


FIRST_FRAME = """
import gc, sys
from textual.app import App
display, run = App._display, App.run
def first(self, screen, renderable):
    display(self, screen, renderable)
    if renderable is not None and not getattr(self, "done", False):
        self.done = True
        print(gc.isenabled(), *sorted(m for m in MODULES if m in sys.modules))
        self.exit(0)
App._display = first
App.run = lambda self, **kw: run(self, headless=True, size=(80, 24))
from cockpit.cli import main
main(["--config", sys.argv[1], "--drill", "demo"])
"""


def test_the_command_draws_its_first_frame_without_what_only_later_keys_need() -> None:
    """Cold start: the modal screens, the timeline's formatter and the drill runner are imported when
    first used, and the collector is still off at the first frame (the app turns it on after it)."""
    later = ["cockpit.ui.screens", "cockpit.ui.scope", "cockpit.timeline", "cockpit.engine.drill"]
    config = str(Path(__file__).resolve().parents[2] / "cockpit" / "data" / "cockpit.toml")
    child = f"MODULES = {later!r}" + FIRST_FRAME
    run = subprocess.run([sys.executable, "-P", "-c", child, config], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False"]
