"""The rollback's values and its capacity arithmetic: policy, what the scheduler sees (FleetView), what
it decides (Decision, Stage), and the two formulas that size a stage: how traffic arriving cold dilutes
the old cache, and the largest load ready capacity carries within headroom given that dilution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cockpit.domain.fleet import Tier

EPS = 1e-9


class Mode(StrEnum):
    AUTO = "auto"  # a stage is applied every tick the plan allows
    MANUAL = "manual"  # a stage is applied only when the on-call advances


@dataclass(frozen=True, slots=True)
class RollbackPolicy:
    headroom: float = 0.8  # the highest old-tier utilisation a stage may plan for
    # Settle after a stage at least this long; in any case until a fresh observation was taken after it
    # (the next tick). Traffic the router does not show moved yet is planned as already moved.
    min_stage_interval_s: float = 0.0
    cache_dip_tolerance: float = 0.15  # hold while the hit rate is this far below what was planned
    min_move: float = 0.01  # the smallest share change worth a stage
    # No micro-stages: a stage moves at least this much of what is left, or finishes a tenant (or all).
    min_stage_fraction: float = 0.05
    # Ask for this many times the replicas the failback needs: the needed ones are then the fastest of
    # more start-ups, not the slowest of just enough (start-up jitter), for the extra replicas' cost.
    over_request: float = 2.0
    crash_reserve: int = 2  # stages keep the old tier within 100 % if this many ready replicas crash

    def __post_init__(self) -> None:
        if not 0.0 < self.headroom <= 1.0:
            raise ValueError("headroom must be in (0, 1]")
        if self.min_stage_interval_s < 0 or self.min_move <= 0 or self.cache_dip_tolerance < 0:
            raise ValueError("rollback policy values must be positive")
        if not 1.0 <= self.over_request <= 10.0:
            raise ValueError("over_request must be in [1, 10]")
        if not 0.0 <= self.min_stage_fraction <= 1.0 or self.crash_reserve < 0:
            raise ValueError("min_stage_fraction must be in [0, 1] and crash_reserve at least 0")


@dataclass(frozen=True, slots=True)
class FleetView:
    """What the scheduler sees each tick: one consistent observation of the fleet.

    The mappings are read-only to the scheduler and treated as immutable: a caller whose vector
    changes passes a new mapping. The scheduler relies on that to skip per-tenant work on a tick
    where the same mappings come back (the cost of a quiet tick does not grow with the fleet)."""

    now: float
    rps: Mapping[str, float]
    shares: Mapping[str, float]  # observed share on the new revision
    harm: Mapping[str, float]  # regression severity on the new revision, 0 = healthy
    old_tier: Tier
    old_hit_rate: float
    old_load: float  # requests per second the old tier carries now
    # The overflow tier (cockpit/domain/overflow.py), zero without one: old-revision traffic it carries now
    # (it returns to the old tier, so the pre-scale counts it), and its unused rate limit (capacity a stage
    # may count on at once: what the old tier cannot take yet is placed there in the same tick).
    overflow_load: float = 0.0
    overflow_spare: float = 0.0


@dataclass(frozen=True, slots=True)
class Stage:
    number: int
    at: float
    ceilings: dict[str, float]  # the ceilings this stage lowers: tenant -> new ceiling
    moved_rps: float
    old_load_after: float
    capacity_after: float  # old-tier capacity at the diluted hit rate the stage plans for
    hit_rate_after: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "ceilings": self.ceilings,
            "moved_rps": self.moved_rps,
            "old_load_after": self.old_load_after,
            "capacity_after": self.capacity_after,
            "hit_rate_after": self.hit_rate_after,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stage:
        """The inverse of `to_dict` (a stage read back from the journal)."""
        return cls(
            number=int(d["number"]),
            at=float(d["at"]),
            ceilings={str(t): float(c) for t, c in d["ceilings"].items()},
            moved_rps=float(d["moved_rps"]),
            old_load_after=float(d["old_load_after"]),
            capacity_after=float(d["capacity_after"]),
            hit_rate_after=float(d["hit_rate_after"]),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    scale_to: int | None = None  # requested old-tier floor (pre-scale), applied before any stage
    stage: Stage | None = None
    hold: str | None = None  # why no stage this tick
    finished: bool = False  # true on the tick the rollback completes


def diluted_hit_rate(hit: float, load: float, added: float) -> float:
    """Hit rate after `added` rps of cold-prefixed traffic joins `load` rps at `hit`."""
    total = load + added
    return hit if total <= EPS else hit * load / total


def crash_safe_load(tier: Tier, hit: float, load: float, headroom: float, reserve: int) -> float:
    """The largest old-tier load a stage may plan for: within `headroom` of the ready capacity, and
    within 100 % of what is left if the `reserve` largest ready replicas crash (the tier's replicas
    are alike, so any `reserve` of them). Both at the hit rate the arriving traffic dilutes to."""
    limit = max_safe_load(tier, hit, load, headroom)
    if reserve <= 0:
        return limit
    spare = replace(tier, ready=max(0, tier.ready - reserve))
    return min(limit, max_safe_load(spare, hit, load, 1.0))


def max_safe_load(tier: Tier, hit: float, load: float, headroom: float) -> float:
    """The largest total old-tier load X that ready capacity carries within headroom, given that
    the traffic added on top of `load` arrives cold and dilutes the hit rate to hit * load / X.

    Solves X <= H*C*(f + (1-f) * hit*load / (X*hw)), a quadratic in X, where the cache factor
    is capped at 1 once the diluted hit rate reaches the warm hit rate.
    """
    hc = headroom * tier.ready * tier.per_replica_rps
    if hc <= 0:
        return 0.0
    f = tier.cold_capacity_factor
    hw = tier.warm_hit_rate if tier.warm_hit_rate > 0 else 1.0
    a = hc * f
    b = hc * (1.0 - f) * hit * max(load, 0.0) / hw
    root = (a + math.sqrt(a * a + 4.0 * b)) / 2.0
    return min(hc, root)
