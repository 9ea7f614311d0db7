"""The Redis cache store: fork and freeze cost the namespace's size, not the keyspace's.

Starts its own redis-server on a free loopback port (no persistence), fills it with an unrelated
keyspace plus one namespace, and times, side by side:

  fork     through the namespace's index (the store)   vs  a naive fork that SCANs the keyspace for the
                                                           namespace's prefix and COPYs what it finds
  freeze   PERSIST through the index (the store)       vs  SCAN for the prefix, then PERSIST
  namespaces()  one engine read with 50 namespaces registered

    python benchmarks/bench_redis.py [--entries 10000] [--unrelated 500000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import time

import redis
import redis.asyncio as aioredis

from cockpit_backends.redis import parse_options
from cockpit_backends.redis.store import RedisCacheStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int) -> subprocess.Popen:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return proc
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def fill_unrelated(client: redis.Redis, n: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"other:{i}", "x")
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()


async def scan_copy(r: aioredis.Redis, src_prefix: str, dst_prefix: str) -> int:
    """The baseline: find the namespace's entries by scanning the whole keyspace."""
    n = 0
    batch = []
    async for key in r.scan_iter(match=f"{src_prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            n += await _copy(r, batch, src_prefix, dst_prefix)
            batch = []
    if batch:
        n += await _copy(r, batch, src_prefix, dst_prefix)
    return n


async def _copy(r, keys, src_prefix, dst_prefix) -> int:
    pipe = r.pipeline(transaction=False)
    for k in keys:
        k = k.decode()
        pipe.copy(k, dst_prefix + k[len(src_prefix) :])
    return sum(1 for ok in await pipe.execute() if ok)


async def scan_persist(r: aioredis.Redis, prefix: str) -> int:
    """The baseline freeze: SCAN for the prefix, PERSIST each batch in one pipeline."""
    n = 0
    batch = []
    async for key in r.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            n += await _persist(r, batch)
            batch = []
    if batch:
        n += await _persist(r, batch)
    return n


async def _persist(r, keys) -> int:
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.persist(k)
    return sum(await pipe.execute())


async def main(entries: int, unrelated: int) -> None:
    port = free_port()
    proc = start(port)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis(port=port)
        fill_unrelated(client, unrelated)
        store = RedisCacheStore(parse_options({"url": url, "tiers": {"old": "rev-a"}}))
        r = aioredis.from_url(url)
        src = (await store.active())["old"]
        pipe = client.pipeline(transaction=False)
        for i in range(entries):
            pipe.set(store.k_entry(src, f"p{i}"), "v" * 64, px=3_600_000)
            pipe.sadd(store.k_index(src), f"p{i}")
        pipe.execute()
        keyspace = client.dbsize()

        t0 = time.perf_counter()
        forked = await store.fork(src, "rev-b")
        fork_index = time.perf_counter() - t0
        t0 = time.perf_counter()
        copied = await scan_copy(r, store.k_entry(src, ""), "baseline:")
        fork_scan = time.perf_counter() - t0
        assert copied == entries == await store.entries(forked), (copied, entries)

        t0 = time.perf_counter()
        await store.freeze(src)
        freeze_index = time.perf_counter() - t0
        t0 = time.perf_counter()
        await scan_persist(r, "baseline:")
        freeze_scan = time.perf_counter() - t0
        await store.thaw(src)

        for i in range(48):
            await store.create(f"rev-{i}")
        reads = []
        for _ in range(50):
            t0 = time.perf_counter()
            await store.namespaces()
            reads.append(time.perf_counter() - t0)
        reads.sort()
        await r.aclose()
        await store.close()

        print(f"keyspace {keyspace:,} keys; one namespace of {entries:,} entries")
        print(f"{'operation':<12} {'store (namespace index)':>24} {'baseline (SCAN keyspace)':>26} {'speed-up':>9}")
        for name, mine, base in (("fork", fork_index, fork_scan), ("freeze", freeze_index, freeze_scan)):
            print(f"{name:<12} {mine * 1000:>21.1f} ms {base * 1000:>23.1f} ms {base / mine:>8.1f}x")
        median, worst = reads[len(reads) // 2] * 1000, reads[-1] * 1000
        print(f"namespaces() with 50 namespaces: median {median:.2f} ms, max {worst:.2f} ms")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--unrelated", type=int, default=500_000)
    args = ap.parse_args()
    asyncio.run(main(args.entries, args.unrelated))
