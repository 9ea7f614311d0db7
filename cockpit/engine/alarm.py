"""When the journal cannot be written (disk full, an I/O error, Redis gone): the engine actuates nothing,
since every intent must be durable before the backend call, shows a JOURNAL ALARM on every screen, keeps
running, and clears the alarm once a tick has committed something again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cockpit.engine.snapshot import Snapshot

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine

log = logging.getLogger("cockpit.engine")


def last_seq(engine: Engine) -> int:
    last_seq = getattr(engine.journal, "last_seq", None)
    try:
        return int(last_seq()) if callable(last_seq) else -1
    except Exception:
        return -1


def journal_wrote(engine: Engine) -> bool:
    """The alarm clears once a tick committed something (a quiet tick proves nothing about space)."""
    return last_seq(engine) > engine._alarm_seq


def journal_down(engine: Engine, why: str) -> Snapshot:
    """A journal that cannot be written (disk full, I/O error, Redis gone): nothing is actuated, since
    every intent must be durable before the backend call (the failed write stopped this tick before
    it); the alarm shows on every screen; the next tick tries again and clears it once writes work."""
    if engine.journal_alarm is None:
        log.error("%s: not actuating until it can be written", why)
    engine.rollback.take_changes()
    engine.rollback.mark_all_changed()  # what the lost transaction held is written whole next time
    engine.rollout_written = -1
    engine._alarm_seq = last_seq(engine)
    engine.journal_alarm = f"JOURNAL ALARM: {why}: not actuating until it can be written"
    return engine.snap(engine.clock.now(), hold=engine.journal_alarm)
