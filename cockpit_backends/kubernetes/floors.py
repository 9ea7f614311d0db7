"""A tier's replica floor, set where the owner of its replicas reads it.

Whatever owns a workload's replica count overwrites a floor written anywhere else: an HPA sets the
Deployment's replicas, KEDA overwrites the HPA it generates from its ScaledObject, and KServe
reconciles the predictor from its InferenceService. So the floor goes on the owner:

- ``hpa``: a HorizontalPodAutoscaler (autoscaling/v2), ``spec.minReplicas`` (unset: 1), ceiling
  ``spec.maxReplicas``;
- ``scaled_object``: a KEDA ScaledObject (keda.sh/v1alpha1), ``spec.minReplicaCount`` (unset: 0),
  ceiling ``spec.maxReplicaCount`` (unset: 100);
- ``inference_service``: a KServe InferenceService (serving.kserve.io/v1beta1),
  ``spec.predictor.minReplicas`` (unset: 1), ceiling ``spec.predictor.maxReplicas`` (0: no bound).

The floor is raised with one JSON merge patch, which also raises the ceiling when it is below the
new floor (each API rejects or ignores a minimum above its maximum) and records the minimum it had
before in the ``cockpit.dev/original-min-replicas`` annotation (first raise only). It only ever rises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from cockpit_backends.kubernetes.api import MERGE_PATCH, call
from cockpit_backends.kubernetes.options import ORIGINAL_MIN_ANNOTATION, TierRef


@dataclass(frozen=True, slots=True)
class Owner:
    """Where one kind of replica owner keeps its floor."""

    kind: str
    group: str
    version: str
    plural: str
    floor: tuple[str, ...]  # the path of the minimum in the object
    ceiling: tuple[str, ...]  # the path of the maximum
    default_floor: int  # what the API takes when the minimum is unset
    default_ceiling: int  # ... and the maximum
    unbounded: int | None  # a maximum that means "no bound" (KServe's 0), None if every value bounds
    scales_deployment: bool  # whether the Deployment's scale subresource may be raised too (grow now)

    @property
    def field(self) -> str:
        return ".".join(self.floor[1:])  # "minReplicas", "predictor.minReplicas"


OWNERS: Mapping[str, Owner] = {
    "hpa": Owner(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        ("spec", "minReplicas"),
        ("spec", "maxReplicas"),
        1,
        0,  # required by the API: always set
        None,
        True,
    ),
    "scaled_object": Owner(
        "ScaledObject",
        "keda.sh",
        "v1alpha1",
        "scaledobjects",
        ("spec", "minReplicaCount"),
        ("spec", "maxReplicaCount"),
        0,
        100,
        None,
        True,  # KEDA's HPA keeps replicas at or above minReplicaCount: growing now is not undone
    ),
    "inference_service": Owner(
        "InferenceService",
        "serving.kserve.io",
        "v1beta1",
        "inferenceservices",
        ("spec", "predictor", "minReplicas"),
        ("spec", "predictor", "maxReplicas"),
        1,
        0,
        0,
        False,  # KServe's controller owns the predictor's Deployment (or Knative revision)
    ),
}


def owner_of(ref: TierRef) -> tuple[Owner, str] | None:
    """The tier's replica owner and its name, None when the Deployment owns its replicas itself."""
    for option, owner in OWNERS.items():
        name = getattr(ref, option)
        if name is not None:
            return owner, name
    return None


def _get(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        out = {key: out}
    return out


def _merge(into: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
    return into


def _whole(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def floor_patch(owner: Owner, obj: Mapping[str, Any], replicas: int) -> dict[str, Any] | None:
    """The merge patch that raises `obj`'s floor to `replicas`, None when it is there already."""
    low = _whole(_get(obj, owner.floor), owner.default_floor)
    if low >= replicas:
        return None
    patch = _nested(owner.floor, replicas)
    high = _whole(_get(obj, owner.ceiling), owner.default_ceiling)
    if high != owner.unbounded and high < replicas:
        _merge(patch, _nested(owner.ceiling, replicas))
    annotations = _get(obj, ("metadata", "annotations")) or {}
    if ORIGINAL_MIN_ANNOTATION not in annotations:
        patch["metadata"] = {"annotations": {ORIGINAL_MIN_ANNOTATION: str(low)}}
    return patch


async def raise_floor(custom: client.CustomObjectsApi, ref: TierRef, replicas: int, timeout: float) -> Owner | None:
    """Raise the floor on the tier's replica owner (read, then one merge patch if below). The owner, or None."""
    found = owner_of(ref)
    if found is None:
        return None
    owner, name = found
    what = f"{owner.kind} {ref.namespace}/{name}"
    args = (owner.group, owner.version, ref.namespace, owner.plural, name)
    obj = await call(f"read {what}", custom.get_namespaced_custom_object, *args, _request_timeout=timeout)
    patch = floor_patch(owner, obj, replicas)
    if patch is not None:
        await call(
            f"raise {owner.field} of {what} to {replicas}",
            custom.patch_namespaced_custom_object,
            *args,
            patch,
            _content_type=MERGE_PATCH,
            _request_timeout=timeout,
        )
    return owner
