"""The autoscaler role: a tier is a Deployment (and optionally its HorizontalPodAutoscaler).

Ready replicas come from the Deployment's status (``readyReplicas``: pods that pass readiness, so
capacity that can take traffic now); desired from its spec. Raising a floor patches the HPA's
``minReplicas`` first, since an HPA overrides hand-set replica counts, then the Deployment's
``scale`` subresource, so the tier starts growing at once rather than at the HPA's next sync. The
floor is only ever raised: lowering it after the incident is the operator's call (the HPA carries
the value it had before in the ``cockpit.dev/original-min-replicas`` annotation).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from cockpit.hookspecs import TierReading
from cockpit_backends.kubernetes.api import MERGE_PATCH, KubernetesError, call
from cockpit_backends.kubernetes.options import ORIGINAL_MIN_ANNOTATION, PER_REPLICA_ANNOTATION, Options, P, TierRef


class KubernetesAutoscaler:
    def __init__(self, api: client.ApiClient, opts: Options) -> None:
        self.opts = opts
        self.apps = client.AppsV1Api(api)
        self.autoscaling = client.AutoscalingV2Api(api)
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
        if ref.hpa is not None:
            await self._raise_hpa_floor(ref, replicas)
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

    async def _raise_hpa_floor(self, ref: TierRef, replicas: int) -> None:
        name = f"HorizontalPodAutoscaler {ref.namespace}/{ref.hpa}"
        hpa = await call(
            f"read {name}",
            self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
            ref.hpa,
            ref.namespace,
            _request_timeout=self.timeout,
        )
        spec = hpa.get("spec") or {}
        low = spec.get("minReplicas", 1)  # the API server's default when unset
        if low >= replicas:
            return
        patch: dict[str, Any] = {"spec": {"minReplicas": replicas}}
        if spec.get("maxReplicas", 0) < replicas:  # the API rejects minReplicas above maxReplicas
            patch["spec"]["maxReplicas"] = replicas
        annotations = (hpa.get("metadata") or {}).get("annotations") or {}
        if ORIGINAL_MIN_ANNOTATION not in annotations:
            patch["metadata"] = {"annotations": {ORIGINAL_MIN_ANNOTATION: str(low)}}
        await call(
            f"raise minReplicas of {name} to {replicas}",
            self.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
            ref.hpa,
            ref.namespace,
            patch,
            _content_type=MERGE_PATCH,
            _request_timeout=self.timeout,
        )
