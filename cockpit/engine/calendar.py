"""The rollout calendar inside the engine: adopt the fleet, step it health-gated, re-approve after a
rollback.

- A calendar step never promotes a tenant the health backend marks regressing (severity at or above
  `[incident] regression_threshold`) or unknown, nor one rolled back under a ceiling below its target
  that the on-call has not re-approved: such a tenant is held at its step, the reason kept in the
  calendar (`RolloutScheduler.held`, the snapshot's `calendar`) and journaled once (`rollout_held`).
- Releasing the incident lifts the freeze only: rolled-back tenants stay at their ceilings until the
  on-call re-approves them (`reapprove`: tenants, a cohort, or all) — never a tenant still regressing
  or whose health is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cockpit.domain.rollout import Gate, RolloutPlan, RolloutScheduler
from cockpit.engine.commands import Call, CommandError
from cockpit.hookspecs import TrafficReading

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine

_EMPTY: Mapping[str, str] = {}
EPS = 1e-9


def cohort_plans(engine: Engine) -> dict[str, RolloutPlan]:
    return dict(engine.config.rollout_cohorts)


def adopt(engine: Engine, traffic: TrafficReading, now: float) -> RolloutScheduler:
    """First sight of the fleet: every tenant on its calendar's step at or below its share."""
    rollout = RolloutScheduler.from_observed(
        engine.config.rollout, traffic.shares, now, cohort_plans(engine), traffic.cohorts
    )
    models = engine.config.file.models
    engine.journal.append(
        "fleet_adopted",
        {
            "shares": dict(traffic.shares),
            "rps": dict(traffic.rps),
            "cohorts": dict(traffic.cohorts),
            "old": models.old,
            "new": models.new,
        },
        now,
    )
    if engine.incident and engine.incident.open:
        rollout.freeze(now)
    return rollout


def gate(engine: Engine, rollout: RolloutScheduler) -> tuple[Gate, object]:
    """Why a tenant must not be promoted now (or None), and a key that changes whenever the answer may."""
    harm = engine.observed.harm
    unknown = engine.observed.unknown.get("health") or _EMPTY
    threshold = engine.config.file.incident.regression_threshold
    ceilings = engine.rollback.ceilings
    targets = rollout.targets

    def why(tenant: str) -> str | None:
        severity = harm.get(tenant)
        if severity is not None and severity >= threshold:
            return f"regressing (severity {severity:.2f} ≥ {threshold:g})"
        unread = unknown.get(tenant)
        if unread:
            return f"health unknown ({unread})"
        ceiling = ceilings.get(tenant)
        if ceiling is not None and ceiling < targets.get(tenant, 0.0) - EPS:
            return f"rolled back (ceiling {ceiling:.0%}): awaiting re-approval"
        return None

    return why, (harm, unknown, engine.rollback.version)


def step(engine: Engine, traffic: TrafficReading, now: float) -> RolloutScheduler:
    """The calendar's tick: adopt the fleet on first sight, then step unless frozen, health-gated."""
    if engine.rollout is None:
        engine.rollout = adopt(engine, traffic, now)
        engine.dirty = True
    rollout = engine.rollout
    if len(traffic.shares) != len(rollout.step):
        rollout.add_tenants(traffic.shares, now)
    before = rollout.held
    stepped = rollout.tick(now, *gate(engine, rollout))
    if stepped:
        engine.journal.append("rollout_step", {"tenants": stepped}, now)
        engine.dirty = True
    if rollout.held is not before and rollout.held != before:
        newly = {t: why for t, why in rollout.held.items() if before.get(t) != why}
        if newly:
            engine.journal.append("rollout_held", {"tenants": dict(sorted(newly.items()))}, now)
        engine.dirty = True
    return rollout


def rolled_back(engine: Engine) -> list[str]:
    """Tenants held under a ceiling (rolled back, wholly or in part)."""
    return sorted(engine.rollback.ceilings)


def _named(engine: Engine, scope: Any) -> list[str]:
    """The tenants a scope names: `all` (every rolled-back one), a cohort, a tenant, or a list of tenants."""
    ceilings = engine.rollback.ceilings
    traffic = engine.observed.traffic
    known = set(ceilings) | set(traffic.shares if traffic is not None else ())
    if scope in (None, "all"):
        return list(ceilings)
    if isinstance(scope, str):
        members = [t for t, c in (traffic.cohorts if traffic is not None else {}).items() if c == scope]
        if members or scope in known:
            return members or [scope]
        raise CommandError(f"re-approve {scope!r}: neither a cohort nor a tenant the router knows")
    if isinstance(scope, (list, tuple, set, frozenset)) and all(isinstance(t, str) for t in scope):
        unknown = [t for t in scope if t not in known]
        if unknown:
            raise CommandError(f"re-approve: unknown tenant {unknown[0]!r}")
        return list(scope)
    raise CommandError(f"re-approve scope {scope!r}: expected 'all', a cohort, a tenant or a list of tenants")


def _scope(engine: Engine, scope: Any) -> list[str]:
    """The rolled-back tenants a scope names."""
    ceilings = engine.rollback.ceilings
    return sorted({t for t in _named(engine, scope) if t in ceilings})


async def reapprove(engine: Engine, call: Call) -> str:
    """Lift the ceilings of rolled-back tenants the on-call re-approves, after the incident is released:
    the calendar then takes them from their own targets again. Tenants still regressing or whose health
    is unknown keep their ceilings (said)."""
    if engine.incident is not None and engine.incident.open:
        raise CommandError(
            f"incident {engine.incident.id} is still open: release it first "
            "(re-approval hands tenants back to the calendar)"
        )
    chosen = _scope(engine, call.args.get("scope", "all"))
    if not chosen:
        raise CommandError("nothing to re-approve: no rolled-back tenant in that scope")
    rollout = engine.rollout
    why, _ = gate(engine, rollout) if rollout is not None else (lambda t: None, None)
    kept: dict[str, str] = {}
    for t in chosen:
        reason = why(t)
        if reason and not reason.startswith("rolled back"):
            kept[t] = reason
    lifted = [t for t in chosen if t not in kept]
    if not lifted:
        first = next(iter(kept.items()))
        raise CommandError(f"not re-approved: {len(kept)} tenant(s) held, e.g. {first[0]} {first[1]}")
    engine.rollback.lift(lifted)  # bumps the rollback's version: the calendar looks at held tenants again
    message = f"re-approved {len(lifted)} tenant(s): the calendar takes them from their targets again"
    if kept:
        first = next(iter(kept.items()))
        message += f"; {len(kept)} kept at their ceilings (e.g. {first[0]} {first[1]})"
    return message


def release_note(engine: Engine) -> str:
    """What releasing the incident does to the calendar, in one clause (the release message and dialog)."""
    n = len(rolled_back(engine))
    held = f"; {n} rolled-back tenant(s) stay at their ceilings until re-approved" if n else ""
    return f"the rollout calendar resumes, health-gated (never promoting a regressing or unknown tenant){held}"
