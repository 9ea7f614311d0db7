"""The engine's state in the journal: checkpoints written with every change, and the restore that a
restarted (or taking-over) engine runs before it touches anything.

A checkpoint holds what changes during an incident (the rollback, the incident, counters: small). The
rollout calendar, one entry per tenant, changes rarely (a calendar step, adopting the fleet, a freeze or
thaw), so it is written as its own `rollout_checkpoint` only when it changed: a 10,000-tenant fleet no
longer re-serialises every tenant with every stage. Restore takes the latest of each. Journals written
before this split carry the rollout inside `checkpoint`; restore reads those too.
"""

from __future__ import annotations

from typing import Any

from cockpit.engine.journal import Entry, JournalLike

CHECKPOINT = "checkpoint"
ROLLOUT_CHECKPOINT = "rollout_checkpoint"


def read_checkpoint(journal: JournalLike) -> dict[str, Any] | None:
    """The latest checkpoint with the rollout it belongs to (`rollout` key), or None if there is none."""
    cp = journal.last(CHECKPOINT)
    if cp is None:
        return None
    data = dict(cp.data)
    if "rollout" not in data:
        rollout: Entry | None = journal.last(ROLLOUT_CHECKPOINT)
        data["rollout"] = rollout.data.get("rollout") if rollout is not None else None
    data["seq"] = cp.seq
    return data
