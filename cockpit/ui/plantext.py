"""The planner's dry run as text: the plan line, the arm confirmation and its stage table, and durations
written for people (`1m40`, never `ETA 120s after s`)."""

from __future__ import annotations

from cockpit.domain.planner import Plan

UNKNOWN_GLYPH = "?"
WITHIN = "not done within the 4 h the planner looks ahead, at today's capacity"


def dur(seconds: float | None) -> str:
    """A duration for people: 45s, 1m40, 2h05m; — when unknown."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def clock(seconds: float) -> str:
    """hh:mm:ss of a span (an incident's age)."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _in(seconds: float | None) -> str:
    return "in —" if seconds is None else f"in {dur(seconds)}"


def plan_line(plan: Plan | None, stage: int, armed: bool, done: bool, held: bool) -> str:
    """The rollback plan as stages with status and ETA: ✔ applied, ▶/⏸ next, · planned."""
    if done:
        return f"plan  ✔ {stage} stage(s) applied: every tenant in scope is at 0 % new"
    if plan is None:
        return "plan  — (no regressing tenant: nothing to plan)" if not armed else "plan  — (waiting for a reading)"
    parts = [f"✔{i}" for i in range(max(1, stage - 2), stage + 1)] if armed and stage else []
    if armed and stage > 3:
        parts.insert(0, "…")
    for i, st in enumerate(plan.stages[:6]):
        glyph = ("⏸" if held else "▶") if i == 0 else "·"
        parts.append(f"{glyph}{stage + i + 1} {_in(st.eta_s)}")
    if len(plan.stages) > 6:
        parts.append(f"… +{len(plan.stages) - 6}")
    end = f"all done {_in(plan.eta_s)}" if plan.finishes and plan.eta_s is not None else WITHIN
    head = "plan " if armed else f"plan if armed now ({len(plan.scope):,} tenants, pre-scale to {plan.prescale_to:,}):"
    return f"{head} {' '.join(parts)}  · {end}"


def arm_summary(plan: Plan, ready: int | None, declares: bool, healthy: int = 0, stages_shown: int = 5) -> str:
    """The arm confirmation, from the domain planner's dry run (the one the plan line shows): which
    tenants, how much traffic moves, the pre-scale target, and each stage's ETA. Arming with no incident
    open declares one (the engine's `arm` does), so the confirmation says so before the operator agrees;
    `healthy`: how many tenants of the scope are not regressing (a warning when any are)."""
    names = ", ".join(plan.scope[:8]) + (f" (+{len(plan.scope) - 8:,} more)" if len(plan.scope) > 8 else "")
    ready_now = "" if ready is None else f" (ready now: {ready:,})"
    lines = []
    if declares:
        lines.append("⚠ No incident is open: arming also DECLARES one (rollout, flags and cache GC freeze).")
    if healthy:
        are = "is healthy: it moves" if healthy == 1 else "are healthy: they move"
        lines.append(f"⚠ {healthy:,} of the {len(plan.scope):,} tenants {are} to old too.")
    lines += [
        f"Roll back {len(plan.scope):,} tenant(s): {names}",
        f"Traffic to move to the old revision: {plan.traffic_to_move_rps:,.0f} rps",
        f"Pre-scale the old tier to {plan.prescale_to:,} replicas first{ready_now}",
        *stage_lines(plan, stages_shown),
        "Stages move only as fast as ready old-tier capacity allows.",
    ]
    lines.extend(plan_unknown_lines(plan))
    return "\n".join(lines)


def plan_unknown_lines(plan: Plan, limit: int = 6) -> list[str]:
    """The tenants the plan could not read, each with what was assumed (an unknown rate is planned at a
    stated estimate, never 0 rps; an unknown health is never counted healthy)."""
    if not plan.unknown:
        return []
    out = [f"{UNKNOWN_GLYPH} Unknown readings for {len(plan.unknown)} tenant(s), planned conservatively:"]
    for t in sorted(plan.unknown)[:limit]:
        out.append(f"  {t}: {plan.unknown[t]}")
    if len(plan.unknown) > limit:
        out.append(f"  … +{len(plan.unknown) - limit} more (cockpit plan lists them all)")
    return out


def stage_lines(plan: Plan, limit: int = 5) -> list[str]:
    """Each planned stage with its ETA from now, the traffic it moves and the tenants it lowers."""
    end = f"all done {_in(plan.eta_s)}" if plan.finishes and plan.eta_s is not None else WITHIN
    if not plan.stages:
        return [f"Stages: none planned yet · {end}"]
    out = ["Stage  starts    moves     tenants"]
    for st in plan.stages[:limit]:
        out.append(f"{st.number:>5}  {_in(st.eta_s):<8}  {st.moved_rps:>6,.0f} rps  {_names(st.tenants)}")
    if len(plan.stages) > limit:
        out.append(f"    … +{len(plan.stages) - limit:,} more stage(s)")
    out.append(f"       {end}")
    return out


def _names(tenants: tuple[str, ...], width: int = 44) -> str:
    """A stage's tenants on one line of the confirmation: as many names as fit `width`, then how many more
    (a line that wrapped under the stage column read as another stage)."""
    out = ""
    for i, name in enumerate(tenants):
        more = f" +{len(tenants) - i:,}"
        part = f"{out}, {name}" if out else name
        if i and len(part) + len(f" +{len(tenants) - i - 1:,}") > width:
            return out + more
        out = part
    return out
