"""Fixtures: an emulated API server on a free loopback port, a kubeconfig pointing at it, and a
small cluster: two model tiers (Deployment + HPA each), an HTTPRoute with one rule per tenant, and
rollout CronJobs (one already suspended by hand, one unlabelled)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.kubernetes.apiserver import ApiServer

NS = "models"
GATEWAY = "gateway.networking.k8s.io/v1"
TENANT_HEADER = "x-tenant"


def write_kubeconfig(path: Path, url: str, token: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                "users": [{"name": "cockpit", "user": {"token": token}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "cockpit"}}],
                "current-context": "emulator",
            }
        )
    )
    return path


def deployment(name: str, replicas: int, per_replica_rps: float | None = None) -> dict:
    meta: dict = {"name": name, "namespace": NS, "labels": {"app": name}}
    if per_replica_rps is not None:
        meta["annotations"] = {"cockpit.dev/per-replica-rps": str(per_replica_rps)}
    return {"metadata": meta, "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}}}


def hpa(name: str, low: int, high: int) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": high,
        },
    }


def tenant_rule(tenant: str, share: float, total: int = 1_000_000) -> dict:
    new = round(share * total)
    return {
        "matches": [{"headers": [{"type": "Exact", "name": TENANT_HEADER, "value": tenant}]}],
        "backendRefs": [
            {"name": "model-old", "port": 8080, "weight": total - new},
            {"name": "model-new", "port": 8080, "weight": new},
        ],
    }


def httproute(name: str, shares: dict[str, float]) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": "inference-gateway"}],
            "rules": [tenant_rule(t, s) for t, s in shares.items()],
        },
    }


def cronjob(name: str, suspended: bool, labels: dict[str, str]) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"schedule": "0 * * * *", "suspend": suspended, "jobTemplate": {"spec": {}}},
    }


def seed(server: ApiServer, shares: dict[str, float], *, old_replicas: int = 6, new_replicas: int = 22) -> None:
    server.put_object("apps/v1", "deployments", deployment("model-old", old_replicas, per_replica_rps=20))
    server.put_object("apps/v1", "deployments", deployment("model-new", new_replicas))
    server.put_object("autoscaling/v2", "horizontalpodautoscalers", hpa("model-old", old_replicas, 30))
    server.put_object("autoscaling/v2", "horizontalpodautoscalers", hpa("model-new", 4, 40))
    server.put_object(GATEWAY, "httproutes", httproute("tenants", shares))
    rollout = {"cockpit.dev/rollout": "scheduled"}
    server.put_object("batch/v1", "cronjobs", cronjob("rollout-step", False, rollout))
    server.put_object("batch/v1", "cronjobs", cronjob("rollout-bake-check", False, rollout))
    server.put_object("batch/v1", "cronjobs", cronjob("rollout-paused-by-hand", True, rollout))
    server.put_object("batch/v1", "cronjobs", cronjob("nightly-report", False, {"app": "reports"}))
    server.clear_requests()


def options(kubeconfig: Path) -> dict:
    return {
        "kubeconfig": str(kubeconfig),
        "namespace": NS,
        "request_timeout_s": 5,
        "tiers": {
            "old": {"deployment": "model-old", "hpa": "model-old"},
            "new": {"deployment": "model-new", "hpa": "model-new", "per_replica_rps": 20},
        },
        "route": {
            "names": ["tenants"],
            "tenant_header": TENANT_HEADER,
            "old_backend": "model-old",
            "new_backend": "model-new",
        },
        "freeze": {"cronjob_selector": "cockpit.dev/rollout=scheduled"},
    }


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer()
    server.url = server.serve()
    server.kubeconfig = write_kubeconfig(tmp_path / "kubeconfig.json", server.url, server.token)
    try:
        yield server
    finally:
        server.close()
