"""The HAProxy router: applying a change to 10,000 tenants' shares through the Runtime API (goal < 2 s).

Starts its own haproxy on the shipped haproxy.cfg (stats socket in a temporary directory, frontend on a
free loopback port), loads a map of N tenants all at 100 % new, and times, side by side, moving every
tenant to a new share, each run confirmed by reading the whole map back:

  baseline     one `set map` per connection (what a shell loop over socat does)
  pipelined    the plugin's apply_shares, forced to send N `set map` commands down one connection
  versioned    the plugin's apply_shares as configured: one new map version (prepare map, add map
               payloads, commit map), every tenant switching at the same instant

    python benchmarks/bench_haproxy.py [--tenants 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from cockpit_backends.haproxy import config_path, parse_options
from cockpit_backends.haproxy.router import WEIGHT_SCALE, HAProxyRouter
from cockpit_backends.haproxy.runtime import Address, Session, parse_map

GOAL_S = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workdir: Path, tenants: list[str]) -> tuple[subprocess.Popen, str, str]:
    sock = str(workdir / "admin.sock")
    map_path = workdir / "tenants.map"
    map_path.write_text("".join(f"{t} {WEIGHT_SCALE}\n" for t in tenants))
    env = {
        **os.environ,
        "COCKPIT_HAPROXY_SOCKET": sock,
        "COCKPIT_HAPROXY_BIND": f"127.0.0.1:{free_port()}",
        "COCKPIT_HAPROXY_MAP": str(map_path),
        "COCKPIT_OLD_SERVER": f"127.0.0.1:{free_port()}",
        "COCKPIT_NEW_SERVER": f"127.0.0.1:{free_port()}",
    }
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen(
        [exe, "-db", "-f", str(config_path())], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(sock)
                return proc, sock, str(map_path)
            except OSError:
                time.sleep(0.02)
    proc.kill()
    raise SystemExit("haproxy did not start")


async def one_command(sock: str, line: str) -> str:
    reader, writer = await asyncio.open_unix_connection(sock)
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer.decode()


async def baseline(sock: str, map_path: str, shares: dict[str, float]) -> tuple[float, int]:
    t0 = time.perf_counter()
    for tenant, share in shares.items():
        await one_command(sock, f"set map {map_path} {tenant} {round(share * WEIGHT_SCALE)}")
    async with Session(Address(path=sock)) as s:
        (answer,) = await s.run([f"show map {map_path}"])
    back = dict(parse_map(answer))
    confirmed = sum(back.get(t) == str(round(v * WEIGHT_SCALE)) for t, v in shares.items())
    return time.perf_counter() - t0, confirmed


async def plugin(router: HAProxyRouter, shares: dict[str, float]) -> tuple[float, int]:
    t0 = time.perf_counter()
    res = await router.apply_shares(shares, f"bench-{time.monotonic()}")
    elapsed = time.perf_counter() - t0
    assert not res.failed, list(res.failed.items())[:3]
    return elapsed, len(res.applied)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenants", type=int, default=10_000)
    args = ap.parse_args()
    n = args.tenants
    tenants = [f"tenant-{i:05d}" for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="bench-hx-", dir="/tmp") as tmp:
        proc, sock, map_path = start(Path(tmp), tenants)
        try:
            options = parse_options({"socket": sock, "map": map_path, "timeout_s": 60}, tmp)
            pipelined = HAProxyRouter(options, atomic_batch=n + 1)
            versioned = HAProxyRouter(options)
            rows = []
            # each run moves every tenant to a share it does not hold yet
            for name, run, value in (
                ("baseline: one set map per connection", lambda s: baseline(sock, map_path, s), 0.75),
                ("pipelined: set map x N, one session", lambda s: plugin(pipelined, s), 0.5),
                ("versioned: prepare/add/commit map", lambda s: plugin(versioned, s), 0.25),
            ):
                shares = dict.fromkeys(tenants, value)
                elapsed, confirmed = asyncio.run(run(shares))
                rows.append((name, elapsed, confirmed))
        finally:
            proc.kill()
            proc.wait()
    print(f"HAProxy router: move {n:,} tenants' shares, confirmed by reading the map back (goal < {GOAL_S:g} s)")
    base = rows[0][1]
    for name, elapsed, confirmed in rows:
        speedup = "" if elapsed == base else f"  x{base / elapsed:,.1f} faster than baseline"
        print(f"  {name:<40} {elapsed:8.3f} s  {confirmed:>6,} confirmed{speedup}")
    best = min(e for _, e, _ in rows[1:])
    print(f"  goal {'met' if best < GOAL_S else 'MISSED'}: {best:.3f} s < {GOAL_S:g} s")


if __name__ == "__main__":
    main()
