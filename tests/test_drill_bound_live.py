"""A live drill (the TUI's): its clock started before the simulated world did, and the on-call declares
between two ticks. The restore bound and the scorecard's limits must still come from the world at the
declaration (before: the world's time was compared with the clock's, so a live drill showed no bound on
the rollback line and `—` for the capacity bound and the clairvoyant on its scorecard)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill


def test_a_live_drill_declared_between_ticks_has_its_bound(tmp_path: Path):
    async def go() -> tuple[float | None, dict]:
        clock = SimClock(4.5)  # the screen's clock ran 4.5 simulated seconds before the world was built
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        e.truth = s.simulator  # type: ignore[attr-defined]  # as the TUI's drill hands it
        bound = None
        try:
            for _ in range(400):
                snap = await e.tick()
                if e.incident is None and any(h >= 0.2 for h in snap.harm.values()):
                    clock.advance(6.2)  # the keys come between two ticks, as on a live screen
                    await e.command("arm", scope="regressing", confirm=True)
                    clock.advance(8.8)
                    continue
                if e.rollback.armed:
                    bound = snap.restore_bound_s
                    break
                clock.advance(15.0)
            assert e.incident is not None
            return bound, s.simulator.limits(e.incident.declared_at, 0.8, 2)
        finally:
            s.close()

    bound, limits = asyncio.run(go())
    assert bound is not None and 60.0 < bound < 200.0, bound
    assert limits["capacity_bound_s"] == bound
    assert limits["clairvoyant_time_to_restore_s"] is None or limits["clairvoyant_time_to_restore_s"] >= bound
