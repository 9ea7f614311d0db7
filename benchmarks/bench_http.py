"""Apply a change to 10,000 tenants' shares through the HTTP router on loopback (goal: under 1 s).

The cockpit's way: one batch POST with an Idempotency-Key, then a read-back GET of the whole vector,
through the `http` backend's client. Printed beside the baseline a naive in-house adapter would do:
one request per tenant (16 in flight, keep-alive), then the same read-back.

    /work/venv/bin/python benchmarks/bench_http.py [--tenants 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from cockpit.hookspecs import BackendContext
from cockpit_backends.http.reference_server import RouterState, serve
from cockpit_backends.http.router import HttpRouter


async def batch(url: str, shares: dict[str, float], rid: str) -> tuple[float, int]:
    router = HttpRouter({"base_url": url, "timeout_s": 30}, BackendContext(None, "."))
    t0 = time.perf_counter()
    res = await router.apply_shares(shares, rid)
    dt = time.perf_counter() - t0
    await router.aclose()
    assert not res.failed, list(res.failed.items())[:3]
    return dt, len(res.applied)


async def per_tenant(url: str, shares: dict[str, float], rid: str, inflight: int = 16) -> tuple[float, int]:
    gate = asyncio.Semaphore(inflight)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=inflight)) as c:

        async def one(t: str, s: float) -> None:
            async with gate:
                key = f"{rid}:{t}"
                body = {"request_id": key, "shares": {t: s}}
                r = await c.post("/v1/shares", json=body, headers={"idempotency-key": key})
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(t, s) for t, s in shares.items()))
        back = (await c.get("/v1/shares")).json()["shares"]
        dt = time.perf_counter() - t0
    confirmed = sum(1 for t, s in shares.items() if back[t] == s)
    return dt, confirmed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tenants", type=int, default=10_000)
    n = p.parse_args().tenants
    names = [f"tenant-{i:05d}" for i in range(n)]
    state = RouterState(dict.fromkeys(names, 1.0), dict.fromkeys(names, 2.0))
    server = serve(state)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        asyncio.run(batch(url, {names[0]: 1.0}, "warm-up"))
        b_dt, b_ok = asyncio.run(batch(url, dict.fromkeys(names, 0.5), "bench-batch"))
        p_dt, p_ok = asyncio.run(per_tenant(url, dict.fromkeys(names, 0.25), "bench-each"))
    finally:
        server.shutdown()
        server.server_close()
    print(f"apply a change to {n:,} tenants' shares through the HTTP router on loopback (incl. read-back)")
    print(f"{'':<36}{'seconds':>10}{'confirmed':>12}")
    print(f"{'cockpit http backend (one batch)':<36}{b_dt:>10.3f}{b_ok:>12,}")
    print(f"{'baseline: one request per tenant':<36}{p_dt:>10.3f}{p_ok:>12,}")
    print(f"speed-up x{p_dt / b_dt:.0f}; goal under 1 s: {'met' if b_dt < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
