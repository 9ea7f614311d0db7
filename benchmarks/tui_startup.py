"""TUI benchmark: cold start to first frame (goal, issue 14: median at most 0.5 s).

    python benchmarks/tui_startup.py --runs 5

Fresh interpreters, imports included, each exiting on its first refresh:
  cli      the real entry point, `cockpit --config cockpit/data/cockpit.toml --drill demo` (config, keymap
           check, every theme file, plugin host, journal, engine start, first tick), App.run made headless;
  app      the app alone on the demo drill (what the entry point adds is the difference);
  textual  a bare Textual app with one Static (the floor: Textual's own import and first frame; not a goal).
The runs are interleaved (cli, app, textual, cli, ...) so a burst of load on the shared machine falls on all
three. The `cockpit` package measured is the one first on sys.path (PYTHONPATH wins: the children run with
`python -P`, so the working directory does not shadow it); it is printed. As an installed package starts,
its bytecode is compiled first (`compileall`; pip does the same), so PYTHONDONTWRITEBYTECODE=1 in the
environment does not turn every run into a compile. Keystroke latency at 10,000 tenants is
benchmarks/tui_latency.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_S = 0.5  # issue 14, "Done when": cold start <= 0.5 s

# Each child stamps the wall-clock time of its first frame (the first non-empty write of the app's
# `_display`, wrapped as benchmarks/tui_latency.py does) on a pipe, then exits; the parent takes the time
# from its own clock before starting the child, so interpreter start-up is counted.
STAMP = """
import os, time
from textual.app import App
_display = App._display
def _first_frame(self, screen, renderable):
    _display(self, screen, renderable)
    if renderable is not None and not getattr(self, "_stamped", False):
        self._stamped = True
        os.write(int(os.environ["STAMP_FD"]), f"{time.time()!r} {time.process_time()!r}".encode())
        self.exit(0)
App._display = _first_frame
"""

# The entry point as the `cockpit` command runs it: cockpit.cli imported, main() called (it imports the rest);
# App.run is made headless on textual's class, so no cockpit module is imported ahead of main().
CLI_CHILD = (
    STAMP
    + f"""
run = App.run
App.run = lambda self, **kw: run(self, headless=True, size=(80, 24))
from cockpit.cli import main
raise SystemExit(main(["--config", {str(ROOT / "cockpit" / "data" / "cockpit.toml")!r}, "--drill", "demo"]))
"""
)

CHILD = (
    STAMP
    + """
import tempfile
from pathlib import Path
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp
s = open_drill("demo", journal=Path(tempfile.mkdtemp()) / "j.db", clock=SimClock(0.0))
app = CockpitApp(s.engine, auto_tick=False)
app.call_later(app.step)
app.run(headless=True, size=(80, 24))
"""
)

BARE = (
    STAMP
    + """
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("cockpit")
Bare().run(headless=True, size=(80, 24))
"""
)

WHICH = "import cockpit, cockpit_backends; print(cockpit.__file__); print(cockpit_backends.__file__)"


def measured_packages(env: dict[str, str]) -> list[Path]:
    run = subprocess.run([sys.executable, "-P", "-c", WHICH], check=True, capture_output=True, text=True, env=env)
    return [Path(line).parent for line in run.stdout.split()]


def cold_start(child: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds to the first frame, CPU seconds the child used until then, seconds until it exited)."""
    read, write = os.pipe()
    env = {**env, "STAMP_FD": str(write)}
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", child], cwd=ROOT, env=env, stderr=subprocess.DEVNULL, pass_fds=(write,)
    )
    os.close(write)
    stamp = os.read(read, 64)
    proc.wait()
    end = time.time()
    os.close(read)
    if proc.returncode != 0 or not stamp:
        raise SystemExit(f"child failed ({proc.returncode})")
    wall, cpu = map(float, stamp.split())
    return wall - t0, cpu, end - t0


def tree_env(tree: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join([tree, *filter(None, [env.get("PYTHONPATH")])])
    return env


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="DIR",
        help="also measure these trees (e.g. a git archive of an earlier commit), interleaved with this one",
    )
    a = p.parse_args()
    trees: dict[str, dict[str, str]] = {"this": tree_env(None), **{d: tree_env(d) for d in a.compare}}
    for name, env in trees.items():
        packages = measured_packages(env)
        subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, packages)], check=True, env=env)
        print(f"{name}: {packages[0]} (bytecode compiled)")
    children = {"cli": CLI_CHILD, "app": CHILD}
    runs: list[tuple[str, str, str, dict[str, str]]] = [
        (tree, name, child, env) for tree, env in trees.items() for name, child in children.items()
    ]
    runs.append(("-", "textual", BARE, trees["this"]))
    times: dict[tuple[str, str], list[tuple[float, float]]] = {(t, n): [] for t, n, _, _ in runs}
    loads = [os.getloadavg()[0]]
    for _ in range(a.runs):  # interleaved: a burst of load on the shared machine falls on every row
        for tree, name, child, env in runs:
            times[tree, name].append(cold_start(child, env))
        loads.append(os.getloadavg()[0])
    print(f"cold start, {a.runs} runs each, load average {min(loads):.2f}-{max(loads):.2f}")
    print(f"{'tree':<24} {'':<8} {'first frame':>12} {'(max)':>7} {'its CPU':>8} {'exited':>8}")
    first: dict[tuple[str, str], float] = {}
    cpu: dict[tuple[str, str], float] = {}
    for (tree, name), ts in times.items():
        first[tree, name] = statistics.median(f for f, _, _ in ts)
        cpu[tree, name] = statistics.median(c for _, c, _ in ts)
        print(
            f"{tree:<24} {name:<8} {first[tree, name]:>10.3f} s {max(f for f, _, _ in ts):>6.3f} "
            f"{cpu[tree, name]:>6.3f} s {statistics.median(e for _, _, e in ts):>6.3f} s"
        )
    floor, cpu_floor = first["-", "textual"], cpu["-", "textual"]
    print(
        f"this tree's own share of the first frame (cli - bare textual): {first['this', 'cli'] - floor:.3f} s "
        f"({cpu['this', 'cli'] - cpu_floor:.3f} s of CPU)"
    )
    ok = first["this", "cli"] <= GOAL_S and first["this", "app"] <= GOAL_S
    print(f"goal (issue 14: cold start to first frame, median <= {GOAL_S} s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
