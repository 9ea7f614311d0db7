"""TUI benchmarks: cold start to first frame, and keystroke-to-updated-screen latency at 10,000 tenants.

    python benchmarks/tui_startup.py             # both
    python benchmarks/tui_startup.py --tenants 10000 --keys 50

Cold start runs a fresh interpreter (imports included) that opens the demo drill headless and exits on
its first refresh. Latency drives the app with a Pilot: each sample presses a key that changes what the
table shows (the filter) and waits for the screen to be refreshed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import time, tempfile
from pathlib import Path
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp
s = open_drill("demo", journal=Path(tempfile.mkdtemp()) / "j.db", clock=SimClock(0.0))
app = CockpitApp(s.engine, auto_tick=False)
async def first_frame():
    await app.step()
    app.call_after_refresh(app.exit)
app.call_later(first_frame)
app.run(headless=True, size=(80, 24))
"""


def cold_start(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD], check=True)
        times.append(time.perf_counter() - t0)
    return times


async def keystroke_latency(tenants: int, keys: int) -> tuple[list[float], float]:
    sys.path.insert(0, str(HERE))
    from _fleet import write_fleet

    from cockpit.engine.clock import SimClock
    from cockpit.engine.session import open_drill
    from cockpit.ui.app import CockpitApp

    tmp = Path(tempfile.mkdtemp())
    scenario = write_fleet(tmp / f"fleet-{tenants}.toml", tenants)
    clock = SimClock(0.0)
    s = open_drill(str(scenario), journal=tmp / "j.db", clock=clock)
    app = CockpitApp(s.engine, auto_tick=False)
    samples = []
    async with app.run_test(size=(160, 48)) as pilot:
        await app.step()
        await pilot.press("slash")
        for i in range(keys):
            key = "1" if i % 2 == 0 else "backspace"
            t0 = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            samples.append(time.perf_counter() - t0)
    s.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return samples, rss_mb


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--tenants", type=int, default=10_000)
    p.add_argument("--keys", type=int, default=30)
    a = p.parse_args()
    cs = cold_start(a.runs)
    print(f"cold start to first frame: median {statistics.median(cs):.3f} s (max {max(cs):.3f} s, {a.runs} runs)")
    lat, rss = asyncio.run(keystroke_latency(a.tenants, a.keys))
    print(
        f"{a.tenants:,} tenants: keystroke to updated screen median {statistics.median(lat) * 1000:.1f} ms "
        f"(p90 {sorted(lat)[int(len(lat) * 0.9)] * 1000:.1f} ms); peak RSS {rss:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
