"""A dry run of the rollback scheduler: the stages it would apply, with their ETAs.

Used by the arm confirmation (which tenants, how much traffic, pre-scale target, stage ETAs) and by
`cockpit plan`. It runs the real scheduler on a copy against a projected fleet: replicas asked for
become ready after `startup_estimate_s`, moved traffic lands where the stage says, and the old cache's
hit rate is taken as the diluted rate each stage plans for (no credit for warming, so ETAs are late
rather than early). In that projection only two things change with time, the end of a stage's settle
and the moment the requested replicas turn ready, so the dry run jumps from one to the next rather
than stepping the clock: its cost grows with the number of stages, not the planning horizon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from itertools import compress, repeat
from operator import add, lt, mul, sub

from cockpit.domain.exact import remember
from cockpit.domain.fleet import Tier
from cockpit.domain.rollback import EPS, FleetView, RollbackScheduler, Stage


@dataclass(frozen=True, slots=True)
class PlannedStage:
    number: int
    eta_s: float  # seconds from now
    tenants: tuple[str, ...]
    moved_rps: float
    old_utilisation_after: float


@dataclass(frozen=True, slots=True)
class Plan:
    scope: tuple[str, ...]
    traffic_to_move_rps: float
    prescale_to: int
    stages: tuple[PlannedStage, ...]
    finishes: bool  # within the horizon
    eta_s: float | None
    # tenants the plan could not read, and what it assumed: an unknown rate is planned at a stated
    # conservative estimate (never 0 rps), an unknown health is shown (never counted healthy)
    unknown: Mapping[str, str] = field(default_factory=dict)


def preview(
    scheduler: RollbackScheduler,
    view: FleetView,
    scope: list[str],
    startup_estimate_s: float,
    horizon_s: float = 4 * 3600.0,
    max_stages: int = 500,
    asked: tuple[int, float] | None = None,
) -> Plan:
    """`asked`: replicas the old tier was already asked for and the seconds until they are expected
    ready (the engine's count from when the autoscaler took the ask): a plan made while they start does
    not wait a whole `startup_estimate_s` again, so its ETAs count down as the replicas come."""
    sim = type(scheduler)(policy=scheduler.policy)
    sim._failback.exact = False  # a dry run: summed afresh in C, no exact total to make
    sim.load_snapshot(scheduler.snapshot())
    sim.arm(scope, view.now)
    sim.resume()  # held by the operator: the plan is what resuming now does (the screen marks it ⏸)
    shares = dict(view.shares)
    rps = view.rps
    tier = view.old_tier
    hit = view.old_hit_rate
    old_load = view.old_load
    # Sorted once: the plan's scope, and each stage's tenants picked from it. The scope a caller passes
    # is usually in order already (no sort work); it is the sim's whole scope unless a rollback already
    # armed widens it or a name is given twice.
    names = sorted(scope)
    if len(names) != len(sim.scope) or len(set(names)) != len(names):
        names = sorted(sim.scope)
    sim.sorted_scope_is(names)  # the sim's cold order starts from it
    sim.adopt_order(scheduler, view)  # or from the real one's order, updated (a rollback armed)
    # Σ rps·share over the scope, correctly rounded (math.fsum): the same figure whatever order the scope's
    # set iterates in, so an engine and a dry run in another process (another hash seed) print the same
    to_move = math.fsum(map(mul, map(rps.get, sim.scope, repeat(0.0)), map(shares.get, sim.scope, repeat(0.0))))
    prescale = max(tier.desired, sim.replicas_needed(view))
    ready_at = view.now + startup_estimate_s
    if asked is not None and prescale <= asked[0]:
        ready_at = view.now + max(0.0, asked[1])
    step = max(sim.policy.min_stage_interval_s, 1.0)
    stages: list[PlannedStage] = []
    now = view.now
    while now - view.now <= horizon_s and len(stages) < max_stages:
        ready = prescale if now >= ready_at else tier.ready
        t = Tier(tier.name, ready, prescale, tier.per_replica_rps, tier.cold_capacity_factor, tier.warm_hit_rate)
        d = sim.step(FleetView(now, rps, shares, view.harm, t, hit, old_load), prescale=False)
        if d.finished or sim.done:
            return Plan(tuple(names), to_move, prescale, tuple(stages), True, now - view.now)
        if d.stage is not None:
            seen, shares = shares, dict(shares)  # a new mapping: the scheduler treats the ones it saw as immutable
            old_load = _apply(d.stage, seen, shares, rps, old_load)
            hit = d.stage.hit_rate_after
            cap = t.capacity(hit)
            stages.append(
                PlannedStage(
                    d.stage.number,
                    now - view.now,
                    _in_order(d.stage.ceilings, names),
                    d.stage.moved_rps,
                    old_load / cap if cap > EPS else float("inf"),
                )
            )
        elif d.hold and "waiting for the operator" in d.hold:
            sim.advance()
            continue
        elif d.hold != "settling after the last stage":
            # Nothing in the projection changes until the replicas asked for turn ready: jump there
            # (stepping every few seconds in between would see the same hold), or stop if they have.
            if now >= ready_at:
                break
            now = ready_at
            continue
        now = min(now + step, ready_at) if now < ready_at else now + step
    return Plan(tuple(names), to_move, prescale, tuple(stages), False, None)


def _apply(
    stage: Stage, seen: Mapping[str, float], shares: dict[str, float], rps: Mapping[str, float], old_load: float
) -> float:
    """Lower the shares (a copy of `seen`) to the stage's ceilings; the old tier's load plus what moved
    (Σ rps·(share − ceiling) over the tenants lowered, added in the ceilings' order as a loop would, looped
    in C). The scheduler's readers are told which tenants changed from `seen` (exact.remember), so that
    none of them compares every tenant's share to find the few a stage moved."""
    tenants, ceilings = list(stage.ceilings), list(stage.ceilings.values())
    before = list(map(shares.get, tenants, repeat(0.0)))
    lowered = list(map(lt, ceilings, before))
    moved = list(compress(tenants, lowered))
    to = list(compress(ceilings, lowered))
    load = map(mul, map(rps.get, moved, repeat(0.0)), map(sub, compress(before, lowered), to))
    shares.update(zip(moved, to, strict=True))
    if len(shares) == len(seen):  # the same tenants in the same order, each lowered one changed
        remember(seen, shares, set(moved))
    return reduce(add, load, old_load)


def _in_order(tenants: Mapping[str, float], scope: list[str]) -> tuple[str, ...]:
    """A stage's tenants in name order: sorted when few, else picked from the sorted scope (a stage that
    moves most of 10,000 tenants is not sorted again)."""
    if len(tenants) * 16 < len(scope):
        return tuple(sorted(tenants))
    picked = tuple(filter(tenants.__contains__, scope))
    return picked if len(picked) == len(tenants) else tuple(sorted(tenants))
