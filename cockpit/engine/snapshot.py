"""The snapshot: one consistent picture of the fleet and the engine that every screen renders.

Every number a screen shows comes from here, so two screens (or a screen before and after a restart)
agree: the engine computes them once, and the wire carries them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.domain.incident import Incident
from cockpit.hookspecs import NamespaceReading, TierReading, TrafficReading


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
