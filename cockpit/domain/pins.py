"""What a provider says of a model reference: a snapshot, an alias, or unknown (no I/O here).

A *snapshot* resolves to itself and the provider documents it as fixed; an *alias* resolves to
something else or is documented as moving; *unknown* is neither confirmed, with the reason, and is never
taken as pinned. A provider answers ``classify(ref)`` from its API, or, when the API cannot be reached,
from its documented offline rule, and then says why it was offline (``PinClass.offline``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from cockpit.domain.revisions import is_pinned

Kind = Literal["snapshot", "alias", "unknown"]


@dataclass(frozen=True, slots=True)
class PinClass:
    kind: Kind
    ref: str
    resolves_to: str = ""  # an alias: what it points to now ("" when not known); a snapshot: itself
    reason: str = ""  # the rule or the API answer that decided it (one phrase)
    offline: str = ""  # why the API was not asked or did not answer ("" when it answered)

    @property
    def pinned(self) -> bool:
        return self.kind == "snapshot"

    def when_offline(self, why: str) -> PinClass:
        return replace(self, offline=why)


def snapshot(ref: str, reason: str) -> PinClass:
    return PinClass("snapshot", ref, ref, reason)


def alias(ref: str, reason: str, resolves_to: str = "") -> PinClass:
    return PinClass("alias", ref, resolves_to, reason)


def unknown(ref: str, reason: str) -> PinClass:
    return PinClass("unknown", ref, "", reason)


def generic_rule(ref: str) -> PinClass:
    """The provider-independent rule: a dated id, a ``@rev-…``/``@snapshot-…`` id or a weights hash
    (``@sha256:…``) is a snapshot; anything else is unknown until a provider says."""
    if is_pinned(ref):
        return snapshot(ref, "a dated id, a snapshot id or a weights hash")
    return unknown(ref, "no provider rule says whether it is pinned")


def describe(c: PinClass) -> str:
    """One phrase for a reference that is not a snapshot (lint and pin print it after the reference)."""
    offline = f" (offline: {c.offline}; by the provider's documented offline rule)" if c.offline else ""
    if c.kind == "alias":
        now = f"it resolves to {c.resolves_to} now" if c.resolves_to else "what it resolves to is not known"
        return f"is an alias, not a pinned revision ({c.reason}); {now}{offline}"
    if c.kind == "unknown":
        return f"could not be confirmed as a pinned revision: {c.reason}{offline}"
    return f"is a pinned revision ({c.reason}){offline}"
