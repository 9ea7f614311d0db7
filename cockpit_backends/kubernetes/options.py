"""`[plugins.kubernetes]` options, validated strictly. Never imports the kubernetes client."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError
from cockpit_backends.kubernetes.freeze_options import FreezeRef, parse_freeze
from cockpit_backends.kubernetes.route_options import RouteRef, parse_route

P = "plugins.kubernetes"
PER_REPLICA_ANNOTATION = "cockpit.dev/per-replica-rps"
SUSPENDED_ANNOTATION = "cockpit.dev/suspended-by"
REQUEST_ID_ANNOTATION = "cockpit.dev/request-id"
ORIGINAL_MIN_ANNOTATION = "cockpit.dev/original-min-replicas"

_TOP = {"kubeconfig", "context", "in_cluster", "namespace", "request_timeout_s", "conflict_retries", "tiers"}
_TOP |= {"route", "freeze"}
_TIER = {"deployment", "hpa", "scaled_object", "inference_service", "per_replica_rps", "namespace"}
FLOOR_OWNERS = ("hpa", "scaled_object", "inference_service")  # who holds a tier's replica floor (floors.py)


@dataclass(frozen=True, slots=True)
class TierRef:
    deployment: str
    namespace: str
    hpa: str | None = None
    per_replica_rps: float | None = None
    scaled_object: str | None = None  # a KEDA ScaledObject: the floor is its minReplicaCount
    inference_service: str | None = None  # a KServe InferenceService: spec.predictor.minReplicas


@dataclass(frozen=True, slots=True)
class Options:
    kubeconfig: str | None
    context: str | None
    in_cluster: bool
    namespace: str
    request_timeout_s: float
    conflict_retries: int
    tiers: Mapping[str, TierRef]
    route: RouteRef | None
    freeze: FreezeRef | None


def _unknown(where: str, given: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise ConfigError(f"{where}: unknown option {extra[0]!r} (known: {', '.join(sorted(known))})")


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty name")
    return value.strip()


def _positive(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def _whole(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where}: expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def _kubeconfig(options: Mapping[str, Any], in_cluster: bool, config_dir: str) -> str | None:
    kubeconfig = options.get("kubeconfig")
    if kubeconfig is None:
        return None
    if in_cluster:
        raise ConfigError(f"{P}: set either kubeconfig or in_cluster = true, not both")
    path = Path(_name(f"{P}.kubeconfig", kubeconfig)).expanduser()
    if not path.is_absolute():
        path = Path(config_dir) / path
    if not path.is_file():
        raise ConfigError(f"{P}.kubeconfig: no file at {path}; point it at a kubeconfig or set in_cluster = true")
    return str(path)


def _tier(where: str, raw: Any, namespace: str) -> TierRef:
    t = _table(where, raw)
    _unknown(where, t, _TIER)
    rps = t.get("per_replica_rps")
    owners = {k: _name(f"{where}.{k}", t[k]) for k in FLOOR_OWNERS if t.get(k) is not None}
    if len(owners) > 1:
        owned = ", ".join(FLOOR_OWNERS)
        raise ConfigError(f"{where}: set one of {owned} (the one that owns the replicas), not several")
    return TierRef(
        deployment=_name(f"{where}.deployment", t.get("deployment")),
        namespace=_name(f"{where}.namespace", t.get("namespace", namespace)),
        per_replica_rps=None if rps is None else _positive(f"{where}.per_replica_rps", rps),
        **owners,
    )


def parse(options: Mapping[str, Any], config_dir: str) -> Options:
    _unknown(P, options, _TOP)
    in_cluster = options.get("in_cluster", False)
    if not isinstance(in_cluster, bool):
        raise ConfigError(f"{P}.in_cluster: expected true or false")
    kubeconfig = _kubeconfig(options, in_cluster, config_dir)
    context = options.get("context")
    context = None if context is None else _name(f"{P}.context", context)
    namespace = _name(f"{P}.namespace", options.get("namespace", "default"))
    retries = _whole(f"{P}.conflict_retries", options.get("conflict_retries", 5), 0, 50)
    return Options(
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        namespace=namespace,
        request_timeout_s=_positive(f"{P}.request_timeout_s", options.get("request_timeout_s", 5.0)),
        conflict_retries=retries,
        tiers={
            tier: _tier(f"{P}.tiers.{tier}", raw, namespace)
            for tier, raw in _table(f"{P}.tiers", options.get("tiers", {})).items()
        },
        route=parse_route(options["route"], namespace, _unknown) if "route" in options else None,
        freeze=parse_freeze(options["freeze"], namespace, retries) if "freeze" in options else None,
    )
