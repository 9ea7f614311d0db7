"""A headless drill of one simulated hour with 1,000 tenants at 1-second ticks (3,600 ticks).

Goals: under 5 s wall time; peak memory under 200 MB. Each figure comes from its own subprocess so
peak RSS is not polluted by the others, and the baseline (the interpreter with cockpit imported, doing
nothing) is measured the same way, side by side.

    python benchmarks/bench_drill.py [--tenants 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import asyncio, json, resource, sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
from _fleet import write_fleet
from cockpit.engine.drill import run_drill
mode, tenants, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
card = None
if mode == "drill":
    scenario = write_fleet(Path(d) / "fleet.toml", tenants)
    t0 = time.perf_counter()
    card = asyncio.run(run_drill(str(scenario), "cockpit", to_the_end=True))
wall = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "peak_rss_mb": rss_mb,
                   "restored": card.restored if card else None,
                   "dropped": card.dropped_requests if card else None}}))
"""


def child(mode: str, tenants: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(here=str(HERE)), mode, str(tenants), d],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tenants", type=int, default=1000)
    a = p.parse_args()
    base = child("baseline", a.tenants)
    drill = child("drill", a.tenants)
    print(f"1 simulated hour, {a.tenants} tenants, 3,600 ticks of 1 s")
    print(f"{'':28}{'wall':>10}{'peak RSS':>12}")
    print(f"{'baseline (imports only)':28}{'—':>10}{base['peak_rss_mb']:>9.1f} MB")
    print(f"{'drill':28}{drill['wall_s']:>8.2f} s{drill['peak_rss_mb']:>9.1f} MB")
    print(f"restored: {drill['restored']}, dropped: {drill['dropped']:.0f}")
    print(
        f"goal: wall under 5 s -> {'met' if drill['wall_s'] < 5 else 'NOT met'}; "
        f"peak memory under 200 MB -> {'met' if drill['peak_rss_mb'] < 200 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
