"""The engine's state in the journal: checkpoints written with every change, and the restore that a
restarted (or taking-over) engine runs before it touches anything.

Checkpoints hold what changed, not everything: a 100,000-tenant fleet does not re-serialise every
tenant with every stage.

- `checkpoint`: written with every change: the rollback's small fields (armed, stage, mode, …), the
  incident, counters, and `ceilings_delta`: the ceilings that changed since the previous checkpoint.
- `rollback_checkpoint`: the rollback's scope and every ceiling, written when the scope changes (arm,
  release, restore) or when the deltas since the last one have grown to a quarter of it.
- `rollout_checkpoint`: the rollout calendar (one entry per tenant), written only when it changed (a
  calendar step, adopting the fleet, a freeze or thaw).

Restore takes the latest of each and replays the ceiling deltas written after the latest full rollback
checkpoint. Journals written before this split carry everything inside `checkpoint`; restore reads those.
"""

from __future__ import annotations

from typing import Any

from cockpit.engine.journal import Entry, JournalLike

CHECKPOINT = "checkpoint"
ROLLOUT_CHECKPOINT = "rollout_checkpoint"
ROLLBACK_CHECKPOINT = "rollback_checkpoint"
CHECKPOINT_KINDS = (CHECKPOINT, ROLLOUT_CHECKPOINT, ROLLBACK_CHECKPOINT)


def read_checkpoint(journal: JournalLike) -> dict[str, Any] | None:
    """The latest checkpoint with the rollout it belongs to (`rollout` key), or None if there is none."""
    cp = journal.last(CHECKPOINT)
    if cp is None:
        return None
    data = dict(cp.data)
    if "rollout" not in data:
        rollout: Entry | None = journal.last(ROLLOUT_CHECKPOINT)
        data["rollout"] = rollout.data.get("rollout") if rollout is not None else None
    if "ceilings_delta" in data["rollback"]:
        data["rollback"] = _rollback_state(journal, data["rollback"])
    data["seq"] = cp.seq
    return data


def _rollback_state(journal: JournalLike, light: dict[str, Any]) -> dict[str, Any]:
    """The latest full rollback checkpoint with every ceiling delta written after it, then the latest
    small fields."""
    full = journal.last(ROLLBACK_CHECKPOINT)
    scope: list[str] = list(full.data["scope"]) if full else []
    ceilings: dict[str, float] = dict(full.data["ceilings"]) if full else {}
    for e in journal.entries(kinds=(CHECKPOINT,), since_seq=full.seq if full else 0):
        ceilings.update(e.data.get("rollback", {}).get("ceilings_delta") or {})
    state = {k: v for k, v in light.items() if k != "ceilings_delta"}
    return state | {"scope": scope, "ceilings": ceilings}


def rollback_checkpoints(
    snapshot: dict[str, Any], changed: set[str] | None, since_full: int
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What to write for the rollback: (a full checkpoint or None, the small one with its delta).
    `since_full` counts the ceilings written as deltas since the last full one."""
    ceilings: dict[str, float] = snapshot["ceilings"]
    light = {k: v for k, v in snapshot.items() if k not in ("ceilings", "scope")}
    if changed is None or since_full + len(changed) > max(64, len(ceilings) // 4):
        full = {"scope": snapshot["scope"], "ceilings": ceilings}
        return full, light | {"ceilings_delta": {}}
    return None, light | {"ceilings_delta": {t: ceilings[t] for t in sorted(changed) if t in ceilings}}
