"""A real engine on the emulated cluster with the other owners and routes: KEDA ScaledObjects hold the
tiers' floors and Istio VirtualServices (selected by label, read with one list call) the weights. The
classic drill's regressing tenants roll back; the floor is raised on the ScaledObject before the
Deployment grows, and both before any weight moves."""

from __future__ import annotations

import asyncio

import pytest

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from tests.backends.kubernetes.conftest import NS, deployment, options
from tests.backends.kubernetes.test_engine import CLASSIC, REGRESSING
from tests.backends.kubernetes.test_floors import KEDA, scaled_object
from tests.backends.kubernetes.test_routes import ISTIO, ISTIO_ROUTE, LABEL, virtual_service

VS = f"/apis/{ISTIO}/namespaces/{NS}/virtualservices"


def _seed(apiserver) -> None:
    apiserver.put_object("apps/v1", "deployments", deployment("model-old", 6, per_replica_rps=20))
    apiserver.put_object("apps/v1", "deployments", deployment("model-new", 22))
    for name, low in (("model-old", 6), ("model-new", 4)):
        so = scaled_object(low, 40)
        so["metadata"]["name"] = name
        so["spec"]["scaleTargetRef"]["name"] = name
        apiserver.put_object(KEDA, "scaledobjects", so)
    tenants = list(CLASSIC)
    for i, chunk in enumerate((tenants[:6], tenants[6:])):
        vs = virtual_service(f"tenants-{i}", {t: CLASSIC[t] for t in chunk})
        vs["metadata"]["labels"] = dict(LABEL)
        apiserver.put_object(ISTIO, "virtualservices", vs)
    apiserver.clear_requests()


def _shares(apiserver) -> dict[str, float]:
    out = {}
    for (_, plural, _, _), obj in apiserver.objects.items():
        if plural != "virtualservices":
            continue
        for rule in obj["spec"]["http"]:
            if "match" in rule:
                w = {d["destination"]["host"].split(".")[0]: d["weight"] for d in rule["route"]}
                out[rule["match"][0]["headers"]["x-tenant"]["exact"]] = w["model-new"] / 100
    return out


@pytest.fixture
def session(apiserver, tmp_path):
    _seed(apiserver)
    opts = options(apiserver.kubeconfig)
    del opts["freeze"]
    opts["tiers"] = {
        "old": {"deployment": "model-old", "scaled_object": "model-old"},
        "new": {"deployment": "model-new", "scaled_object": "model-new", "per_replica_rps": 20},
    }
    opts["route"] = {**ISTIO_ROUTE, "names": [], "selector": "cockpit.dev/tenants=model"}
    clock = SimClock()
    s = open_drill(
        "classic",
        journal=tmp_path / "j.db",
        clock=clock,
        config_dir=tmp_path,
        backends={"router": "kubernetes", "autoscaler": "kubernetes"},
        plugin_options={"kubernetes": opts},
    )
    yield s, clock
    cockpit_backends.kubernetes.forget(s.engine.context)
    s.close()


def test_engine_floors_on_keda_and_rolls_back_on_istio(apiserver, session):
    s, clock = session
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
    so = writes.index(("PATCH", f"/apis/{KEDA}/namespaces/{NS}/scaledobjects/model-old"))
    scale = writes.index(("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/model-old/scale"))
    routes = [i for i, (m, p) in enumerate(writes) if m == "PUT" and p.startswith(VS)]
    assert routes and so < scale < routes[0]  # the floor, then the replicas, then traffic
    needed = e.rollback.scale_requested
    floor = apiserver.get_object(KEDA, "scaledobjects", NS, "model-old")["spec"]["minReplicaCount"]
    assert needed > 6 and floor >= needed
    # the reads were list calls by label, never one GET per VirtualService
    reads = [q for q in apiserver.requests if q.method == "GET" and q.path.startswith(VS)]
    assert reads and all(q.path == VS and q.query == {"labelSelector": "cockpit.dev/tenants=model"} for q in reads)
    shares = _shares(apiserver)
    assert {t: shares[t] for t in REGRESSING} == dict.fromkeys(REGRESSING, 0.0)
    assert {t: v for t, v in shares.items() if t not in REGRESSING} == {
        t: v for t, v in CLASSIC.items() if t not in REGRESSING
    }
    acks = [a.data for a in e.journal.entries(kinds=("actuation_ack",))]
    assert acks and all(a["verified"] for a in acks)
    assert not e.degraded
