"""The autoscaler's floor goes where the owner of the replicas reads it: a KEDA ScaledObject's
minReplicaCount, a KServe InferenceService's spec.predictor.minReplicas (an HPA's minReplicas is in
test_roles.py). Against the emulated API server: the exact requests and the objects left behind."""

from __future__ import annotations

import asyncio

import pytest

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from tests.backends.kubernetes.apiserver import MERGE
from tests.backends.kubernetes.conftest import NS, deployment, options

KEDA, KSERVE = "keda.sh/v1alpha1", "serving.kserve.io/v1beta1"
OLD = f"/apis/apps/v1/namespaces/{NS}/deployments/model-old"
SCALED = f"/apis/{KEDA}/namespaces/{NS}/scaledobjects/model-old"
ISVC = f"/apis/{KSERVE}/namespaces/{NS}/inferenceservices/model-old"


def scaled_object(low: int | None, high: int | None) -> dict:
    spec: dict = {
        "scaleTargetRef": {"name": "model-old"},
        "triggers": [{"type": "prometheus", "metadata": {"query": "sum(rate(requests[1m]))", "threshold": "20"}}],
    }
    if low is not None:
        spec["minReplicaCount"] = low
    if high is not None:
        spec["maxReplicaCount"] = high
    return {"metadata": {"name": "model-old", "namespace": NS}, "spec": spec}


def inference_service(low: int, high: int | None) -> dict:
    predictor: dict = {"minReplicas": low, "model": {"modelFormat": {"name": "huggingface"}, "storageUri": "s3://m"}}
    if high is not None:
        predictor["maxReplicas"] = high
    return {"metadata": {"name": "model-old", "namespace": NS}, "spec": {"predictor": predictor}}


@pytest.fixture
def autoscaler(apiserver, tmp_path):
    contexts = []

    def make(old_tier: dict):
        ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path), tiers={"old": "old", "new": "new"})
        contexts.append(ctx)
        opts = options(apiserver.kubeconfig)
        opts["tiers"]["old"] = {"deployment": "model-old", "per_replica_rps": 20, **old_tier}
        return cockpit_backends.kubernetes._factory("autoscaler", opts, ctx)

    yield make
    for ctx in contexts:
        cockpit_backends.kubernetes.forget(ctx)


def _seed(apiserver, plural: str, api: str, obj: dict) -> None:
    apiserver.put_object("apps/v1", "deployments", deployment("model-old", 6))
    apiserver.put_object(api, plural, obj)
    apiserver.clear_requests()


def test_keda_floor_goes_on_the_scaled_object_then_the_deployment_grows(apiserver, autoscaler):
    _seed(apiserver, "scaledobjects", KEDA, scaled_object(2, 20))
    a = autoscaler({"scaled_object": "model-old"})
    asyncio.run(a.scale_tier("old", 32, "act-1"))
    assert [(r.method, r.path, r.content_type) for r in apiserver.requests] == [
        ("GET", SCALED, ""),
        ("PATCH", SCALED, MERGE),
        ("GET", f"{OLD}/scale", ""),
        ("PATCH", f"{OLD}/scale", MERGE),
    ]
    assert apiserver.requests[1].body == {
        "spec": {"minReplicaCount": 32, "maxReplicaCount": 32},  # a maximum below the floor is raised with it
        "metadata": {"annotations": {"cockpit.dev/original-min-replicas": "2"}},
    }
    so = apiserver.get_object(KEDA, "scaledobjects", NS, "model-old")
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (32, 32)
    assert so["spec"]["triggers"][0]["type"] == "prometheus"  # the rest untouched
    assert apiserver.get_object("apps/v1", "deployments", NS, "model-old")["spec"]["replicas"] == 32
    # only ever raised: less, or the same again, writes nothing
    apiserver.clear_requests()
    asyncio.run(a.scale_tier("old", 8, "act-2"))
    asyncio.run(a.scale_tier("old", 32, "act-3"))
    assert apiserver.calls(writes_only=True) == []


def test_keda_defaults_an_unset_minimum_to_0_and_maximum_to_100(apiserver, autoscaler):
    _seed(apiserver, "scaledobjects", KEDA, scaled_object(None, None))
    a = autoscaler({"scaled_object": "model-old"})
    asyncio.run(a.scale_tier("old", 40, "act-1"))
    patch = next(r for r in apiserver.requests if r.method == "PATCH" and r.path == SCALED)
    assert patch.body == {  # 40 is under KEDA's default maxReplicaCount (100): not written
        "spec": {"minReplicaCount": 40},
        "metadata": {"annotations": {"cockpit.dev/original-min-replicas": "0"}},
    }


def test_kserve_floor_goes_on_the_inference_service_and_the_deployment_is_left_to_its_controller(apiserver, autoscaler):
    _seed(apiserver, "inferenceservices", KSERVE, inference_service(1, 10))
    a = autoscaler({"inference_service": "model-old"})
    asyncio.run(a.scale_tier("old", 12, "act-1"))
    assert [(r.method, r.path, r.content_type) for r in apiserver.requests] == [
        ("GET", ISVC, ""),
        ("PATCH", ISVC, MERGE),
    ]
    assert apiserver.requests[1].body == {
        "spec": {"predictor": {"minReplicas": 12, "maxReplicas": 12}},
        "metadata": {"annotations": {"cockpit.dev/original-min-replicas": "1"}},
    }
    isvc = apiserver.get_object(KSERVE, "inferenceservices", NS, "model-old")
    assert isvc["spec"]["predictor"]["minReplicas"] == 12
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "s3://m"  # the merge patch kept the model
    assert apiserver.get_object("apps/v1", "deployments", NS, "model-old")["spec"]["replicas"] == 6


def test_kserve_max_replicas_0_means_no_bound_and_is_not_written(apiserver, autoscaler):
    _seed(apiserver, "inferenceservices", KSERVE, inference_service(3, 0))
    a = autoscaler({"inference_service": "model-old"})
    asyncio.run(a.scale_tier("old", 12, "act-1"))
    assert apiserver.requests[1].body["spec"] == {"predictor": {"minReplicas": 12}}
    assert apiserver.get_object(KSERVE, "inferenceservices", NS, "model-old")["spec"]["predictor"]["maxReplicas"] == 0


def test_a_missing_owner_is_one_sentence_and_nothing_is_scaled(apiserver, autoscaler):
    apiserver.put_object("apps/v1", "deployments", deployment("model-old", 6))
    a = autoscaler({"scaled_object": "model-old"})
    with pytest.raises(Exception) as err:
        asyncio.run(a.scale_tier("old", 12, "act-1"))
    assert str(err.value) == (
        f'read ScaledObject {NS}/model-old: 404 Not Found (scaledobjects.keda.sh "model-old" not found)'
    )
    assert apiserver.calls(writes_only=True) == []


def test_two_owners_for_one_tier_is_a_config_error(autoscaler):
    with pytest.raises(ConfigError) as err:
        autoscaler({"hpa": "model-old", "scaled_object": "model-old"})
    assert str(err.value) == (
        "plugins.kubernetes.tiers.old: set one of hpa, scaled_object, inference_service "
        "(the one that owns the replicas), not several"
    )
