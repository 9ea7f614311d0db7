"""The main screen: the incident at a glance, what to do next, the tenant table, and every key.

It depends on `EngineHandle` alone, so the same screen runs an engine in this process or attaches to
one elsewhere. Every change goes through `engine.command` (the keys are `ActionScreen`'s, the views'
`ViewScreen`'s); a read-only screen refuses here, in `check_action`, exactly the keys whose command the
engine's command table marks mutating, says so when one is pressed, and the engine refuses again.
Every figure drawn is the engine's (the Snapshot's): two screens on one engine show the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical

from cockpit.engine.handle import EngineHandle
from cockpit.engine.snapshot import Snapshot
from cockpit.ui import guide, keys, panels, view
from cockpit.ui.planning import PlanTracker, plan_key, plan_scope
from cockpit.ui.plot import PlotPanel
from cockpit.ui.scorecard import DrillScore
from cockpit.ui.table import KeyBar, TenantTable, covered
from cockpit.ui.timeline import TimelineFeed
from cockpit.ui.trends import Sample, TrendRecorder
from cockpit.ui.viewkeys import ViewScreen

WIDE = 120  # columns from which the plot panel and the tenant detail pane are shown


class MainScreen(ViewScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(keys.BINDINGS)

    def __init__(self, engine: EngineHandle, *, operator: str, live: bool, drill: DrillScore | None = None) -> None:
        super().__init__(id="main")
        self.engine = engine
        self.operator = operator
        self.drill = drill
        self.threshold = engine.config.file.incident.regression_threshold
        self.filter_text = ""
        self.sort = ""
        self.index = view.TenantIndex()
        self.samples = TrendRecorder(engine.config)
        self.planner = PlanTracker(live)
        self.feed = TimelineFeed(engine)
        self.last_copied = ""
        self._regr_count = 0
        self._resumed = False
        self._was_read_only = engine.read_only
        self._controller: str | None = None
        self._controller_seen = False  # the first status says who holds control; later ones, who took it
        for a in engine.actions.values():  # keys plugins add (Screen has no public bind(); App.bind does this)
            self._bindings.bind(a.key, f"plugin({a.id!r})", a.description)
        self.banner = panels.Banner(id="banner")
        self.next_step = panels.NextStep(id="next")
        self.attach = panels.AttachLine(id="attach")
        self.models = panels.ModelsPanel(id="models")
        self.capacity = panels.CapacityPanel(id="capacity")
        self.caches = panels.CachesPanel(id="caches")
        self.trends = panels.TrendsPanel(id="trends")
        self.rollback = panels.RollbackPanel(id="rollback")
        self.plan = panels.PlanPanel(id="plan")
        self.plot = PlotPanel(id="plot")
        self.filter = panels.FilterInput(
            self.filter_changed, placeholder="filter tenants (name, cohort, health); escape clears", id="filter"
        )
        self.command_box = panels.CommandInput(placeholder=":tenants :timeline :plan :theme NAME :help", id="command")
        self.unknown = panels.UnknownPanel(id="unknown")
        self.tablebar = panels.TableBar(id="tablebar")
        self.table = TenantTable(view.TENANT_COLUMNS, (6, 6, *view.FIXED_WIDTHS), id="tenants")
        self.side = panels.DetailPane(id="side")

    @property
    def history(self) -> Sequence[Sample]:
        return self.samples.history

    @property
    def wide(self) -> bool:
        return self.app.size.width >= WIDE

    # Layout ------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield from (self.banner, self.next_step)
            if self.engine.attached:
                yield self.attach
            yield from (self.models, self.capacity, self.caches, self.trends, self.rollback, self.plan, self.plot)
            yield from (self.unknown, self.filter, self.command_box, self.tablebar)
            with Horizontal(id="table-row"):
                yield self.table
                yield self.side
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.table.on_cursor = self.cursor_moved
        self.table.focus()
        self.show()

    def on_resize(self) -> None:
        self.show()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """The first resume comes right after this screen's widgets were mounted, each styled as it was:
        textual's own handler (it runs after this one) would style every one of them again, 13 ms of a
        cold start. Later resumes are left as textual sends them (a theme may have changed meanwhile)."""
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False

    def _compositor_refresh(self) -> None:
        """Under an opaque screen (the scope picker), drop this screen's repaints: textual counts the
        screen below the top one as showing through it even when the top one is opaque
        (`App._background_screens`), so each refresh here (the screen switch itself, every tick's panels)
        repainted the whole picker, a frame each. This screen is drawn whole again when it is resumed."""
        if covered(self):
            self._dirty_widgets.clear()
            self._compositor._dirty_regions.clear()
            return
        super()._compositor_refresh()

    # Each tick ---------------------------------------------------------------------------------------
    async def tick(self, snap: Snapshot) -> None:
        """After an engine tick: record the trends, ask for a plan if one is due, redraw."""
        self.caches.record(snap)
        self.samples.record(snap)
        await self.ask_plan(snap, wait=not self.planner.live)
        self.show()
        await self.follow_timeline()
        self.prepare_scope_picker(snap)

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
        situation = self.situation()
        clock = getattr(engine.clock, "speed", None) if self.drill is not None else None
        paused = bool(getattr(engine.clock, "paused", False))
        self.banner.show(
            snap,
            situation.regressing,
            read_only=engine.read_only,
            real_clock=self.real_clock,
            drill=clock,
            paused=paused,
        )
        line, ids = guide.next_step(snap, situation)
        if clock is not None:  # a drill run here: pausing it is always a key that matters
            ids = [*ids, "drill_pause"]
        self.next_step.show(line)
        may_take = engine.can_take_control and engine.read_only  # c is offered to who is not in control
        hidden = guide.beside_the_point(snap) | (set() if may_take else {"take_control"})
        self.query_one(KeyBar).prefer(ids, hidden)
        if engine.attached:
            self.show_control()
        self.models.show(snap, cfg.models.old, cfg.models.new)
        needed = self.planner.plan.prescale_to if self.planner.plan else None
        self.capacity.show(snap, needed)
        self.caches.show(snap)
        now = engine.clock.now()
        plan = self.planner.plan
        eta = plan.eta_s if plan is not None and plan.finishes else None
        self.rollback.show(snap, self.drill.settle_left(snap, now) if self.drill is not None else None, eta)
        self.trends.show(self.history, estimated=self.samples.estimated)
        self.plan.show(plan, snap)
        self.plot.display = self.wide
        if self.wide:  # the headroom the planner keeps to, and what arming now would ask for
            self.plot.show(self.history, cfg.rollback.headroom, needed)
        self.unknown.show(snap)

    def show_control(self) -> None:
        """Attached: who is in control. When control changes hands, the keys change with it, and an
        operator who lost control is told (the one who took it is told by the command's answer)."""
        c = self.engine.control()
        address, role, controller = ("", "", None) if c is None else (c.address, c.role, c.controller)
        self.attach.show(address, role, controller, self.operator)
        if controller != self._controller and self._controller_seen:
            if self._controller == self.operator and controller not in (None, self.operator):
                self.notify(
                    f"{controller} took control: this screen is read-only now (c takes it back)",
                    severity="warning",
                    timeout=10,
                )
            elif controller not in (None, self.operator):  # told on every screen, not only the one that lost it
                self.notify(f"{controller} is in control now", timeout=6)
        self._controller, self._controller_seen = controller, True
        if self.engine.read_only != self._was_read_only:
            self._was_read_only = self.engine.read_only
            self.refresh_bindings()

    def show_table(self, snap: Snapshot | None, *, fresh: bool) -> None:
        """Regressing tenants first (or the chosen sort). The table formats only the rows on screen; a
        filter keystroke (fresh=False) re-filters the cached order and redraws only the lines that changed."""
        index = self.index
        index.update(snap, self.threshold)
        order = view.sorted_order(index.matching(self.filter_text), self.sort, snap, self.threshold)
        table = self.table
        table.widths = [*index.widths, *view.FIXED_WIDTHS]
        if snap is None or snap.traffic is None:
            table.set_rows(order, lambda t: (t,), fresh=fresh)
        else:
            harm, th = snap.harm, self.threshold
            tiers = self.engine.config.file.tiers
            fmt = view.row_formatter(snap, snap.traffic, th, view.tier_hits(snap, tiers.old, tiers.new))
            table.set_rows(order, fmt, lambda t: harm.get(t, 0.0) >= th and not view.is_restored(snap, t), fresh=fresh)
        regr = len(view.regressing(snap, self.threshold)) if fresh else self._regr_count
        self._regr_count = regr
        unknown = len(snap.unknown.get("health", {})) if snap is not None else 0
        self.tablebar.show(len(order), len(index.ordered), regr, self.filter_text.strip(), unknown, self.sort)
        self.side.display = self.wide
        if self.wide:
            self.side.show(snap, table.cursor_tenant, self.threshold)

    def cursor_moved(self, tenant: str | None) -> None:
        if self.wide:
            self.side.show(self.snapshot, tenant, self.threshold)

    # Refusals: the one place the screen refuses a key ---------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if keys.refused(self.engine.read_only, action, self.engine.actions, parameters):
            return False
        if action in keys.DRILL_ACTIONS and self.drill is None:
            return False  # not a drill: the keys are not shown and do nothing
        # While a modal is open, keys answer it; they do not start another main-screen action.
        return not (self.app.screen is not self and action in keys.MAIN_ACTIONS)

    async def palette_action(self, action: str) -> None:
        """Runs after the palette closed; check_action decides, exactly as for a key."""
        if not await self.app.run_action(action, self):
            self.notify(guide.refusal(action, action, self.situation()), severity="warning")
