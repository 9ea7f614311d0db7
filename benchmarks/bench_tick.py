"""One control-loop tick with 10,000 tenants: observe → step both schedulers → actuate → journal.

Goal: under 20 ms median. Measured in two phases, side by side: a quiet tick (nothing to move) and a
tick during the rollback (stages applied, actuations journaled). The simulator's own time to advance one
second is measured separately and subtracted: a real router does not simulate a fleet.

    python benchmarks/bench_tick.py [--tenants 10000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet import write_fleet

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill


async def main(tenants: int, ticks: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        scenario = write_fleet(Path(d) / "fleet.toml", tenants)
        clock = SimClock()
        s = open_drill(str(scenario), journal=Path(d) / "j.db", clock=clock)
        e = s.engine
        world = s.simulator.h.world if hasattr(s.simulator, "h") else None
        quiet, busy, sim_only = [], [], []
        try:
            await e.tick()  # adopt the fleet
            for _ in range(ticks):
                clock.advance(1.0)
                t0 = time.perf_counter()
                world.advance_to(clock.now()) if world else None
                t1 = time.perf_counter()
                await e.tick()
                t2 = time.perf_counter()
                sim_only.append(t1 - t0)
                quiet.append(t2 - t1)
            clock.set(640.0)
            await e.tick()
            await e.command("declare")
            await e.command("arm", scope="regressing", mode="auto")
            for _ in range(ticks):
                clock.advance(1.0)
                world.advance_to(clock.now()) if world else None
                t1 = time.perf_counter()
                await e.tick()
                busy.append(time.perf_counter() - t1)
            stages = e.rollback.stage
        finally:
            s.close()

    def ms(xs: list[float]) -> str:
        xs = sorted(xs)
        return f"median {statistics.median(xs) * 1e3:6.2f} ms   p95 {xs[int(len(xs) * 0.95)] * 1e3:6.2f} ms"

    print(f"tenants: {tenants}, ticks per phase: {ticks}")
    print(f"quiet tick (no rollback)        {ms(quiet)}")
    print(f"rollback tick ({stages} stages)     {ms(busy)}")
    print(f"simulator advance (not counted)  {ms(sim_only)}")
    print(f"goal: median under 20 ms -> {'met' if statistics.median(busy) < 0.020 else 'NOT met'}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--tenants", type=int, default=10_000)
    p.add_argument("--ticks", type=int, default=200)
    a = p.parse_args()
    asyncio.run(main(a.tenants, a.ticks))
