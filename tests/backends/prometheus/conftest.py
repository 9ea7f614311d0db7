"""A real Prometheus (Debian's ``prometheus`` binary) the tests start on a free loopback port with a
temporary data dir and a 1 s scrape interval, scraping exporters the tests run."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends.redis.conftest import free_port
from tests.binaries import require

OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"


class LocalServer:
    """A threaded HTTP server on a free loopback port (`address`, `url`), closed by `close()`."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.address}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Exporter(LocalServer):
    """/metrics from a function of the wall-clock time, on a free port (a stand-in for LiteLLM, vLLM, …)."""

    def __init__(self, render: Callable[[float], str]) -> None:
        self.render = render
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render(time.time()).encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: Any) -> None:
                return

        self._serve(Handler)


class Prometheus:
    """A prometheus process: scrapes `targets` every second; ``url`` is its HTTP API."""

    def __init__(self, tmp: Path, targets: list[str], scrape_s: float = 1.0, rules: str = "") -> None:
        """`rules`: a rule file's text (recording rules) Prometheus loads."""
        binary = require("prometheus")  # scripts/test-deps installs it; missing fails (never skips in CI)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tmp
        cfg = tmp / "prometheus.yml"
        lines = [
            "global:",
            f"  scrape_interval: {int(scrape_s * 1000)}ms",
            f"  scrape_timeout: {int(scrape_s * 900)}ms",
        ]
        if rules:
            (tmp / "rules.yml").write_text(rules)
            lines.append(f"rule_files: [{str(tmp / 'rules.yml')!r}]")
        lines += [
            "scrape_configs:",
            "  - job_name: fleet",
            "    static_configs:",
            f"      - targets: [{', '.join(repr(t) for t in targets)}]",
        ]
        cfg.write_text("\n".join(lines) + "\n")
        self.log = open(tmp / "prometheus.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {(tmp / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def query(self, promql: str) -> list[dict]:
        r = httpx.post(f"{self.url}/api/v1/query", data={"query": promql}, timeout=5)
        return r.json()["data"]["result"]

    def wait_for(self, promql: str, n: int = 1, timeout: float = 30) -> list[dict]:
        """Until `promql` returns at least `n` series."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.query(promql)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql!r} returned {len(got)} series after {timeout:g} s")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# The fleet the plugin tests read: each tenant shows one behaviour. Rates are requests per second.
# tenant: (cohort, {revision: (rps, error ratio)})
FLEET: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "steady": ("growth", {OLD: (20, 0.01), NEW: (20, 0.011)}),
    "broken": ("growth", {OLD: (20, 0.01), NEW: (20, 0.40)}),
    "allnew-bad": ("growth", {NEW: (30, 0.30)}),  # no old traffic: the fleet's old value is its baseline
    "allnew-ok": ("growth", {NEW: (30, 0.012)}),
    "premium": ("enterprise", {OLD: (20, 0.01), NEW: (20, 0.04)}),  # +0.03: breaches only enterprise's 0.02
    "quiet": ("growth", {OLD: (20, 0.01), NEW: (0.05, 0.0)}),  # too few samples on the new revision
    "idle": ("growth", {OLD: (20, 0.01), NEW: (0.0, 0.0)}),  # a new series that never moves: 0/0 = NaN
}
STALE_AGE_S = 120.0  # "stale": its series carry explicit timestamps this old


def fleet_metrics(t0: float) -> Callable[[float], str]:
    def render(now: float) -> str:
        dt = now - t0
        out = ["# TYPE http_requests_total counter"]
        for tenant, (cohort, revs) in FLEET.items():
            for rev, (rps, err) in revs.items():
                lab = f'tenant="{tenant}",cohort="{cohort}",revision="{rev}"'
                out.append(f'http_requests_total{{{lab},code="200"}} {rps * (1 - err) * dt:.4f}')
                out.append(f'http_requests_total{{{lab},code="500"}} {rps * err * dt:.4f}')
        ts = int((t0 - STALE_AGE_S) * 1000)
        out.append(f'http_requests_total{{tenant="stale",cohort="growth",revision="{NEW}",code="200"}} 5 {ts}')
        out.append("# TYPE eval_score gauge")
        out.append(f'eval_score{{tenant="steady",revision="{NEW}"}} 0.91')
        out.append(f'eval_score{{tenant="broken",revision="{NEW}"}} 0.42')
        out.append(f'eval_score{{tenant="premium",revision="{NEW}"}} NaN')
        out.append("# TYPE vllm:prefix_cache_hits_total counter")
        out.append(f'vllm:prefix_cache_hits_total{{model_name="{OLD}"}} {30 * dt:.4f}')
        out.append(f'vllm:prefix_cache_hits_total{{model_name="{NEW}"}} {80 * dt:.4f}')
        out.append("# TYPE vllm:prefix_cache_queries_total counter")
        out.append(f'vllm:prefix_cache_queries_total{{model_name="{OLD}"}} {100 * dt:.4f}')
        out.append(f'vllm:prefix_cache_queries_total{{model_name="{NEW}"}} {100 * dt:.4f}')
        return "\n".join(out) + "\n"

    return render


@pytest.fixture(scope="module")
def fleet_prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    """One Prometheus scraping the FLEET exporter, with enough history for 10 s rate windows."""
    exporter = Exporter(fleet_metrics(time.time()))
    prom = Prometheus(tmp_path_factory.mktemp("prometheus"), [exporter.address])
    try:
        # every tenant's error ratio over a 10 s window needs two scrapes of each series
        prom.wait_for('sum by (tenant, revision) (rate(http_requests_total{tenant="broken"}[10s]))', n=2)
        time.sleep(10.5)  # a full 10 s window of samples: rate() over a partly empty window reads low
        yield prom
    finally:
        prom.stop()
        exporter.close()
