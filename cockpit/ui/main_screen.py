"""The main screen: the incident at a glance, the tenant table, and every key the on-call acts with.

It depends on `EngineHandle` alone, so the same screen runs an engine in this process or attaches to
one elsewhere. Every change goes through `engine.command`; a read-only screen refuses here, in
`check_action`, exactly the keys whose command the engine's command table marks mutating, and the
engine refuses again on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input

from cockpit.engine.handle import EngineHandle
from cockpit.engine.snapshot import Snapshot
from cockpit.errors import CockpitError
from cockpit.ui import keys, panels, view
from cockpit.ui.planning import PlanTracker, plan_key, plan_or_none, plan_scope
from cockpit.ui.scorecard import DrillScore
from cockpit.ui.screens import ConfirmScreen, ScopeScreen, TextScreen
from cockpit.ui.table import KeyBar, TenantTable
from cockpit.ui.timeline import timeline_text
from cockpit.ui.trends import TrendRecorder


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(keys.BINDINGS)

    def __init__(self, engine: EngineHandle, *, operator: str, live: bool, drill: DrillScore | None = None) -> None:
        super().__init__(id="main")
        self.engine = engine
        self.operator = operator
        self.drill = drill
        self.threshold = engine.config.file.incident.regression_threshold
        self.filter_text = ""
        self.index = view.TenantIndex()
        self.samples = TrendRecorder(engine.config, drill)
        self.planner = PlanTracker(live)
        self._regr_count = 0
        self._was_read_only = engine.read_only
        for a in engine.actions.values():  # keys plugins add (Screen has no public bind(); App.bind does this)
            self._bindings.bind(a.key, f"plugin({a.id!r})", a.description)
        self.banner = panels.Banner(id="banner")
        self.attach = panels.AttachLine(id="attach")
        self.models = panels.ModelsPanel(id="models")
        self.capacity = panels.CapacityPanel(id="capacity")
        self.caches = panels.CachesPanel(id="caches")
        self.trends = panels.TrendsPanel(id="trends")
        self.rollback = panels.RollbackPanel(id="rollback")
        self.plan = panels.PlanPanel(id="plan")
        self.filter = panels.FilterInput(
            self.filter_changed, placeholder="filter tenants (name, cohort, health); escape closes", id="filter"
        )
        self.unknown = panels.UnknownPanel(id="unknown")
        self.tablebar = panels.TableBar(id="tablebar")
        self.table = TenantTable(view.TENANT_COLUMNS, (6, 6, *view.FIXED_WIDTHS), id="tenants")

    @property
    def real_clock(self) -> bool:
        """Journal times and the banner: wall-clock on a real clock, T+h:mm:ss on a simulated one."""
        return bool(getattr(self.engine.clock, "real", False))

    @property
    def history(self) -> Sequence[view.Sample]:
        return self.samples.history

    @property
    def snapshot(self) -> Snapshot | None:
        return self.engine.snapshot

    # Layout ------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield self.banner
            if self.engine.can_take_control:
                yield self.attach
            yield from (self.models, self.capacity, self.caches, self.trends, self.rollback, self.plan)
            yield from (self.unknown, self.filter, self.tablebar, self.table)
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.table.focus()
        self.show()

    # Each tick ---------------------------------------------------------------------------------------
    async def tick(self, snap: Snapshot) -> None:
        """After an engine tick: record the trends, ask for a plan if one is due, redraw."""
        self.caches.record(snap)
        self.samples.record(snap)
        await self.ask_plan(snap, wait=not self.planner.live)
        self.show()

    async def ask_plan(self, snap: Snapshot | None, *, wait: bool = False) -> None:
        """Ask the engine's planner in a worker when a plan is due; `wait`: until it answers (a screen
        driven tick by tick, so every run draws the same plan)."""
        if snap is None:
            return
        rb = snap.rollback
        if not self.planner.due(plan_key(rb, view.regressing(snap, self.threshold)), snap.now):
            return
        worker = self.run_worker(self._plan(plan_scope(rb), bool(rb.get("done"))), group="plan")
        if wait:
            await worker.wait()

    async def _plan(self, scope: str | list[str], done: bool) -> None:
        await self.planner.refresh(self.engine, scope, done)
        if self.is_mounted:
            self.show_status(self.snapshot)

    # Drawing -----------------------------------------------------------------------------------------
    def show(self) -> None:
        snap = self.snapshot
        self.show_status(snap)
        self.show_table(snap, fresh=True)

    def show_status(self, snap: Snapshot | None) -> None:
        engine, cfg = self.engine, self.engine.config.file
        self.banner.show(snap, read_only=engine.read_only, real_clock=self.real_clock)
        if engine.can_take_control:
            self.show_control()
        self.models.show(snap, cfg.models.old, cfg.models.new)
        needed = self.planner.plan.prescale_to if self.planner.plan else None
        asked = (snap.replicas_needed or snap.rollback.get("scale_requested") or needed) if snap else None
        self.capacity.show(snap, needed, view.capacity_eta(self.history, asked, cfg.tiers.startup_estimate_s))
        self.caches.show(snap)
        now = engine.clock.now()
        self.rollback.show(snap, self.drill.settle_left(snap, now) if self.drill is not None else None)
        self.trends.show(self.history, estimated=self.drill is None)
        self.plan.show(self.planner.plan, snap)
        self.unknown.show(snap)

    def show_control(self) -> None:
        """Attached: who is in control. When control changes hands, the keys change with it."""
        self.attach.show(*_control(self.engine), self.operator)
        if self.engine.read_only != self._was_read_only:
            self._was_read_only = self.engine.read_only
            self.refresh_bindings()

    def show_table(self, snap: Snapshot | None, *, fresh: bool) -> None:
        """Regressing tenants first. The table formats only the rows on screen; a filter keystroke
        (fresh=False) re-filters the cached order and redraws only the lines that changed."""
        index = self.index
        index.update(snap, self.threshold)
        order = index.matching(self.filter_text)
        table = self.table
        table.widths = [*index.widths, *view.FIXED_WIDTHS]
        if snap is None or snap.traffic is None:
            table.set_rows(order, lambda t: (t,), fresh=fresh)
        else:
            harm, th = snap.harm, self.threshold
            tiers = self.engine.config.file.tiers
            fmt = view.row_formatter(snap, snap.traffic, th, view.tier_hits(snap, tiers.old, tiers.new))
            table.set_rows(order, fmt, lambda t: harm.get(t, 0.0) >= th, fresh=fresh)
        regr = len(view.regressing(snap, self.threshold)) if fresh else self._regr_count
        self._regr_count = regr
        unknown = len(snap.unknown.get("health", {})) if snap is not None else 0
        self.tablebar.show(len(order), len(index.ordered), regr, bool(self.filter_text.strip()), unknown)

    # Read-only: the one place the screen refuses a write ----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if keys.refused(self.engine.read_only, action, self.engine.actions, parameters):
            return False
        # While a modal is open, keys answer it; they do not start another main-screen action.
        return not (self.app.screen is not self and action in keys.MAIN_ACTIONS)

    async def palette_action(self, action: str) -> None:
        """Runs after the palette closed; check_action decides, exactly as for a key."""
        if not await self.app.run_action(action, self):
            self.notify(f"{action}: refused" + (" (read-only)" if self.engine.read_only else ""), severity="warning")

    # Commands ----------------------------------------------------------------------------------------
    async def run_command(self, name: str, **args: Any) -> str | None:
        try:
            msg = await self.engine.command(name, operator=self.operator, **args)
        except CockpitError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return None
        self.notify(msg, timeout=4)
        self.show()
        await self.ask_plan(self.snapshot)
        return msg

    def confirm(self, title: str, body: str, then: Callable[[], Awaitable[Any]], yes: str = "Yes") -> None:
        async def answered(ok: bool | None) -> None:
            if ok:
                await then()

        self.app.push_screen(ConfirmScreen(title, body, yes), answered)

    def _rollback(self) -> dict[str, Any]:
        snap = self.snapshot
        return snap.rollback if snap is not None else {}

    def action_declare(self) -> None:
        snap = self.snapshot
        if snap is not None and snap.incident is not None and snap.incident.open:
            self.notify(f"incident {snap.incident.id} is already open")
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

    async def action_arm(self) -> None:
        scope = view.regressing(self.snapshot, self.threshold)
        if not scope:
            self.notify("nothing to roll back: no tenant is regressing (A chooses a scope)", severity="warning")
            return
        await self.confirm_arm(scope)

    def action_arm_scope(self) -> None:
        snap = self.snapshot
        if snap is None or snap.traffic is None:
            self.notify("no observation of the fleet yet", severity="warning")
            return

        async def chosen(scope: list[str] | None) -> None:
            if scope:
                await self.confirm_arm(scope)

        self.app.push_screen(ScopeScreen(list(snap.traffic.shares), view.regressing(snap, self.threshold)), chosen)

    async def confirm_arm(self, scope: list[str]) -> None:
        """The confirmation shows the planner's dry run of exactly this scope, stage ETAs included."""
        plan = await plan_or_none(self.engine, scope)
        snap = self.snapshot
        declares = not (snap is not None and snap.incident is not None and snap.incident.open)
        if plan is not None:
            ready = snap.old_tier.ready if snap is not None and snap.old_tier is not None else None
            body = view.arm_summary(plan, ready, declares)
        else:
            body = f"Roll back {len(scope)} tenant(s): {', '.join(scope)}"
        mode = str(self._rollback().get("mode") or self.engine.config.mode)
        self.confirm(
            "Arm the rollback?",
            f"{body}\nMode: {mode} (m toggles; n advances one stage by hand)",
            lambda: self.run_command("arm", scope=scope, mode=mode),
            yes="Arm",
        )

    def action_advance(self) -> None:
        rb = self._rollback()
        self.confirm(
            "Advance one stage?",
            f"Lowers the next ceilings now (stage {int(rb.get('stage', 0)) + 1}), within ready old-tier capacity."
            + ("\nSwitches the rollback to manual mode." if rb.get("mode") == "auto" else ""),
            lambda: self.run_command("advance"),
            yes="Advance",
        )

    def action_auto(self) -> None:
        if self._rollback().get("mode") == "auto":
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

    async def action_prescale(self) -> None:
        plan = await plan_or_none(self.engine, plan_scope(self._rollback()))
        target = f" to about {plan.prescale_to} replicas" if plan else ""
        self.confirm(
            "Pre-scale the old tier now?",
            f"Raises the old tier{target} ahead of any traffic shift (costs replicas).",
            lambda: self.run_command("prescale"),
            yes="Pre-scale",
        )

    def action_warmer(self) -> None:
        snap = self.snapshot
        if snap is not None and snap.warmer.get("enabled"):
            self.run_worker(self.run_command("warmer", on=False), group="command")
            return
        cfg = self.engine.config.file
        self.confirm(
            "Turn the cache warmer on?",
            f"Replays sampled prompt prefixes against the old revision {cfg.models.old} "
            f"at {cfg.warmer.rate_per_s:g} request(s)/s to keep its cache warm (this costs tokens).",
            lambda: self.run_command("warmer", on=True),
            yes="Warm",
        )

    def action_take_control(self) -> None:
        if not self.engine.can_take_control:
            self.notify("this screen runs its own engine: it is in control", timeout=4)
            return
        holder = _control(self.engine)[2]
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
        self.show()

    def action_plugin(self, action_id: str) -> None:
        a = self.engine.actions.get(action_id)
        if a is None:
            return

        def run() -> Awaitable[str | None]:
            return self.run_command("plugin-action", id=action_id)

        if not a.mutating:
            self.run_worker(run(), group="command")
            return
        self.confirm(f"{a.description}?", f"Plugin action {a.id}: it is journaled with your name.", run, yes="Run")

    async def action_quit(self) -> None:
        rb = self._rollback()
        if not rb.get("armed") or rb.get("done") or self.engine.read_only:
            self.app.exit(0)
            return

        async def answered(ok: bool | None) -> None:
            if ok:
                self.app.exit(0)

        self.app.push_screen(
            ConfirmScreen(
                "Quit while a rollback is in progress?",
                f"The engine's state is journaled in {self.engine.config.journal_url}: "
                "starting cockpit again resumes the rollback from there. Traffic stays where it is now.",
                yes="Quit",
            ),
            answered,
        )

    # Views -------------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.filter.open()

    def action_close_filter(self) -> None:
        if self.filter.close():
            self.table.focus()

    def filter_changed(self, value: str) -> None:
        """Called as the filter's value changes, so the table is redrawn in the same frame as the box."""
        if value != self.filter_text:
            self.filter_text = value
            self.show_table(self.snapshot, fresh=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_help(self) -> None:
        self.app.push_screen(TextScreen("Keys (live bindings)", self.help_text(), "help"))

    def help_text(self) -> str:
        source = self.engine.config.source or str(self.engine.config.path)
        text = keys.help_text(self.app, self.engine.actions, self.engine.read_only)
        return f"configuration: {source}\n\n{text}"

    async def action_timeline(self) -> None:
        body = await timeline_text(self.engine, self.real_clock)
        self.app.push_screen(TextScreen("Timeline (journal)", body, "timeline"))


def _control(engine: EngineHandle) -> tuple[str, str, str | None]:
    """(address, role, who is in control) of an attached engine; empty for an in-process one."""
    c = engine.control()
    return ("", "", None) if c is None else (c.address, c.role, c.controller)
