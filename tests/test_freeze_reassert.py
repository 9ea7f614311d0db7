"""Desired state is re-asserted every tick (issue 10, defect 9): while an incident is open, cache
namespaces that read back unfrozen after a cache-store restart are frozen again on the next tick, and the
journal records it; with no incident nothing is frozen."""

from __future__ import annotations

import asyncio

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill


def test_the_freeze_is_reasserted_after_a_cache_store_restart(tmp_path):
    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        world = s.simulator.h.world if hasattr(s.simulator, "h") else s.simulator.world
        try:
            clock.set(60)
            await e.tick()
            assert not any(c.frozen for c in world.caches.values())  # no incident: nothing frozen
            await e.command("declare", reason="drill")
            clock.advance(1)
            await e.tick()
            assert all(c.frozen for c in world.caches.values())
            for c in world.caches.values():  # the cache store restarts: its namespaces come back unfrozen
                c.frozen = False
            for _ in range(2):  # one tick reads them unfrozen, and freezes them again
                clock.advance(1)
                await e.tick()
            assert all(c.frozen for c in world.caches.values())
            entries = list(e.journal.entries(kinds=("freeze_reasserted",)))
            assert len(entries) == 1 and entries[0].data["count"] == len(world.caches)
            for _ in range(5):  # and nothing more is written while they stay frozen
                clock.advance(1)
                await e.tick()
            assert e.journal.count("freeze_reasserted") == 1
        finally:
            s.close()

    asyncio.run(go())
