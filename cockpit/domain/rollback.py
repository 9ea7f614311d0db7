"""The rollback scheduler: incident-driven, capacity-aware, under the on-call's direct control.

It owns the *ceiling* vector: the most new-revision share each tenant may have. Each tick it

1. pre-scales the old tier to what full failback needs (first, before anything moves);
2. lowers ceilings, most-harmed tenants first, by only as much traffic as the old tier's *ready*
   capacity can take with headroom, where the cold cache lowers that capacity (traffic that moves
   arrives with cold prefixes and dilutes the namespace's hit rate, so the plan accounts for the dip);
3. holds while the old tier is over its headroom or its cache is recovering worse than planned;
4. finishes when every tenant in scope is at 0 % new.

Ceilings only ever go down while a rollback is armed; `release()` is the one way up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import ge, lt
from typing import Any

from cockpit.domain.exact import KeptSum, changed_keys
from cockpit.domain.ordering import Ordering, _all_at_zero, _none_idle, _OrderState, lower
from cockpit.domain.staging import (
    EPS,
    Decision,
    FleetView,
    Mode,
    RollbackPolicy,
    Stage,
    crash_safe_load,
    diluted_hit_rate,
    max_safe_load,
)

__all__ = [
    "EPS",
    "Decision",
    "FleetView",
    "Mode",
    "RollbackPolicy",
    "RollbackScheduler",
    "Stage",
    "diluted_hit_rate",
    "max_safe_load",
]


@dataclass
class RollbackScheduler(Ordering):
    """Capacity-aware, per-tenant, staged rollback. `strategy` names it in journals and scorecards."""

    policy: RollbackPolicy = field(default_factory=RollbackPolicy)
    strategy: str = "cockpit"
    armed: bool = False
    scope: frozenset[str] = frozenset()
    mode: Mode = Mode.AUTO
    paused: bool = False
    ceilings: dict[str, float] = field(default_factory=dict)
    stage: int = 0
    armed_at: float | None = None
    last_stage_at: float | None = None
    planned_hit: float | None = None  # hit rate the last stage planned for
    done: bool = False
    finished_at: float | None = None
    pending_advances: int = 0
    scale_requested: int = 0
    last_hold: str | None = None
    version: int = 0  # bumped by every change of scope or ceilings (the traffic layer recomposes then)
    # Per-tenant sums and the rollback order, each kept with the (identical) inputs it came from.
    _memo: dict[str, tuple[Any, ...]] = field(default_factory=dict, repr=False, compare=False)
    # Which ceilings changed, for readers that keep up incrementally (the traffic layer, checkpoints):
    # tenants in order of change, and an epoch bumped when the scope or every ceiling changed at once.
    _log: list[str] = field(default_factory=list, repr=False, compare=False)
    _epoch: int = field(default=0, repr=False, compare=False)
    _checkpointed: tuple[int, int] = field(default=(-1, 0), repr=False, compare=False)
    _order_state: _OrderState | None = field(default=None, repr=False, compare=False)  # the last order and its keys
    _failback: KeptSum = field(default_factory=KeptSum, repr=False, compare=False)  # traffic in scope on new

    # Commands ----------------------------------------------------------------------------------
    def arm(self, scope: Iterable[str], now: float, mode: Mode | str | None = None) -> None:
        """Start (or widen) a rollback. Widening the scope never raises a ceiling."""
        new_scope = frozenset(scope)
        if not new_scope:
            raise ValueError("a rollback needs at least one tenant in scope")
        new_mode = None if mode is None else Mode(mode)  # a bad mode fails before anything changes
        if self.armed:
            if not new_scope <= self.scope:
                self.done = False
                self.finished_at = None
            self.scope = self.scope | new_scope
            self.version += 1
            self._all_changed()
        else:
            self.armed = True
            self.scope = new_scope
            self._order_state = None
            self.armed_at = now
            self.done = False
            self.finished_at = None
            self.paused = False
            self.version += 1
            self._all_changed()
        if new_mode is not None:
            self.mode = new_mode

    def advance(self) -> None:
        """Manual mode: allow one more stage (still only within capacity)."""
        self.pending_advances += 1

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def set_mode(self, mode: Mode | str) -> None:
        self.mode = Mode(mode)

    def release(self) -> dict[str, float]:
        """End the rollback and lift every ceiling: the rollout resumes from its own targets."""
        lifted = dict(self.ceilings)
        self.ceilings.clear()
        self.armed = False
        self.scope = frozenset()
        self._order_state = None
        self.paused = False
        self.pending_advances = 0
        self.done = False
        self.finished_at = None
        self.planned_hit = None
        self.last_hold = None
        self.scale_requested = 0
        self.last_stage_at = None
        self.version += 1
        self._all_changed()
        return lifted

    def lift(self, tenants: Iterable[str]) -> None:
        """Re-approve some rolled-back tenants: their ceilings go and they leave the scope (so no stage
        lowers them again). Lifting the last one ends the rollback, as `release` does."""
        gone = set(tenants)
        for t in gone:
            self.ceilings.pop(t, None)
        if not self.ceilings and not (self.scope - gone):
            self.release()
            return
        self.scope = self.scope - gone
        self._order_state = None
        self.version += 1
        self._all_changed()

    # The plan ----------------------------------------------------------------------------------
    def current_share(self, tenant: str, shares: Mapping[str, float]) -> float:
        return min(shares.get(tenant, 0.0), self.ceilings.get(tenant, 1.0))

    def full_failback_load(self, view: FleetView, keep: bool = False) -> float:
        """Old-tier load once every tenant in scope is at 0 % new: Σ rps·share over the scope, updated for
        the tenants a stage moved (exact.KeptSum; `keep`: make its exact total now)."""
        scope, shares = self.scope, view.shares
        moving = self._failback(
            scope,
            view.rps,
            shares,
            lambda: self.present_in(scope, shares, view.rps),
            lambda moved: list(scope.intersection(moved)),
            keep,
        )
        return view.old_load + view.overflow_load + moving

    def replicas_required(self, view: FleetView) -> int:
        """The old-tier size the full failback needs: within headroom, and within 100 % with the crash
        reserve's replicas gone."""
        full = self.full_failback_load(view)
        hit = diluted_hit_rate(view.old_hit_rate, view.old_load, full - view.old_load)
        needed = view.old_tier.replicas_for(full, hit, self.policy.headroom)
        if needed <= 0:
            return 0
        return max(needed, view.old_tier.replicas_for(full, hit, 1.0) + self.policy.crash_reserve)

    def replicas_needed(self, view: FleetView) -> int:
        """The old-tier size to ask for: what the failback requires times the over-request factor (more
        start-ups, so the required ones come sooner). The extra is best effort: an autoscaler that grants
        the required count but caps the rest (its maximum) has done what the rollback needs."""
        return math.ceil(self.replicas_required(view) * self.policy.over_request - 1e-9)

    def prepare(self, view: FleetView) -> None:
        """Do now the per-tenant work the next `step` on this same view will need (the failback load, the
        idle tenants, the finished test, the rollback order): pure, memoised, no state changes. Called
        when a rollback is armed, so that the first stage tick costs what later ones do."""
        if not self.armed:
            return
        self.full_failback_load(view, keep=True)
        self._idle(view)
        self._finished(view)
        self._order(view)

    def step(self, view: FleetView, prescale: bool = True) -> Decision:
        """One tick of the plan. `prescale=False`: no pre-scale is worked out (a dry run that reads only
        the stages and holds: the failback load is summed once for its plan, not again each step)."""
        if not self.armed or self.done:
            return Decision()
        scale_to = self._prescale(view) if prescale else None
        self._pin_idle(view)
        if self._finished(view):
            self.done = True
            self.finished_at = view.now
            return Decision(scale_to=scale_to, finished=True)
        hold = self._hold_reason(view)
        if hold is None:
            stage = self._plan_stage(view)
            if stage is not None:
                self._commit(stage, view)
                return Decision(scale_to=scale_to, stage=stage)
            hold = self._capacity_hold(view)
        self.last_hold = hold
        return Decision(scale_to=scale_to, hold=hold)

    def _prescale(self, view: FleetView) -> int | None:
        needed = self.replicas_needed(view)
        if needed > max(view.old_tier.desired, self.scale_requested):
            self.scale_requested = needed
            return needed
        if self.replicas_required(view) > view.old_tier.desired:  # the autoscaler lost our floor: ask again
            return needed
        return None

    def _pin_idle(self, view: FleetView) -> None:
        """Tenants in scope with no traffic on new are pinned at 0 for free: nothing has to move."""
        if self._cached("pinned", (view.shares, self.scope, self.version)) is not None:
            return
        pinned = self._idle(view)
        if pinned:
            self.ceilings.update(dict.fromkeys(pinned, 0.0))
            self.version += 1
            self._log.extend(pinned)
        self._keep("pinned", (view.shares, self.scope, self.version), True)
        self._memo["pin_state"] = (view.shares, self.scope, self._epoch)

    def _idle(self, view: FleetView) -> list[str]:
        """The tenants `_pin_idle` pins (ceiling > EPS, share <= EPS, tested in C); pure, memoised. Since
        the last pinning, with the same scope and no ceiling raised (the epoch), only a tenant whose share
        changed can have become idle: ceilings only go down, which pins nothing new."""
        inputs = (view.shares, self.scope, self.version)
        hit = self._cached("idle", inputs)
        if hit is not None:
            return list(hit)
        last, moved = self._memo.get("pin_state"), None
        if last is not None and last[1] is self.scope and last[2] == self._epoch:
            moved = set() if last[0] is view.shares else changed_keys(last[0], view.shares)
        if moved is not None and _none_idle(moved, self.ceilings, view.shares):
            return list(self._keep("idle", inputs, []))
        scope = self.scope if moved is None else list(moved.intersection(self.scope))
        # the shares first (an idle share is the rare case), then the ceilings of those alone
        idle = list(compress(scope, map(ge, repeat(EPS), map(view.shares.get, scope, repeat(0.0)))))
        open_ceiling = map(lt, repeat(EPS), map(self.ceilings.get, idle, repeat(1.0)))
        return list(self._keep("idle", inputs, list(compress(idle, open_ceiling))))

    def _finished(self, view: FleetView) -> bool:
        inputs = (view.shares, self.scope, self.version)
        done = self._cached("finished", inputs)
        if done is None:
            done = self._keep("finished", inputs, _all_at_zero(view.shares, self.ceilings, self.scope))
        return bool(done)

    def _hold_reason(self, view: FleetView) -> str | None:
        if self.paused:
            return "paused by operator"
        if self.last_stage_at is not None and (
            view.now - self.last_stage_at < max(self.policy.min_stage_interval_s, EPS)
        ):
            return "settling after the last stage"
        capacity = view.old_tier.capacity(view.old_hit_rate)
        if view.old_load > capacity * self.policy.headroom + EPS:
            return "old tier over headroom"
        if self._cache_short(view):
            return "old cache recovering"
        if self.mode is Mode.MANUAL and self.pending_advances <= 0:
            return "waiting for the operator to advance"
        return None

    def _cache_short(self, view: FleetView) -> bool:
        """The old cache is further below what the last stage planned than the tolerance, and at the hit
        rate observed the ready capacity no longer carries the load within the policy's limits (while
        it does, the next stage simply plans on the observed rate: no need to wait for the cache)."""
        p = self.policy
        if self.planned_hit is None or view.old_hit_rate >= self.planned_hit * (1.0 - p.cache_dip_tolerance):
            return False
        load = view.old_load + self._pending_load(view)
        return crash_safe_load(view.old_tier, view.old_hit_rate, load, p.headroom, p.crash_reserve) < load - EPS

    def _capacity_hold(self, view: FleetView) -> str:
        if view.old_tier.ready < view.old_tier.desired:
            return f"waiting for old-tier capacity ({view.old_tier.ready}/{view.old_tier.desired} ready)"
        return "waiting for old-tier capacity"

    def _plan_stage(self, view: FleetView) -> Stage | None:
        load = view.old_load + self._pending_load(view)
        # Traffic ordered off new but not yet there arrives cold like this stage's: only the load the
        # old tier serves now is at the observed hit rate.
        p = self.policy
        limit = crash_safe_load(view.old_tier, view.old_hit_rate, view.old_load, p.headroom, p.crash_reserve)
        budget = limit - load + view.overflow_spare
        moves, moved, budget, partial = self._whole_moves(view, budget)
        if partial is not None and budget > EPS:
            # Partial move: round the new ceiling *up* to the step grid so we never exceed the budget.
            t = partial
            rps = view.rps.get(t, 0.0)
            share = self.current_share(t, view.shares)
            step = self.policy.min_move
            new_share = math.ceil((share - budget / rps) / step - 1e-9) * step
            if share - new_share >= step - EPS:
                moves[t] = round(new_share, 6)
                moved += rps * (share - new_share)
        # most-harmed first: a lesser-harmed tenant never jumps the queue
        if not moves:
            return None
        remaining = self._remaining(view)
        finishes = any(c <= EPS for c in moves.values())  # a tenant moved whole
        if not finishes and moved + EPS < remaining * self.policy.min_stage_fraction:
            return None  # a trickle: wait for capacity to make a stage worth an operator's attention
        after = load + moved
        hit_after = diluted_hit_rate(view.old_hit_rate, load, moved)
        return Stage(
            number=self.stage + 1,
            at=view.now,
            ceilings=moves,
            moved_rps=moved,
            old_load_after=after,
            capacity_after=view.old_tier.capacity(hit_after),
            hit_rate_after=hit_after,
        )

    def _commit(self, stage: Stage, view: FleetView | None = None) -> None:
        lower(self.ceilings, stage.ceilings)  # each ceiling only ever lowered, in C
        self._log.extend(stage.ceilings)
        self.version += 1
        self.stage = stage.number
        self.last_stage_at = stage.at
        self.planned_hit = stage.hit_rate_after
        if self.mode is Mode.MANUAL and self.pending_advances > 0:
            self.pending_advances -= 1

    def adopt(self, stage: Stage) -> None:
        """Take a stage found in the journal (applied before a crash) as committed."""
        if stage.number > self.stage:
            self._commit(stage)

    # Journal checkpoints -----------------------------------------------------------------------
    def sorted_scope(self) -> list[str]:
        scope = self._cached("sorted_scope", (self.scope,))
        if scope is None:
            scope = self._keep("sorted_scope", (self.scope,), sorted(self.scope))
        return scope  # read-only to the caller (snapshots and checkpoints share it: no copy a tick)

    def snapshot(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "armed": self.armed,
            "scope": self.sorted_scope(),
            "mode": str(self.mode),
            "paused": self.paused,
            "ceilings": self.ceilings,
            "stage": self.stage,
            "armed_at": self.armed_at,
            "last_stage_at": self.last_stage_at,
            "planned_hit": self.planned_hit,
            "done": self.done,
            "finished_at": self.finished_at,
            "pending_advances": self.pending_advances,
            "scale_requested": self.scale_requested,
        }

    def load_snapshot(self, snap: dict) -> None:
        self.strategy = snap["strategy"]
        self.armed = snap["armed"]
        self.scope = frozenset(snap["scope"])
        self._order_state = None
        self.mode = Mode(snap["mode"])
        self.paused = snap["paused"]
        self.ceilings = {t: float(c) for t, c in snap["ceilings"].items()}
        self.stage = snap["stage"]
        self.armed_at = snap["armed_at"]
        self.last_stage_at = snap["last_stage_at"]
        self.planned_hit = snap["planned_hit"]
        self.done = snap["done"]
        self.finished_at = snap["finished_at"]
        self.pending_advances = snap["pending_advances"]
        self.scale_requested = snap["scale_requested"]
        self.version += 1
        self._all_changed()
