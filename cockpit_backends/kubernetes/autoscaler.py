"""The autoscaler role: a tier is a Deployment, and optionally the object that owns its replicas.

Ready replicas come from the Deployment's status (``readyReplicas``: pods that pass readiness, so
capacity that can take traffic now); desired from its spec. Raising a floor patches it where the
owner of the replicas reads it (floors.py: an HPA's ``minReplicas``, a KEDA ScaledObject's
``minReplicaCount``, a KServe InferenceService's ``spec.predictor.minReplicas``), since the owner
overrides hand-set replica counts, then (HPA, ScaledObject, or no owner) the Deployment's ``scale``
subresource, so the tier starts growing at once rather than at the owner's next sync. The floor is
only ever raised: lowering it after the incident is the operator's call (the owner carries the value
it had before in the ``cockpit.dev/original-min-replicas`` annotation).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from cockpit.hookspecs import TierReading
from cockpit_backends.kubernetes.api import MERGE_PATCH, KubernetesError, call
from cockpit_backends.kubernetes.floors import raise_floor
from cockpit_backends.kubernetes.options import PER_REPLICA_ANNOTATION, Options, P, TierRef


class KubernetesAutoscaler:
    def __init__(self, api: client.ApiClient, opts: Options) -> None:
        self.opts = opts
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.timeout = opts.request_timeout_s

    def _tier(self, tier: str) -> TierRef:
        ref = self.opts.tiers.get(tier)
        if ref is None:
            raise KubernetesError(f"no Deployment configured for tier {tier!r} (set {P}.tiers.{tier}.deployment)")
        return ref

    async def read_tier(self, tier: str) -> TierReading:
        ref = self._tier(tier)
        what = f"read Deployment {ref.namespace}/{ref.deployment}"
        dep = await call(
            what, self.apps.read_namespaced_deployment, ref.deployment, ref.namespace, _request_timeout=self.timeout
        )
        desired = (dep.get("spec") or {}).get("replicas", 1)  # the API server's default when unset
        ready = (dep.get("status") or {}).get("readyReplicas") or 0  # omitted while none is ready
        return TierReading(ready=int(ready), desired=int(desired), per_replica_rps=self._per_replica(ref, dep))

    def _per_replica(self, ref: TierRef, dep: dict[str, Any]) -> float:
        annotations = (dep.get("metadata") or {}).get("annotations") or {}
        raw = annotations.get(PER_REPLICA_ANNOTATION)
        if raw is not None:
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not value > 0:
                raise KubernetesError(
                    f"Deployment {ref.namespace}/{ref.deployment}: annotation {PER_REPLICA_ANNOTATION}={raw!r} "
                    "is not a positive number"
                )
            return value
        if ref.per_replica_rps is not None:
            return ref.per_replica_rps
        raise KubernetesError(
            f"Deployment {ref.namespace}/{ref.deployment} has no {PER_REPLICA_ANNOTATION} annotation and "
            f"{P}.tiers has no per_replica_rps for it: set one"
        )

    async def scale_tier(self, tier: str, replicas: int, request_id: str) -> None:
        ref = self._tier(tier)
        owner = await raise_floor(self.custom, ref, replicas, self.timeout)
        if owner is not None and not owner.scales_deployment:
            return  # its controller owns the Deployment: it passes the floor down itself
        what = f"read the scale of Deployment {ref.namespace}/{ref.deployment}"
        scale = await call(
            what,
            self.apps.read_namespaced_deployment_scale,
            ref.deployment,
            ref.namespace,
            _request_timeout=self.timeout,
        )
        current = (scale.get("spec") or {}).get("replicas") or 0
        if current < replicas:
            await call(
                f"scale Deployment {ref.namespace}/{ref.deployment} to {replicas}",
                self.apps.patch_namespaced_deployment_scale,
                ref.deployment,
                ref.namespace,
                {"spec": {"replicas": replicas}},
                _content_type=MERGE_PATCH,
                _request_timeout=self.timeout,
            )
