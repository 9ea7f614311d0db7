"""A drill with the real Redis cache store and the real HAProxy router standing in for the simulated ones
at once (the simulator still provides the traffic and the tiers), end to end through the CLI."""

from __future__ import annotations

import asyncio
import json
import os
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


def test_drill_with_the_litellm_router_standing_in(tmp_path):
    """The LiteLLM router (per-team model aliases on a share ladder) in place of the simulator's: the drill
    seeds the teams with the scenario's starting vector, rolls the regressing ones back to the old
    revision's ladder group, and restores with nothing dropped. The proxy is the fake one
    (tests/backends/litellm/fake_proxy.py says why a real proxy cannot serve the team endpoints here)."""
    from cockpit_backends.litellm.ladder import read_ladder
    from tests.backends.litellm.conftest import ALIAS, KEY_ENV, ladder
    from tests.backends.litellm.fake_proxy import FakeLiteLLM

    proxy = FakeLiteLLM(model_list=ladder())
    proxy.serve()
    try:
        cfg = tmp_path / "cockpit.toml"
        cfg.write_text(
            "\n".join(
                [
                    "[models]",
                    'old = "claude-opus-4-20250514"',
                    'new = "claude-opus-4-1-20250805"',
                    "[plugins.litellm]",
                    f'base_url = "{proxy.url}"',
                    f'master_key_env = "{KEY_ENV}"',
                    f'alias = "{ALIAS}"',
                ]
            )
            + "\n"
        )
        journal = tmp_path / "drill.db"
        out = subprocess.run(
            [sys.executable, "-m", "cockpit.cli", "--config", str(cfg), "drill", "classic",
             "--backend", "router=litellm", "--journal", str(journal), "--json"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env={**os.environ, KEY_ENV: proxy.master_key},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        card = json.loads(out.stdout)
        assert card["restored"] and card["dropped_requests"] == 0 and card["disturbed_tenants"] == []
        j = Journal(journal, durable=False)
        try:
            adopted = j.last("fleet_adopted").data["shares"]
            acks = [e.data for e in j.entries(kinds=("actuation_ack",)) if "confirmed" in e.data]
        finally:
            j.close()
        assert adopted["acme"] == 1.0 and adopted["tyrell"] == 0.5  # the teams were seeded with the scenario
        assert acks and all(a["verified"] for a in acks)
        # what the proxy holds: each team's alias on its ladder group; the regressing ones on the old revision
        shares = read_ladder(proxy._model_info(), "claude-opus-4-20250514", "claude-opus-4-1-20250805")
        live = {team: shares[aliases[ALIAS]] for team, aliases in proxy.aliases().items()}
        assert all(live[t] == 0.0 for t in ("acme", "globex", "initech", "umbrella"))
        assert live["tyrell"] == 0.5 and live["hooli"] == 1.0  # out of scope: untouched
        assert len(live) == 12
        created = [r for r in proxy.requests if r.path == "/team/new"]
        assert len(created) == 12 and all(r.status == 200 for r in created)
    finally:
        proxy.close()
