"""The cache warmer keeps the rollback target warm; its effect shows in a drill's scorecard."""

from __future__ import annotations

import asyncio

from cockpit.domain.warmer import Warmer, WarmerPolicy
from cockpit.engine.clock import SimClock
from cockpit.engine.drill import run_drill
from cockpit.engine.session import open_drill


def test_token_bucket_rate_and_burst_cap():
    w = Warmer(WarmerPolicy(rate_per_s=2.0, burst_s=5.0), enabled=True)
    assert w.due(0.0) == 0
    assert w.due(0.5) == 1
    assert w.due(1.0) == 1
    assert w.due(101.0) == 10  # a long stall catches up at most burst_s worth
    w.enabled = False
    assert w.due(200.0) == 0


def test_only_reported_cache_reads_count_as_success():
    w = Warmer(enabled=True)
    w.record(0, cache_write_tokens=1200, cost=0.0125)  # answered, but it wrote the cache: not warm yet
    w.record(1200, cost=0.001)
    w.record(None)  # failed request
    assert (w.sent, w.reads, w.writes, w.failures) == (3, 1, 1, 1)
    assert w.read_rate == 0.5
    assert abs(w.cost - 0.0135) < 1e-12


def test_warmer_raises_the_lowest_hit_rate_and_shortens_the_restore():
    cold = asyncio.run(run_drill("classic", "cockpit"))
    warm = asyncio.run(run_drill("classic", "cockpit", warmer=True))
    assert cold.warmer.get("sent", 0) == 0
    assert warm.warmer["sent"] > 500 and 0 < warm.warmer["reads"] < warm.warmer["sent"]
    assert warm.min_old_hit_rate > cold.min_old_hit_rate + 0.1
    assert warm.time_to_restore_s < cold.time_to_restore_s
    assert warm.wrong_answers < cold.wrong_answers
    assert warm.dropped_requests == cold.dropped_requests == 0
    assert warm.extra_cost >= warm.warmer["cost"] > 0  # its cost is counted


def test_warmer_toggles_by_command_and_is_journaled(tmp_path):
    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            await e.tick()
            msg = await e.command("warmer", on=True)
            for _ in range(30):
                clock.advance(1)
                await e.tick()
            sent_on = e.warmer.sent
            await e.command("warmer")  # toggle: off
            for _ in range(30):
                clock.advance(1)
                await e.tick()
            return msg, sent_on, e.warmer.sent, e.snapshot.warmer, e.journal.count("command")
        finally:
            s.close()

    msg, sent_on, sent_after, snap, commands = asyncio.run(go())
    assert msg == "cache warmer on (1/s)"
    assert 28 <= sent_on <= 31
    assert sent_after == sent_on and snap["enabled"] is False
    assert commands == 2
