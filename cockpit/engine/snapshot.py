"""The snapshot: one consistent picture of the fleet and the engine that every screen renders.

Every number a screen shows comes from here, so two screens (or a screen before and after a restart)
agree: the engine computes them once, and the wire carries them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.domain.incident import Incident
from cockpit.domain.rollback import EPS
from cockpit.engine.figures import update as update_figures
from cockpit.engine.housekeeping import old_tier
from cockpit.hookspecs import NamespaceReading, TierReading, TrafficReading

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine


@dataclass
class Snapshot:
    """One consistent picture of the fleet and the engine, for screens and scripts."""

    now: float
    tick: int
    traffic: TrafficReading | None
    targets: Mapping[str, float]
    ceilings: Mapping[str, float]
    effective: Mapping[str, float]
    harm: Mapping[str, float]
    old_tier: TierReading | None
    new_tier: TierReading | None
    namespaces: list[NamespaceReading]
    incident: Incident | None
    rollback: dict[str, Any]
    hold: str | None
    degraded: dict[str, str]
    alias: dict[str, Any]
    last_stage: dict[str, Any] | None
    old_utilisation: float | None
    replicas_needed: int | None
    read_only: bool
    warmer: dict[str, Any] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    # What could not be read, and why: {"health": {tenant: why}, "rps": {tenant: what was assumed and
    # why}, "warmth": {namespace: why}}. Empty readings are left out.
    unknown: dict[str, dict[str, str]] = field(default_factory=dict)
    # The rollout calendar: {"frozen", "next_due_s", "held": {tenant: why its due step was not taken}}.
    calendar: dict[str, Any] = field(default_factory=dict)
    # The overflow tier (engine/overflow.py): {} when not configured, else available or why not, load,
    # rate limit, tenants on it, hit rate and cost per hour.
    overflow: dict[str, Any] = field(default_factory=dict)
    # Counted by the engine (cockpit.engine.figures), never by a screen: every screen shows the same.
    wrong_answers: float | None = None  # served so far: the simulator's count in a drill, else an estimate
    wrong_truth: bool = False  # True: `wrong_answers` is the simulator's own count
    onset_at: float | None = None  # when regressions began (the simulator's onset in a drill)
    capacity_eta_s: float | None = None  # until the old tier is ready at the replicas asked (0: ready)
    restore_bound_s: float | None = None  # a drill's lower bound on the time to restore
    progress: dict[str, Any] = field(default_factory=dict)  # the rollback in rps (figures._progress)


def build_snapshot(
    engine: Engine, now: float, hold: str | None, effective: Mapping[str, float] | None = None
) -> Snapshot:
    """The picture screens render, every figure computed here once (so every screen agrees)."""
    obs = engine.observed
    targets = engine.rollout.targets if engine.rollout else {}
    if effective is None:
        version = engine.rollout.version if engine.rollout else -1
        effective = engine.composer.effective(targets, version, engine.rollback)
    util = None
    needed = None
    tier = old_tier(engine.config, obs)
    if tier is not None and obs.old is not None and obs.traffic is not None:
        cap = tier.capacity(obs.old_hit())
        load = obs.old.load_rps
        if load is None:
            load = engine.old_load(obs.traffic.rps, obs.traffic.shares)
            load -= engine.overflow.load(obs.traffic.rps, obs.traffic.shares)  # served beside the old tier
        util = load / cap if cap > EPS else None
        if engine.rollback.armed:
            needed = engine.rollback.scale_requested or None
    figures = update_figures(engine, now, effective, engine.rollback.scale_requested or None)
    return Snapshot(
        now=now,
        tick=engine.ticks,
        traffic=obs.traffic,
        targets=targets,
        ceilings=engine.rollback.ceilings,
        effective=effective,
        harm=obs.harm,
        old_tier=obs.old,
        new_tier=obs.new,
        namespaces=obs.namespaces,
        incident=engine.incident,
        rollback=engine.rollback.snapshot() | {"hold": engine.rollback.last_hold},
        hold=hold,
        degraded=dict(engine.backends.degraded),
        alias=dict(engine.housekeeping.alias_seen),
        last_stage=engine.last_stage,
        old_utilisation=util,
        replicas_needed=needed,
        read_only=engine.read_only,
        warmer=engine.warmer.snapshot(),
        alerts=[a for a in (engine.journal_alarm, *engine.backends.alerts) if a],
        unknown=obs.unknown,  # built afresh by each observation and never changed after: no copy per tick
        calendar=engine.rollout.brief() if engine.rollout is not None else {},
        overflow=engine.overflow.snapshot(obs.traffic),
        **figures,
    )
