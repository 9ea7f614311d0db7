"""The simulator's fleet as Prometheus metrics, so a real Prometheus can scrape it (``/metrics``).

Series (the plain HTTP RED and vLLM names, so the shipped query templates read them unchanged):

``http_requests_total{tenant, cohort, revision, code}``   requests served per tenant and revision; code
        "500" counts the wrong answers of a regressing tenant on the new revision plus a small base error
        rate everywhere, "200" the rest.
``vllm:prefix_cache_hits_total{model_name}``, ``vllm:prefix_cache_queries_total{model_name}``   each
        cache namespace's hits and lookups, by the revision it serves.
``kube_deployment_status_replicas_ready{deployment, revision}``, ``kube_deployment_spec_replicas{…}``
        each tier's ready and desired replicas (deployment "old" or "new"), as kube-state-metrics names them.
``vllm:kv_cache_usage_perc{model_name}``   each tier's serving utilisation, 0 to 1, by the revision it
        serves: the tier's load over its capacity (ready replicas x per-replica rate x cache factor), 1 when
        overloaded. The simulator's model of vLLM's KV-cache usage gauge: sequences in flight are load x
        latency (Little's law) and each holds KV blocks, so usage tracks load over capacity and saturates.
``cockpit_sim_time_seconds``   the simulated time the world has reached.

Counters are integrated as the world advances (O(tenants) per engine tick, only while an exporter runs)
and divided by the clock's speed, so ``rate()`` over wall-clock seconds reads simulated requests per
simulated second. The HTTP server runs on its own thread and reads under a lock.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cockpit.errors import ConfigError

BASE_ERROR_RATE = 0.002


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exporter:
    def __init__(self, address: str, speed: float = 1.0) -> None:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"plugins.mock.exporter: expected HOST:PORT, e.g. '127.0.0.1:9464', got {address!r}")
        self.speed = speed if speed > 0 else 1.0
        self.lock = threading.Lock()
        # tenant -> [old ok, old errors, new ok, new errors]
        self.counts: dict[str, list[float]] = {}
        self.labels: dict[str, str] = {}
        self.caches: list[tuple[str, float, float]] = []
        self.tiers: list[tuple[str, str, int, int]] = []  # (tier, revision, ready, desired)
        self.usage: list[tuple[str, float]] = []  # (revision, utilisation)
        self.t = 0.0
        self.revisions = ("old", "new")
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self.server = ThreadingHTTPServer((host, int(port)), Handler)
        except OSError as exc:
            raise ConfigError(f"plugins.mock.exporter: cannot listen on {address} ({exc.strerror})") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="mock-exporter", daemon=True)
        self.thread.start()

    def integrate(self, world: Any, t0: float, t1: float) -> None:
        """Count what the world served between t0 and t1 (shares were constant over it)."""
        dt = (t1 - t0) / self.speed
        with self.lock:
            self.t = t1
            self.revisions = (world.sc.models.old, world.sc.models.new)
            if not self.labels:
                self.labels = {x: f'tenant="{_esc(x)}",cohort="{_esc(world.cohort.get(x, ""))}"' for x in world.rps}
            if dt > 0:
                sev = world.severity
                share = world.share
                for x, r in world.rps.items():
                    c = self.counts.get(x)
                    if c is None:
                        c = self.counts[x] = [0.0, 0.0, 0.0, 0.0]
                    s = share[x]
                    new = r * s * dt
                    old = r * dt - new
                    bad = BASE_ERROR_RATE + sev.get(x, 0.0) * (1.0 - BASE_ERROR_RATE)
                    c[0] += old * (1.0 - BASE_ERROR_RATE)
                    c[1] += old * BASE_ERROR_RATE
                    c[2] += new * (1.0 - bad)
                    c[3] += new * bad
            self.tiers = [
                (name, self.revisions[0] if name == "old" else self.revisions[1], tier.ready(t1), tier.desired)
                for name, tier in world.tiers.items()
            ]
            self.usage = []
            for name, tier in world.tiers.items():
                cache = world.caches.get(name)
                factor = tier.cache_factor(cache.active) if cache is not None else 1.0
                capacity = tier.ready(t1) * tier.spec.per_replica_rps * factor
                util = min(1.0, tier.load / capacity) if capacity > 0 else (1.0 if tier.load > 0 else 0.0)
                self.usage.append((self.revisions[0] if name == "old" else self.revisions[1], util))
            self.caches = [
                (cache.revision, cache.hits / self.speed, (cache.hits + cache.misses) / self.speed)
                for cache in world.caches.values()
            ]

    def render(self) -> str:
        with self.lock:
            old, new = (_esc(r) for r in self.revisions)
            out = [
                "# HELP http_requests_total Requests served by the simulated fleet.",
                "# TYPE http_requests_total counter",
            ]
            for x, c in self.counts.items():
                lab = self.labels[x]
                out.append(f'http_requests_total{{{lab},revision="{old}",code="200"}} {c[0]:.6f}')
                out.append(f'http_requests_total{{{lab},revision="{old}",code="500"}} {c[1]:.6f}')
                out.append(f'http_requests_total{{{lab},revision="{new}",code="200"}} {c[2]:.6f}')
                out.append(f'http_requests_total{{{lab},revision="{new}",code="500"}} {c[3]:.6f}')
            out.append("# TYPE vllm:prefix_cache_hits_total counter")
            for rev, hits, _ in self.caches:
                out.append(f'vllm:prefix_cache_hits_total{{model_name="{_esc(rev)}"}} {hits:.6f}')
            out.append("# TYPE vllm:prefix_cache_queries_total counter")
            for rev, _, queries in self.caches:
                out.append(f'vllm:prefix_cache_queries_total{{model_name="{_esc(rev)}"}} {queries:.6f}')
            out.append("# TYPE kube_deployment_status_replicas_ready gauge")
            for tier, rev, ready, _ in self.tiers:
                lab = f'deployment="{tier}",revision="{_esc(rev)}"'
                out.append(f"kube_deployment_status_replicas_ready{{{lab}}} {ready}")
            out.append("# TYPE kube_deployment_spec_replicas gauge")
            for tier, rev, _, desired in self.tiers:
                lab = f'deployment="{tier}",revision="{_esc(rev)}"'
                out.append(f"kube_deployment_spec_replicas{{{lab}}} {desired}")
            out.append("# TYPE vllm:kv_cache_usage_perc gauge")
            for rev, util in self.usage:
                out.append(f'vllm:kv_cache_usage_perc{{model_name="{_esc(rev)}"}} {util:.6f}')
            out.append("# TYPE cockpit_sim_time_seconds gauge")
            out.append(f"cockpit_sim_time_seconds {self.t:.3f}")
            return "\n".join(out) + "\n"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
