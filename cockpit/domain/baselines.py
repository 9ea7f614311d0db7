"""Baseline rollback strategies, for drills to compare against the cockpit's scheduler.

They model what a one-percentage rollout tool does: roll the whole fleet back (it has no notion of
per-tenant scope), ask the autoscaler for the old tier's full size, and shift traffic without looking at
ready capacity or cache warmth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cockpit.domain.rollback import FleetView, RollbackScheduler, Stage, diluted_hit_rate


@dataclass
class AbortScheduler(RollbackScheduler):
    """Instant abort: every tenant in scope to 0 % new in one stage."""

    strategy: str = "abort"

    def _hold_reason(self, view: FleetView) -> str | None:
        return "paused by operator" if self.paused else None

    def _plan_stage(self, view: FleetView) -> Stage | None:
        moves = {t: 0.0 for t in self.scope if self.current_share(t, view.shares) > 0}
        return _stage(self, view, moves)


@dataclass
class FixedStagesScheduler(RollbackScheduler):
    """Fixed stages (100 → 75 → 50 → 0 % of each tenant's share at arming), one per interval."""

    strategy: str = "fixed-stages"
    fractions: tuple[float, ...] = (0.75, 0.5, 0.0)
    interval_s: float = 60.0
    initial: dict[str, float] = field(default_factory=dict)

    def _hold_reason(self, view: FleetView) -> str | None:
        if self.paused:
            return "paused by operator"
        if self.last_stage_at is not None and view.now - self.last_stage_at < self.interval_s:
            return "fixed stage interval"
        return None

    def _plan_stage(self, view: FleetView) -> Stage | None:
        if not self.initial:
            self.initial = {t: view.shares.get(t, 0.0) for t in self.scope}
        if self.stage >= len(self.fractions):
            return None
        fraction = self.fractions[self.stage]
        moves = {t: round(s * fraction, 6) for t, s in self.initial.items() if s > 0}
        return _stage(self, view, moves)


def _stage(s: RollbackScheduler, view: FleetView, moves: dict[str, float]) -> Stage | None:
    if not moves:
        return None
    moved = sum(view.rps.get(t, 0.0) * max(0.0, s.current_share(t, view.shares) - c) for t, c in moves.items())
    hit = diluted_hit_rate(view.old_hit_rate, view.old_load, moved)
    return Stage(
        number=s.stage + 1,
        at=view.now,
        ceilings=moves,
        moved_rps=moved,
        old_load_after=view.old_load + moved,
        capacity_after=view.old_tier.capacity(hit),
        hit_rate_after=hit,
    )


STRATEGIES: dict[str, type[RollbackScheduler]] = {
    "cockpit": RollbackScheduler,
    "abort": AbortScheduler,
    "fixed-stages": FixedStagesScheduler,
}

# Baselines roll back the whole fleet: they know one percentage, not a tenant vector.
GLOBAL_SCOPE_STRATEGIES = frozenset({"abort", "fixed-stages"})
