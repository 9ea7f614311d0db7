"""The kubernetes backend's roles against the emulated API server, over real HTTP: the exact requests,
their content types and order, and the objects they leave behind."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from tests.backends.kubernetes.apiserver import MERGE
from tests.backends.kubernetes.conftest import GATEWAY, NS, options, seed

ROUTE = f"/apis/{GATEWAY}/namespaces/{NS}/httproutes/tenants"
OLD = f"/apis/apps/v1/namespaces/{NS}/deployments/model-old"
OLD_HPA = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/model-old"


@pytest.fixture
def make(apiserver, tmp_path):
    contexts = []

    def make(role: str, **overrides):
        ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path), tiers={"old": "old", "new": "new"})
        contexts.append(ctx)
        return cockpit_backends.kubernetes._factory(role, options(apiserver.kubeconfig) | overrides, ctx)

    make.contexts = contexts  # type: ignore[attr-defined]
    yield make
    for ctx in contexts:
        cockpit_backends.kubernetes.forget(ctx)


def test_importing_the_plugin_does_not_import_the_kubernetes_client():
    code = (
        "import sys, cockpit_backends.kubernetes; from cockpit.plugins import PluginHost; "
        "h = PluginHost(); assert 'kubernetes' in h.backends(); "
        "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_read_tier_takes_ready_from_status_and_capacity_from_the_annotation_or_the_option(apiserver, make):
    seed(apiserver, {"acme": 1.0})
    apiserver.set_ready(NS, "model-old", 4)
    a = make("autoscaler")
    old = asyncio.run(a.read_tier("old"))
    new = asyncio.run(a.read_tier("new"))
    assert (old.ready, old.desired, old.per_replica_rps) == (4, 6, 20.0)  # annotation cockpit.dev/per-replica-rps
    assert (new.ready, new.desired, new.per_replica_rps) == (22, 22, 20.0)  # option tiers.new.per_replica_rps
    assert apiserver.calls() == [("GET", OLD), ("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/model-new")]
    # a Deployment with no ready pod omits readyReplicas: that reads as 0, not as an error
    apiserver.set_ready(NS, "model-old", 0)
    dep = apiserver.get_object("apps/v1", "deployments", NS, "model-old")
    dep["status"].pop("readyReplicas")
    apiserver.objects[("apps/v1", "deployments", NS, "model-old")] = dep
    assert asyncio.run(a.read_tier("old")).ready == 0


def test_scale_tier_raises_the_hpa_floor_then_the_scale_subresource(apiserver, make):
    seed(apiserver, {"acme": 1.0})
    apiserver.set_ready(NS, "model-old", 6)  # pods take time: ready stays behind desired
    a = make("autoscaler")
    asyncio.run(a.scale_tier("old", 32, "act-1"))
    reqs = apiserver.requests
    assert [(r.method, r.path, r.content_type) for r in reqs] == [
        ("GET", OLD_HPA, ""),
        ("PATCH", OLD_HPA, MERGE),
        ("GET", f"{OLD}/scale", ""),
        ("PATCH", f"{OLD}/scale", MERGE),
    ]
    # maxReplicas (30) is raised with it: the API server rejects minReplicas above maxReplicas
    assert reqs[1].body == {
        "spec": {"minReplicas": 32, "maxReplicas": 32},
        "metadata": {"annotations": {"cockpit.dev/original-min-replicas": "6"}},
    }
    assert reqs[3].body == {"spec": {"replicas": 32}}
    hpa = apiserver.get_object("autoscaling/v2", "horizontalpodautoscalers", NS, "model-old")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (32, 32)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "model-old"  # the rest of the object is untouched
    back = asyncio.run(a.read_tier("old"))
    assert (back.ready, back.desired) == (6, 32)
    # the floor only rises: asking for less (or the same again) writes nothing
    apiserver.clear_requests()
    asyncio.run(a.scale_tier("old", 10, "act-2"))
    asyncio.run(a.scale_tier("old", 32, "act-3"))
    assert apiserver.calls(writes_only=True) == []
    assert apiserver.get_object("apps/v1", "deployments", NS, "model-old")["spec"]["replicas"] == 32


def test_router_reads_weights_and_writes_them_back_whole_with_the_resource_version(apiserver, make):
    seed(apiserver, {"acme": 1.0, "globex": 0.5, "tyrell": 0.0})
    r = make("router")
    reading = asyncio.run(r.read_traffic())
    assert dict(reading.shares) == {"acme": 1.0, "globex": 0.5, "tyrell": 0.0}
    assert dict(reading.rps) == {}  # routes do not count requests
    rv = apiserver.get_object(GATEWAY, "httproutes", NS, "tenants")["metadata"]["resourceVersion"]
    apiserver.clear_requests()
    result = asyncio.run(r.apply_shares({"acme": 0.4237, "tyrell": 0.05}, "act-7"))
    assert dict(result.applied) == {"acme": 0.4237, "tyrell": 0.05} and not result.failed
    assert [(q.method, q.path) for q in apiserver.requests] == [("GET", ROUTE), ("PUT", ROUTE), ("GET", ROUTE)]
    put = apiserver.requests[1]
    assert put.content_type == "application/json"
    assert put.body["metadata"]["resourceVersion"] == rv  # optimistic concurrency: stale gets 409
    assert len(put.body["spec"]["rules"]) == 3  # the whole list, the untouched tenant included
    route = apiserver.get_object(GATEWAY, "httproutes", NS, "tenants")
    weights = {
        rule["matches"][0]["headers"][0]["value"]: [(b["name"], b["weight"]) for b in rule["backendRefs"]]
        for rule in route["spec"]["rules"]
    }
    assert weights == {
        "acme": [("model-old", 576300), ("model-new", 423700)],
        "globex": [("model-old", 500000), ("model-new", 500000)],
        "tyrell": [("model-old", 950000), ("model-new", 50000)],
    }
    assert route["metadata"]["annotations"]["cockpit.dev/request-id"] == "act-7"
    assert route["spec"]["parentRefs"] == [{"name": "inference-gateway"}]
    # the same request again: read, nothing to write (idempotent)
    apiserver.clear_requests()
    again = asyncio.run(r.apply_shares({"acme": 0.4237, "tyrell": 0.05}, "act-7"))
    assert dict(again.applied) == dict(result.applied)
    assert apiserver.calls() == [("GET", ROUTE)]


def test_a_stale_resource_version_gets_409_and_the_plugin_rereads_and_keeps_the_other_writers_change(apiserver, make):
    seed(apiserver, {"acme": 1.0, "globex": 1.0})
    r = make("router")

    def concurrent_writer(server):  # someone moves globex between our read and our write
        route = server.get_object(GATEWAY, "httproutes", NS, "tenants")
        route["spec"]["rules"][1]["backendRefs"][0]["weight"] = 250000
        route["spec"]["rules"][1]["backendRefs"][1]["weight"] = 750000
        server.put_object(GATEWAY, "httproutes", route)

    apiserver.before_next("PUT", "httproutes/tenants", concurrent_writer)
    result = asyncio.run(r.apply_shares({"acme": 0.5}, "act-1"))
    assert dict(result.applied) == {"acme": 0.5} and not result.failed
    seen = [(q.method, q.status) for q in apiserver.requests]
    assert seen == [("GET", 200), ("PUT", 409), ("GET", 200), ("PUT", 200), ("GET", 200)]
    first, second = apiserver.requests[1].body, apiserver.requests[3].body
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    shares = asyncio.run(r.read_traffic()).shares
    assert dict(shares) == {"acme": 0.5, "globex": 0.75}  # ours applied, theirs not lost


def test_conflicts_past_the_retry_bound_are_reported_failed_never_applied(apiserver, make):
    seed(apiserver, {"acme": 1.0, "globex": 1.0})
    r = make("router", conflict_retries=2)
    apiserver.fail_next(3, 409, methods=("PUT",))
    result = asyncio.run(r.apply_shares({"acme": 0.5, "nobody": 0.5}, "act-1"))
    assert dict(result.applied) == {}
    assert "3 writes got 409 Conflict" in result.failed["acme"]
    assert "no rule matches header x-tenant: nobody" in result.failed["nobody"]
    assert [m for m, _ in apiserver.calls()] == ["GET", "PUT"] * 3
    assert asyncio.run(r.read_traffic()).shares["acme"] == 1.0


def test_a_rule_without_the_new_backend_is_a_partial_failure(apiserver, make):
    seed(apiserver, {"acme": 1.0, "globex": 1.0})
    route = apiserver.get_object(GATEWAY, "httproutes", NS, "tenants")
    route["spec"]["rules"][1]["backendRefs"] = [{"name": "model-old", "port": 8080}]
    apiserver.put_object(GATEWAY, "httproutes", route)
    r = make("router")
    assert asyncio.run(r.read_traffic()).shares["globex"] == 0.0  # only the old backend: share 0
    result = asyncio.run(r.apply_shares({"acme": 0.25, "globex": 0.25}, "act-1"))
    assert dict(result.applied) == {"acme": 0.25}
    assert result.failed == {"globex": "its HTTPRoute rule has no backendRef named 'model-new'"}


def test_503_is_one_sentence_that_names_the_call_and_never_the_token(apiserver, make):
    seed(apiserver, {"acme": 1.0})
    r, a = make("router"), make("autoscaler")
    apiserver.fail_next(2, 503)
    with pytest.raises(Exception) as read_err:
        asyncio.run(r.read_traffic())
    with pytest.raises(Exception) as apply_err:
        asyncio.run(r.apply_shares({"acme": 0.5}, "act-1"))
    for err in (read_err.value, apply_err.value):
        text = str(err)
        assert text == (f"read HTTPRoute {NS}/tenants: 503 Service Unavailable (injected 503 by the emulator)"), text
        assert apiserver.token not in text and "\n" not in text
    assert asyncio.run(a.read_tier("old")).desired == 6  # and the next call goes through


def test_an_unreachable_server_is_one_sentence(apiserver, make):
    seed(apiserver, {"acme": 1.0})
    a = make("autoscaler", request_timeout_s=1)
    apiserver.close()
    with pytest.raises(Exception, match=r"^read Deployment models/model-old: cannot reach the Kubernetes API server"):
        asyncio.run(a.read_tier("old"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "plugins.kubernetes: unknown option 'colour'"),
        ({"kubeconfig": "nope.yaml"}, "plugins.kubernetes.kubeconfig: no file at"),
        ({"in_cluster": True}, "plugins.kubernetes: set either kubeconfig or in_cluster = true, not both"),
        ({"tiers": {"old": {"deployment": "model-old"}}}, "plugins.kubernetes.tiers.new: map the cockpit's tier"),
        ({"tiers": {"old": {"deploy": "x"}}}, "plugins.kubernetes.tiers.old: unknown option 'deploy'"),
        ({"conflict_retries": -1}, "plugins.kubernetes.conflict_retries: expected a whole number"),
        ({"route": {"names": []}}, "plugins.kubernetes.route.names: list the HTTPRoute names"),
        ({"freeze": {"cronjob_selector": ""}}, "plugins.kubernetes.freeze.cronjob_selector: expected a non-empty"),
    ],
)
def test_bad_options_are_one_sentence_config_errors(make, change, message):
    with pytest.raises(ConfigError) as err:
        make("autoscaler", **change)
    assert str(err.value).startswith(message), str(err.value)


def test_a_slow_api_server_does_not_stall_the_freeze_hook_and_the_freeze_still_lands(apiserver, make):
    seed(apiserver, {"acme": 1.0})
    make("router", freeze={"cronjob_selector": "cockpit.dev/rollout=scheduled", "timeout_s": 0.2})
    apiserver.delay_next(1, 1.0, path_contains="/cronjobs")
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"^CronJob suspend not finished after 0.2 s; it goes on in the background$"):
        cockpit_backends.kubernetes.cockpit_incident_declared(incident={"id": "INC-9"}, context=make.contexts[-1])
    assert time.perf_counter() - t0 < 0.8  # the control loop got its turn back
    with pytest.raises(TimeoutError, match=r"^CronJob resume not finished"):  # queued behind the freeze
        cockpit_backends.kubernetes.cockpit_incident_released(incident={"id": "INC-9"}, context=make.contexts[-1])
    deadline = time.monotonic() + 10
    while len([q for q in apiserver.requests if q.method == "PATCH"]) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs = {k[3]: o["spec"]["suspend"] for k, o in apiserver.objects.items() if k[1] == "cronjobs"}
    assert jobs == {
        "rollout-step": False,
        "rollout-bake-check": False,
        "rollout-paused-by-hand": True,
        "nightly-report": False,
    }
    patches = [(q.path.rsplit("/", 1)[1], q.body["spec"]["suspend"]) for q in apiserver.requests if q.method == "PATCH"]
    assert patches == [
        ("rollout-bake-check", True),
        ("rollout-step", True),
        ("rollout-bake-check", False),
        ("rollout-step", False),
    ]  # the release ran after the declare it followed, never before
