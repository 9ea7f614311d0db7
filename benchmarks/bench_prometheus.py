"""Health and rates for 10,000 tenants through a real Prometheus, per tick (target: <= 1 s).

An exporter serves http_requests_total for N tenants x 2 revisions x 2 codes (40,000 series for 10,000
tenants) from its own process (as a real fleet's exporters are not in the engine's process), rendering
its text at most once per scrape interval; a real Prometheus (the `prometheus` binary, started here on a
free port with a temporary data dir) scrapes it every 2 s; the prometheus backend then reads
regressions() (one error-ratio check with its minimum-sample query; the freshness query only with the
first reading, as the 20 s window within max_age_s implies it) and rates() once per tick, as the engine
does.

    python benchmarks/bench_prometheus.py [--tenants 10000] [--ticks 10] [--compare]

--compare also times the same check and rates written as the templates' own PromQL (check, samples and
rates a query each: what the backend sent before the shared query), the two taking ticks in turn.
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
from string import Template

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.engine.clock import SimClock
from cockpit.hookspecs import BackendContext
from cockpit_backends.prometheus.health import PrometheusHealth
from cockpit_backends.prometheus.templates import TEMPLATES
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


class Timed:
    """A backend whose ticks are timed: each tick's time, the part of it until Prometheus's last answer
    arrived (decoded), and how many queries a tick sent."""

    def __init__(self, h: PrometheusHealth) -> None:
        self.h = h
        self.times: list[float] = []
        self.waited: list[float] = []
        self.answered: list[float] = []
        query, query_sums = h.client.query, h.client.query_sums

        async def timed(promql: str):
            rows = await query(promql)
            self.answered.append(time.perf_counter())
            return rows

        async def timed_sums(promql: str, *labels: str):
            sums = await query_sums(promql, *labels)
            self.answered.append(time.perf_counter())
            return sums

        h.client.query = timed  # type: ignore[method-assign]
        h.client.query_sums = timed_sums  # type: ignore[method-assign]

    async def tick(self) -> str:
        self.answered.clear()
        t = time.perf_counter()
        harm = await self.h.regressions()
        rates = await self.h.rates()
        self.times.append(time.perf_counter() - t)
        self.waited.append(max(self.answered, default=t) - t)
        regressing = sum(1 for v in harm.values() if v > 0)
        why = next(iter(harm.unknown.values()), "")
        unknown = f"{len(harm.unknown)} unknown" + (f" (e.g. {why})" if why else "")
        queries = len(self.answered)
        return f"{len(harm)} tenants read, {regressing} regressing, {unknown}, {len(rates)} rates, {queries} queries"

    def line(self, name: str) -> str:
        return (
            f"{name}: median {statistics.median(self.times):.3f} s, max {max(self.times):.3f} s over "
            f"{len(self.times)} ticks; until Prometheus's last answer (decoded) median "
            f"{statistics.median(self.waited):.3f} s; {len(self.answered)} queries per tick"
        )


async def ticks(backends: list[Timed], n: int) -> None:
    """Ticks taken in turn by each backend, so each sees the same Prometheus under the same load."""
    for _ in range(n):
        said = [await b.tick() for b in backends]
    for b, last in zip(backends, said, strict=True):
        print(f"last tick: {last}")
        await b.h.aclose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument(
        "--compare",
        action="store_true",
        help="also time the check and rates written as the templates' own PromQL (a query each, as before "
        "the shared query), ticks taken in turn",
    )
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
            ctx = BackendContext(clock=SimClock(), config_dir=tmp)
            backends = [Timed(PrometheusHealth(opts, ctx))]
            if args.compare:
                tpl, fill = TEMPLATES["http.error_ratio"], {"window": f"{window_s}s", "selector": ""}
                own = dict(fill, tenant="tenant", revision="revision")
                check = opts["checks"][0] | {  # type: ignore[index]
                    "query": Template(tpl.query).substitute(own),
                    "samples": Template(tpl.samples).substitute(own),
                }
                rates = {"query": Template(TEMPLATES["http.rates"].query).substitute(own)}
                backends.append(Timed(PrometheusHealth(opts | {"checks": [check], "rates": rates}, ctx)))
            asyncio.run(ticks(backends, args.ticks))
        finally:
            prom.stop()
            exporter.stdin.close()
            exporter.wait(10)
    print(f"{args.tenants:,} tenants, health + rates per tick (target <= 1 s):")
    print("  " + backends[0].line("shipped templates (one shared query; freshness implied by the 20 s window)"))
    if args.compare:
        print("  " + backends[1].line("the templates' own PromQL (a query each)"))


if __name__ == "__main__":
    main()
