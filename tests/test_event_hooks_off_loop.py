"""Event hooks run off the control loop with a deadline (issue 10, defect 10): a freeze hook that never
returns (a webhook that never answers, a hung CronJob API) no longer freezes the loop at declare; the
command returns after the deadline, the hook is journaled as a plugin error, and other coroutines (the
lease renewals, the screens) keep running meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.hookspecs import hookimpl
from cockpit.plugins import PluginHost

release = threading.Event()


class NeverAnswers:
    @hookimpl
    def cockpit_incident_declared(self, incident):
        release.wait(30)  # a webhook that never answers (released at the end of the test)


def test_a_hung_declare_hook_does_not_block_the_loop(tmp_path):
    release.clear()
    host = PluginHost(plugins=[("hung-webhook", NeverAnswers())])

    async def go():
        s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(), host=host)
        e = s.engine
        e.config.file.cockpit.backend_timeout_s = 0.5
        beats: list[float] = []

        async def heartbeat():  # stands for the lease renewal task and the attached screens
            while True:
                beats.append(time.monotonic())
                await asyncio.sleep(0.02)

        hb = asyncio.create_task(heartbeat())
        try:
            await e.tick()
            started = time.monotonic()
            result = await e.command("declare", reason="drill")
            took = time.monotonic() - started
        finally:
            hb.cancel()
            release.set()
            s.close()
        gaps = [b - a for a, b in itertools.pairwise(beats)]
        return result, took, max(gaps)

    result, took, gap = asyncio.run(go())
    assert "declared" in result
    assert took < 2.0, f"declare took {took:.1f} s"
    assert gap < 0.3, f"the loop was blocked for {gap:.2f} s"


def test_the_missed_deadline_is_journaled(tmp_path):
    release.clear()
    host = PluginHost(plugins=[("hung-webhook", NeverAnswers())])

    async def go():
        s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(), host=host)
        e = s.engine
        e.config.file.cockpit.backend_timeout_s = 0.3
        try:
            await e.tick()
            await e.command("declare", reason="drill")
            return [x.data for x in e.journal.entries(kinds=("plugin_error",))]
        finally:
            release.set()
            s.close()

    errors = asyncio.run(go())
    assert any(x["plugin"] == "hung-webhook" and "did not finish within 0.3 s" in x["error"] for x in errors), errors
