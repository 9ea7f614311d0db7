"""The rollback in the engine: one step of the incident's scheduler a tick (plan within ready capacity,
pre-scale before anything moves, journal the finish) and the dry run of arming now (`cockpit plan`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cockpit.domain.planner import Plan, preview
from cockpit.domain.rollback import Decision, FleetView, Stage
from cockpit.engine.commands import CommandError
from cockpit.engine.figures import figures_of
from cockpit.engine.housekeeping import old_tier
from cockpit.hookspecs import TrafficReading

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine


async def step(
    engine: Engine, traffic: TrafficReading, missing: str | None, now: float
) -> tuple[Decision | None, str | None]:
    """The incident's scheduler: plan within ready capacity; pre-scale before anything moves."""
    if missing is not None:
        return None, (f"{missing} unreachable: holding" if engine.rollback.armed else None)
    fleet = engine.view(now, traffic)
    decision = engine.rollback.step(fleet)
    if decision.scale_to is not None:
        await engine.actuator.prescale(decision.scale_to, now, required=engine.rollback.replicas_required(fleet))
    if decision.stage is not None:
        engine.last_stage = stage_summary(decision.stage)
        engine.dirty = True
    if decision.finished:
        engine.journal.append(
            "rollback_finished", {"stage": engine.rollback.stage, "scope": sorted(engine.rollback.scope)}, now
        )
        engine.dirty = True
    return decision, decision.hold


def view(engine: Engine, now: float, traffic: TrafficReading, with_load: bool = False) -> FleetView:
    """One observation for the scheduler. The O(tenants) old-tier load is summed only when something
    will read it (an armed rollback, a plan)."""
    tier = old_tier(engine.config, engine.observed)
    assert tier is not None, "view() needs an old-tier reading"
    rps, shares = traffic.rps, traffic.shares
    armed = engine.rollback.armed
    old_load = engine.old_load(rps, shares, exact=armed) if with_load or armed else 0.0
    fleet = FleetView(now, rps, shares, engine.observed.harm, tier, engine.observed.old_hit(), old_load)
    return engine.overflow.widen(fleet)


def plan_now(engine: Engine, scope: str | Iterable[str]) -> Plan:
    """A dry run of arming now: tenants, traffic to move, pre-scale target, stage ETAs, and what could not
    be read (the unknown rates of tenants in scope, every unknown health reading)."""
    obs = engine.observed
    if obs.traffic is None or obs.old is None:
        raise CommandError("no observation of the fleet yet: the plan needs the router and the autoscaler")
    tenants = engine.scope(scope)
    if not tenants:
        raise CommandError("nothing to roll back: no tenant in scope is regressing")
    view = engine.view(engine.clock.now(), obs.traffic, with_load=True)
    startup = engine.config.file.tiers.startup_estimate_s
    plan = preview(engine.rollback, view, tenants, startup, asked=replicas_asked(engine, view.now))
    said: dict[str, str] = {}
    for reading in ("rps", "health"):
        for t, why in obs.unknown.get(reading, {}).items():
            if t in plan.scope or reading == "health":
                said[t] = f"{said[t]}; {why}" if t in said else why
    return replace(plan, unknown=said) if said else plan


def replicas_asked(engine: Engine, now: float) -> tuple[int, float] | None:
    """The old replicas asked for and the seconds until they are expected ready, counted as the capacity
    ETA is (from when the autoscaler took the ask; 0 once due), or None when none are starting."""
    asked = figures_of(engine).asked
    old = engine.observed.old
    if asked is None or old is None or old.ready >= asked[0]:
        return None
    return asked[0], max(0.0, asked[1] + engine.config.file.tiers.startup_estimate_s - now)


def stage_summary(stage: Stage) -> dict[str, Any]:
    """A stage as screens and checkpoints keep it: its figures and how many tenants, not every ceiling
    (those are in the stage's intent and in the rollback checkpoints)."""
    return {k: v for k, v in stage.to_dict().items() if k != "ceilings"} | {"tenants": len(stage.ceilings)}
