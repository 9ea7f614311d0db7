"""A drill with the real Redis cache store and the real HAProxy router standing in for the simulated ones
at once (the simulator still provides the traffic and the tiers), end to end through the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.journal import Journal
from cockpit.hookspecs import BackendContext
from cockpit.plugins import PluginHost
from tests.backends.haproxy.conftest import HAProxy, Tiers
from tests.backends.redis.conftest import RedisServer, free_port


@pytest.fixture
def services(tmp_path):
    r = RedisServer(free_port(), tmp_path)
    r.start()
    tiers = Tiers()
    h = HAProxy(tiers, {})  # an empty map: the drill seeds it with the scenario's starting vector
    yield r, h
    h.stop()
    tiers.stop()
    r.stop()


def test_drill_with_real_redis_and_real_haproxy(services, tmp_path):
    r, h = services
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(
        "\n".join(
            [
                "[models]",
                'old = "claude-opus-4-20250514"',
                'new = "claude-opus-4-1-20250805"',
                "[plugins.redis]",
                f'url = "{r.url}"',
                'prefix = "drill"',
                'tiers = { old = "claude-opus-4-20250514", new = "claude-opus-4-1-20250805" }',
                "[plugins.haproxy]",
                f'socket = "{h.socket}"',
                f'map = "{h.map_path}"',
            ]
        )
        + "\n"
    )
    journal = tmp_path / "drill.db"
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(cfg), "drill", "classic",
         "--backend", "cache=redis", "--backend", "router=haproxy", "--journal", str(journal), "--json"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    card = json.loads(out.stdout)
    assert card["restored"] and card["dropped_requests"] == 0 and card["disturbed_tenants"] == []
    j = Journal(journal, durable=False)
    try:
        adopted = j.last("fleet_adopted").data["shares"]
        degraded = j.count("backend_degraded")
        acks = [e.data for e in j.entries(kinds=("actuation_ack",)) if "confirmed" in e.data]
    finally:
        j.close()
    assert adopted["acme"] == 1.0 and adopted["tyrell"] == 0.5  # HAProxy was seeded with the scenario
    assert degraded == 0 and acks and all(a["verified"] for a in acks)
    # the live HAProxy map holds the rolled-back vector; the Redis store counted the old tier's traffic
    host = PluginHost()
    ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path))
    router = host.create("router", "haproxy", {"socket": h.socket, "map": str(h.map_path)}, ctx)
    store = host.create("cache", "redis", {"url": r.url, "prefix": "drill"}, ctx)

    async def read():
        namespaces = await store.namespaces()
        old = next(ns for ns in namespaces if ns.tier == "old")
        return (await router.read_traffic()).shares, old, await store.usage(old.name)

    live, old_ns, (hits, misses) = asyncio.run(read())
    assert all(live[t] == 0.0 for t in ("acme", "globex", "initech", "umbrella"))
    assert live["tyrell"] == 0.5 and live["hooli"] == 1.0  # out of scope: untouched
    assert old_ns.revision == "claude-opus-4-20250514" and old_ns.frozen  # frozen by the incident
    assert hits > 10_000 and misses > 0  # the simulated requests' cache reads, counted per namespace
