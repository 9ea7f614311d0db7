"""End to end: real requests with tenant headers through a real HAProxy split between the old and new
tier servers exactly as the cockpit's vector says, before and after a rollback stage the engine applied
through the plugin."""

from __future__ import annotations

import asyncio

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill

from .conftest import classic_seed, measure_split, tolerance

SPLIT_N = 600  # requests for a tenant split between the tiers: 5 sigma is at most ±0.10
WHOLE_N = 40  # a tenant wholly on one tier: every one of these must land there


def sample_sizes(vector: dict[str, float]) -> dict[str, int]:
    return {t: WHOLE_N if s in (0.0, 1.0) else SPLIT_N for t, s in vector.items()}


def assert_split_matches(measured: dict[str, float], vector: dict[str, float]) -> None:
    n = sample_sizes(vector)
    for tenant, share in vector.items():
        tol = tolerance(share, n[tenant])
        assert abs(measured[tenant] - share) <= tol, (
            f"{tenant}: measured {measured[tenant]:.3f} on new, the cockpit's vector says {share:.3f} (±{tol:.3f})"
        )


def test_measured_split_follows_the_vector_through_a_rollback_stage(make_haproxy, tmp_path) -> None:
    h = make_haproxy(classic_seed())
    clock = SimClock(0.0)
    session = open_drill(
        "classic",
        journal=tmp_path / "journal.db",
        clock=clock,
        backends={"router": "haproxy"},
        plugin_options={"haproxy": h.options},
    )
    engine = session.engine
    try:

        async def run() -> None:
            snap = await engine.tick()
            assert snap.degraded == {}
            before = dict(snap.effective)
            assert before == classic_seed()  # the engine adopted what HAProxy serves
            measured = measure_split(h.port, sample_sizes(before))
            assert_split_matches(measured, before)

            await engine.command("arm", scope=["acme", "globex", "initech", "umbrella"], mode="auto")
            for _ in range(600):
                clock.advance(1)
                snap = await engine.tick()
                if engine.journal.count("stage_applied"):
                    break
            assert engine.journal.count("stage_applied") == 1, "no rollback stage was applied"
            after = dict(snap.effective)
            moved = {t for t in after if abs(after[t] - before[t]) > 0.3}
            assert moved, "the stage must move a tenant far more than the measurement's tolerance"
            ack = engine.journal.last("actuation_ack")
            assert ack.data["verified"] and ack.data["failed_count"] == 0
            measured = measure_split(h.port, sample_sizes(after))
            assert_split_matches(measured, after)
            for t in moved:  # and it is not the old split any more
                assert abs(measured[t] - before[t]) > tolerance(before[t], sample_sizes(before)[t])

        asyncio.run(run())
    finally:
        session.close()
