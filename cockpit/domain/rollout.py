"""The rollout scheduler: calendar-driven, conservative, per tenant.

It owns the *target* vector. Each tenant walks the steps (1 → 5 → 25 → 50 → 100 % by default),
staying `bake_s` on each. While an incident is open it is frozen: no step advances, and the time
spent frozen does not count as bake time, so releasing the incident resumes exactly where it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_STEPS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    steps: tuple[float, ...] = DEFAULT_STEPS
    bake_s: float = 3600.0

    def __post_init__(self) -> None:
        if not self.steps or any(not 0.0 <= s <= 1.0 for s in self.steps):
            raise ValueError("rollout steps must be shares between 0 and 1")
        if list(self.steps) != sorted(self.steps):
            raise ValueError("rollout steps must be ascending")
        if self.bake_s <= 0:
            raise ValueError("rollout bake_s must be positive")


class RolloutScheduler:
    """Per-tenant step index and the time each tenant entered its step.

    Index -1 means "not enrolled" (target 0, never advanced by the calendar). Work per tick is O(1)
    until the earliest bake ends.
    """

    def __init__(
        self,
        plan: RolloutPlan,
        steps: Mapping[str, int],
        entered_at: Mapping[str, float],
    ) -> None:
        self.plan = plan
        self.step: dict[str, int] = dict(steps)
        self.entered_at: dict[str, float] = {t: entered_at.get(t, 0.0) for t in self.step}
        self.frozen_since: float | None = None
        self.targets: dict[str, float] = {t: self._share(i) for t, i in self.step.items()}
        self._next_due = self._compute_next_due()
        # Bumped by every change, so the traffic layer and the checkpoint know when to look again
        # (comparing 100,000 targets every tick to find that nothing changed is what it saves).
        self.version = 0

    def _share(self, index: int) -> float:
        return 0.0 if index < 0 else self.plan.steps[min(index, len(self.plan.steps) - 1)]

    def _compute_next_due(self) -> float:
        last = len(self.plan.steps) - 1
        due = [self.entered_at[t] + self.plan.bake_s for t, i in self.step.items() if 0 <= i < last]
        return min(due, default=float("inf"))

    @property
    def frozen(self) -> bool:
        return self.frozen_since is not None

    def freeze(self, now: float) -> None:
        if self.frozen_since is None:
            self.frozen_since = now
            self.version += 1

    def thaw(self, now: float) -> None:
        """Resume; the frozen interval is not counted as bake time."""
        if self.frozen_since is None:
            return
        paused = max(0.0, now - self.frozen_since)
        self.frozen_since = None
        self.version += 1
        for t in self.entered_at:
            self.entered_at[t] += paused
        self._next_due = self._compute_next_due()

    def next_due(self) -> float:
        return self._next_due

    def tick(self, now: float) -> dict[str, float]:
        """Advance every tenant whose bake time is over. Returns the targets that changed."""
        if self.frozen or now < self._next_due:
            return {}
        changed: dict[str, float] = {}
        last = len(self.plan.steps) - 1
        bake = self.plan.bake_s
        for t, i in self.step.items():
            if 0 <= i < last and now >= self.entered_at[t] + bake:
                self.step[t] = i + 1
                self.entered_at[t] = now
                share = self._share(i + 1)
                self.targets[t] = share
                changed[t] = share
        self._next_due = self._compute_next_due()
        if changed:
            self.version += 1
        return changed

    @classmethod
    def from_observed(cls, plan: RolloutPlan, shares: Mapping[str, float], now: float) -> RolloutScheduler:
        """Adopt a fleet as the router reports it: each tenant sits on the highest step at or below its
        share, and keeps its exact share as target (a hand-set 30 % stays 30 % until the next step)."""
        steps: dict[str, int] = {}
        for t, share in shares.items():
            index = -1
            for i, step in enumerate(plan.steps):
                if step <= share + 1e-9:
                    index = i
            steps[t] = index if share > 1e-9 else -1
        r = cls(plan, steps, {t: now for t in steps})
        for t, share in shares.items():
            r.targets[t] = share
        return r

    def add_tenants(self, tenants: Iterable[str], now: float) -> None:
        """Tenants the router reports that the rollout has not seen yet are not enrolled (target 0)."""
        added = False
        for t in tenants:
            if t not in self.step:
                self.step[t] = -1
                self.entered_at[t] = now
                self.targets[t] = 0.0
                added = True
        if added:
            self._next_due = self._compute_next_due()
            self.version += 1

    # Journal checkpoints ---------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {
            "steps": list(self.plan.steps),
            "bake_s": self.plan.bake_s,
            "step": self.step,
            "entered_at": self.entered_at,
            "frozen_since": self.frozen_since,
            "targets": self.targets,
        }

    @classmethod
    def restore(cls, snap: dict) -> RolloutScheduler:
        plan = RolloutPlan(tuple(snap["steps"]), float(snap["bake_s"]))
        r = cls(plan, snap["step"], snap["entered_at"])
        r.frozen_since = snap["frozen_since"]
        # Exact targets where the checkpoint has them: a hand-set 30 % stays 30 % across a restart
        # rather than snapping to its step's 25 % (older checkpoints lack them: step shares).
        for t, share in snap.get("targets", {}).items():
            if t in r.targets:
                r.targets[t] = float(share)
        return r
