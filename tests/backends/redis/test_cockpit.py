"""The redis backend inside the cockpit: the contract check, a drill with the real store, and a Redis
restart in the middle of a rollback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.drill import _UsageRelay
from cockpit.engine.session import open_drill
from cockpit_backends.redis import parse_options
from cockpit_backends.redis.store import RedisCacheStore

from .conftest import RedisServer, free_port, run

OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"


def write_config(path, url: str, prefix: str) -> None:
    path.write_text(
        f"""
[cockpit]
journal = "journal.db"
clock = "simulated"

[models]
old = "{OLD}"
new = "{NEW}"

[backends]
router = "mock"
autoscaler = "mock"
cache = "redis"
provider = "mock"
health = "mock"

[plugins.mock]
scenario = "classic"

[plugins.redis]
url = "{url}"
prefix = "{prefix}"
provider = "anthropic"
tiers = {{ old = "{OLD}", new = "{NEW}" }}
"""
    )


def cockpit(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=240
    )


def test_plugins_check_write_passes_against_the_real_server(redis_server, prefix, tmp_path):
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, redis_server.url, prefix)
    out = cockpit("--config", str(cfg), "plugins", "check", "redis", "--write", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any("PASS  cache      namespaces: 2 namespaces" in line for line in lines), out.stdout
    assert any("PASS  cache      freeze / thaw" in line for line in lines), out.stdout
    assert "FAIL" not in out.stdout and "0 failed" in out.stdout
    # the check left the namespace as it found it: thawed
    client = redis_server.client()
    assert {client.hget(f"{prefix}ns:{m.decode()}", "frozen") for m in client.smembers(f"{prefix}namespaces")} == {b"0"}


def test_plugins_check_fails_cleanly_when_the_server_is_down(prefix, tmp_path):
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, f"redis://127.0.0.1:{free_port()}/0", prefix)
    out = cockpit("--config", str(cfg), "plugins", "check", "redis", cwd=tmp_path)
    assert out.returncode == 1
    assert "FAIL  cache      namespaces: ConnectionError: redis at redis://127.0.0.1:" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_classic_drill_with_the_real_store_restores_and_counts_old_tier_hits(redis_server, prefix, tmp_path):
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, redis_server.url, prefix)
    out = cockpit("--config", str(cfg), "drill", "classic", "--backend", "cache=redis", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    card = json.loads(out.stdout)
    assert card["restored"] is True
    assert card["dropped_requests"] == 0
    assert card["disturbed_tenants"] == []
    assert card["peak_old_utilisation"] <= 0.8 + 0.01  # the windowed hit rate did not overstate capacity

    store = RedisCacheStore(parse_options({"url": redis_server.url, "prefix": prefix}), clock=SimClock(0.0))

    async def read():
        active = await store.active()
        return active, await store.usage(active["old"]), await store.usage(active["new"])

    active, (old_hits, old_misses), (new_hits, _) = run(read())
    assert active["old"].startswith(f"anthropic:{OLD}:g")
    assert old_hits > 1000 and old_misses > 0  # the simulated old tier's reads, counted in Redis
    assert new_hits > old_hits  # the new tier served most traffic until the rollback


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_restarted_mid_rollback_degrades_the_cache_role_then_recovers(own_redis, tmp_path):
    clock = SimClock(0.0)
    options = {"url": own_redis.url, "prefix": "fault:", "tiers": {"old": OLD, "new": NEW}, "timeout_s": 1}
    s = open_drill(
        "classic",
        journal=tmp_path / "j.db",
        clock=clock,
        config_dir=tmp_path,
        backends={"cache": "redis"},
        plugin_options={"redis": options},
    )
    e = s.engine

    async def go():
        relay = _UsageRelay(e, s.simulator)
        assert relay.active
        clock.set(640)
        await relay.relay()
        await e.tick()
        await e.command("declare", reason="regression")
        await e.command("arm", scope="regressing")
        for _ in range(10):
            clock.advance(1)
            await relay.relay()
            await e.tick()
        stage_before = e.rollback.stage
        own_redis.stop()
        ticks_before = e.ticks
        outage = []
        for _ in range(10):
            clock.advance(1)
            snap = await e.tick()
            outage.append((snap.degraded.get("cache"), e.rollback.stage))
        own_redis.start()  # same port, empty (no persistence)
        for _ in range(600):
            clock.advance(1)
            await relay.relay()
            await e.tick()
            if e.rollback.done:
                break
        for _ in range(10):
            clock.advance(1)
            await relay.relay()
            await e.tick()
        return stage_before, ticks_before, outage, await e.backends.cache.namespaces()

    try:
        stage_before, ticks_before, outage, after = asyncio.run(go())
        card = s.simulator.scorecard(640.0, sorted(e.rollback.scope))
        events = [(x.kind, x.data) for x in e.journal.entries(kinds=("backend_degraded", "backend_recovered"))]
    finally:
        s.close()
    assert stage_before >= 1
    # the engine kept ticking through the outage with the cache role marked degraded
    assert e.ticks > ticks_before + 10
    assert all(msg and f"redis at {own_redis.url} is unreachable" in msg for msg, _ in outage), outage
    # the journal shows the outage once, then the recovery, for the cache role only
    cache_events = [(k, d) for k, d in events if d["role"] == "cache"]
    assert [k for k, _ in cache_events] == ["backend_degraded", "backend_recovered"], events
    assert "cache" not in e.degraded
    # the server came back empty: the store gave each tier an active namespace again
    assert {n.tier for n in after} >= {"old", "new"}
    # and the rollback finished without overloading the old tier
    assert e.rollback.done
    assert card["dropped_requests"] == 0
