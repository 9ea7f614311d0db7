"""The column "as it happened": a scenario's `[recorded]` changes replayed in the simulator at their
recorded times, as a fixed strategy (no autopilot, no planner), and scored like any drill.

The cockpit's side effects that are not share or scale changes are replayed too where the simulator
models them: the incident's declaration freezes the cache namespaces, as the engine does.
"""

from __future__ import annotations

from typing import Any

from cockpit_backends.mock.scenario import RecordedStep, Scenario
from cockpit_backends.mock.world import World

SETTLE_AFTER_RESTORE_S = 300.0  # as a drill: keep simulating after the restore, overload after it counts


def replay(sc: Scenario) -> dict[str, Any] | None:
    """The recorded history's scorecard figures, or None when the scenario records none."""
    rec = sc.recorded
    if rec is None or not rec.steps:
        return None
    w = World(sc)
    declared = rec.declared_at_s
    scope = list(rec.scope)
    lower_bound: float | None = None
    steps: list[tuple[float, RecordedStep | None]] = [(s.at_s, s) for s in rec.steps]
    if declared is not None:
        steps.append((declared, None))  # stable sort: the declaration before a change at the same time
    steps.sort(key=lambda x: (x[0], x[1] is not None))
    duration = sc.scenario.duration_s
    for n, (at, step) in enumerate(steps):
        w.advance_to(min(at, duration))
        if step is None:
            for cache in w.caches.values():
                cache.frozen = True
            lower_bound = w.failback_lower_bound(at, scope or sorted(w.severity))
        else:
            _apply(w, step, n)
    while w.t + w.dt <= duration and not _settled(w):
        w.advance_to(w.t + w.dt)
    return w.metrics_card() | {
        "declared_at_s": declared,
        "lower_bound_s": lower_bound,
        "stages": sum(1 for s in rec.steps if s.shares),
        "scope": scope,
    }


def _apply(w: World, step: RecordedStep, n: int) -> None:
    if step.scale_old is not None:
        w.scale("old", step.scale_old)
    if step.shares:
        # What the router confirmed, applied as confirmed: no simulated router errors on a replay.
        w.apply_shares(step.shares, f"recorded-{n}", inject_errors=False)


def _settled(w: World) -> bool:
    restored = w.metrics.restored_at
    return restored is not None and w.t - restored >= SETTLE_AFTER_RESTORE_S
