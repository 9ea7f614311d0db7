"""Pinned model revisions versus floating aliases.

A rollback target must be immutable. A *pinned* reference carries a date stamp, a snapshot id or a
weights hash; anything else is an alias the provider may repoint underneath us.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cockpit.errors import ConfigError

# What counts as pinned. Kept as data so the rule is documented in one place and testable.
PIN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r".+-\d{8}$"),  # claude-3-5-sonnet-20241022
    re.compile(r".+-\d{4}-\d{2}-\d{2}$"),  # gpt-4o-2024-08-06
    re.compile(r".+@sha256:[0-9a-f]{12,64}$"),  # weights hash
    re.compile(r".+@(rev|snapshot)-[0-9A-Za-z._-]+$"),  # snapshot / revision id
)


def is_pinned(ref: str) -> bool:
    return any(p.match(ref) for p in PIN_PATTERNS)


@dataclass(frozen=True, slots=True)
class Revision:
    """An immutable model revision identifier (never an alias)."""

    id: str

    def __post_init__(self) -> None:
        if not is_pinned(self.id):
            raise ValueError(f"{self.id!r} is not a pinned revision")

    def __str__(self) -> str:
        return self.id


def require_pinned(ref: object, where: str) -> Revision:
    """Return the pinned revision at `where`, or raise one clear sentence telling how to fix it."""
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{where}: expected a pinned model revision string, got {ref!r}")
    if not is_pinned(ref):
        raise ConfigError(
            f"{where}: {ref!r} is an alias, not a pinned revision; use a dated id "
            "(e.g. 'claude-opus-4-1-20250805'), a snapshot id ('name@rev-…') or a weights hash "
            "('name@sha256:…')"
        )
    return Revision(ref)
