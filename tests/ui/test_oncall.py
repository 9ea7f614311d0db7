"""Issue 14, the on-call's screen: read off the screen at 80x24, 120x40 and 200x60 and checked against the
engine. Every figure is the engine's; the next-step line always says what to do; refusals are said."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from cockpit.engine.clock import ScaledClock, SimClock
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp
from cockpit.ui.plantext import dur
from cockpit.ui.scope import ScopeScreen
from cockpit.ui.scorecard import journal_card_text
from cockpit.ui.table import TenantTable
from cockpit.ui.themes import load_all, load_theme

SIZES = [(80, 24), (120, 40), (200, 60)]


def _text(app, selector: str) -> str:
    # the next-step line binds each key to its verb with a no-break space, so a wrap never parts them
    return str(app.screen.query_one(selector).render()).replace("\u00a0", " ")


def _notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def _keys(text: str) -> list[str]:
    return ["space" if c == " " else c for c in text]


def _footer(app) -> str:
    return str(app.main.query_one("#keys").render())


async def _tick_until(drill, app, pilot, done, limit: int = 600) -> None:
    for _ in range(limit):
        if done():
            break
        await drill.run_ticks(app, 1)
    await pilot.pause()
    assert done()


@pytest.mark.parametrize("size", SIZES)
def test_next_step_footer_progress_and_restored_through_a_drill(drill, size) -> None:
    """The next-step line names the keys to press at each phase, the footer shows them (with ? and q,
    within the width), the banner says REGRESSING before a declaration, the hold says r resumes (and no
    stale hold after resuming), one progress figure is the engine's, and restored tenants read so."""

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 5)
            assert "all healthy" in _text(app, "#next")
            for _ in range(70):  # past the simulated onset, before and after the health signal shows it
                await drill.run_ticks(app, 1)
                if "all healthy" in _text(app, "#next"):  # the clock does not give the onset away before
                    assert "onset" not in _text(app, "#banner")
            await pilot.pause()
            assert "4 tenant(s) regressing · d declares, then a arms" in _text(app, "#next")
            assert _text(app, "#banner").startswith("▲ REGRESSING  4 tenant(s)")
            foot = _footer(app)
            assert foot.startswith("d Declare  a Arm") and foot.endswith("? Help  q Quit")
            assert len(foot) <= size[0] - 2
            onset = drill.engine.snapshot.onset_at
            assert f"onset {dur(drill.engine.snapshot.now - onset)} ago · not declared" in _text(app, "#banner")
            await pilot.press("d", "y")
            await pilot.pause()
            assert "a arms the rollback" in _text(app, "#next")
            inc = drill.engine.incident
            assert f"declared {dur(inc.declared_at - onset)} after onset" in _text(app, "#banner")
            await pilot.press("a", "y")
            await pilot.pause()
            await drill.run_ticks(app, 3)
            assert "h holds" in _text(app, "#next") and _footer(app).startswith("h Hold  n Next stage")
            snap = drill.engine.snapshot
            p = snap.progress
            assert f"restored {p['restored_rps']:.0f}/{p['scope_rps']:.0f} rps" in _text(app, "#rollback")
            assert p["scope_rps"] == pytest.approx(160.0)  # the demo's four enterprise tenants, all on new
            await pilot.press("h")
            await pilot.pause()
            assert "held: r resumes" in _text(app, "#next") and "r resumes" in _text(app, "#rollback")
            assert _footer(app).startswith("r Resume")
            await pilot.press("r", "y")
            await pilot.pause()
            await drill.run_ticks(app, 1)
            assert "paused by operator" not in _text(app, "#rollback")
            await _tick_until(drill, app, pilot, lambda: drill.engine.rollback.done)
            await drill.run_ticks(app, 1)
            await pilot.pause()
            assert "restored: D releases the incident · y copies the summary" in _text(app, "#next")
            assert "restored 160/160 rps" in _text(app, "#rollback") and "4/4 tenants at 0 %" in _text(app, "#rollback")
            assert " 0 regressing" in _text(app, "#tablebar")
            table = app.main.query_one("#tenants", TenantTable)
            for t in ("acme", "globex", "initech", "umbrella"):
                assert table.row(t)[6] == "✓ restored" and not table.is_alert(t)

    asyncio.run(go())


def test_engine_counts_wrong_answers_once_for_every_screen(tmp_path: Path) -> None:
    """The estimate is the engine's: journaled, so a restarted engine and a read-only one on the same
    journal carry on from it instead of starting at 0 (the screen used to count its own)."""

    async def go() -> None:
        clock = SimClock(0.0)
        s = open_drill("demo", journal=tmp_path / "j.db", clock=clock)
        for _ in range(120):
            await s.engine.tick()
            clock.advance(1.0)
        first = s.engine.snapshot.wrong_answers
        assert first > 1000 and not s.engine.snapshot.wrong_truth
        s.close()
        ro = open_drill("demo", journal=tmp_path / "j.db", clock=SimClock(clock.now()), read_only=True)
        snap = await ro.engine.tick()
        ro.close()
        # within the last 10 s journaled (the estimate grows about 160 rps x 0.6 a second here)
        assert first - 10 * 160 <= snap.wrong_answers <= first + 10 * 160
        again = open_drill("demo", journal=tmp_path / "j.db", clock=SimClock(clock.now()))  # a restart
        snap = await again.engine.tick()
        again.close()
        assert first - 10 * 160 <= snap.wrong_answers <= first + 10 * 160

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_refusals_are_said_and_c_tells_the_truth_read_only(ro_drill, size) -> None:
    async def go() -> None:
        app = ro_drill.app(scenario=None)
        async with app.run_test(size=size) as pilot:
            await ro_drill.run_ticks(app, 3)
            for key in ("d", "D", "a", "A", "n", "m", "h", "r", "s", "w", "x", "X"):
                before = len(_notes(app))
                await pilot.press(key)
                await pilot.pause()
                said = _notes(app)[before:]
                assert said and "refused" in said[-1] and "--read-only" in said[-1], key
            await pilot.press("c")
            await pilot.pause()
            assert "read-only (--read-only)" in _notes(app)[-1] and "in control" not in _notes(app)[-1]
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert "press q" in _notes(app)[-1]

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_scope_picker_marks_filter_count_and_healthy_warning(drill, monkeypatch, size) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 75)
            await pilot.press("A")
            await pilot.pause()
            picker = app.screen
            assert isinstance(picker, ScopeScreen)
            table = picker.query_one(TenantTable)
            assert [r[0] for r in table.visible_rows()[:5]] == ["[x]"] * 4 + ["[ ]"]  # a mark, not a colour
            assert _text(app, "#scope-count") == "Rollback scope: 4 of 12 selected"
            await pilot.press("a")  # no filter: a stray `a` does not select the whole fleet
            await pilot.pause()
            assert _text(app, "#scope-count") == "Rollback scope: 4 of 12 selected"
            assert "filter first" in _notes(app)[-1]
            await pilot.press("slash", "g", "r", "o", "enter")
            await pilot.pause()
            assert len(picker.shown) == 4 and "4 shown" in _text(app, "#scope-count")
            await pilot.press("a")  # all SHOWN: the growth cohort, not the fleet
            await pilot.pause()
            assert _text(app, "#scope-count").startswith("Rollback scope: 8 of 12 selected · ⚠ 4 of them healthy")
            await pilot.press("escape")  # clears the filter first
            await pilot.pause()
            assert app.screen is picker and len(picker.shown) == 12
            await pilot.press("enter")
            await pilot.pause()
            body = _text(app, "#dialog-body")
            assert "⚠ 4 of the 8 tenants are healthy" in body and "arming also DECLARES one" in body

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_command_mode_sort_detail_timeline_and_copy(drill, size) -> None:
    async def go() -> None:
        app = drill.app(scenario=None, themes=load_all())
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 75)
            await pilot.press("colon", *_keys("theme light"), "enter")
            await pilot.pause()
            assert app.theme == "cockpit-light"
            await pilot.press("colon", *_keys("nonsense"), "enter")
            await pilot.pause()
            assert ":nonsense: unknown command; known: :tenants, :timeline, :plan" in _notes(app)[-1]
            await pilot.press("colon", "x", "escape")  # Esc leaves command mode, runs nothing
            await pilot.pause()
            box = app.main.query_one("#command")
            assert not box.has_class("shown") and app.main.query_one("#tenants").has_focus
            await pilot.press("colon", *_keys("filter gro"), "enter")
            await pilot.pause()
            assert _text(app, "#tablebar").startswith("tenants › /gro (4 of 12; esc clears)")
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("slash", "a", "c", "m")
            await pilot.pause()
            box = app.main.query_one("#filter")
            assert box.display and box.border_title == "/ filter"
            await pilot.press("escape")  # clears the filter AND hides its box (an empty box kept 3 rows)
            await pilot.pause()
            assert not box.display and "(12)" in _text(app, "#tablebar")
            await pilot.press("o", "o")  # tenant, then rps (highest first)
            await pilot.pause()
            table = app.main.query_one("#tenants", TenantTable)
            assert "sorted by rps (o)" in _text(app, "#tablebar") and table.order[0] == "acme"
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen.id == "detail"
            body = _text(app, "#text-body")
            assert "tenant   acme" in body and "History (newest first):" in body and "regressing" in body
            assert "stage 1" not in body
            await drill.engine.command("arm", scope="regressing", mode="auto")
            await drill.run_ticks(app, 2)
            await pilot.pause()
            assert app.screen.id == "detail" and "stage 1: ceiling → " in _text(app, "#text-body")  # it follows
            await pilot.press("escape")
            await pilot.press("home", "enter")
            await pilot.pause()
            body = _text(app, "#text-body")
            assert "stage 1: ceiling → " in body and "share on new → " in body and "(stage 1)" in body
            await pilot.press("escape")
            await drill.engine.command("declare", reason="a test")
            await pilot.press("colon", *"timeline", "enter")
            await pilot.pause()
            assert app.screen.id == "timeline"
            body = _text(app, "#text-body")
            newest = ("\n" + body).split("\nT+")[1]  # the newest entry first: the command just given
            assert "command declare by tester@ui: incident INC-1 is" in newest, body
            assert "INCIDENT INC-1 declared by tester@ui: freeze on" in body
            assert "declared_at=" not in body and "(newest first" not in body  # the title says it, once
            await drill.engine.command("advance")
            await drill.run_ticks(app, 1)
            await pilot.pause()
            newest = ("\n" + _text(app, "#text-body")).split("\nT+")[1:4]  # followed live, newest first
            assert any("command advance by tester@ui" in e for e in newest), newest
            await pilot.press("escape", "y")
            await pilot.pause()
            copied = app.main.last_copied
            assert copied == app.clipboard and copied.startswith("cockpit incident summary: INC-1 open")
            assert "INCIDENT INC-1 declared" in copied

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_layout_grows_with_the_terminal(drill, size) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 75)
            await drill.engine.command("arm", scope="regressing", mode="auto")
            await drill.run_ticks(app, 40)
            await pilot.pause()
            main = app.main
            wide = size[0] >= 120
            assert main.plot.display == wide and main.side.display == wide
            spark = _text(app, "#trends").split(" util ")[1].split(" ")[0]
            assert len(spark) >= {80: 5, 120: 12, 200: 30}[size[0]]  # trends widen with the terminal
            if wide:
                plot = _text(app, "#plot")
                assert "headroom" in plot and "needed" in plot and "moved to old" in plot
                assert "tenant   acme" in _text(app, "#side")
            assert main.query_one("#tenants").size.height >= 4

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_ansi_theme_draws_with_the_terminals_own_colours(drill, size) -> None:
    async def go() -> None:
        app = drill.app(scenario=None, theme=load_theme("ansi-16"))
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 3)
            await drill.engine.command("declare", reason="t")
            await drill.run_ticks(app, 1)
            await pilot.pause()
            assert app.ansi_color
            banner = app.main.banner
            assert banner.styles.background.ansi == 1  # red: SGR 41, the terminal's own, not magenta
            assert banner.rich_style.color.is_default  # the default foreground: SGR 39, not 97
            css = app.get_css_variables()  # toasts (refusals) and buttons under :ansi: the terminal's own colours
            assert css["ansi-background"] == css["ansi-foreground"] == "ansi_default", css["ansi-background"]

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_drill_pause_speed_and_badge(tmp_path: Path, size) -> None:
    async def go() -> None:
        clock = ScaledClock(60.0, start=0.0)
        s = open_drill("demo", journal=tmp_path / "j.db", clock=clock)
        app = CockpitApp(s.engine, auto_tick=False, drill=s)
        async with app.run_test(size=size) as pilot:
            await app.step()
            await pilot.pause()
            assert "DRILL ×60" in _text(app, "#banner")
            assert "p Pause drill" in _footer(app)  # at every size: the key a drill needs most
            await pilot.press("plus")
            await pilot.pause()
            assert clock.speed == 120.0 and "DRILL ×120" in _text(app, "#banner")
            await pilot.press("minus", "minus")
            await pilot.pause()
            assert clock.speed == 30.0
            await pilot.press("p")
            await pilot.pause()
            t = clock.now()
            await asyncio.sleep(0.05)
            assert clock.paused and clock.now() == t and "PAUSED" in _text(app, "#banner")
            await pilot.press("p")
            await pilot.pause()
            assert not clock.paused
        s.close()

    asyncio.run(go())


def test_attached_scorecard_is_formatted() -> None:
    card = {
        "wrong_answers": 11810.299999999994,
        "dropped_requests": 0.0,
        "peak_old_utilisation": 0.7948904889473777,
        "min_old_hit_rate": 0.61,
        "extra_cost": 3.14159,
        "disturbed_tenants": [],
        "onset_s": 45.0,
        "restored_at_s": 200.0,
    }
    text = journal_card_text(card, declared=90.0, lower_bound=100.0)
    assert "11,810" in text and "79%" in text and "0.794" not in text and "[]" not in text
    assert "110 s" in text and "100 s" in text  # time to restore against the bound
    assert "declared after onset: 45s" in text and "baselines" in text


@pytest.mark.parametrize("size", SIZES)
def test_plain_words_not_cryptic_ones(drill, size) -> None:
    """`need —`, `ETA 120s after s`, `ETA late`, `not within 4 h`, `rps 0` for 0.1 rps and `open 1491 s`
    are gone; help groups the incident keys first and shows no table internals; the palette names keys as
    they are typed; the warmer's state and cost are on screen once it is on."""

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=size) as pilot:
            await drill.run_ticks(app, 75)
            await drill.engine.command("declare", reason="t")
            await drill.run_ticks(app, 1)
            await pilot.pause()
            screen = " ".join(_text(app, s) for s in ("#banner", "#capacity", "#rollback", "#plan", "#trends", "#next"))
            for cryptic in ("need —", "after s", "ETA late", "not within 4 h", " s ·"):
                assert cryptic not in screen, cryptic
            assert "INC-1 open 00:00:0" in _text(app, "#banner")
            snap = drill.engine.snapshot
            from cockpit.ui import view

            fmt = view.row_formatter(snap, dataclasses.replace(snap.traffic, rps={"acme": 0.1}), 0.2, (None, None))
            assert fmt("acme")[2] == "0.1"
            help_text = app.main.help_text()
            assert help_text.index("Incident:") < help_text.index("Views:") < help_text.index("Drill:")
            for internal in ("Page Left", "Focus Next", "super+c"):
                assert internal not in help_text
            assert "Command mode (:)" in help_text
            titles = {t: h for t, _, h in app.palette_commands()}
            assert titles["view: help (live key bindings)"] == "key ?"
            await drill.engine.command("warmer", on=True)
            await drill.run_ticks(app, 15)
            await pilot.pause()
            caches = _text(app, "#caches")
            assert "warmer ON:" in caches and "$" in caches

    asyncio.run(go())


def test_engine_capacity_eta_predicts_when_the_tier_is_ready(tmp_path: Path) -> None:
    """The ETA is counted by the engine from when it saw the ask taken (a reattached screen used to count
    from its own first sight): on the demo it names the second the tier is ready."""

    async def go() -> None:
        clock = SimClock(0.0)
        s = open_drill("demo", journal=tmp_path / "j.db", clock=clock)
        for _ in range(75):
            await s.engine.tick()
            clock.advance(1.0)
        await s.engine.command("arm", scope="regressing", mode="auto")
        predicted = []
        for _ in range(300):
            snap = await s.engine.tick()
            clock.advance(1.0)
            if snap.capacity_eta_s:
                predicted.append(snap.now + snap.capacity_eta_s)
            if snap.old_tier.ready >= snap.replicas_needed:
                break
        s.close()
        assert len(predicted) > 30 and snap.capacity_eta_s == 0.0
        assert all(abs(p - snap.now) <= 1.0 for p in predicted), (predicted[:3], snap.now)

    asyncio.run(go())


def test_next_step_puts_an_alert_first(drill) -> None:
    """A journal that cannot be written (or a backend alert) is what to fix first: the line says it."""
    from cockpit.ui import guide

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)):
            await drill.run_ticks(app, 75)
            snap = drill.engine.snapshot
            why = "JOURNAL ALARM: disk full: not actuating until it can be written"
            line, keys = guide.next_step(dataclasses.replace(snap, alerts=[why]), app.main.situation())
            assert line == f"⚠ {why} · t shows the timeline" and keys == ["timeline"]
            line, _ = guide.next_step(snap, app.main.situation())
            assert line.startswith("4 tenant(s) regressing")

    asyncio.run(go())
