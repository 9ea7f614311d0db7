"""The main screen's incident keys: each gives the engine one command (through `engine.command`), behind
a confirmation that says what will happen. A key the screen refuses says why (`refuse`), never nothing.
The modal screens (cockpit.ui.screens, cockpit.ui.scope) are imported when first needed, not at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import events
from textual.screen import Screen

from cockpit.engine.handle import EngineHandle
from cockpit.engine.snapshot import Snapshot
from cockpit.errors import CockpitError
from cockpit.ui import guide, keys, view
from cockpit.ui.planning import PlanTracker, plan_or_none, plan_scope
from cockpit.ui.plantext import arm_summary


class ActionScreen(Screen[None]):
    """The incident actions of `MainScreen` (which draws; this acts)."""

    engine: EngineHandle
    operator: str
    threshold: float
    planner: PlanTracker
    _picker_asked = False  # the scope picker's build (prepare_scope_picker) is asked for once

    @property
    def local_read_only(self) -> bool:
        """Started with --read-only on an engine of its own (no control to take)."""
        return self.engine.read_only and not self.engine.can_take_control

    @property
    def snapshot(self) -> Snapshot | None:
        return self.engine.snapshot

    def show(self) -> None:  # MainScreen draws
        raise NotImplementedError

    async def ask_plan(self, snap: Snapshot | None, *, wait: bool = False) -> None:
        raise NotImplementedError

    def situation(self) -> guide.Situation:
        c = self.engine.control()
        controller = c.controller if c is not None else None
        return guide.Situation(
            regressing=len(view.regressing(self.snapshot, self.threshold)),
            read_only=self.engine.read_only,
            in_control=not self.engine.read_only,
            controller=controller,
            local_read_only=self.local_read_only,
        )

    # Refusals: said, never silent ----------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """A key whose binding check_action refused (read-only, not in control) reaches here unhandled:
        say why, instead of doing nothing visible."""
        if self.app.screen is not self:
            return
        for b in self._bindings.key_to_bindings.get(event.key, ()):
            action = b.action.split("(")[0]
            params: tuple[object, ...] = (b.action.split("'")[1],) if action == "plugin" else ()
            if keys.refused(self.engine.read_only, action, self.engine.actions, params):
                self.notify(guide.refusal(action, b.description, self.situation()), severity="warning", timeout=5)
                event.stop()
                return

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
        from cockpit.ui.screens import ConfirmScreen

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
        n = len(self.snapshot.ceilings) if self.snapshot is not None else 0
        self.confirm(
            "Release the incident?",
            "Thaws the freeze: the rollout calendar resumes, but never promotes a tenant that is regressing or "
            f"whose health is unknown. {n} rolled-back tenant(s) stay at their ceilings until re-approved (R).",
            lambda: self.run_command("release", confirm=True),
            yes="Release",
        )

    def action_reapprove(self) -> None:
        snap = self.snapshot
        inc = snap.incident if snap is not None else None
        if inc is not None and inc.open:  # the engine refuses it: say so now, not after a confirmation
            self.notify(f"re-approval waits for the release: {inc.id} is open (D releases it)", severity="warning")
            return
        ceilings = snap.ceilings if snap is not None else {}
        unknown = snap.unknown.get("health", {}) if snap is not None else {}
        harm = snap.harm if snap is not None else {}
        healthy = sum(1 for t in ceilings if harm.get(t, 0.0) < self.threshold and t not in unknown)
        if not healthy:
            why = "none of the rolled-back tenants is healthy" if ceilings else "no tenant is rolled back"
            self.notify(f"nothing to re-approve: {why}", severity="warning")
            return
        self.confirm(
            "Re-approve rolled-back tenants?",
            f"Lifts the ceilings of the {healthy:,} healthy tenant(s) of the {len(ceilings):,} rolled back: the "
            "calendar takes them from their targets again. Regressing or unknown ones keep their ceilings.",
            lambda: self.run_command("reapprove", scope="all", confirm=True),
            yes="Re-approve",
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

        from cockpit.ui.scope import ScopeScreen

        args = self._picker_args(snap)
        if self.app.is_screen_installed("scope"):  # built while idle, or kept: no compose, mount or layout
            picker = self.app.get_screen("scope")
            assert isinstance(picker, ScopeScreen)
            self.app.push_screen(picker, chosen)
            picker.reset(*args)  # once it is the screen: drawn in its first frame, not in one before it
        else:
            self.app.install_screen(ScopeScreen(*args), "scope")
            self.app.push_screen("scope", chosen)

    def _picker_args(self, snap: Snapshot) -> tuple[Any, ...]:
        """The picker's tenants, the regressing ones (preselected), the cohorts and who is healthy."""
        assert snap.traffic is not None
        regr = view.regressing(snap, self.threshold)
        bad = set(regr)
        return (list(snap.traffic.shares), regr, snap.traffic.cohorts, lambda t: t not in bad)

    def prepare_scope_picker(self, snap: Snapshot) -> None:
        """Once the fleet is observed, the scope picker is built while the app is idle after that frame
        (compose, mount, layout, its rows): the first `A` then opens it in one frame, as a later one does
        (at 10,000 tenants a first opening that built it took 100-150 ms, in three frames)."""
        if self._picker_asked or snap.traffic is None:
            return
        self._picker_asked = True
        self.call_after_refresh(self.run_worker, self._build_scope_picker, group="scope-picker")

    async def _build_scope_picker(self) -> None:
        snap = self.snapshot
        if snap is None or snap.traffic is None or self.app.is_screen_installed("scope"):
            return  # opened already (A before this ran): built as it opened
        from cockpit.ui.scope import ScopeScreen, install_hidden

        await install_hidden(self.app, ScopeScreen(*self._picker_args(snap)), "scope")

    async def confirm_arm(self, scope: list[str]) -> None:
        """The confirmation shows the planner's dry run of exactly this scope, stage ETAs included, says
        when arming also declares, and warns when healthy tenants are in the scope."""
        plan = await plan_or_none(self.engine, scope)
        snap = self.snapshot
        declares = not (snap is not None and snap.incident is not None and snap.incident.open)
        bad = set(view.regressing(snap, self.threshold))
        healthy = sum(1 for t in scope if t not in bad)
        if plan is not None:
            ready = snap.old_tier.ready if snap is not None and snap.old_tier is not None else None
            body = arm_summary(plan, ready, declares, healthy)
        else:
            body = f"Roll back {len(scope):,} tenant(s): {', '.join(scope[:8])}" + (
                "\n⚠ No incident is open: arming also DECLARES one." if declares else ""
            )
        mode = str(self._rollback().get("mode") or self.engine.config.mode)
        self.confirm(
            "Declare and arm the rollback?" if declares else "Arm the rollback?",
            f"{body}\nMode: {mode} (m toggles; n advances one stage by hand)",
            lambda: self.run_command("arm", scope=scope, mode=mode),
            yes="Declare and arm" if declares else "Arm",
        )

    def _done(self, what: str) -> bool:
        """A finished rollback has no stage to advance or hold: said at the key, not after a question."""
        if not self._rollback().get("done"):
            return False
        self.notify(f"{what}: the rollback is done (every tenant in scope at 0 % new)", severity="warning")
        return True

    def action_advance(self) -> None:
        rb = self._rollback()
        if self._done("advance"):
            return
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
        if not self._done("hold"):
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
            self.notify(guide.take_control_refusal(self.local_read_only), timeout=5)
            return
        c = self.engine.control()
        holder = c.controller if c is not None else None
        if holder in (None, self.operator):
            self.run_worker(self._take_control(False), group="command")
            return
        self.confirm(
            "Take control?",
            f"{holder} is in control. Taking it makes their screen read-only (they are told); "
            "it is journaled with both names.",
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

        from cockpit.ui.screens import ConfirmScreen

        async def answered(ok: bool | None) -> None:
            if ok:
                self.app.exit(0)

        if self.engine.attached:  # the engine runs elsewhere: only this screen goes away
            body = (
                "This screen detaches; the engine it is attached to keeps running the rollback. "
                "Start cockpit again to watch it."
            )
        else:
            body = (
                f"The engine's state is journaled in {self.engine.config.journal_url}: "
                "starting cockpit again resumes the rollback from there. Traffic stays where it is now."
            )
        self.app.push_screen(
            ConfirmScreen("Quit while a rollback is in progress?", body, yes="Quit"),
            answered,
        )
