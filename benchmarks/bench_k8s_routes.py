"""The kubernetes router reading N tenants spread over HTTPRoutes (16 rules each, the Gateway API's
limit): one GET per route (`names`, the HTTPRoute router as it was) side by side with one list call
(`selector`), against the emulated API server of the tests (tests/backends/kubernetes/apiserver.py)
over real HTTP on loopback. Each run reads every tenant's share; the median of the runs is printed.

    python benchmarks/bench_k8s_routes.py [--tenants 1000] [--runs 7] [--rtt-ms 0]

`--rtt-ms` delays every answer by that many milliseconds (a remote API server): the per-object reads
pay it once per route, the list call once.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cockpit_backends.kubernetes
from cockpit.hookspecs import BackendContext
from tests.backends.kubernetes.apiserver import ApiServer
from tests.backends.kubernetes.conftest import GATEWAY, httproute, write_kubeconfig


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rtt-ms", type=float, default=0.0)
    args = ap.parse_args()
    server = ApiServer()
    server.url = server.serve()
    tenants = [f"t{i:05d}" for i in range(args.tenants)]
    names = []
    for k in range(0, len(tenants), 16):
        name = f"tenants-{k // 16:04d}"
        route = httproute(name, dict.fromkeys(tenants[k : k + 16], 0.5))
        route["metadata"]["labels"] = {"cockpit.dev/tenants": "model"}
        server.put_object(GATEWAY, "httproutes", route)
        names.append(name)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig.json", server.url, server.token)
        base = {"old_backend": "model-old", "new_backend": "model-new", "namespace": "models"}
        results = {}
        for label, route in (
            ("names (one GET per route)", {"names": names}),
            ("selector (one list call)", {"selector": "cockpit.dev/tenants=model"}),
        ):
            ctx = BackendContext(clock=None, config_dir=tmp, tiers={"old": "old", "new": "new"})
            opts = {
                "kubeconfig": str(kubeconfig),
                "namespace": "models",
                "route": base | route,
                "request_timeout_s": 30,
            }
            router = cockpit_backends.kubernetes._factory("router", opts, ctx)
            times = []
            for _ in range(args.runs):
                if args.rtt_ms:
                    server.delay_next(10**6, args.rtt_ms / 1000)
                server.clear_requests()
                t0 = time.perf_counter()
                reading = asyncio.run(router.read_traffic())
                times.append(time.perf_counter() - t0)
                server.clear_faults()
                server._delays.clear()
                assert len(reading.shares) == args.tenants
            calls = len(server.requests)
            results[label] = (statistics.median(times), calls)
            cockpit_backends.kubernetes.forget(ctx)
    server.close()
    print(f"{args.tenants} tenants in {len(names)} HTTPRoutes, median of {args.runs} reads, rtt {args.rtt_ms:g} ms:")
    for label, (median, calls) in results.items():
        print(f"  {label:<28} {median * 1000:8.1f} ms  ({calls} requests per read)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
