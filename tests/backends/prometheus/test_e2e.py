"""End to end: the simulator exposes its fleet as Prometheus metrics, a real Prometheus scrapes it every
second, the ``prometheus`` backend reads health, request rates (the router reports none) and cache warmth
from it, and a compressed scenario is rolled back by the engine on real time: 0 requests dropped, and the
tenants the autopilot declared regressing are exactly the simulator's truth."""

from __future__ import annotations

import asyncio
import time

import tomli_w

import cockpit_backends.mock as mock
from cockpit.config import load_config
from cockpit.engine.drill import Autopilot
from cockpit.engine.journal import Journal
from cockpit.engine.session import open_engine
from tests.backends.prometheus.conftest import NEW, OLD, Prometheus
from tests.backends.redis.conftest import free_port

SCENARIO = f"""
[scenario]
name = "compressed"
description = "Two tenants regress 12 s in; the old tier needs to double; real time."
seed = 3
duration_s = 600
tick_s = 1

[models]
old = "{OLD}"
new = "{NEW}"

[tiers.old]
replicas = 3
per_replica_rps = 10
startup_s = 3
hpa_min = 3
hpa_interval_s = 2
warm_hit_rate = 0.8
cold_capacity_factor = 0.5

[tiers.new]
replicas = 10
per_replica_rps = 10
startup_s = 3
hpa_interval_s = 2

[caches.old]
hit_rate = 0.6
warm_requests = 200

[[tenants]]
name = "acme"
cohort = "enterprise"
rps = 20
share = 1.0

[[tenants]]
name = "globex"
cohort = "enterprise"
rps = 20
share = 1.0

[[tenants]]
name = "hooli"
cohort = "growth"
rps = 20
share = 1.0

[[tenants]]
name = "tyrell"
cohort = "free"
rps = 10
share = 0.5

[[tenants]]
name = "wonka"
cohort = "free"
rps = 10
share = 0.5

[[tenants]]
name = "soylent"
cohort = "free"
rps = 10
share = 0.0

[health]
detection_delay_s = 0

[[events]]
at_s = 12
kind = "regression_start"
tenants = ["acme", "tyrell"]
severity = 0.6
"""


def test_rollback_on_real_prometheus_signals(tmp_path):
    (tmp_path / "compressed.toml").write_text(SCENARIO)
    port = free_port()
    prom = Prometheus(tmp_path, [f"127.0.0.1:{port}"])
    cfg = {
        "models": {"old": OLD, "new": NEW},
        "cockpit": {"tick_s": 1.0, "backend_timeout_s": 3.0},
        "rollback": {"min_stage_interval_s": 1.0},
        "tiers": {"startup_estimate_s": 4.0},
        "backends": {"health": "prometheus"},
        "plugins": {
            "mock": {"scenario": "compressed.toml", "exporter": f"127.0.0.1:{port}", "router_rates": False},
            "prometheus": {
                "url": prom.url,
                "window": "10s",
                "timeout_s": 2.0,
                "revisions": {"old": OLD, "new": NEW},
                "checks": [{"name": "errors", "template": "http.error_ratio", "min_samples": 5, "consecutive": 2}],
                "rates": {"template": "http.rates"},
                "warmth": {"template": "vllm.prefix_cache_warmth"},
                "freshness": {"template": "http.freshness", "max_age_s": 15},
            },
        },
    }
    (tmp_path / "cockpit.toml").write_text(tomli_w.dumps(cfg))
    config = load_config(tmp_path / "cockpit.toml")
    journal = Journal(tmp_path / "journal.db")
    engine = open_engine(config, journal=journal)
    world = engine.context.shared["mock"].world
    try:
        pilot = Autopilot(engine)
        unknown_seen: dict[str, dict[str, str]] = {}

        async def drive() -> float | None:
            finished = None
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                snap = await engine.tick()
                for k, v in snap.unknown.items():
                    unknown_seen.setdefault(k, {}).update(v)
                await pilot.act()
                if finished is None and engine.rollback.done:
                    finished = time.monotonic()
                # past the rate window (10 s) and a scrape: the last shift is out of the rates compared below
                if finished is not None and time.monotonic() - finished > 12:
                    return finished
                await asyncio.sleep(1.0)
            return finished

        finished = asyncio.run(drive())
        snap = engine.snapshot
        assert finished is not None, f"the rollback did not finish: hold={snap.hold} unknown={snap.unknown}"
        truth = sorted(world.regressed_since)
        assert truth == ["acme", "tyrell"]
        assert sorted(pilot.scope) == truth  # the tenants declared regressing are the simulator's truth
        card = mock.MockSimulator(engine.context.shared["mock"]).scorecard(pilot.declared_at, sorted(pilot.scope))
        assert card["restored_at_s"] is not None
        assert round(card["dropped_requests"]) == 0
        assert card["disturbed_tenants"] == []
        # the rates the engine planned with came from Prometheus (the router reports none) ...
        rps = snap.traffic.rps
        assert set(rps) == set(world.rps)
        for t, r in world.rps.items():
            assert abs(rps[t] - r) <= 0.15 * r, (t, rps[t], r, snap.unknown.get("rps", {}).get(t), snap.now)
        # ... and so did the cache warmth: the old namespace's hit rate is the exporter's ratio
        old_ns = next(ns for ns in snap.namespaces if ns.tier == "old")
        assert 0.0 < old_ns.hit_rate <= 0.8
        # before Prometheus had a window of data, rates were unknown and said so (never 0 rps)
        assert any("rps unknown" in why or "rate" in why for why in unknown_seen.get("rps", {}).values())
        assert "soylent" not in snap.unknown.get("health", {})  # at 0 % new: nothing to regress on
    finally:
        asyncio.run(engine.close())
        mock.forget(engine.context)
        journal.close()
        prom.stop()
