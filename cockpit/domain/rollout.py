"""The rollout scheduler: calendar-driven, conservative, per tenant.

It owns the *target* vector. Each tenant walks the steps (1 → 5 → 25 → 50 → 100 % by default),
staying `bake_s` on each; a cohort may have a calendar of its own (steps, bake, start). While an
incident is open it is frozen: no step advances, and the time spent frozen does not count as bake time,
so releasing the incident resumes exactly where it was.

It is health-gated: a step never promotes a tenant the gate names (regressing, health unknown, rolled
back and not re-approved); the tenant is *held* at its step, with the reason, and promoted at the first
tick after the gate lets it go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

DEFAULT_STEPS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 1.0)

INF = float("inf")
Gate = Callable[[str], "str | None"]  # why a tenant must not be promoted now, or None


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    steps: tuple[float, ...] = DEFAULT_STEPS
    bake_s: float = 3600.0
    start_s: float | None = None  # when its tenants entered their current step (None: when adopted)

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
    until the earliest bake ends (held tenants are looked at again only when the gate's inputs change).
    """

    def __init__(
        self,
        plan: RolloutPlan,
        steps: Mapping[str, int],
        entered_at: Mapping[str, float],
        cohort_plans: Mapping[str, RolloutPlan] | None = None,
        cohort_of: Mapping[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.cohort_plans: dict[str, RolloutPlan] = dict(cohort_plans or {})
        # tenant -> cohort, only for tenants whose cohort has a calendar of its own
        self.cohort_of: dict[str, str] = {t: c for t, c in (cohort_of or {}).items() if c in self.cohort_plans}
        self.step: dict[str, int] = dict(steps)
        self.entered_at: dict[str, float] = {t: entered_at.get(t, 0.0) for t in self.step}
        self.frozen_since: float | None = None
        self.targets: dict[str, float] = {t: self._share(t, i) for t, i in self.step.items()}
        self.held: dict[str, str] = {}  # tenant -> why its due step was not taken
        self._gate_key: object = None
        self._next_due = self._compute_next_due()
        # Bumped by every change, so the traffic layer and the checkpoint know when to look again
        # (comparing 100,000 targets every tick to find that nothing changed is what it saves).
        self.version = 0

    def plan_of(self, tenant: str) -> RolloutPlan:
        cohort = self.cohort_of.get(tenant)
        return self.plan if cohort is None else self.cohort_plans[cohort]

    def _share(self, tenant: str, index: int) -> float:
        steps = self.plan_of(tenant).steps
        return 0.0 if index < 0 else steps[min(index, len(steps) - 1)]

    def _due(self, tenant: str, index: int) -> float:
        """When the tenant's next step is due (inf: not enrolled, or on its last step)."""
        plan = self.plan_of(tenant)
        if 0 <= index < len(plan.steps) - 1:
            return self.entered_at[tenant] + plan.bake_s
        return INF

    def _compute_next_due(self) -> float:
        held = self.held
        if not self.cohort_of:  # one calendar (the common case): a loop with nothing to look up per tenant
            last, bake, entered = len(self.plan.steps) - 1, self.plan.bake_s, self.entered_at
            return (
                min((entered[t] for t, i in self.step.items() if 0 <= i < last and t not in held), default=INF) + bake
            )
        return min((self._due(t, i) for t, i in self.step.items() if t not in held), default=INF)

    def _due_now(self, now: float, held: Mapping[str, str]) -> list[str]:
        """The tenants whose next step is due at `now`, the held ones left out."""
        if not self.cohort_of:
            last, bake, entered = len(self.plan.steps) - 1, self.plan.bake_s, self.entered_at
            return [t for t, i in self.step.items() if 0 <= i < last and now >= entered[t] + bake and t not in held]
        return [t for t, i in self.step.items() if t not in held and now >= self._due(t, i)]

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

    def tick(self, now: float, gate: Gate | None = None, gate_key: object = None) -> dict[str, float]:
        """Advance every tenant whose bake time is over and whom the gate lets through; hold the others
        (`held`, with the reason). Returns the targets that changed. `gate_key` changes whenever the
        gate's answers may have: only then are held tenants asked again (and only they, unless another
        step is due)."""
        if self.frozen:
            return {}
        recheck = bool(self.held) and gate_key != self._gate_key
        self._gate_key = gate_key
        due = now >= self._next_due
        if not (recheck or due):
            return {}
        held: dict[str, str] = {} if recheck else dict(self.held)
        asked = self._due_now(now, held) if due else [t for t in self.held if now >= self._due(t, self.step[t])]
        if gate is not None:
            for t in asked:
                reason = gate(t)
                if reason:
                    held[t] = reason
            asked = [t for t in asked if t not in held]
        changed = self._promote(asked, now)
        if held != self.held:
            self.version += 1
        self.held = held
        if due:
            self._next_due = self._compute_next_due()
        elif changed:  # only held tenants were asked: the promoted ones are due again one bake from now
            self._next_due = min(self._next_due, *(self._due(t, self.step[t]) for t in changed))
        if changed:
            self.version += 1
        return changed

    def _promote(self, tenants: list[str], now: float) -> dict[str, float]:
        """Each tenant one step up, entered now; returns their new targets."""
        step, entered, targets = self.step, self.entered_at, self.targets
        for t in tenants:
            step[t] += 1
            entered[t] = now
        if not self.cohort_of:  # one calendar: no per-tenant plan to look up
            steps = self.plan.steps
            top = len(steps) - 1
            changed = {t: steps[min(step[t], top)] for t in tenants}
        else:
            changed = {t: self._share(t, step[t]) for t in tenants}
        targets.update(changed)
        return changed

    @classmethod
    def from_observed(
        cls,
        plan: RolloutPlan,
        shares: Mapping[str, float],
        now: float,
        cohort_plans: Mapping[str, RolloutPlan] | None = None,
        cohorts: Mapping[str, str] | None = None,
    ) -> RolloutScheduler:
        """Adopt a fleet as the router reports it: each tenant sits on the highest step of its calendar at
        or below its share, entered at its calendar's start (or now), and keeps its exact share as target
        (a hand-set 30 % stays 30 % until the next step)."""
        r = cls(plan, dict.fromkeys(shares, -1), dict.fromkeys(shares, now), cohort_plans, cohorts)
        for t, share in shares.items():
            p = r.plan_of(t)
            index = -1
            for i, step in enumerate(p.steps):
                if step <= share + 1e-9:
                    index = i
            r.step[t] = index if share > 1e-9 else -1
            if p.start_s is not None:
                r.entered_at[t] = p.start_s
            r.targets[t] = share
        r._next_due = r._compute_next_due()
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

    def brief(self) -> dict:
        """What a screen shows of the calendar each tick (no per-tenant work): frozen or running, the next
        step due, and the held tenants with why (the dict is replaced, never changed, by a tick)."""
        due = self._next_due
        return {
            "frozen": self.frozen,
            "next_due_s": None if self.frozen or due == float("inf") else due,  # frozen: none is due
            "held": self.held,
        }

    def state(self) -> dict:
        """The calendar for a scorecard: `brief` with when it froze and how many tenants are on each share."""
        on: dict[str, int] = {}
        for share in self.targets.values():
            key = f"{share:g}"
            on[key] = on.get(key, 0) + 1
        return self.brief() | {
            "frozen_since": self.frozen_since,
            "targets": dict(sorted(on.items(), key=lambda kv: float(kv[0]))),
            "held": dict(sorted(self.held.items())),
        }

    # Journal checkpoints ---------------------------------------------------------------------
    def snapshot(self) -> dict:
        snap = {
            "steps": list(self.plan.steps),
            "bake_s": self.plan.bake_s,
            "step": self.step,
            "entered_at": self.entered_at,
            "frozen_since": self.frozen_since,
            "targets": self.targets,
            "held": self.held,
        }
        if self.cohort_plans:
            snap["cohort_plans"] = {
                c: {"steps": list(p.steps), "bake_s": p.bake_s, "start_s": p.start_s}
                for c, p in self.cohort_plans.items()
            }
            snap["cohort_of"] = self.cohort_of
        return snap

    @classmethod
    def restore(cls, snap: dict) -> RolloutScheduler:
        plan = RolloutPlan(tuple(snap["steps"]), float(snap["bake_s"]))
        cohort_plans = {
            c: RolloutPlan(tuple(p["steps"]), float(p["bake_s"]), p.get("start_s"))
            for c, p in snap.get("cohort_plans", {}).items()
        }
        r = cls(plan, snap["step"], snap["entered_at"], cohort_plans, snap.get("cohort_of"))
        r.frozen_since = snap["frozen_since"]
        # Exact targets where the checkpoint has them: a hand-set 30 % stays 30 % across a restart
        # rather than snapping to its step's 25 % (older checkpoints lack them: step shares).
        for t, share in snap.get("targets", {}).items():
            if t in r.targets:
                r.targets[t] = float(share)
        r.held = {t: str(why) for t, why in snap.get("held", {}).items() if t in r.step}
        r._next_due = r._compute_next_due()
        return r
