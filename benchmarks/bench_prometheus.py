"""Health and rates for 10,000 tenants through a real Prometheus, per tick (target: <= 1 s).

An exporter serves http_requests_total for N tenants x 2 revisions x 2 codes (40,000 series for 10,000
tenants) from its own process (as a real fleet's exporters are not in the engine's process), rendering
its text at most once per scrape interval; a real Prometheus (the `prometheus` binary, started here on a
free port with a temporary data dir) scrapes it every 2 s; the prometheus backend then reads
regressions() (one error-ratio check with its minimum-sample query; the freshness query only with the
first reading, as the 20 s window within max_age_s implies it) and rates() once per tick, as the engine
does. Each configuration timed runs in its own process (the backend as a configured engine builds it),
and they take ticks in turn, so each sees the same Prometheus under the same load.

    python benchmarks/bench_prometheus.py [--tenants 10000] [--ticks 10] [--compare] [--rules]
                                          [--baseline DIR]

--rules loads the shipped recording rules (python -m cockpit_backends.prometheus.rules --window 20s:
evaluated every 15 s, their default) into Prometheus and also times ``recorded = true``; the other
configurations then run beside that rule evaluation. --baseline DIR also times the code in DIR (a
`git archive` of an earlier commit) with the same configuration. --compare also times the same check and
rates written as the templates' own PromQL (check, samples and rates a query each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template
from typing import Any

HERE = Path(__file__).resolve().parents[1]
SCRAPE_S = 2.0
WINDOW_S = 20
RULES_EVERY = "15s"  # the recording rules' interval (--rules): rules()'s default
OLD = "claude-opus-4-20250514"  # as tests/backends/prometheus/conftest.py
NEW = "claude-opus-4-1-20250805"


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
    sys.path.insert(0, str(HERE))
    from tests.backends.prometheus.conftest import Exporter

    exporter = Exporter(metrics(n, time.time()))
    print(exporter.address, flush=True)
    sys.stdin.read()
    exporter.close()


def options(url: str, kind: str) -> dict:
    """The plugin's options for a configuration: "shared" (the shipped templates), "recorded" (the same
    with recorded = true), "own" (the same check and rates as the templates' own PromQL)."""
    opts: dict = {
        "url": url,
        "window": f"{WINDOW_S}s",
        "timeout_s": 10.0,
        "revisions": {"old": OLD, "new": NEW},
        "checks": [{"name": "errors", "template": "http.error_ratio", "min_samples": 20, "consecutive": 1}],
        "rates": {"template": "http.rates"},
        "freshness": {"template": "http.freshness", "max_age_s": 60},
    }
    if kind == "recorded":
        opts["recorded"] = True
    elif kind == "own":
        from cockpit_backends.prometheus.templates import TEMPLATES

        tpl = TEMPLATES["http.error_ratio"]
        own = {"window": f"{WINDOW_S}s", "selector": "", "tenant": "tenant", "revision": "revision"}
        check = opts["checks"][0] | {
            "query": Template(tpl.query).substitute(own),
            "samples": Template(tpl.samples).substitute(own),
        }
        opts |= {"checks": [check], "rates": {"query": Template(TEMPLATES["http.rates"].query).substitute(own)}}
    return opts


class Timed:
    """A backend whose ticks are timed: each tick's time, the part of it until Prometheus's last answer
    arrived (decoded), and how many queries a tick sent."""

    def __init__(self, h: Any) -> None:
        self.h = h  # a PrometheusHealth, of whichever source tree the process imported
        self.answered: list[float] = []
        query, query_sums = h.client.query, h.client.query_sums

        async def timed(promql: str):
            rows = await query(promql)
            self.answered.append(time.perf_counter())
            return rows

        async def timed_sums(promql: str, *labels: str | None):
            sums = await query_sums(promql, *labels)
            self.answered.append(time.perf_counter())
            return sums

        h.client.query = timed  # type: ignore[method-assign]
        h.client.query_sums = timed_sums  # type: ignore[method-assign]

    async def tick(self) -> dict:
        self.answered.clear()
        t, cpu = time.perf_counter(), time.process_time()
        harm = await self.h.regressions()
        rates = await self.h.rates()
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
        regressing = sum(1 for v in harm.values() if v > 0)
        why = next(iter(harm.unknown.values()), "")
        unknown = f"{len(harm.unknown)} unknown" + (f" (e.g. {why})" if why else "")
        queries = len(self.answered)
        said = f"{len(harm)} tenants read, {regressing} regressing, {unknown}, {len(rates)} rates, {queries} queries"
        return {"time": took, "waited": max(self.answered, default=t) - t, "cpu": cpu, "said": said, "queries": queries}


def ticker(code: str, url: str, kind: str) -> None:
    """A configuration's own process: the backend of the source tree `code`, as an engine configured with
    options(url, kind) builds it; one tick per line read on stdin, its figures as one JSON line."""
    sys.path.insert(0, code)
    from cockpit.engine.clock import SimClock
    from cockpit.hookspecs import BackendContext
    from cockpit_backends.prometheus.health import PrometheusHealth

    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        timed = Timed(PrometheusHealth(options(url, kind), BackendContext(clock=SimClock(), config_dir=tmp)))
        loop = asyncio.new_event_loop()
        print("ready", flush=True)
        for _ in sys.stdin:
            print(json.dumps(loop.run_until_complete(timed.tick())), flush=True)
        loop.run_until_complete(timed.h.aclose())
        loop.close()


class Config:
    """One configuration's process and its ticks' figures."""

    def __init__(self, name: str, code: Path, url: str, kind: str) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(code))
        cmd = [sys.executable, __file__, "--ticker", kind, "--code", str(code), "--url", url]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{name}: the ticker did not start")
        self.ticks: list[dict] = []

    def tick(self) -> None:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.proc.stdin.write("tick\n")
        self.proc.stdin.flush()
        self.ticks.append(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)

    def line(self) -> str:
        med = statistics.median
        times = [t["time"] for t in self.ticks]
        return (
            f"{self.name}: median {med(times):.3f} s, max {max(times):.3f} s over {len(times)} ticks; until "
            f"Prometheus's last answer (decoded) median {med(t['waited'] for t in self.ticks):.3f} s; CPU "
            f"{med(t['cpu'] for t in self.ticks):.3f} s; {self.ticks[-1]['queries']} queries per tick"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--compare", action="store_true", help="also time the templates' own PromQL (a query each)")
    ap.add_argument("--rules", action="store_true", help="load the recording rules; also time recorded = true")
    ap.add_argument("--baseline", type=Path, help="also time the code in this directory (a git archive)")
    ap.add_argument("--exporter", action="store_true", help=argparse.SUPPRESS)  # the exporter's process
    ap.add_argument("--ticker", help=argparse.SUPPRESS)  # a configuration's process: its kind
    ap.add_argument("--code", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.exporter:
        serve_exporter(args.tenants)
        return
    if args.ticker:
        ticker(args.code, args.url, args.ticker)
        return
    sys.path.insert(0, str(HERE))
    from cockpit_backends.prometheus.rules import rules
    from tests.backends.prometheus.conftest import Prometheus

    load = os.getloadavg()
    rule_text = rules(f"{WINDOW_S}s", RULES_EVERY) if args.rules else ""
    configs: list[Config] = []
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        exporter = subprocess.Popen(
            [sys.executable, __file__, "--exporter", "--tenants", str(args.tenants)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert exporter.stdout is not None and exporter.stdin is not None
        prom = Prometheus(Path(tmp), [exporter.stdout.readline().strip()], scrape_s=SCRAPE_S, rules=rule_text)
        try:
            prom.wait_for("count(http_requests_total)", 1, timeout=60)
            print(f"waiting {WINDOW_S + 4} s for a full rate window of {args.tenants * 4:,} series…", flush=True)
            time.sleep(WINDOW_S + 4)
            wanted = [("this code (shipped templates, one shared query)", HERE, "shared")]
            if args.baseline:
                wanted.append((f"baseline {args.baseline} (the same configuration)", args.baseline.resolve(), "shared"))
            if args.rules:
                wanted.append(("this code, recorded = true (reads the recording rules)", HERE, "recorded"))
            if args.compare:
                wanted.append(("the templates' own PromQL (a query each)", HERE, "own"))
            configs = [Config(name, code, prom.url, kind) for name, code, kind in wanted]
            for _ in range(args.ticks):  # ticks in turn: each sees the same Prometheus under the same load
                for c in configs:
                    c.tick()
        finally:
            for c in configs:
                c.close()
            prom.stop()
            exporter.stdin.close()
            exporter.wait(10)
    for c in configs:
        print(f"last tick ({c.name}): {c.ticks[-1]['said']}")
    rules_said = f"recording rules loaded (window {WINDOW_S}s, every {RULES_EVERY})" if args.rules else "no rules"
    print(f"{args.tenants:,} tenants, health + rates per tick (target <= 1 s); Prometheus: {rules_said}; load "
          f"average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end:")  # fmt: skip
    for c in configs:
        print("  " + c.line())


if __name__ == "__main__":
    main()
