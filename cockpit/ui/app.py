"""The cockpit App: one main screen over a running engine.

The engine runs inside the app: a worker calls `engine.tick()` every `tick_s` of the engine's own clock
(with a ScaledClock that is wall time / speed). Every change goes through `Engine.command`; read-only
mode is refused here once, in `check_action`, and again by the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.widgets import Input, Static

from cockpit.engine.clock import RealClock
from cockpit.engine.loop import Engine, Snapshot
from cockpit.errors import CockpitError
from cockpit.ui import view
from cockpit.ui.screens import ConfirmScreen, ScopeScreen, TextScreen
from cockpit.ui.table import KeyBar, TenantTable

# Actions that change the world. Read-only mode refuses exactly these, in check_action.
MUTATING = frozenset(
    {"declare", "release", "arm", "arm_scope", "advance", "auto", "hold", "resume", "prescale", "warmer"}
)

# Everything the main screen's keys do; while a modal is open these wait.
HISTORY = 600  # samples kept for the trend plots (ten minutes at one tick a second)
PLAN_EVERY_S = 2.0  # wall seconds between dry-run plans (more if a plan is slow)

MAIN_ACTIONS = MUTATING | {"timeline", "filter", "close_filter", "help", "take_control", "plugin"}

CSS = """
Screen { layout: vertical; }
#banner { height: 1; text-style: bold; padding: 0 1; }
#attach { height: 1; padding: 0 1; text-style: italic; }
#banner.frozen { background: $error; color: $text; }
#banner.normal { background: $success-darken-2; color: $text; }
#banner.waiting { background: $warning-darken-2; }
#models, #capacity, #caches, #rollback, #trends, #plan { padding: 0 1; height: auto; }
#models.drift { background: $warning; color: $text; text-style: bold; }
#tenants { height: 1fr; padding: 0 0 0 1; }
#tablebar { height: 1; padding: 0 1; color: $text-muted; }
#filter { display: none; height: 3; }
#filter.shown { display: block; }
ConfirmScreen, ScopeScreen, TextScreen { align: center middle; }
#dialog { width: 72; max-width: 100%; height: auto; max-height: 100%; border: heavy $accent;
          padding: 0 1; background: $surface; }
#dialog.wide { width: 100; height: 90%; }
#dialog-title { text-style: bold; }
#dialog-buttons { height: auto; align-horizontal: right; }
#dialog-buttons Button { margin: 0 1; }
#scope { height: auto; max-height: 16; }
"""


class FilterInput(Input):
    """The tenant filter. It tells the app in its value watcher rather than by a Changed message, which
    would arrive a frame later: the box and the table it filters change in one frame."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(disabled=True, **kw)
        self.cursor_blink = False  # SSH-friendly: nothing on screen moves unless the fleet does

    def watch_value(self, value: str) -> None:
        app = self.app
        if isinstance(app, CockpitApp):
            app.filter_changed(value)


# The command palette's namespaced titles, by binding id: the palette is built from the same registry as
# the keys, and runs the same actions, so read-only refusal (check_action) applies to it unchanged.
PALETTE_TITLES = {
    "declare": "incident: declare (freeze)",
    "release": "incident: release (thaw)",
    "arm": "rollback: arm for regressing tenants",
    "arm_scope": "rollback: arm for a chosen scope",
    "advance": "rollback: advance one stage",
    "auto": "rollback: automatic / manual mode",
    "hold": "rollback: hold",
    "resume": "rollback: resume",
    "prescale": "capacity: pre-scale the old tier now",
    "warmer": "cache: warmer on / off",
    "take_control": "operators: take control of the engine",
    "timeline": "view: timeline of journal events",
    "filter": "view: filter tenants",
    "help": "view: help (live key bindings)",
    "quit": "app: quit",
}


class CockpitCommands(Provider):
    """ctrl+p: every binding in the registry under a namespaced title, plus `theme: NAME`."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.app
        return app.palette_commands() if isinstance(app, CockpitApp) else []

    async def discover(self) -> Hits:
        for title, run, help_text in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, run, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)


class CockpitApp(App[int]):
    TITLE = "cockpit"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = True
    COMMANDS: ClassVar[set[Any]] = {CockpitCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "declare", "Declare", id="declare"),
        Binding("D", "release", "Release", id="release"),
        Binding("a", "arm", "Arm", id="arm"),
        Binding("A", "arm_scope", "Arm scope", id="arm_scope"),
        Binding("n", "advance", "Next stage", id="advance"),
        Binding("m", "auto", "Auto/manual", id="auto"),
        Binding("h", "hold", "Hold", id="hold"),
        Binding("r", "resume", "Resume", id="resume"),
        Binding("s", "prescale", "Pre-scale", id="prescale"),
        Binding("w", "warmer", "Warmer", id="warmer"),
        Binding("c", "take_control", "Take control", id="take_control"),
        Binding("t", "timeline", "Timeline", id="timeline"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "close_filter", "Close filter", show=False, id="close_filter"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        operator: str | None = None,
        auto_tick: bool = True,
        keymap: Mapping[str, str] | None = None,
        drill: Any = None,
        scenario: str | None = None,
        theme: Any = None,
        themes: Sequence[Any] = (),
    ) -> None:
        super().__init__()
        self.engine = engine
        self.operator = operator or engine.operator
        self.auto_tick = auto_tick
        self.keymap_overrides = dict(keymap or {})
        self.drill = drill
        self.scenario = scenario
        self.filter_text = ""
        self.threshold = engine.config.file.incident.regression_threshold
        self.warmth: dict[str, deque[float]] = {}
        self.history: deque[view.Sample] = deque(maxlen=HISTORY)  # ring buffer for the trend plots
        self.wrong_estimate = 0.0
        self._plan: Any = None
        self._plan_key: tuple[Any, ...] | None = None
        self._plan_at = -1e18
        self._plan_every = PLAN_EVERY_S
        self._plan_running = False
        self.baselines: list[Any] | None = None
        self.scorecard_shown = False
        self.finished_at: float | None = None
        self.last_message = ""
        self.cockpit_theme = theme
        self.index = view.TenantIndex()
        self._regr_count = 0
        self.cockpit_themes = list(themes)
        self._was_read_only = engine.read_only

    @property
    def remote(self) -> bool:
        """Attached to an engine that runs elsewhere (`cockpit engine`), rather than running one here."""
        return hasattr(self.engine, "take_control")

    @property
    def real_clock(self) -> bool:
        return bool(getattr(self.engine.clock, "real", isinstance(self.engine.clock, RealClock)))

    # Layout ------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="banner", markup=False)
            if self.remote:
                yield Static(id="attach", markup=False)
            yield Static(id="models", markup=False)
            yield Static(id="capacity", markup=False)
            yield Static(id="caches", markup=False)
            yield Static(id="trends", markup=False)
            yield Static(id="rollback", markup=False)
            yield Static(id="plan", markup=False)
            yield FilterInput(placeholder="filter tenants (name, cohort, health); escape closes", id="filter")
            yield Static(id="tablebar", markup=False)
            yield TenantTable(view.TENANT_COLUMNS, (6, 6, *view.FIXED_WIDTHS), id="tenants")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        for t in self.cockpit_themes:
            self.register_theme(t)
        if self.cockpit_theme is not None:
            self.register_theme(self.cockpit_theme)
            self.theme = self.cockpit_theme.name
        for a in self.plugin_actions():
            self.bind(a.key, f"plugin({a.id!r})", description=a.description)
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self.query_one("#tenants", TenantTable).focus()
        self.render_snapshot()
        if self.auto_tick:
            self.run_worker(self._engine_loop(), group="engine", exclusive=True)
        if self.drill is not None and self.scenario:
            self.run_worker(self._compute_baselines, thread=True, group="baselines")

    async def _engine_loop(self) -> None:
        tick_s = self.engine.config.file.cockpit.tick_s
        while True:
            await self.step()
            await self.engine.clock.sleep(tick_s)
            await asyncio.sleep(0)  # a SimClock's sleep returns at once: still let the screen breathe

    async def step(self) -> Snapshot:
        """One engine tick, then redraw (tests call this directly with a SimClock)."""
        snap = await self.engine.tick()
        for ns in snap.namespaces:
            self.warmth.setdefault(f"{ns.tier}:{ns.revision}", deque(maxlen=60)).append(ns.hit_rate)
        self._record(snap)
        self.render_snapshot()
        self._maybe_scorecard()
        if self.remote and not self.scorecard_shown and self.engine.rollback.done:
            await self._remote_scorecard()
        return snap

    async def _remote_scorecard(self) -> None:
        """Attached to an engine running a game day: its scorecard is in the journal once it is done."""
        try:
            found = await self.engine.journal_entries(kinds=("drill_scorecard",))
        except CockpitError:
            return
        if not found or self.scorecard_shown:
            return
        self.scorecard_shown = True
        card = found[-1].data
        lines = [f"{k.replace('_', ' '):<28} {v}" for k, v in card.items() if not isinstance(v, list) or len(v) < 20]
        self.push_screen(TextScreen("Rollback finished: scorecard", "\n".join(lines), "scorecard"))

    # Rendering ---------------------------------------------------------------------------------------
    def current(self) -> Snapshot | None:
        """The last tick's picture with the command-side state (incident, rollback) brought up to date."""
        snap = self.engine.snapshot
        if snap is None:
            return None
        rb = self.engine.rollback
        return dataclasses.replace(snap, incident=self.engine.incident, rollback=rb.snapshot() | {"hold": rb.last_hold})

    def render_snapshot(self) -> None:
        snap = self.current()
        cfg = self.engine.config.file
        text, cls = view.banner(snap)
        extras = []
        if self.engine.read_only:
            extras.append("READ-ONLY")
        if snap is not None and not self.real_clock:
            extras.append(view.sim_clock(snap.now))
        if snap is not None and snap.degraded:
            extras.append(f"⚠ DEGRADED: {', '.join(sorted(snap.degraded))}")
        if self.remote:
            who = getattr(self.engine, "controller", None)
            role = getattr(self.engine, "role", "")
            me = "(you)" if who == self.operator else "· read-only: c takes control"
            self.query_one("#attach", Static).update(
                f"attached to {self.engine.address} ({role}) · control: {who or 'nobody'} {me}"
            )
            if self.engine.read_only != self._was_read_only:  # control changed hands: keys change with it
                self._was_read_only = self.engine.read_only
                self.refresh_bindings()
        banner = self.query_one("#banner", Static)
        banner.update(text + ("  │ " + " · ".join(extras) if extras else ""))
        banner.set_classes(cls)
        models, drifted = view.models_line(snap, cfg.models.old, cfg.models.new)
        m = self.query_one("#models", Static)
        m.update(models)
        m.set_class(drifted, "drift")
        scope = sorted(self.engine.rollback.scope) or view.regressing(snap, self.threshold)
        plan = view.arm_plan(snap, scope, cfg.tiers, self.engine.config.rollback)
        needed = plan.prescale_to if plan else None
        eta = view.capacity_eta(
            self.history,
            (snap.replicas_needed or snap.rollback.get("scale_requested") or needed) if snap else None,
            cfg.tiers.startup_estimate_s,
        )
        self.query_one("#capacity", Static).update(view.capacity_line(snap, needed) + eta)
        self.query_one("#caches", Static).update(self._caches_text(snap))
        self.query_one("#rollback", Static).update(view.rollback_line(snap, self.settle_left()))
        self.query_one("#trends", Static).update(view.trends_line(self.history, estimated=self.drill is None))
        rb = self.engine.rollback
        held = bool(rb.paused) or bool(snap is not None and (snap.hold or "").startswith("waiting"))
        self.query_one("#plan", Static).update(
            view.plan_line(self.current_plan(snap), rb.stage, rb.armed, rb.done, held, snap.now if snap else 0.0)
        )
        self.render_table(snap, fresh=True)

    def render_table(self, snap: Snapshot | None, *, fresh: bool) -> None:
        """Regressing tenants first. The table formats only the rows on screen; a filter keystroke
        (fresh=False) re-filters the cached order and redraws only the lines that changed."""
        index = self.index
        index.update(snap, self.threshold)
        order = index.matching(self.filter_text)
        table = self.query_one("#tenants", TenantTable)
        table.widths = [*index.widths, *view.FIXED_WIDTHS]
        if snap is None or snap.traffic is None:
            table.set_rows(order, lambda t: (t,), fresh=fresh)
        else:
            harm, th = snap.harm, self.threshold
            cfg = self.engine.config.file.tiers
            fmt = view.row_formatter(snap, th, view.tier_hits(snap, cfg.old, cfg.new))
            table.set_rows(order, fmt, lambda t: harm.get(t, 0.0) >= th, fresh=fresh)
        total = len(index.ordered)
        regr = len(view.regressing(snap, self.threshold)) if fresh else self._regr_count
        self._regr_count = regr
        count = f"{len(order):,} of {total:,} tenants match" if self.filter_text.strip() else f"{total:,} tenants"
        self.query_one("#tablebar", Static).update(f"{count} · {regr} regressing · / filter · hit o·n = tier cache")

    def _record(self, snap: Snapshot) -> None:
        """Append one sample to the ring buffer. Wrong answers: the simulator's own count in a drill;
        otherwise an estimate, harm × rps × share on new of each regressing tenant, integrated over time."""
        prev = self.history[-1] if self.history else None
        if self.drill is not None:
            e = self.engine
            declared = e.incident.declared_at if e.incident else None
            wrong = float(self.drill.simulator.scorecard(declared, sorted(e.rollback.scope))["wrong_answers"])
        else:
            if prev is not None and snap.traffic is not None:
                dt = max(0.0, snap.now - prev.now)
                tr, eff = snap.traffic, snap.effective
                self.wrong_estimate += dt * sum(
                    h * tr.rps.get(t, 0.0) * eff.get(t, tr.shares.get(t, 0.0))
                    for t, h in snap.harm.items()
                    if h >= self.threshold
                )
            wrong = self.wrong_estimate
        tiers = self.engine.config.file.tiers
        old_hit, _ = view.tier_hits(snap, tiers.old, tiers.new)
        o = snap.old_tier
        self.history.append(
            view.Sample(snap.now, snap.old_utilisation, o.ready if o else 0, o.desired if o else 0, old_hit, wrong)
        )

    def current_plan(self, snap: Snapshot | None) -> Any:
        """The engine's dry-run plan for the rollback scope (or the regressing tenants). It costs
        O(tenants × stages) (half a second at 10,000 tenants), so it is recomputed when the scope or stage
        changes, at most every few wall seconds (longer if it is slow), never per keystroke, and on a
        thread while the engine runs live (tests, with auto_tick off, compute it inline: deterministic)."""
        if snap is None:
            return None
        rb = self.engine.rollback
        key = (rb.armed, rb.done, rb.stage, tuple(sorted(rb.scope)), frozenset(view.regressing(snap, self.threshold)))
        # Live: wall time. Driven by hand (tests, benchmarks): engine time, so pictures are deterministic.
        now = time.monotonic() if self.auto_tick else snap.now
        due = key != self._plan_key or now - self._plan_at >= (self._plan_every if self.auto_tick else 5.0)
        if due and not self._plan_running:
            self._plan_key, self._plan_at = key, now
            scope = sorted(rb.scope) if rb.armed else "regressing"
            if self.remote:
                self._plan_running = True
                self.run_worker(self._compute_plan_remote(scope), group="plan")
            elif self.auto_tick:
                self._plan_running = True
                self.run_worker(lambda: self._compute_plan(scope, threaded=True), thread=True, group="plan")
            else:
                self._compute_plan(scope, threaded=False)
        return self._plan

    def _compute_plan(self, scope: Any, *, threaded: bool) -> None:
        t0 = time.perf_counter()
        try:
            plan = None if self.engine.rollback.done else self.engine.plan(scope)
        except CockpitError:
            plan = None
        except RuntimeError:  # the engine's state moved under the thread: keep the last plan, retry later
            plan = self._plan
        took = time.perf_counter() - t0
        if threaded:
            with contextlib.suppress(RuntimeError):  # the app may have closed meanwhile
                self.call_from_thread(self._plan_ready, plan, took)
        else:
            self._plan_ready(plan, took, render=False)

    async def _compute_plan_remote(self, scope: Any) -> None:
        t0 = time.perf_counter()
        try:
            plan = None if self.engine.rollback.done else await self.engine.plan(scope)
        except CockpitError:
            plan = None
        self._plan_ready(plan, time.perf_counter() - t0)

    def _plan_ready(self, plan: Any, took: float, render: bool = True) -> None:
        self._plan, self._plan_running = plan, False
        self._plan_every = max(PLAN_EVERY_S, 10 * took)  # at most a tenth of the CPU on planning
        if render and self.is_running:
            self.render_snapshot()

    def _caches_text(self, snap: Snapshot | None) -> str:
        if snap is None or not snap.namespaces:
            return "caches: no reading"
        parts = []
        for ns in snap.namespaces:
            spark = view.sparkline(self.warmth.get(f"{ns.tier}:{ns.revision}", ()), 8)
            frozen = " ❄" if ns.frozen else ""
            parts.append(f"{ns.tier} g{ns.generation} hit {view.pct(ns.hit_rate)} {spark}{frozen}")
        gc = "  (❄ = GC frozen)" if any(ns.frozen for ns in snap.namespaces) else ""
        return "cache  " + " · ".join(parts) + gc

    # Read-only: the one place the app refuses a write ----------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.engine.read_only and action in MUTATING:
            return False
        if action == "plugin" and self.engine.read_only:
            a = self.engine.actions.get(str(parameters[0])) if parameters else None
            if a is None or a.mutating:
                return False
        # While a modal is open, keys answer it; they do not start another main-screen action.
        return not (len(self.screen_stack) > 1 and action in MAIN_ACTIONS)

    # Commands ----------------------------------------------------------------------------------------------
    async def run_command(self, name: str, **args: Any) -> str | None:
        try:
            msg = await self.engine.command(name, operator=self.operator, **args)
        except CockpitError as exc:
            self.last_message = str(exc)
            self.notify(str(exc), severity="error", timeout=6)
            return None
        self.last_message = msg
        self.notify(msg, timeout=4)
        self.render_snapshot()
        return msg

    def confirm(self, title: str, body: str, then: Callable[[], Any], yes: str = "Yes") -> None:
        async def answered(ok: bool | None) -> None:
            if ok:
                await then()

        self.push_screen(ConfirmScreen(title, body, yes), answered)

    def action_declare(self) -> None:
        if self.engine.incident is not None and self.engine.incident.open:
            self.notify(f"incident {self.engine.incident.id} is already open")
            return
        self.confirm(
            "Declare an incident?",
            "Freezes the rollout scheduler, flags, system-prompt revision and cache GC until released.",
            lambda: self.run_command("declare", reason="declared from the cockpit"),
            yes="Declare",
        )

    def action_release(self) -> None:
        self.confirm(
            "Release the incident?",
            "Thaws the freeze: the rollout calendar resumes moving tenants to the new revision.",
            lambda: self.run_command("release", confirm=True),
            yes="Release",
        )

    def action_arm(self) -> None:
        scope = view.regressing(self.current(), self.threshold)
        if not scope:
            self.notify("nothing to roll back: no tenant is regressing (A chooses a scope)", severity="warning")
            return
        self._confirm_arm(scope)

    def action_arm_scope(self) -> None:
        snap = self.current()
        if snap is None or snap.traffic is None:
            self.notify("no observation of the fleet yet", severity="warning")
            return

        def chosen(scope: list[str] | None) -> None:
            if scope:
                self._confirm_arm(scope)

        self.push_screen(ScopeScreen(list(snap.traffic.shares), view.regressing(snap, self.threshold)), chosen)

    def _confirm_arm(self, scope: list[str]) -> None:
        cfg = self.engine.config
        plan = view.arm_plan(self.current(), scope, cfg.file.tiers, cfg.rollback)
        body = plan.describe() if plan else f"Roll back {len(scope)} tenant(s): {', '.join(scope)}"
        mode = self.engine.rollback.mode
        self.confirm(
            "Arm the rollback?",
            f"{body}\nMode: {mode} (m toggles; n advances one stage by hand)",
            lambda: self.run_command("arm", scope=scope, mode=str(mode)),
            yes="Arm",
        )

    def action_advance(self) -> None:
        rb = self.engine.rollback
        self.confirm(
            "Advance one stage?",
            f"Lowers the next ceilings now (stage {rb.stage + 1}), within ready old-tier capacity."
            + ("\nSwitches the rollback to manual mode." if str(rb.mode) == "auto" else ""),
            lambda: self.run_command("advance"),
            yes="Advance",
        )

    def action_auto(self) -> None:
        if str(self.engine.rollback.mode) == "auto":
            self.run_worker(self.run_command("mode", mode="manual"), group="command")
            return
        self.confirm(
            "Switch to automatic mode?",
            "The scheduler will lower ceilings stage by stage on its own, as capacity allows.",
            lambda: self.run_command("mode", mode="auto"),
            yes="Auto",
        )

    async def action_hold(self) -> None:
        await self.run_command("pause")

    def action_resume(self) -> None:
        self.confirm(
            "Resume the rollback?", "Stages continue from where they were held.", lambda: self.run_command("resume")
        )

    def action_prescale(self) -> None:
        snap = self.current()
        cfg = self.engine.config
        scope = sorted(self.engine.rollback.scope) or view.regressing(snap, self.threshold)
        plan = view.arm_plan(snap, scope, cfg.file.tiers, cfg.rollback)
        target = f" to about {plan.prescale_to} replicas" if plan else ""
        self.confirm(
            "Pre-scale the old tier now?",
            f"Raises the old tier{target} ahead of any traffic shift (costs replicas).",
            lambda: self.run_command("prescale"),
            yes="Pre-scale",
        )

    def action_warmer(self) -> None:
        w = self.engine.config.file.warmer
        on = bool((self.current().warmer if self.current() else {}).get("enabled"))
        if on:
            self.run_worker(self.run_command("warmer", on=False), group="command")
            return
        self.confirm(
            "Turn the cache warmer on?",
            f"Replays sampled prompt prefixes against the old revision {self.engine.config.file.models.old} "
            f"at {w.rate_per_s:g} request(s)/s to keep its cache warm (this costs tokens).",
            lambda: self.run_command("warmer", on=True),
            yes="Warm",
        )

    def action_take_control(self) -> None:
        if not self.remote:
            self.notify("this screen runs its own engine: it is in control", timeout=4)
            return
        holder = getattr(self.engine, "controller", None)
        if holder in (None, self.operator):
            self.run_worker(self._take_control(False), group="command")
            return
        self.confirm(
            "Take control?",
            f"{holder} is in control. Taking it makes their screen read-only; it is journaled with both names.",
            lambda: self._take_control(True),
            yes="Take control",
        )

    async def _take_control(self, confirm: bool) -> None:
        try:
            msg = await self.engine.take_control(confirm=confirm)
        except CockpitError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        self.notify(msg, timeout=4)
        self.render_snapshot()

    # Views ---------------------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.disabled = False
        box.add_class("shown")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            box.disabled = True
            self.query_one("#tenants", TenantTable).focus()

    def filter_changed(self, value: str) -> None:
        """Called as the filter's value changes, so the table is redrawn in the same frame as the box."""
        if value != self.filter_text:
            self.filter_text = value
            self.render_table(self.current(), fresh=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#tenants", TenantTable).focus()

    def palette_commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        """(title, callback, help) for the palette, from the binding registry and the loaded themes."""
        out = []
        for b in self.BINDINGS:
            if not isinstance(b, Binding) or not b.id or (b.id not in PALETTE_TITLES and not b.show):
                continue  # escape-to-close and the like are keys, not commands
            key = self.keymap_overrides.get(b.id, b.key).split(",")[0]
            refused = self.engine.read_only and b.action in MUTATING
            help_text = f"key {key}" + ("  (refused: read-only)" if refused else "")
            title = PALETTE_TITLES.get(b.id, f"app: {b.description.lower()}")
            out.append((title, functools.partial(self._palette_action, b.action), help_text))
        for a in self.plugin_actions():
            refused = self.engine.read_only and a.mutating
            help_text = f"key {a.key}" + ("  (refused: read-only)" if refused else "")
            title = f"plugin {a.id.split('.')[0]}: {a.description[:1].lower()}{a.description[1:]}"
            out.append((title, functools.partial(self._palette_action, f"plugin({a.id!r})"), help_text))
        for t in self.cockpit_themes:
            name = t.name.removeprefix("cockpit-")
            out.append((f"theme: {name}", functools.partial(self._set_theme, t.name), f"switch to the {name} theme"))
        return out

    async def _palette_action(self, action: str) -> None:
        """Runs after the palette closed; the app's check_action decides, exactly as for a key."""
        if not await self.run_action(action):
            self.notify(f"{action}: refused" + (" (read-only)" if self.engine.read_only else ""), severity="warning")

    def _set_theme(self, name: str) -> None:
        self.theme = name

    def help_text(self) -> str:
        """Built from the live bindings, so a remapped key shows as remapped."""
        lines = []
        for _key, active in sorted(self.active_bindings.items(), key=lambda kv: kv[1].binding.description):
            b = active.binding
            if not b.description:
                continue
            state = "" if active.enabled else "  (refused: read-only)"
            lines.append(f"{self.get_key_display(b):>10}  {b.description}{state}  [{b.id or b.action}]")
        if not any("palette" in line for line in lines):
            lines.append(f"{'ctrl+p':>10}  Command palette: the keys above as namespaced commands, and themes")
        actions = self.plugin_actions()
        if actions:
            lines.append("\nPlugin actions:")
            for a in actions:
                state = "  (refused: read-only)" if self.engine.read_only and a.mutating else ""
                lines.append(f"{a.key:>10}  {a.description}{state}  [{a.id}]")
        if self.engine.read_only:
            lines.append("\nRead-only: declare, arm, advance, hold, resume, pre-scale and release are refused.")
        lines.append(
            "\nhit o·n: hit rate of the old / new tier's cache namespace serving the tenant (the backends give no"
            " per-tenant rate); — where the tier carries none of its traffic. wrong≈: an estimate (harm × rps ×"
            " share on new, summed over time); in a drill the simulator's own count, without ≈."
        )
        return "\n".join(lines)

    def plugin_actions(self) -> list[Any]:
        """Keystrokes plugins add (PluginAction), for an engine running here."""
        return list(getattr(self.engine, "actions", {}).values())

    def action_plugin(self, action_id: str) -> None:
        a = self.engine.actions.get(action_id)
        if a is None:
            return
        run = lambda: self.run_command("plugin-action", id=action_id)  # noqa: E731
        if not a.mutating:
            self.run_worker(run(), group="command")
            return
        self.confirm(f"{a.description}?", f"Plugin action {a.id}: it is journaled with your name.", run, yes="Run")

    def action_help(self) -> None:
        self.push_screen(TextScreen("Keys (live bindings)", self.help_text(), "help"))

    def action_timeline(self) -> None:
        entries = list(self.engine.journal.entries(kinds=_TIMELINE_KINDS))[-300:]
        real = self.real_clock
        lines = [f"{view.stamp(e.ts, real)}  {e.kind:<20} {e.actor:<18} {_brief(e.data)}" for e in entries]
        if real and entries:
            lines.insert(0, f"(wall-clock, local time {time.strftime('%Z %z')})")
        self.push_screen(TextScreen("Timeline (journal)", "\n".join(lines) or "(empty)", "timeline"))

    async def action_quit(self) -> None:
        rb = self.engine.rollback
        if rb.armed and not rb.done and not self.engine.read_only:

            async def answered(ok: bool | None) -> None:
                if ok:
                    self.exit(0)

            self.push_screen(
                ConfirmScreen(
                    "Quit while a rollback is in progress?",
                    "The engine's state is journaled in "
                    f"{self.engine.journal.path if hasattr(self.engine.journal, 'path') else 'the journal'}: "
                    "starting cockpit again resumes the rollback from there. Traffic stays where it is now.",
                    yes="Quit",
                ),
                answered,
            )
            return
        self.exit(0)

    # Drills --------------------------------------------------------------------------------------------------
    def _compute_baselines(self) -> None:
        from cockpit.engine.drill import run_drill

        cards = [asyncio.run(run_drill(self.scenario, s)) for s in ("abort", "fixed-stages")]
        self.call_from_thread(self._baselines_ready, cards)

    def _baselines_ready(self, cards: list[Any]) -> None:
        self.baselines = cards
        if self.scorecard_shown:
            with contextlib.suppress(KeyError):
                self.get_screen("scorecard").set_body(self.scorecard_text())

    def drill_card(self) -> Any:
        from cockpit.engine.drill import Scorecard

        e, sim = self.engine, self.drill.simulator
        declared = e.incident.declared_at if e.incident else None
        scope = sorted(e.rollback.scope)
        card = sim.scorecard(declared, scope)
        restored = card["restored_at_s"]
        extra: dict[str, Any] = {}
        warmer = getattr(e, "warmer", None)
        if "warmer" in Scorecard.__dataclass_fields__:  # the engine's cache warmer, when it has one
            extra["warmer"] = warmer.snapshot() if warmer is not None else {}
        return Scorecard(
            **extra,
            scenario=self.drill.info["name"],
            strategy="you (TUI)",
            restored=restored is not None,
            time_to_restore_s=None if restored is None or declared is None else max(0.0, restored - declared),
            lower_bound_s=sim.lower_bound(declared, scope) if declared is not None else None,
            wrong_answers=card["wrong_answers"],
            dropped_requests=card["dropped_requests"],
            peak_old_utilisation=card["peak_old_utilisation"],
            min_old_hit_rate=card["min_old_hit_rate"],
            extra_cost=card["extra_cost"] + (getattr(warmer, "cost", 0.0) or 0.0),
            disturbed_tenants=card["disturbed_tenants"],
            declared_at_s=declared,
            onset_s=card["onset_s"],
            stages=e.rollback.stage,
            scope=scope,
            history=card["history"],
        )

    def scorecard_text(self) -> str:
        from cockpit.report import scorecard_table

        cards = [self.drill_card(), *(self.baselines or [])]
        note = "" if self.baselines is not None else "\n\n(baselines abort and fixed-stages: computing…)"
        return scorecard_table(cards) + note

    def settle_left(self) -> float | None:
        """Simulated seconds left before a finished drill is scored (None: the rollback is not done).

        The baselines (run_drill) keep simulating SETTLE_AFTER_RESTORE_S after the rollback finishes, so
        overload or a cold cache after the last stage still counts; the TUI's own card waits as long."""
        if self.drill is None or not self.engine.rollback.done:
            return None
        now = self.engine.clock.now()
        if self.finished_at is None:
            self.finished_at = now
        return max(0.0, view.SETTLE_S - (now - self.finished_at))

    def _maybe_scorecard(self) -> None:
        if self.scorecard_shown:
            return
        left = self.settle_left()
        if left is None or left > 0:
            return
        self.scorecard_shown = True
        self.push_screen(TextScreen("Drill finished: scorecard", self.scorecard_text(), "scorecard"))


_TIMELINE_KINDS = (
    "engine_started",
    "engine_resumed",
    "command",
    "incident_declared",
    "incident_released",
    "health_changed",
    "tier_changed",
    "stage_applied",
    "stage_incomplete",
    "rollback_finished",
    "alias_moved",
    "backend_degraded",
    "backend_recovered",
    "plugin_error",
)


def _brief(data: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("config",))
    return text[:100]
