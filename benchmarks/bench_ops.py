"""Operations figures, each beside its baseline, in one run:

- lease takeover: SIGKILL of the leading `cockpit engine` -> the hot standby's first actuation (wall time
  of its journaled intent), beside a cold restart (a supervisor starting a fresh engine on the SQLite
  journal right after the kill);
- attach: connect + hello -> first snapshot on an attached screen, beside starting an engine in-process
  (what a screen does without an engine to attach to: create backends, restore, first tick);
- journal write rate under a 10,000-tenant drill (every entry of one headless drill on the simulator):
  SQLite (the default, FULL and NORMAL sync) beside Redis Streams (AOF, fsync every second).

    python benchmarks/bench_ops.py [--tenants 10000] [--lease-ttl 1.5]

Needs `redis-server` on PATH (a private one is started on a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "ops"))

from _fleet import write_fleet  # noqa: E402
from conftest import write_drill_config  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        import redis

        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                self.dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def engine_proc(cfg: Path, *extra: str, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = cfg.parent / f"{name}.log"
    cmd = [sys.executable, "-m", "cockpit.cli_engine", "engine", "--config", str(cfg), *extra]
    out = open(log, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cfg.parent)
    return proc, log


def wait_text(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: no {text!r} in {log}:\n{log.read_text()}")
        time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Takeover ------------------------------------------------------------------------------------------
def takeover(redis_port: int, ttl: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(hot standby over Redis, cold restart on SQLite): seconds from SIGKILL to the resumed engine's
    engine_resumed entry and to its first actuation."""
    from cockpit.engine.journal import Journal
    from cockpit.engine.journal_redis import RedisJournal

    def first_after(journal: Any, t: float, kind: str, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in journal.entries(kinds=(kind,)):
                if e.wall > t:
                    return e.wall - t
            time.sleep(0.01)
        raise SystemExit(f"bench: no {kind} after the kill")

    def first_actuation_after(journal: Any, t: float) -> tuple[float, float]:
        act = first_after(journal, t, "actuation")
        return first_after(journal, t, "engine_resumed"), act

    def stages(journal: Any) -> int:
        return sum(1 for _ in journal.entries(kinds=("stage_applied",)))

    with tempfile.TemporaryDirectory() as d:
        url = f"redis://127.0.0.1:{redis_port}/0?stream=bench-takeover"
        cfg = write_drill_config(Path(d), url, speed=20)
        args = ("--autopilot", "--lease-ttl", str(ttl))
        a, alog = engine_proc(cfg, "--listen", f"127.0.0.1:{free_port()}", *args, name="a")
        wait_text(alog, "leader, epoch")
        b, _ = engine_proc(cfg, "--listen", f"127.0.0.1:{free_port()}", *args, name="b")
        j = RedisJournal(url)
        while stages(j) < 2:
            time.sleep(0.01)
        killed = time.time()
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        hot = first_actuation_after(j, killed)
        j.close()
        stop(b)

    with tempfile.TemporaryDirectory() as d:
        cfg = write_drill_config(Path(d), "journal.db", speed=20)
        a, _ = engine_proc(cfg, "--listen", f"127.0.0.1:{free_port()}", "--autopilot", name="a")
        j = Journal(Path(d) / "journal.db")
        while stages(j) < 2:
            time.sleep(0.01)
        killed = time.time()
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        b, _ = engine_proc(cfg, "--listen", f"127.0.0.1:{free_port()}", "--autopilot", name="b")
        cold = first_actuation_after(j, killed)
        j.close()
        stop(b)
    return hot, cold


# Attach ----------------------------------------------------------------------------------------------
def attach(tenants: int, rounds: int = 5) -> tuple[float, float]:
    """(attach to a running engine, start an engine in-process): median seconds to the first snapshot."""
    from cockpit.config import load_config
    from cockpit.engine.journal import Journal
    from cockpit.engine.remote import RemoteEngine
    from cockpit.engine.session import open_engine

    with tempfile.TemporaryDirectory() as d:
        write_fleet(Path(d) / "fleet.toml", tenants)
        cfg = write_drill_config(Path(d), "journal.db", speed=5)
        text = cfg.read_text().replace('scenario = "scenario.toml"', 'scenario = "fleet.toml"')
        cfg.write_text(text.replace('state_file = "world.json"\n', ""))
        listen = f"127.0.0.1:{free_port()}"
        proc, log = engine_proc(cfg, "--listen", listen, name="engine")
        try:
            wait_text(log, "leader")
            time.sleep(1.0)

            async def one() -> float:
                t0 = time.perf_counter()
                remote = await RemoteEngine.connect(listen, "bench@host")
                await remote.first_snapshot()
                dt = time.perf_counter() - t0
                await remote.close()
                return dt

            attached = sorted(asyncio.run(one()) for _ in range(rounds))[rounds // 2]
        finally:
            stop(proc)
        config = load_config(cfg)
        local = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            engine = open_engine(config, journal=Journal(":memory:"), read_only=True)
            asyncio.run(engine.tick())
            local.append(time.perf_counter() - t0)
        return attached, sorted(local)[rounds // 2]


# Journal write rate ----------------------------------------------------------------------------------
class Timed:
    """Wraps a journal: counts entries and the time spent writing them (append + commit)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entries = 0
        self.seconds = 0.0
        self.bytes = 0

    def append(self, *a: Any, **k: Any) -> int:
        self.bytes += len(json.dumps(a[1], separators=(",", ":")))
        t0 = time.perf_counter()
        try:
            return self.inner.append(*a, **k)
        finally:
            self.seconds += time.perf_counter() - t0
            self.entries += 1

    def commit(self) -> None:
        t0 = time.perf_counter()
        try:
            self.inner.commit()
        finally:
            self.seconds += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def drill_with(journal: Any, scenario: Path, workdir: Path) -> dict[str, float]:
    """One headless drill (autopilot) of `scenario` writing into `journal`; its journal figures."""
    from cockpit.engine.clock import SimClock
    from cockpit.engine.drill import Autopilot
    from cockpit.engine.loop import Engine
    from cockpit.engine.session import drill_config
    from cockpit.hookspecs import BackendContext
    from cockpit.plugins import PluginHost

    clock = SimClock(0.0)
    host = PluginHost()
    options = {"scenario": str(scenario)}
    sim = host.create("simulator", "mock", options, BackendContext(clock=clock, config_dir=str(workdir)))
    info = dict(sim.scenario_info())
    config = drill_config(info, workdir / "unused.db", workdir, options)
    timed = Timed(journal)
    engine = Engine(config, host, timed, clock)  # type: ignore[arg-type]
    engine.start()
    pilot = Autopilot(engine)
    finished = None
    t0 = time.perf_counter()
    while clock.now() <= info["duration_s"]:
        await engine.tick()
        await pilot.act()
        if finished is None and engine.rollback.done:
            finished = clock.now()
        if finished is not None and clock.now() - finished >= 300:
            break
        clock.advance(info["tick_s"])
    wall = time.perf_counter() - t0
    sim.close()
    journal.close()
    return {
        "entries": timed.entries,
        "journal_s": timed.seconds,
        "drill_s": wall,
        "mb": timed.bytes / 1e6,
        "stages": engine.rollback.stage,
    }


def write_rate(tenants: int, redis_port: int) -> dict[str, dict[str, float]]:
    from cockpit.engine.journal import Journal
    from cockpit.engine.journal_redis import RedisJournal

    out = {}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        scenario = write_fleet(work / "fleet.toml", tenants)
        out["sqlite (synchronous=FULL)"] = asyncio.run(drill_with(Journal(work / "full.db"), scenario, work))
        out["sqlite (synchronous=NORMAL)"] = asyncio.run(
            drill_with(Journal(work / "normal.db", durable=False), scenario, work)
        )
        url = f"redis://127.0.0.1:{redis_port}/0?stream=bench-rate"
        out["redis streams (AOF everysec)"] = asyncio.run(drill_with(RedisJournal(url), scenario, work))
    return out


def small_entries(redis_port: int, n: int = 5000) -> dict[str, float]:
    """Raw rate for small entries (a tick's observations), one transaction each: entries/s."""
    from cockpit.engine.journal import Journal
    from cockpit.engine.journal_redis import RedisJournal

    out = {}
    with tempfile.TemporaryDirectory() as d:
        url = f"redis://127.0.0.1:{redis_port}/0?stream=bench-small"
        for name, j in (
            ("sqlite (synchronous=FULL)", Journal(Path(d) / "full.db")),
            ("sqlite (synchronous=NORMAL)", Journal(Path(d) / "normal.db", durable=False)),
            ("redis streams (AOF everysec)", RedisJournal(url)),
        ):
            t0 = time.perf_counter()
            for i in range(n):
                j.begin()
                j.append("metrics", {"old_ready": 12, "old_hit": 0.42, "i": i}, float(i))
                j.commit()
            out[name] = n / (time.perf_counter() - t0)
            j.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=10_000)
    p.add_argument("--lease-ttl", type=float, default=1.5)
    args = p.parse_args()
    server = RedisServer()
    try:
        hot, cold = takeover(server.port, args.lease_ttl)
        print(f"takeover after SIGKILL of the leader mid-rollback, lease {args.lease_ttl:g} s:")
        print("                                     resumed   first actuation")
        print(f"  hot standby over Redis           {hot[0] * 1000:7.0f} ms {hot[1] * 1000:9.0f} ms")
        print(
            f"  baseline: cold restart on SQLite {cold[0] * 1000:7.0f} ms {cold[1] * 1000:9.0f} ms"
            "  (same host, a supervisor restarting at once)"
        )
        for n in (12, args.tenants):
            attached, local = attach(n)
            print(f"attach to first snapshot, {n:,} tenants (median of 5):")
            print(f"  attach to a running engine       {attached * 1000:8.1f} ms")
            print(f"  baseline: start an engine here   {local * 1000:8.1f} ms  (backends, restore, first tick)")
        rates = write_rate(args.tenants, server.port)
        print(f"journal writes in a {args.tenants:,}-tenant drill (autopilot, to the end of the rollback + 300 s):")
        for name, r in rates.items():
            rate = r["entries"] / r["journal_s"] if r["journal_s"] else float("inf")
            print(
                f"  {name:<30} {r['entries']:>5} entries ({r['mb']:.1f} MB)  {rate:>6,.0f} entries/s "
                f"({r['mb'] / r['journal_s']:.0f} MB/s) of journal time; journal {r['journal_s']:.2f} s "
                f"of a {r['drill_s']:.1f} s drill"
            )
        print("small entries, one transaction each (5,000 writes):")
        for name, rate in small_entries(server.port).items():
            print(f"  {name:<30} {rate:>9,.0f} entries/s")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
