"""What a drill's on-call does on the scenario's schedule (release the incident, re-approve rolled-back
tenants), and the drill's view of the calendar and the rollback's end state for the scorecard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine


class OncallScript:
    """The scenario's on-call events (`incident_release`, `release_ceilings`), given as commands at the
    first tick at or after their time. A refused command is journaled (`command_failed`) and not retried."""

    def __init__(self, engine: Engine, sim: Any) -> None:
        self.engine = engine
        events = sim.oncall_events() if hasattr(sim, "oncall_events") else []
        now = engine.clock.now()
        # after a restart, what the journal shows the on-call already did stays done
        self.events = [e for e in events if e["at_s"] > self._done_until(now)]
        self.prescale_target: int | None = None
        self.last_given: float | None = None

    def _done_until(self, now: float) -> float:
        last = self.engine.journal.last("drill_oncall")
        return float(last.data["at_s"]) if last is not None else -1.0

    def pending(self, now: float, settle_s: float) -> bool:
        """Events still to give, or the last one given less than `settle_s` ago (its effect is scored)."""
        return bool(self.events) or (self.last_given is not None and now - self.last_given < settle_s)

    async def act(self) -> None:
        rb = self.engine.rollback
        if rb.scale_requested:
            self.prescale_target = max(self.prescale_target or 0, rb.scale_requested)
        now = self.engine.clock.now()
        while self.events and self.events[0]["at_s"] <= now + 1e-9:
            await self._give(self.events.pop(0), now)

    async def _give(self, event: dict[str, Any], now: float) -> None:
        e = self.engine
        try:
            if event["kind"] == "incident_release":
                await e.command("release", confirm=True)
            else:
                scope: Any = list(event["tenants"]) or event["cohort"] or "all"
                if event["tenants"] and event["cohort"]:
                    scope = sorted(set(event["tenants"]) | _cohort(e, event["cohort"]))
                await e.command("reapprove", scope=scope, confirm=True)
        except CockpitError:
            pass  # refused (journaled as command_failed by the engine): the drill goes on
        e.journal.append("drill_oncall", {"at_s": event["at_s"], "kind": event["kind"]}, now)
        self.last_given = now

    def report(self) -> dict[str, Any]:
        """The scorecard's end state: each tenant's ceiling, the pre-scale target, when the alias alarm
        went off, and the calendar (frozen or not, held tenants with why, the steps it took)."""
        e = self.engine
        alias = next(iter(e.journal.entries(kinds=("alias_moved",))), None)  # the first alarm
        rollout = e.rollout
        calendar: dict[str, Any] = rollout.state() if rollout is not None else {}
        calendar["steps"] = [
            {"at_s": entry.ts, "tenants": len(entry.data["tenants"])}
            for entry in e.journal.entries(kinds=("rollout_step",))
        ]
        return {
            "final_ceilings": dict(sorted(e.rollback.ceilings.items())),
            "prescale_target": self.prescale_target,
            "alias_alarm_at_s": alias.ts if alias is not None else None,
            "calendar": calendar,
        }


def _cohort(engine: Engine, cohort: str) -> set[str]:
    traffic = engine.observed.traffic
    return {t for t, c in (traffic.cohorts if traffic else {}).items() if c == cohort}
