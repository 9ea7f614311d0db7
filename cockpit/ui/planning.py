"""When the screen asks the engine for its dry-run plan, and what it keeps of the answer.

There is one planner, in the domain, reached through `EngineHandle.plan`: the plan line, the capacity
line's "need" and the arm confirmation all read it. A plan costs O(tenants × stages), so the screen asks
again only when what the plan depends on changed (armed, done, stage, scope, who regresses), or after
`PLAN_EVERY_S` wall seconds (ten times as long as the last plan took, if that is longer), never per
keystroke and never while a plan is still being computed.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import Any

from cockpit.domain.planner import Plan
from cockpit.engine.handle import EngineHandle
from cockpit.errors import CockpitError

PLAN_EVERY_S = 2.0  # wall seconds between dry-run plans (more if a plan is slow)
SIM_EVERY_S = 5.0  # engine seconds between plans when the screen is driven by hand (tests, benchmarks)

Scope = str | list[str]


def plan_key(rollback: dict[str, Any], regressing: Iterable[str]) -> tuple[Hashable, ...]:
    """What a plan depends on, besides time: a change of any of these asks for a new plan at once."""
    return (
        bool(rollback.get("armed")),
        bool(rollback.get("done")),
        int(rollback.get("stage", 0)),
        tuple(sorted(rollback.get("scope", ()))),
        frozenset(regressing),
    )


def plan_scope(rollback: dict[str, Any]) -> Scope:
    """The rollback's own scope once armed ("armed": the engine knows it, and a request naming 100,000
    tenants would be more than it reads from a --read-only screen); before that, the tenants regressing."""
    return "armed" if rollback.get("armed") else "regressing"


class PlanTracker:
    """The last plan and when to ask for the next one. `live`: throttled on wall time; otherwise on the
    engine's clock, so a screen driven tick by tick (tests) sees the same plans every run."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.plan: Plan | None = None
        self.running = False
        self._key: tuple[Hashable, ...] | None = None
        self._at = -1e18
        self._every = PLAN_EVERY_S if live else SIM_EVERY_S

    def due(self, key: tuple[Hashable, ...], engine_now: float) -> bool:
        """True (and the request is recorded) when a new plan should be asked for now."""
        now = time.monotonic() if self.live else engine_now
        if self.running or (key == self._key and now - self._at < self._every):
            return False
        self._key, self._at = key, now
        self.running = True
        return True

    async def refresh(self, engine: EngineHandle, scope: Scope, done: bool) -> Plan | None:
        """Ask the engine's planner (nothing to plan once the rollback is done, or when it refuses)."""
        t0 = time.perf_counter()
        try:
            self.plan = None if done else await engine.plan(scope)
        except CockpitError:
            self.plan = None
        finally:
            self.running = False
        if self.live:
            self._every = max(PLAN_EVERY_S, 10 * (time.perf_counter() - t0))  # at most a tenth of the CPU
        return self.plan


async def plan_or_none(engine: EngineHandle, scope: Scope) -> Plan | None:
    """A fresh plan for a confirmation (the arm and pre-scale questions), or None if the engine cannot
    plan now (no observation yet, nothing regressing, not attached)."""
    try:
        return await engine.plan(scope)
    except CockpitError:
        return None
