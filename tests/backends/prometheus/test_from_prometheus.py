"""`cockpit scenario from-prometheus` against a real Prometheus scraping the simulator's exporter while a
compressed scenario is rolled back on real time: the regenerated scenario loads and drills (with the
column "as it happened"), and its tenants, rates, tiers and regression onset match the simulator's truth.

Tolerances, stated: the regenerated scenario's drill against the original's: time to restore within
10 % (or one 1 s tick), harmed requests within 10 % (or one tick of the regressing tenants' traffic,
40 requests: the restore takes 4-5 ticks here, so a tick is a quarter of the harm), the same regressing
tenants; rates within 15 % (10 s rate windows over 1 s scrapes); regression onset within 4 s of the
truth (a 1 s scrape, a 1 s step, the rate window's lag estimated from the threshold); start-up within
2 s of the scenario's 3 s (ready replicas are seen at step resolution)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

import cockpit_backends.mock as mock
from cockpit.config import load_config
from cockpit.engine.drill import Autopilot
from cockpit.engine.journal import Journal
from cockpit.engine.session import open_engine
from cockpit_backends.mock.scenario import load_scenario
from tests.backends.prometheus.conftest import NEW, OLD, Prometheus
from tests.backends.prometheus.test_e2e import SCENARIO
from tests.backends.redis.conftest import free_port

ONSET_S = 12.0  # the SCENARIO's regression_start
TRUTH = ["acme", "tyrell"]


def cockpit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float, dict[str, float]]:
    """A compressed incident rolled back on real time while Prometheus scrapes the simulator; returns
    (directory with cockpit.toml, window start, window end, the world's true rates)."""
    d = tmp_path_factory.mktemp("incident")
    (d / "compressed.toml").write_text(SCENARIO)
    port = free_port()
    prom = Prometheus(d, [f"127.0.0.1:{port}"])
    cfg = {
        "models": {"old": OLD, "new": NEW},
        "cockpit": {"tick_s": 1.0},
        "rollback": {"min_stage_interval_s": 1.0},
        "tiers": {"startup_estimate_s": 4.0},
        "plugins": {
            "mock": {"scenario": "compressed.toml", "exporter": f"127.0.0.1:{port}"},
            "prometheus": {
                "url": prom.url,
                "window": "10s",
                "revisions": {"old": OLD, "new": NEW},
                "cohorts": {
                    "enterprise": ["acme", "globex"],
                    "growth": ["hooli"],
                    "free": ["tyrell", "wonka", "soylent"],
                },
                "checks": [{"name": "errors", "template": "http.error_ratio", "min_samples": 5}],
                "warmth": {"template": "vllm.prefix_cache_warmth"},
            },
        },
    }
    (d / "cockpit.toml").write_text(tomli_w.dumps(cfg))
    journal = Journal(d / "journal.db")
    engine = open_engine(load_config(d / "cockpit.toml"), journal=journal)
    start = time.time()  # the world's time 0 (the simulator runs on the wall clock)
    world = engine.context.shared["mock"].world
    try:
        pilot = Autopilot(engine)

        async def drive() -> float | None:
            finished = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await engine.tick()
                await pilot.act()
                if finished is None and engine.rollback.done:
                    finished = time.monotonic()
                if finished is not None and time.monotonic() - finished > 12:
                    return finished
                await asyncio.sleep(1.0)
            return finished

        assert asyncio.run(drive()) is not None, "the rollback did not finish"
        assert sorted(world.regressed_since) == TRUTH
        time.sleep(2.0)  # the last scrape
        end = time.time()
        yield d, start, end, dict(world.rps)
    finally:
        asyncio.run(engine.close())
        mock.forget(engine.context)
        journal.close()
        prom.stop()


def test_regenerated_scenario_matches_the_truth_and_drills(incident: tuple[Path, float, float, dict]) -> None:
    d, start, end, rps = incident
    out = cockpit(
        "scenario", "from-prometheus", "--start", f"{start:.3f}", "--end", f"{end:.3f}", "--step", "1",
        "--config", "cockpit.toml", "--out", "incident.toml", cwd=d,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "reading Prometheus" in out.stderr and "(100 %)" in out.stderr  # the progress indication
    text = (d / "incident.toml").read_text()
    assert "sum by (tenant, revision) (increase(http_requests_total{}[10s]))" in text  # estimates name their query
    _p, sc = load_scenario(str(d / "incident.toml"))
    assert {t.name for t in sc.tenants} == set(rps)
    for t in sc.tenants:
        assert t.rps == pytest.approx(rps[t.name], rel=0.15), t.name
    assert {t.name: t.cohort for t in sc.tenants}["acme"] == "enterprise"
    [onset] = [e for e in sc.events if e.kind == "regression_start"]
    assert sorted(onset.tenants) == TRUTH
    assert onset.at_s == pytest.approx(ONSET_S, abs=4.0)
    assert onset.severity == pytest.approx(0.6, abs=0.05)
    # the first ready count Prometheus scraped: 3, or 4 once the HPA's first evaluation (at 0-2 s) is ready
    assert 3 <= sc.tiers.old.replicas <= 4 and sc.tiers.new.replicas == 10
    assert sc.tiers.old.startup_s == pytest.approx(3.0, abs=2.0)
    assert sc.recorded is not None and sorted(sc.recorded.scope) == TRUTH
    assert any(s.scale_old for s in sc.recorded.steps)

    drill = cockpit("drill", "incident.toml", "--compare", "--json", cwd=d)
    assert drill.returncode == 0, drill.stderr
    cards = json.loads(drill.stdout)
    assert [c["strategy"] for c in cards] == ["cockpit", "abort", "fixed-stages", "as it happened"]
    assert cards[0]["scope"] == TRUTH  # the replayed incident regresses the same tenants
    assert cards[3]["restored"] and cards[3]["scope"] == TRUTH
    original = cockpit("drill", "compressed.toml", "--json", cwd=d)
    assert original.returncode == 0, original.stderr
    orig = json.loads(original.stdout)
    # the round trip: the regenerated scenario's cockpit drill against the original scenario's (capacity
    # estimated as load / the exporter's utilisation gauge: about 10 rps per replica, the truth; measured
    # over two runs on this machine with the 2x pre-scale and crash reserve: time to restore 5 s and 4 s,
    # harmed requests 125 and 97-99, one tick apart)
    assert sc.tiers.old.per_replica_rps == pytest.approx(10.0, rel=0.1)
    assert "load / utilisation" in text and "vllm:kv_cache_usage_perc" in text
    assert cards[0]["time_to_restore_s"] == pytest.approx(orig["time_to_restore_s"], rel=0.1, abs=1.0)
    harmed = [c["wrong_answers"] + c["dropped_requests"] for c in (orig, cards[0])]
    print(
        f"round trip: per_replica_rps {sc.tiers.old.per_replica_rps}, restore {orig['time_to_restore_s']} -> "
        f"{cards[0]['time_to_restore_s']} s, harmed {harmed[0]} -> {harmed[1]}"
    )  # with -s
    one_tick = 40.0  # acme and globex, 20 rps each on new while regressing: a tick's wrong answers
    assert harmed[1] == pytest.approx(harmed[0], rel=0.1) or abs(harmed[1] - harmed[0]) <= one_tick


def test_bad_windows_and_queries_are_one_sentence(incident: tuple[Path, float, float, dict]) -> None:
    d, start, end, _rps = incident
    early = ("--start", f"{start - 7200:.0f}", "--end", f"{start - 3600:.0f}", "--step", "60")
    out = cockpit("scenario", "from-prometheus", *early, "--config", "cockpit.toml", "--out", "x.toml", cwd=d)
    assert (
        out.returncode == 2 and "a window with no data" in out.stderr and "increase(http_requests_total" in out.stderr
    )
    outs = [out]
    cfg = tomllib.loads((d / "cockpit.toml").read_text())
    # a samples query that is not aggregated: one series per tenant, revision *and* status code
    cfg["plugins"]["prometheus"]["checks"][0]["samples"] = "increase(http_requests_total[10s])"
    (d / "several.toml").write_text(tomli_w.dumps(cfg))
    window = ("--start", f"{start:.0f}", "--end", f"{end:.0f}", "--step", "5")
    out = cockpit("scenario", "from-prometheus", *window, "--config", "several.toml", "--out", "x.toml", cwd=d)
    assert out.returncode == 2 and "several series" in out.stderr and "increase(http_requests_total[10s])" in out.stderr
    outs.append(out)
    out = cockpit(
        "scenario", "from-prometheus", *window, "--config", "cockpit.toml", "--ready-query", "kube_no_such_metric",
        "--out", "x.toml", cwd=d,
    )  # fmt: skip
    assert out.returncode == 2 and "'kube_no_such_metric' returned no series for the old tier" in out.stderr
    outs.append(out)
    (d / "none.toml").write_text(f'[models]\nold = "{OLD}"\nnew = "{NEW}"\n')
    out = cockpit("scenario", "from-prometheus", *window, "--config", "none.toml", "--out", "x.toml", cwd=d)
    assert out.returncode == 2 and "no prometheus backend configured" in out.stderr
    outs.append(out)
    for o in outs:
        assert "Traceback" not in o.stderr
        # the progress indication may precede it; the error itself is one line
        errors = [line for line in o.stderr.strip().splitlines() if "reading Prometheus" not in line]
        assert len(errors) == 1 and errors[0].startswith("cockpit: "), o.stderr
    assert not (d / "x.toml").exists()
