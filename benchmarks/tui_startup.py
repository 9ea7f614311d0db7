"""TUI benchmark: cold start to first frame (goal: under 1.0 s).

    python benchmarks/tui_startup.py --runs 5

Two fresh interpreters per run, imports included, each exiting on its first refresh:
  cli  the real entry point, `cockpit --config cockpit/data/cockpit.toml --drill demo` (config, keymap check, every
       theme file, plugin host, journal, engine start, first tick), with App.run made headless;
  app  the app alone on the demo drill (what the entry point adds is the difference).
Keystroke latency at 10,000 tenants is benchmarks/tui_latency.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CLI_CHILD = f"""
from cockpit.ui.app import CockpitApp
from cockpit.cli import main
mount = CockpitApp.on_mount
def on_mount(self):
    mount(self)
    self.call_after_refresh(lambda: self.exit(0))
CockpitApp.on_mount = on_mount
run = CockpitApp.run
CockpitApp.run = lambda self, **kw: run(self, headless=True, size=(80, 24))
raise SystemExit(main(["--config", {str(ROOT / "cockpit" / "data" / "cockpit.toml")!r}, "--drill", "demo"]))
"""

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


def cold_start(runs: int, child: str) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", child], check=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    ok = True
    for name, child in (("cli", CLI_CHILD), ("app", CHILD)):
        cs = cold_start(a.runs, child)
        ok &= statistics.median(cs) < 1.0
        med = statistics.median(cs)
        print(f"cold start to first frame ({name}): median {med:.3f} s, max {max(cs):.3f} s, {a.runs} runs")
    print(f"goal (median under 1.0 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
