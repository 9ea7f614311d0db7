"""`cockpit engine --http-listen HOST:PORT`: Prometheus metrics and leader-aware health on their own port.

- ``/metrics``: the ``cockpit_`` series (text exposition format, prometheus-client), read from the
  engine's latest snapshot and public attributes at scrape time, plus two histograms the service
  observes itself (tick duration, actuation latency).
- ``/healthz``: 200 while the service loop makes progress (leader ticking or standby polling the lease),
  503 when it has stalled. Liveness: restart a wedged process.
- ``/readyz``: 200 only on the leader with a started engine, 503 on a standby (or while starting, or after
  being fenced). Readiness: a Service sends screens to the engine that actuates.

The server is a small HTTP/1.1 responder on the engine's own event loop, so a scrape reads the engine
between ticks, never during one, and costs no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACTUATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROLES = ("router", "autoscaler", "cache", "provider", "health")


class EngineMetrics:
    """The engine's metrics. `service` is anything with ``server`` (an EngineServer: role, epoch, engine,
    clients); the service calls `heartbeat()` every loop turn and `observe_tick()` after each tick."""

    def __init__(self, service: Any, *, stall_after_s: float = 30.0) -> None:
        self.service = service
        self.stall_after_s = stall_after_s
        self.started = time.monotonic()
        self.last_beat = time.monotonic()
        self.registry = CollectorRegistry(auto_describe=True)
        self.tick_seconds = Histogram(
            "cockpit_tick_duration_seconds",
            "Wall time of one engine tick (observe, plan, actuate, journal).",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.actuation_seconds = Histogram(
            "cockpit_actuation_latency_seconds",
            "From an actuation's intent in the journal to its acknowledgement after the router's read-back.",
            buckets=ACTUATION_BUCKETS,
            registry=self.registry,
        )
        self.journal_append_seconds = Histogram(
            "cockpit_journal_append_seconds",
            "Wall time of one journal append (SQLite or the shared Redis stream).",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self._in_flight: dict[str, float] = {}  # actuation id -> monotonic time its intent was journaled
        self.registry.register(_Collector(self))

    # Fed by the service ----------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self.last_beat = time.monotonic()

    def observe_tick(self, seconds: float) -> None:
        self.tick_seconds.observe(seconds)
        self.heartbeat()

    def watch_journal(self, journal: Any) -> None:
        """Time every append of this engine's journal, and each actuation from intent to ack. The engine
        writes an ``actuation`` entry before it calls the router and an ``actuation_ack`` after the
        read-back; wrapping the journal instance's ``append`` sees both without touching the loop."""
        original: Callable[..., Any] = journal.append
        in_flight = self._in_flight
        in_flight.clear()

        def append(kind: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
            t0 = time.monotonic()
            try:
                return original(kind, data, *args, **kwargs)
            finally:
                t1 = time.monotonic()
                self.journal_append_seconds.observe(t1 - t0)
                ident = data.get("id") if isinstance(data, dict) else None
                if kind == "actuation" and ident:
                    in_flight[ident] = t0
                elif kind == "actuation_ack" and ident in in_flight:
                    self.actuation_seconds.observe(t1 - in_flight.pop(ident))

        journal.append = append

    # Read by the HTTP endpoints --------------------------------------------------------------------
    @property
    def server(self) -> Any:
        return self.service.server

    def stalled(self) -> bool:
        return time.monotonic() - self.last_beat > self.stall_after_s

    def health(self) -> tuple[int, dict[str, Any]]:
        since = time.monotonic() - self.last_beat
        body = {"role": self.server.role, "last_progress_s": round(since, 3)}
        return (503 if self.stalled() else 200), body | {"ok": not self.stalled()}

    def ready(self) -> tuple[int, dict[str, Any]]:
        s = self.server
        leader = s.role == "leader" and s.engine is not None and not self.stalled()
        body = {"role": s.role, "epoch": s.epoch, "ready": leader}
        if not leader:
            body["why"] = (
                "the service loop has stalled"
                if self.stalled()
                else "standby: another engine holds the lease"
                if s.role == "standby"
                else f"not leading ({s.role})"
            )
        return (200 if leader else 503), body

    def oldest_unacked_s(self) -> float:
        if not self._in_flight:
            return 0.0
        return time.monotonic() - min(self._in_flight.values())


def _pending_intents(engine: Any) -> int:
    """Intents restored without an ack: the actuator's list (or the engine's, before the loop split)."""
    try:
        pending = engine.actuator.pending
    except Exception:  # not started yet, or an engine without an actuator seam
        pending = getattr(engine, "pending_intents", ())
    return len(pending or ())


class _Collector:
    """Reads the engine at scrape time: no state of its own to fall out of date."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self.m = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        server = self.m.server
        engine = server.engine
        role = GaugeMetricFamily("cockpit_engine_role", "1 for this engine's current role.", labels=["role"])
        for r in ("leader", "standby", "starting"):
            role.add_metric([r], 1.0 if server.role == r else 0.0)
        yield role
        yield GaugeMetricFamily(
            "cockpit_leader",
            "1 while this engine holds the lease and actuates.",
            value=float(server.role == "leader" and engine is not None),
        )
        yield GaugeMetricFamily(
            "cockpit_leader_epoch",
            "The fencing epoch of this engine's lease (0: single engine on SQLite or not leading).",
            value=float(server.epoch or 0),
        )
        yield GaugeMetricFamily(
            "cockpit_attached_screens", "Screens attached to this engine.", value=float(len(server.clients))
        )
        yield GaugeMetricFamily(
            "cockpit_journal_unacked_actuation_age_seconds",
            "Journal lag: age of the oldest actuation journaled as an intent and not yet acknowledged (0: none).",
            value=self.m.oldest_unacked_s(),
        )
        if engine is None:
            return
        snap = getattr(engine, "snapshot", None)
        yield CounterMetricFamily("cockpit_ticks", "Engine ticks since start.", value=float(engine.ticks))
        yield CounterMetricFamily(
            "cockpit_actuations", "Router actuations journaled (intents).", value=float(engine.actuations)
        )
        yield GaugeMetricFamily(
            "cockpit_journal_pending_intents",
            "Actuation intents restored from the journal without an ack, awaiting reconciliation.",
            value=float(_pending_intents(engine)),
        )
        rb = snap.rollback if snap is not None else {}
        yield GaugeMetricFamily(
            "cockpit_rollback_stage",
            "The rollback's current stage (0: not started).",
            value=float(rb.get("stage", engine.rollback.stage) or 0),
        )
        yield GaugeMetricFamily(
            "cockpit_rollback_armed", "1 while a rollback is armed.", value=float(bool(rb.get("armed", False)))
        )
        yield GaugeMetricFamily(
            "cockpit_rollback_done", "1 once the rollback has finished.", value=float(bool(rb.get("done", False)))
        )
        yield GaugeMetricFamily(
            "cockpit_rollback_holding",
            "1 while the rollback holds (capacity, cache dip, a missing reading).",
            value=float(bool(snap is not None and snap.hold)),
        )
        yield GaugeMetricFamily(
            "cockpit_incident_open",
            "1 while an incident is declared (frozen).",
            value=float(engine.incident is not None),
        )
        degraded = dict(snap.degraded) if snap is not None else dict(engine.degraded)
        g = GaugeMetricFamily("cockpit_degraded", "1 for each backend role that is degraded.", labels=["role"])
        for r in ROLES:
            g.add_metric([r], 1.0 if r in degraded else 0.0)
        yield g
        yield GaugeMetricFamily(
            "cockpit_degraded_roles", "How many backend roles are degraded.", value=float(len(degraded))
        )
        if snap is not None:
            yield GaugeMetricFamily("cockpit_snapshot_tick", "The tick of the latest snapshot.", value=float(snap.tick))
            if snap.old_utilisation is not None:
                yield GaugeMetricFamily(
                    "cockpit_old_tier_utilisation",
                    "Old-tier utilisation (1.0 = full).",
                    value=float(snap.old_utilisation),
                )


# HTTP -------------------------------------------------------------------------------------------------
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class MetricsServer:
    """GET /metrics, /healthz, /readyz on its own address."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = metrics
        self._server: asyncio.AbstractServer | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port, limit=16384)
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        return host, sock[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def respond(self, method: str, target: str) -> tuple[int, str, bytes]:
        path = target.split("?", 1)[0]
        if path not in ("/metrics", "/healthz", "/readyz"):
            return 404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n"
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"only GET\n"
        try:
            if path == "/metrics":
                return 200, CONTENT_TYPE_LATEST, generate_latest(self.metrics.registry)
            status, body = self.metrics.health() if path == "/healthz" else self.metrics.ready()
        except Exception as exc:  # a scrape must never take the engine's loop down
            return 500, "text/plain; charset=utf-8", f"{type(exc).__name__}: {exc}\n".encode()
        return status, "application/json", (json.dumps(body) + "\n").encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while True:  # headers: read and ignore
                h = await asyncio.wait_for(reader.readline(), 5.0)
                if h in (b"\r\n", b"\n", b""):
                    break
            parts = line.decode("latin-1").split()
            if len(parts) != 3:
                status, ctype, body = 400, "text/plain; charset=utf-8", b"bad request\n"
                method = "GET"
            else:
                method = parts[0]
                status, ctype, body = self.respond(method, parts[1])
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
