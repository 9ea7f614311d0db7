"""The kubernetes backend driven by a real engine: the classic drill with the autoscaler and the router
handed to the emulated cluster (the simulator still provides traffic rates and health), the freeze
hook on declare and release, 503s that make the engine hold, and `cockpit plugins check --write`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from tests.backends.kubernetes.conftest import GATEWAY, NS, options, seed

CLASSIC = {
    **dict.fromkeys(("acme", "globex", "initech", "umbrella", "hooli", "pied-piper", "stark", "wayne"), 1.0),
    **dict.fromkeys(("tyrell", "cyberdyne", "soylent", "wonka"), 0.5),
}
REGRESSING = {"acme", "globex", "initech", "umbrella"}


@pytest.fixture
def drill(apiserver, tmp_path):
    seed(apiserver, CLASSIC)
    sessions = []

    def make():
        clock = SimClock()
        s = open_drill(
            "classic",
            journal=tmp_path / f"j{len(sessions)}.db",
            clock=clock,
            config_dir=tmp_path,
            backends={"router": "kubernetes", "autoscaler": "kubernetes"},
            plugin_options={"kubernetes": options(apiserver.kubeconfig)},
        )
        sessions.append(s)
        return s, clock

    yield make
    for s in sessions:
        cockpit_backends.kubernetes.forget(s.engine.context)
        s.close()


def _route_shares(apiserver) -> dict[str, float]:
    route = apiserver.get_object(GATEWAY, "httproutes", NS, "tenants")
    out = {}
    for rule in route["spec"]["rules"]:
        w = {b["name"]: b["weight"] for b in rule["backendRefs"]}
        out[rule["matches"][0]["headers"][0]["value"]] = w["model-new"] / (w["model-old"] + w["model-new"])
    return out


def _suspended(apiserver) -> dict[str, tuple[bool, str | None]]:
    out = {}
    for (_, plural, _, name), obj in apiserver.objects.items():
        if plural == "cronjobs":
            marks = obj["metadata"].get("annotations") or {}
            out[name] = (obj["spec"]["suspend"], marks.get("cockpit.dev/suspended-by"))
    return out


def test_engine_scales_the_old_tier_before_any_weight_moves_and_rolls_back_the_regressing_tenants(apiserver, drill):
    s, clock = drill()
    e = s.engine

    async def go():
        clock.set(640)  # the enterprise cohort regresses at 600 s and is detected 30 s later
        await e.tick()
        await e.command("arm", scope="regressing")
        for _ in range(600):
            clock.advance(1)
            await e.tick()
            if e.rollback.done:
                return True
        return False

    assert asyncio.run(go()), "the rollback did not finish"
    writes = [(q.method, q.path) for q in apiserver.requests if q.method in ("PUT", "PATCH")]
    route_writes = [i for i, (_, p) in enumerate(writes) if p.endswith("/httproutes/tenants")]
    hpa = writes.index(("PATCH", f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/model-old"))
    scale = writes.index(("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/model-old/scale"))
    assert route_writes, "no HTTPRoute weight moved"
    assert hpa < scale < route_writes[0]  # the floor first, then the replicas, then traffic
    assert all(p.endswith("/httproutes/tenants") for _, p in writes[scale + 1 :])
    content_types = {(q.method, q.content_type) for q in apiserver.requests if q.method in ("PUT", "PATCH")}
    assert content_types == {("PATCH", "application/merge-patch+json"), ("PUT", "application/json")}
    # every HTTPRoute write carried the resourceVersion it read (never a blind overwrite)
    assert all(q.body["metadata"].get("resourceVersion") for q in apiserver.requests if q.method == "PUT")
    # the objects left behind: old tier floor raised, regressing tenants at 0 % new, the others untouched
    needed = e.rollback.scale_requested
    old = apiserver.get_object("apps/v1", "deployments", NS, "model-old")
    hpa_obj = apiserver.get_object("autoscaling/v2", "horizontalpodautoscalers", NS, "model-old")
    assert needed > 6 and old["spec"]["replicas"] >= needed and hpa_obj["spec"]["minReplicas"] >= needed
    shares = _route_shares(apiserver)
    assert {t: shares[t] for t in REGRESSING} == dict.fromkeys(REGRESSING, 0.0)
    assert {t: shares[t] for t in CLASSIC if t not in REGRESSING} == {
        t: v for t, v in CLASSIC.items() if t not in REGRESSING
    }
    acks = [a.data for a in e.journal.entries(kinds=("actuation_ack",))]
    assert acks and all(a["verified"] for a in acks)
    assert not e.degraded


def test_503s_make_the_engine_hold_and_mark_the_router_degraded_then_it_resumes(apiserver, drill):
    s, clock = drill()
    e = s.engine

    async def go():
        clock.set(640)
        await e.tick()
        await e.command("arm", scope="regressing")
        for _ in range(600):  # run until the first weights have moved
            clock.advance(1)
            await e.tick()
            if e.journal.count("stage_applied"):
                break
        before = _route_shares(apiserver)
        stages = e.journal.count("stage_applied")
        apiserver.fail_next(1000, 503, path_contains="httproutes")
        snaps = []
        for _ in range(5):
            clock.advance(10)
            snaps.append(await e.tick())
        held = (before, _route_shares(apiserver), stages, e.journal.count("stage_applied"), snaps)
        apiserver.clear_faults()
        for _ in range(600):
            clock.advance(1)
            await e.tick()
            if e.rollback.done:
                break
        return held, e.rollback.done, dict(e.degraded)

    (before, during, stages, stages_after, snaps), done, degraded_end = asyncio.run(go())
    assert during == before  # nothing moved while the API server answered 503
    assert stages_after == stages  # and no stage was recorded as applied
    assert all(snap.hold == "router unreachable: holding" for snap in snaps)
    assert "503 Service Unavailable" in snaps[-1].degraded["router"]
    failed = [r for r in apiserver.requests if r.status == 503]
    assert failed and all("httproutes" in r.path for r in failed)
    assert done and "router" not in degraded_end
    assert {t: v for t, v in _route_shares(apiserver).items() if t in REGRESSING} == dict.fromkeys(REGRESSING, 0.0)


def test_declare_suspends_the_rollout_cronjobs_and_release_resumes_only_those(apiserver, drill):
    s, clock = drill()
    e = s.engine

    async def go():
        clock.set(640)
        await e.tick()
        await e.command("declare", reason="enterprise regression")
        declared = _suspended(apiserver)
        writes_declare = apiserver.calls(writes_only=True)
        apiserver.clear_requests()
        clock.advance(5)
        await e.tick()
        await e.command("release", confirm=True)
        return declared, writes_declare, _suspended(apiserver), apiserver.calls(writes_only=True)

    declared, writes_declare, released, writes_release = asyncio.run(go())
    assert declared == {
        "rollout-step": (True, "INC-1"),
        "rollout-bake-check": (True, "INC-1"),
        "rollout-paused-by-hand": (True, None),  # already suspended: left as it was
        "nightly-report": (False, None),  # not selected by the label
    }
    cron = f"/apis/batch/v1/namespaces/{NS}/cronjobs"
    assert writes_declare == [("PATCH", f"{cron}/rollout-bake-check"), ("PATCH", f"{cron}/rollout-step")]
    assert released == {
        "rollout-step": (False, None),
        "rollout-bake-check": (False, None),
        "rollout-paused-by-hand": (True, None),  # still suspended: the cockpit did not suspend it
        "nightly-report": (False, None),
    }
    assert writes_release == writes_declare
    assert not [x for x in e.journal.entries(kinds=("plugin_error",))]
    lists = [r for r in apiserver.requests if r.method == "GET" and r.path == cron]
    assert lists and all(r.query == {"labelSelector": "cockpit.dev/rollout=scheduled"} for r in lists)


def test_a_freeze_that_fails_is_journaled_as_a_plugin_error(apiserver, drill):
    s, clock = drill()
    e = s.engine

    async def go():
        clock.set(640)
        await e.tick()
        apiserver.fail_next(1, 503, path_contains="cronjobs")
        await e.command("declare", reason="x")

    asyncio.run(go())
    errors = [x.data for x in e.journal.entries(kinds=("plugin_error",))]
    # the error names the plugin's frame that raised it (file:line), after the plugin's own sentence
    located = [{**e, "error": e["error"].split(" (at cockpit_backends/kubernetes/api.py:")[0]} for e in errors]
    assert located == [
        {
            "plugin": "kubernetes",
            "hook": "cockpit_incident_declared",
            "error": f"KubernetesError: list CronJobs in {NS} matching 'cockpit.dev/rollout=scheduled': "
            "503 Service Unavailable (injected 503 by the emulator)",
        }
    ]
    assert all(" (at cockpit_backends/kubernetes/api.py:" in e["error"] for e in errors)


def test_plugins_check_write_passes_against_the_emulator(apiserver, tmp_path: Path):
    seed(apiserver, CLASSIC)
    opts = options(apiserver.kubeconfig)
    opts["kubeconfig"] = apiserver.kubeconfig.name  # relative to the config file
    config = {
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"},
        "cockpit": {"journal": "journal.db"},
        "backends": {"router": "kubernetes", "autoscaler": "kubernetes"},
        "plugins": {"mock": {"scenario": "classic"}, "kubernetes": opts},
    }
    path = tmp_path / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(path), "plugins", "check", "kubernetes", "--write"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    passed = [line.split(None, 2)[1:] for line in lines if line.strip().startswith("PASS")]
    assert [p[0] for p in passed] == ["autoscaler"] * 5 + ["router"] * 4 + ["freeze"], out.stdout
    assert "PASS  autoscaler scale_tier(old, current): floor held at 6" in out.stdout
    assert "PASS  router     read_traffic: 12 tenants (no rates: the health backend must provide them)" in out.stdout
    assert "FAIL" not in out.stdout and lines[-1] == "10 passed, 0 failed"
    # the write checks moved two tenants and restored them: the objects are as they were
    assert _route_shares(apiserver) == CLASSIC
    assert apiserver.get_object("apps/v1", "deployments", NS, "model-old")["spec"]["replicas"] == 6
