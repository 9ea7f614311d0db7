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

import logging
from typing import TYPE_CHECKING, Any

from cockpit.domain.baselines import STRATEGIES
from cockpit.domain.incident import Incident
from cockpit.domain.rollback import Stage
from cockpit.domain.rollout import RolloutScheduler
from cockpit.engine.journal import Entry, JournalLike

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine

log = logging.getLogger("cockpit.engine")

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


def restore(engine: Engine) -> None:
    """Restore the engine's state from the journal (or note a fresh start); intents written without
    an ack are handed to the actuator to reconcile, unless a later ack supersedes them."""
    d = read_checkpoint(engine.journal)
    if d is None:
        if engine.read_only:
            return
        engine.journal.append(
            "engine_started",
            {"strategy": engine.strategy, "config": str(engine.config.path)},
            engine.clock.now(),
            engine.operator,
        )
        return
    engine.rollout = RolloutScheduler.restore(d["rollout"]) if d.get("rollout") else None
    engine.rollout_written = engine.rollout.version if engine.rollout else -1
    if d["rollback"]["strategy"] in STRATEGIES and d["rollback"]["strategy"] != engine.strategy:
        engine.strategy = d["rollback"]["strategy"]
        engine.rollback = STRATEGIES[engine.strategy](policy=engine.policy)
    engine.rollback.load_snapshot(d["rollback"])
    engine.incident = Incident.from_dict(d["incident"]) if d.get("incident") else None
    engine.incident_count = d.get("incident_count", 0)
    engine.actuator.actuations = d.get("actuations", 0)
    engine.housekeeping.alias_seen = d.get("alias_seen", {})
    engine.housekeeping.old_alias_seen = d.get("old_alias_seen", {})
    engine.last_stage = d.get("last_stage")
    if d.get("warmer"):
        engine.warmer.load(d["warmer"])
    acked = {e.data["id"]: e.seq for e in engine.journal.entries(kinds=("actuation_ack",))}
    last_ack = max(acked.values(), default=0)
    # An intent with no ack is reconciled only when nothing later was acked: a later confirmed
    # actuation supersedes it, and re-applying it would move tenants back to an older stage.
    pending = [
        e.data for e in engine.journal.entries(kinds=("actuation",)) if e.data["id"] not in acked and e.seq > last_ack
    ]
    for intent in pending:
        if intent.get("stage"):
            engine.rollback.adopt(Stage.from_dict(intent["stage"]))
    engine.actuator.pending = pending
    if engine.read_only:
        return  # replayed to be shown: nothing is written, nothing will be reconciled
    log.info(
        "resumed from checkpoint %s at stage %s, %d intent(s) pending", d["seq"], engine.rollback.stage, len(pending)
    )
    engine.journal.append(
        "engine_resumed",
        {
            "from_checkpoint": d["seq"],
            "stage": engine.rollback.stage,
            "pending_actuations": [i["id"] for i in pending],
        },
        engine.clock.now(),
        engine.operator,
    )


def checkpoint(engine: Engine) -> None:
    """Write what changed: the rollout and the full rollback only when they changed, the rest small."""
    now = engine.clock.now()
    if engine.rollout is not None and engine.rollout.version != engine.rollout_written:
        engine.journal.append(ROLLOUT_CHECKPOINT, {"rollout": engine.rollout.snapshot()}, now)
        engine.rollout_written = engine.rollout.version
    full, light = rollback_checkpoints(
        engine.rollback.snapshot(), engine.rollback.take_changes(), engine.deltas_since_full
    )
    if full is not None:
        engine.journal.append(ROLLBACK_CHECKPOINT, full, now)
        engine.deltas_since_full = 0
    else:
        engine.deltas_since_full += len(light["ceilings_delta"])
    engine.journal.append(
        CHECKPOINT,
        {
            "rollback": light,
            "incident": engine.incident.to_dict() if engine.incident else None,
            "incident_count": engine.incident_count,
            "actuations": engine.actuations,
            "alias_seen": engine.housekeeping.alias_seen,
            "old_alias_seen": engine.housekeeping.old_alias_seen,
            "last_stage": engine.last_stage,
            "warmer": engine.warmer.snapshot(),
        },
        now,
    )
    engine.dirty = False
