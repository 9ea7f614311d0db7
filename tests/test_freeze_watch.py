"""The plugins' freezes re-asserted while an incident is open (cockpit_freeze_reassert): every
[freeze] reassert_s after the declare, in the background. A slow plugin never delays a tick, what it
froze again is journaled, a failing one is a plugin error, and nothing runs without an open incident."""

from __future__ import annotations

import asyncio
import threading
import time

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.hookspecs import hookimpl
from cockpit.plugins import PluginHost


class SlowFreezer:
    """Takes `delay` seconds per round and says what it froze again; records every incident it saw."""

    def __init__(self, delay: float, answer: list[str] | Exception) -> None:
        self.delay, self.answer = delay, answer
        self.seen: list[dict] = []
        self.lock = threading.Lock()
        self.at_once = self.most_at_once = 0

    @hookimpl
    def cockpit_freeze_reassert(self, incident, context):
        with self.lock:
            self.seen.append(dict(incident))
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
        time.sleep(self.delay)
        with self.lock:
            self.at_once -= 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _session(tmp_path, plugin):
    clock = SimClock()
    host = PluginHost(plugins=[("slowfreeze", plugin)])
    return open_drill("classic", journal=tmp_path / "j.db", clock=clock, host=host), clock


def test_a_slow_reassert_never_delays_a_tick_and_what_it_froze_again_is_journaled(tmp_path):
    plugin = SlowFreezer(1.5, ["Rollout models/canary"])
    s, clock = _session(tmp_path, plugin)
    e = s.engine

    async def go():
        await e.tick()
        for _ in range(40):  # no incident: no round
            clock.advance(1)
            await e.tick()
        assert plugin.seen == []
        await e.command("declare", reason="x")
        clock.advance(29)
        await e.tick()
        assert plugin.seen == []  # the declare itself froze: the first round is reassert_s later
        clock.advance(1)
        t0 = time.perf_counter()
        await e.tick()  # starts the round
        ticks = 0
        while not e.journal.count("freeze_reasserted"):
            clock.advance(1)
            await e.tick()
            ticks += 1
            await asyncio.sleep(0.01)
        return time.perf_counter() - t0, ticks

    try:
        elapsed, ticks = asyncio.run(go())
        entries = [x.data for x in e.journal.entries(kinds=("freeze_reasserted",))]
    finally:
        s.close()
    assert elapsed >= 1.5 and ticks >= 20  # the loop kept ticking while the plugin worked
    assert entries == [{"plugin": "slowfreeze", "frozen_again": ["Rollout models/canary"], "count": 1}]
    # the hook got the incident as declared, its freeze manifest included
    assert plugin.seen[0]["id"] == "INC-1" and plugin.seen[0]["freeze"]["rollout"] is True
    assert plugin.most_at_once == 1  # one round at a time, however long a round takes


def test_a_failing_reassert_is_a_plugin_error_and_a_quiet_one_writes_nothing(tmp_path):
    failing = SlowFreezer(0.0, RuntimeError("API server said no"))
    s, clock = _session(tmp_path, failing)
    e = s.engine

    async def go():
        await e.tick()
        await e.command("declare", reason="x")
        for _ in range(3):  # three rounds
            clock.advance(30)
            await e.tick()
            await asyncio.wait_for(asyncio.shield(e.housekeeping.freeze_watch.task), 10)
        clock.advance(1)
        await e.tick()
        await e.command("release", confirm=True)
        rounds = len(failing.seen)
        for _ in range(5):  # released: no more rounds
            clock.advance(30)
            await e.tick()
        return rounds, [x.data for x in e.journal.entries(kinds=("plugin_error",))]

    try:
        rounds, errors = asyncio.run(go())
        reasserted = e.journal.count("freeze_reasserted")
    finally:
        s.close()
    assert rounds == 3 and len(failing.seen) == 3
    assert [x["hook"] for x in errors] == ["cockpit_freeze_reassert"] * 3
    assert errors[0]["plugin"] == "slowfreeze" and errors[0]["error"].startswith("RuntimeError: API server said no")
    assert reasserted == 0
