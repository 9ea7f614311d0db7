"""`cockpit --read-only` never actuates (issue 10, defect 1): on a journal holding an armed rollback, a
read-only engine replays and observes, and changes nothing anywhere: no stage applied, no router or
autoscaler write, not one journal record; it may run beside the engine that holds the journal."""

from __future__ import annotations

import asyncio
import hashlib

from cockpit.config import load_config
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_engine
from tests.ops.conftest import write_drill_config


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_engine_on_an_armed_rollback_changes_nothing(tmp_path):
    cfg_path = write_drill_config(tmp_path, "journal.db", regression_at=20)
    config = load_config(cfg_path)

    async def go():
        clock = SimClock()
        live = open_engine(config, clock=clock, operator="oncall@ops")
        clock.set(60)
        await live.tick()
        await live.command("arm", scope="regressing")
        for _ in range(400):
            clock.advance(1)
            await live.tick()
            if live.rollback.stage >= 2:
                break
        assert live.rollback.stage >= 2 and not live.rollback.done
        stage = live.rollback.stage
        records = live.journal.count()

        # beside the live engine (which holds the journal), a read-only one opens and replays
        ro_clock = SimClock(clock.now())
        ro = open_engine(config, clock=ro_clock, read_only=True)
        writes = []
        for role in ("router", "autoscaler"):
            backend = getattr(ro.backends, role)
            for name in ("apply_shares", "scale_tier"):
                if hasattr(backend, name):
                    setattr(backend, name, lambda *a, _n=name, **k: writes.append(_n))
        journal = tmp_path / "journal.db"
        live.journal.close()  # the live engine stops: only the read-only one is left
        before = _digest(journal)
        for _ in range(300):
            ro_clock.advance(1)
            snap = await ro.tick()
        assert writes == []
        assert snap.rollback["stage"] == stage and snap.read_only
        assert "read-only" in (snap.hold or "")
        assert _digest(journal) == before and ro.journal.count() == records
        ro.journal.close()

    asyncio.run(go())
