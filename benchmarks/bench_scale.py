"""The control loop at fleet scale: 10,000 and 100,000 tenants.

Figures (issue 9's goals in brackets):
- armed tick: a tick while a rollback is armed that applies no stage (median) [100k: <= 20 ms]
- stage tick: a tick that applies a stage: plan, journal the intent, call the router, read back (p99)
  [10k: <= 10 ms, 100k: <= 60 ms]
- quiet tick: no incident, nothing to move (median)
- a one-hour headless drill of 10,000 tenants, whole run [<= 3 s]
- `cockpit plan` at 10,000 tenants, the whole process [<= 150 ms] (after one untimed run that writes bytecode):
  asking the `cockpit engine` that runs the fleet (what it does when one listens), and `--local`, its own
  dry run (no engine: observe once, plan)
Wall and CPU time are both printed: on a busy machine, wall time is mostly waiting for a core.
- whether the 100,000-tenant fleet restores, and with how many dropped requests [restores, 0 dropped]

The simulator's own time to advance the fleet is not counted (a real router does not simulate a fleet):
each tick is timed around `engine.tick()` only. Every figure comes from its own subprocess.

    python benchmarks/bench_scale.py [--sizes 10000,100000] [--ticks 300] [--skip-drill] [--drill-sizes 10000]

Run it with another checkout's interpreter to get a baseline side by side, e.g.
    /path/to/old-venv/bin/python benchmarks/bench_scale.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent

TICKS = r"""
import asyncio, json, sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
from _fleet import write_fleet
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill

async def main(tenants, ticks, d):
    scenario = write_fleet(Path(d) / "fleet.toml", tenants)
    clock = SimClock()
    s = open_drill(str(scenario), journal=Path(d) / "j.db", clock=clock)
    e = s.engine
    world = s.simulator.h.world
    quiet, armed, stage, stage_cpu = [], [], [], []
    await e.tick()
    for _ in range(min(ticks, 60)):
        clock.advance(1.0)
        world.advance_to(clock.now())
        t = time.perf_counter(); await e.tick(); quiet.append(time.perf_counter() - t)
    clock.set(640.0)
    world.advance_to(clock.now())
    await e.tick()
    await e.command("declare")
    await e.command("arm", scope="regressing", mode="auto")
    for _ in range(ticks):
        clock.advance(1.0)
        world.advance_to(clock.now())
        before = e.rollback.stage
        c = time.process_time(); t = time.perf_counter(); await e.tick(); dt = time.perf_counter() - t
        (stage if e.rollback.stage != before else armed).append(dt)
        if e.rollback.stage != before:
            stage_cpu.append(time.process_time() - c)
    s.close()
    print(json.dumps({{"quiet": quiet, "armed": armed, "stage": stage, "stage_cpu": stage_cpu}}))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""

DRILL = r"""
import asyncio, json, sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
from _fleet import write_fleet
from cockpit.engine.drill import run_drill
tenants, d = int(sys.argv[1]), sys.argv[2]
scenario = write_fleet(Path(d) / "fleet.toml", tenants)
t0 = time.perf_counter()
card = asyncio.run(run_drill(str(scenario), "cockpit", to_the_end=True))
print(json.dumps({{"wall_s": time.perf_counter() - t0, "restored": card.restored,
                   "dropped": card.dropped_requests, "time_to_restore_s": card.time_to_restore_s}}))
"""

PLAN_CONFIG = """
[cockpit]
journal = "j.db"
clock = "simulated"
[models]
old = "claude-opus-4-20250514"
new = "claude-opus-4-1-20250805"
[backends]
router = "mock"
autoscaler = "mock"
cache = "mock"
provider = "mock"
health = "mock"
[plugins.mock]
scenario = "fleet.toml"
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ticks(tenants: int, n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        return _run(TICKS.format(here=str(HERE)), str(tenants), str(n), d)


def drill(tenants: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        return _run(DRILL.format(here=str(HERE)), str(tenants), d)


def plan_process(tenants: int, runs: int = 5, engine: bool = False) -> tuple[float, float, int]:
    """Median wall and CPU time (user + system) of `cockpit plan --scope all --json` at `tenants` (the
    whole process). With `engine`, a `cockpit engine` runs the fleet and the command asks it (as it does
    by default when one listens): the engine's own CPU is not in the CPU figure, its time to plan is in
    the wall time. Without, `--local`: the command dry-runs a rollback itself. One untimed run first,
    allowed to write bytecode: timed runs start as an installed package does (pip compiles it at install),
    even from an editable checkout or under PYTHONDONTWRITEBYTECODE. CPU time is shown because wall time
    on a busy machine is mostly waiting."""
    sys.path.insert(0, str(HERE))
    from _fleet import write_fleet

    exe = str(Path(sys.executable).with_name("cockpit"))
    walls, cpus = [], []
    stages = -1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        write_fleet(Path(d) / "fleet.toml", tenants)
        (Path(d) / "cockpit.toml").write_text(PLAN_CONFIG)
        cmd = [exe, "--config", str(Path(d) / "cockpit.toml"), "plan", "--scope", "all", "--json"]
        if engine:
            cmd += ["--attach", stack.enter_context(_engine(exe, Path(d), env))]
        else:
            cmd += ["--local"]
        subprocess.run(cmd, capture_output=True, cwd=d, env=env)  # warm-up: bytecode written
        for _ in range(runs):
            t0 = time.perf_counter()
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                child = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=d, env=env)
                _, status, usage = os.wait4(child.pid, 0)
                walls.append(time.perf_counter() - t0)
                cpus.append(usage.ru_utime + usage.ru_stime)
                if os.waitstatus_to_exitcode(status) != 0:
                    err.seek(0)
                    raise SystemExit(f"cockpit plan failed: {err.read().decode().strip()[-500:]}")
                out.seek(0)
                stages = len(json.loads(out.read())["stages"])
    return statistics.median(walls), statistics.median(cpus), stages


@contextlib.contextmanager
def _engine(exe: str, d: Path, env: dict[str, str]) -> Iterator[str]:
    """A `cockpit engine` on the fleet in `d`, listening on a Unix socket there; its address, once it leads."""
    listen = f"unix:{d / 'engine.sock'}"
    log = open(d / "engine.log", "wb")  # noqa: SIM115 - the child writes it until it is stopped
    cmd = [exe, "--config", str(d / "cockpit.toml"), "engine", "--listen", listen]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=d, env=env)
    try:
        deadline = time.monotonic() + 60
        while b"leader" not in (d / "engine.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cockpit engine did not start:\n{(d / 'engine.log').read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(1.5)  # its first ticks: the fleet observed
        yield listen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--ticks", type=int, default=300)
    p.add_argument("--skip-drill", action="store_true")
    p.add_argument("--plan-runs", type=int, default=11, help="timed runs of `cockpit plan` each way")
    p.add_argument("--drill-sizes", default="10000,100000", help="fleet sizes of the one-hour drills")
    a = p.parse_args()
    print(f"python: {sys.executable}")
    for n in (int(s) for s in a.sizes.split(",")):
        r = ticks(n, a.ticks)
        ms = 1e3
        print(
            f"{n:>7} tenants  quiet median {statistics.median(r['quiet']) * ms:7.2f} ms   "
            f"armed median {statistics.median(r['armed']) * ms:7.2f} ms   "
            f"stage p99 {pct(r['stage'], 0.99) * ms:7.2f} ms (median {statistics.median(r['stage'] or [0]) * ms:.2f}, "
            f"{len(r['stage'])} stage ticks; CPU p99 {pct(r['stage_cpu'], 0.99) * ms:.2f} ms, "
            f"median {statistics.median(r['stage_cpu'] or [0]) * ms:.2f}; load average {os.getloadavg()[0]:.1f})"
        )
    for engine, how in ((True, "asking the running engine"), (False, "--local, its own dry run")):
        wall, cpu, stages = plan_process(10_000, runs=a.plan_runs, engine=engine)
        print(
            f"cockpit plan, 10000 tenants, {how}, whole process: {wall * 1e3:.0f} ms median of {a.plan_runs}, "
            f"CPU {cpu * 1e3:.0f} ms ({stages} stages; load average {os.getloadavg()[0]:.1f})"
        )
    if not a.skip_drill:
        for n in (int(x) for x in a.drill_sizes.split(",")):
            r = drill(n)
            print(
                f"one-hour drill, {n} tenants: wall {r['wall_s']:.2f} s, restored {r['restored']} "
                f"in {r['time_to_restore_s']} s, dropped {r['dropped']:.0f}"
            )


if __name__ == "__main__":
    main()
