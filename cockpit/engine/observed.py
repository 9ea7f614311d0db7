"""What the engine last saw of the fleet: the latest successful reading per role.

A failed read leaves the previous reading in place (shown as such); the tick decides whether that is
good enough to act on (it never plans on a stale picture of capacity or cache warmth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cockpit.domain.exact import remember_reading
from cockpit.hookspecs import NamespaceReading, TierReading, TrafficReading


@dataclass
class Observed:
    old_tier: str  # the configured names of the two tiers
    new_tier: str
    traffic: TrafficReading | None = None
    old: TierReading | None = None
    new: TierReading | None = None
    namespaces: list[NamespaceReading] = field(default_factory=list)
    harm: Mapping[str, float] = field(default_factory=dict)
    # Unknown is a state (cockpit/engine/signals.py): reading -> tenant (or namespace) -> why
    unknown: dict[str, dict[str, str]] = field(default_factory=dict)
    # the last router reading that said what changed (`changed_since`), and the same without it
    hinted: tuple[TrafficReading, TrafficReading] | None = None

    def taken(self, reading: TrafficReading) -> TrafficReading:
        """A router reading as the engine keeps it: what the router said changed since an earlier one is
        remembered for every reader that compares the two (exact.changed_keys), and the reading kept
        without it (a snapshot need not carry the earlier vector). The same reading: the same result."""
        if reading.changed_since is None:
            return reading
        if self.hinted is not None and self.hinted[0] is reading:
            return self.hinted[1]
        before, changed = reading.changed_since
        remember_reading(before, reading.shares, changed)
        kept = TrafficReading(reading.shares, reading.rps, reading.cohorts)
        self.hinted = (reading, kept)
        return kept

    def old_hit(self) -> float:
        """The old tier's cache hit rate (0 when no namespace reports it: cold is the safe guess)."""
        for ns in self.namespaces:
            if ns.tier == self.old_tier:
                return ns.hit_rate
        return 0.0
