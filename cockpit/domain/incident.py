"""The incident and its freeze.

While an incident is open, nothing that would drift may move: the rollout scheduler, flags, the
system-prompt revision and cache garbage collection are frozen, so nothing re-introduces the
regression and the evidence of the frozen window stays comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    declared_at: float
    declared_by: str
    reason: str = ""
    released_at: float | None = None
    released_by: str | None = None

    @property
    def open(self) -> bool:
        return self.released_at is None

    def release(self, at: float, by: str) -> Incident:
        return replace(self, released_at=at, released_by=by)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "declared_at": self.declared_at,
            "declared_by": self.declared_by,
            "reason": self.reason,
            "released_at": self.released_at,
            "released_by": self.released_by,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Incident:
        return cls(**d)
