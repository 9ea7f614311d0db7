"""The cockpit App: it runs the engine's tick and shows the main screen.

The engine runs inside the app when it is in this process: a worker calls `engine.tick()` every `tick_s`
of the engine's own clock (with a ScaledClock that is wall time / speed); attached to an engine elsewhere,
`tick()` waits for the next snapshot it pushes. Everything the operator sees and does is on `MainScreen`;
the app keeps what is the app's: themes, the keymap, the command palette and a drill's scorecard.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.theme import Theme

from cockpit.engine.handle import EngineHandle
from cockpit.engine.snapshot import Snapshot
from cockpit.errors import CockpitError
from cockpit.ui.keys import BINDINGS
from cockpit.ui.main_screen import MainScreen
from cockpit.ui.palette import CockpitCommands, PaletteCommand, palette_commands
from cockpit.ui.scorecard import REMOTE_TITLE, TITLE, DrillScore, compute_baselines, journal_card_text

if TYPE_CHECKING:
    from cockpit.engine.drill import Scorecard

__all__ = ["BINDINGS", "CockpitApp"]


class CockpitApp(App[int]):
    TITLE = "cockpit"
    CSS_PATH = "cockpit.tcss"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS: ClassVar[set[Any]] = {CockpitCommands}

    def __init__(
        self,
        engine: EngineHandle,
        *,
        operator: str | None = None,
        auto_tick: bool = True,
        keymap: Mapping[str, str] | None = None,
        drill: Any = None,
        scenario: str | None = None,
        theme: Theme | None = None,
        themes: Sequence[Theme] = (),
        freeze_gc: bool = False,
    ) -> None:
        super().__init__()
        self.freeze_gc = freeze_gc
        self.engine = engine
        self.operator = operator or engine.operator
        self.auto_tick = auto_tick
        self.keymap_overrides = dict(keymap or {})
        self.scenario = scenario
        self.score = DrillScore(drill) if drill is not None else None
        if drill is not None and hasattr(engine, "observed"):
            # A drill's engine counts the simulator's own figures (wrong answers, onset, the lower bound)
            # for every screen, instead of its estimate (cockpit.engine.figures).
            engine.truth = drill.simulator  # type: ignore[attr-defined]
        self.remote_card_shown = False
        self.cockpit_theme = theme
        self.cockpit_themes = list(themes)
        for t in self.cockpit_themes:
            self.register_theme(t)
        if theme is not None:
            self._start_with(theme)
        self.main = MainScreen(engine, operator=self.operator, live=auto_tick, drill=self.score)

    def _start_with(self, theme: Theme) -> None:
        """The theme, set before the app starts as `App.theme`'s watchers would set it (its classes, its
        ANSI mapping, `ansi_color` as watch_theme sets it) without the watcher's refresh_css: the stylesheet
        is parsed once, with this theme's variables. Set through the watcher (in on_mount, as it was),
        every stylesheet was parsed a second time and every node restyled: 9-12 ms of a cold start."""
        self.register_theme(theme)
        self.set_reactive(App.theme, theme.name)
        self.set_reactive(App.ansi_color, theme.ansi)
        self.stylesheet.set_variables(self.get_css_variables())  # App.__init__ set the default theme's
        classes = {name: False for name in self.classes if name.startswith("-theme-")}
        classes |= {f"-theme-{theme.name}": True, "-dark-mode": theme.dark, "-light-mode": not theme.dark}
        self.update_classes(classes, update=False)
        self._refresh_truecolor_filter(self.ansi_theme)  # textual's own (App._watch_theme does this)

    def get_default_screen(self) -> MainScreen:
        """The main screen is the app's base screen: modals stack on it, app queries reach it."""
        return self.main

    def on_mount(self) -> None:
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        if self.freeze_gc:
            self.call_after_refresh(self._freeze_gc)
        if self.auto_tick:
            self.run_worker(self._engine_loop(), group="engine", exclusive=True)
        if self.score is not None and self.scenario:
            # Seconds of CPU on a thread: started once the screen is drawn, so that it does not share the
            # interpreter with the first frame (the scorecard, at the drill's end, is what needs it).
            self.call_after_refresh(self.run_worker, self._compute_baselines, thread=True, group="baselines")

    @staticmethod
    def _freeze_gc() -> None:
        """Once the screen is up: what is alive now (the engine and its world, 10,000 tenants and all;
        textual; the modules) lives as long as the process, and the garbage collector's full passes
        stop walking it. At 10,000 tenants a full pass took 80-130 ms and fell on whatever key was
        being answered (the scope picker's opening, a filter keystroke). The command line sets this, and
        starts with the collector off (cockpit.ui.run.run_tui): it is turned on here, after the freeze
        (turned on first, its first pass would walk everything start-up allocated). Tests do not set it
        (many apps in one process: what a frozen app leaves would never be collected)."""
        gc.freeze()
        gc.enable()

    # The engine's tick ----------------------------------------------------------------------------------
    async def _engine_loop(self) -> None:
        tick_s = self.engine.config.file.cockpit.tick_s
        while True:
            if not getattr(self.engine.clock, "paused", False):  # a paused drill: time stands still
                await self.step()
            await self.engine.clock.sleep(tick_s)
            await asyncio.sleep(0)  # a SimClock's sleep returns at once: still let the screen breathe

    async def step(self) -> Snapshot:
        """One engine tick, then redraw (tests call this directly with a SimClock)."""
        snap = await self.engine.tick()
        await self.main.tick(snap)
        self._maybe_scorecard(snap)
        if self.engine.attached and snap.rollback.get("done") and not self.remote_card_shown:
            await self._remote_scorecard()
        return snap

    # Drills -------------------------------------------------------------------------------------------
    def _maybe_scorecard(self, snap: Snapshot) -> None:
        if self.score is not None and self.score.due(snap, self.engine.clock.now()):
            from cockpit.ui.screens import TextScreen  # imported when first needed, not at start-up

            self.push_screen(TextScreen(TITLE, self.score.text(snap), "scorecard"))

    async def _remote_scorecard(self) -> None:
        """Attached to an engine running a game day: its scorecard is in the journal once it is done."""
        try:
            found = await self.engine.journal_entries(kinds=("drill_scorecard",))
            around = await self.engine.journal_entries(kinds=("incident_declared", "drill_lower_bound"))
        except CockpitError:
            return
        if not found or self.remote_card_shown:
            return
        self.remote_card_shown = True
        declared = next((e.ts for e in reversed(around) if e.kind == "incident_declared"), None)
        bound = next((e.data.get("lower_bound_s") for e in reversed(around) if e.kind == "drill_lower_bound"), None)
        text = journal_card_text(found[-1].data, declared, bound)
        from cockpit.ui.screens import TextScreen

        self.push_screen(TextScreen(REMOTE_TITLE, text, "scorecard"))

    def _compute_baselines(self) -> None:
        assert self.scenario is not None
        cards = compute_baselines(self.scenario)
        self.call_from_thread(self._baselines_ready, cards)

    def _baselines_ready(self, cards: list[Scorecard]) -> None:
        if self.score is None:
            return
        self.score.baselines = cards
        snap = self.engine.snapshot
        if self.score.shown and snap is not None:
            from cockpit.ui.screens import TextScreen

            for screen in self.screen_stack:
                if isinstance(screen, TextScreen) and screen.id == "scorecard":
                    screen.set_body(self.score.text(snap))

    # Palette -----------------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        """(title, callback, help) for the palette, from the binding registry and the loaded themes."""
        return palette_commands(self.main, self.keymap_overrides, self.cockpit_themes, self._set_theme)

    def _set_theme(self, name: str) -> None:
        self.theme = name

    def watch_theme(self, name: str) -> None:
        """An ANSI theme draws with the terminal's own 16 colours (SGR 30-37/90-97, default foreground
        39), not with RGB approximations of them."""
        self.ansi_color = self.current_theme.ansi

    def action_help_quit(self) -> None:
        """ctrl+c: say what quits here (q, which asks first while a rollback runs)."""
        self.notify("ctrl+c does not quit cockpit: press q (it asks first while a rollback runs)", timeout=5)
