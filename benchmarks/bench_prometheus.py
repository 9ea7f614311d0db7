"""Health and rates for 10,000 tenants through a real Prometheus, per tick (target: <= 1 s).

An exporter serves http_requests_total for N tenants x 2 revisions x 2 codes (40,000 series for 10,000
tenants) from its own process (as a real fleet's exporters are not in the engine's process), rendering
its text at most once per scrape interval; a real Prometheus (the `prometheus` binary, started here on a
free port with a temporary data dir) scrapes it every 2 s; the prometheus backend then reads
regressions() (one error-ratio check with its minimum-sample query, plus the freshness query) and rates()
once per tick, as the engine does.

    python benchmarks/bench_prometheus.py [--tenants 10000] [--ticks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.engine.clock import SimClock
from cockpit.hookspecs import BackendContext
from cockpit_backends.prometheus.health import PrometheusHealth
from tests.backends.prometheus.conftest import NEW, OLD, Exporter, Prometheus

SCRAPE_S = 2.0


def metrics(n: int, t0: float):
    names = [f"tenant-{i:05d}" for i in range(n)]
    cache: list[tuple[float, str]] = []

    def render(now: float) -> str:
        if cache and now - cache[0][0] < SCRAPE_S / 2:
            return cache[0][1]  # one rendering per scrape interval, as a real exporter's would be cheap
        dt = now - t0
        out = ["# TYPE http_requests_total counter"]
        for i, t in enumerate(names):
            bad = 0.3 if i % 50 == 0 else 0.01
            for rev, err in ((OLD, 0.01), (NEW, bad)):
                lab = f'tenant="{t}",revision="{rev}"'
                out.append(f'http_requests_total{{{lab},code="200"}} {10 * (1 - err) * dt:.3f}')
                out.append(f'http_requests_total{{{lab},code="500"}} {10 * err * dt:.3f}')
        text = "\n".join(out) + "\n"
        cache[:] = [(now, text)]
        return text

    return render


def serve_exporter(n: int) -> None:
    """The exporter's own process: prints its address, serves until stdin closes."""
    exporter = Exporter(metrics(n, time.time()))
    print(exporter.address, flush=True)
    sys.stdin.read()
    exporter.close()


async def ticks(h: PrometheusHealth, n: int) -> tuple[list[float], list[float], int]:
    """Each tick's time, the part of it until Prometheus's last answer arrived (decoded), and how many
    queries the ticks sent."""
    out, waited = [], []
    answered: list[float] = []
    query = h.client.query

    async def timed(promql: str):
        rows = await query(promql)
        answered.append(time.perf_counter())
        return rows

    h.client.query = timed  # type: ignore[method-assign]
    for _ in range(n):
        answered.clear()
        t = time.perf_counter()
        harm = await h.regressions()
        rates = await h.rates()
        out.append(time.perf_counter() - t)
        waited.append(max(answered, default=t) - t)
        regressing = sum(1 for v in harm.values() if v > 0)
    print(f"last tick: {len(harm)} tenants read, {regressing} regressing, {len(harm.unknown)} unknown, "
          f"{len(rates)} rates, {len(answered)} queries")  # fmt: skip
    await h.aclose()
    return out, waited, len(answered)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--exporter", action="store_true", help=argparse.SUPPRESS)  # the exporter's process
    args = ap.parse_args()
    if args.exporter:
        serve_exporter(args.tenants)
        return
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        exporter = subprocess.Popen(
            [sys.executable, __file__, "--exporter", "--tenants", str(args.tenants)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert exporter.stdout is not None and exporter.stdin is not None
        prom = Prometheus(Path(tmp), [exporter.stdout.readline().strip()], scrape_s=SCRAPE_S)
        try:
            window_s = 20
            prom.wait_for("count(http_requests_total)", 1, timeout=60)
            print(f"waiting {window_s + 2} s for a full rate window of {args.tenants * 4:,} series…")
            time.sleep(window_s + 2)
            opts = {
                "url": prom.url,
                "window": f"{window_s}s",
                "timeout_s": 10.0,
                "revisions": {"old": OLD, "new": NEW},
                "checks": [{"name": "errors", "template": "http.error_ratio", "min_samples": 20, "consecutive": 1}],
                "rates": {"template": "http.rates"},
                "freshness": {"template": "http.freshness", "max_age_s": 30},
            }
            h = PrometheusHealth(opts, BackendContext(clock=SimClock(), config_dir=tmp))
            times, waited, queries = asyncio.run(ticks(h, args.ticks))
        finally:
            prom.stop()
            exporter.stdin.close()
            exporter.wait(10)
    print(
        f"{args.tenants:,} tenants: health + rates per tick median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s over {len(times)} ticks (target <= 1 s); until Prometheus's last answer "
        f"(decoded): median {statistics.median(waited):.3f} s; {queries} queries per tick"
    )


if __name__ == "__main__":
    main()
