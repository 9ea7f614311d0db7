"""The router role: per-tenant weights on Gateway API HTTPRoutes (gateway.networking.k8s.io/v1).

The mapping (see docs/backends/kubernetes.md): each tenant has one rule in one of the configured
HTTPRoutes, matched by an exact header ``<tenant_header>: <tenant>``, with two backendRefs, the old
tier's Service and the new tier's. The tenant's share on the new revision is
``new weight / (old weight + new weight)`` (a backendRef without a weight weighs 1, the Gateway API
default; a rule whose weights are both 0 reads as share 0).

Writing is read-modify-write: a merge patch would replace the whole ``rules`` list (and with it any
concurrent change to another tenant's rule), so the route is read, the weights are changed in place,
and the whole object is PUT back carrying the ``resourceVersion`` it was read at. A 409 Conflict
means someone wrote in between: read again and redo, a bounded number of times. Then the route is
read back and only tenants whose weights read back as asked are reported applied.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit_backends.kubernetes.api import KubernetesError, call
from cockpit_backends.kubernetes.options import REQUEST_ID_ANNOTATION, Options, RouteRef

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
TOLERANCE = 1e-6


def _tenant_of(rule: Mapping[str, Any], header: str) -> str | None:
    for match in rule.get("matches") or ():
        for h in match.get("headers") or ():
            if str(h.get("name", "")).lower() == header and h.get("type", "Exact") == "Exact":
                return str(h.get("value", ""))
    return None


def _refs(rule: Mapping[str, Any], route: RouteRef) -> tuple[dict | None, dict | None]:
    old = new = None
    for ref in rule.get("backendRefs") or ():
        if ref.get("name") == route.old_backend:
            old = ref
        elif ref.get("name") == route.new_backend:
            new = ref
    return old, new


def _weight(ref: Mapping[str, Any] | None) -> int:
    if ref is None:
        return 0
    w = ref.get("weight", 1)
    return int(w) if isinstance(w, int) and w >= 0 else 0


def rule_share(rule: Mapping[str, Any], route: RouteRef) -> float:
    old, new = _refs(rule, route)
    wo, wn = _weight(old), _weight(new)
    return wn / (wo + wn) if wo + wn > 0 else 0.0


def shares_of(obj: Mapping[str, Any], route: RouteRef) -> dict[str, float]:
    out: dict[str, float] = {}
    for rule in (obj.get("spec") or {}).get("rules") or ():
        tenant = _tenant_of(rule, route.tenant_header)
        if tenant is not None and tenant not in out:
            out[tenant] = rule_share(rule, route)
    return out


class KubernetesRouter:
    def __init__(self, api: client.ApiClient, opts: Options) -> None:
        assert opts.route is not None
        self.route = opts.route
        self.custom = client.CustomObjectsApi(api)
        self.timeout = opts.request_timeout_s
        self.retries = opts.conflict_retries

    async def _get(self, name: str) -> dict[str, Any]:
        r = self.route
        return await call(
            f"read HTTPRoute {r.namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            r.namespace,
            PLURAL,
            name,
            _request_timeout=self.timeout,
        )

    async def read_traffic(self) -> TrafficReading:
        shares: dict[str, float] = {}
        for name in self.route.names:
            for tenant, share in shares_of(await self._get(name), self.route).items():
                shares.setdefault(tenant, share)
        # Routes do not count requests: the health backend provides the rates (TrafficReading.rps empty).
        return TrafficReading(shares=shares, rps={})

    def _edit(self, obj: dict[str, Any], wanted: Mapping[str, float], request_id: str) -> tuple[dict, dict, dict]:
        """Set the wanted tenants' weights in a copy of `obj`: (new object, tenants set, tenants failed)."""
        r = self.route
        new = copy.deepcopy(obj)
        done: dict[str, float] = {}
        failed: dict[str, str] = {}
        changed = False
        for rule in (new.get("spec") or {}).get("rules") or ():
            tenant = _tenant_of(rule, r.tenant_header)
            if tenant is None or tenant not in wanted or tenant in done or tenant in failed:
                continue
            old_ref, new_ref = _refs(rule, r)
            if old_ref is None or new_ref is None:
                missing = r.old_backend if old_ref is None else r.new_backend
                failed[tenant] = f"its HTTPRoute rule has no backendRef named {missing!r}"
                continue
            wn = round(wanted[tenant] * r.weight_total)
            wo = r.weight_total - wn
            if _weight(old_ref) != wo or _weight(new_ref) != wn or "weight" not in old_ref or "weight" not in new_ref:
                old_ref["weight"], new_ref["weight"] = wo, wn
                changed = True
            done[tenant] = wn / r.weight_total
        if changed:
            meta = new.setdefault("metadata", {})
            meta.setdefault("annotations", {})[REQUEST_ID_ANNOTATION] = request_id
        return (new if changed else obj), done, failed

    async def _apply_route(
        self, name: str, wanted: Mapping[str, float], request_id: str
    ) -> tuple[dict[str, float], dict[str, str]]:
        r = self.route
        for _attempt in range(self.retries + 1):
            obj = await self._get(name)
            new, done, failed = self._edit(obj, wanted, request_id)
            if new is obj:  # already as asked: nothing to write (idempotent)
                return done, failed
            try:
                await call(
                    f"replace HTTPRoute {r.namespace}/{name}",
                    self.custom.replace_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    r.namespace,
                    PLURAL,
                    name,
                    new,  # carries metadata.resourceVersion as read: a stale write gets 409
                    _headers={"Content-Type": "application/json"},  # the client names none for custom objects
                    _request_timeout=self.timeout,
                )
            except KubernetesError as exc:
                if exc.status == 409:
                    continue  # someone wrote in between: read again and redo
                raise
            # Verify by read-back: report only what the API server now holds.
            back = shares_of(await self._get(name), r)
            ok = {t: s for t, s in done.items() if abs(back.get(t, -1.0) - s) <= TOLERANCE}
            for t in done:
                if t not in ok:
                    failed[t] = "the HTTPRoute read back with a different weight"
            return ok, failed
        why = f"HTTPRoute {r.namespace}/{name} kept changing: {self.retries + 1} writes got 409 Conflict"
        return {}, {t: why for t in wanted if t in shares_of(obj, r)}

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        bad = {t: f"share {s!r} is outside [0, 1]" for t, s in shares.items() if not 0.0 <= s <= 1.0}
        remaining = {t: float(s) for t, s in shares.items() if t not in bad}
        applied: dict[str, float] = {}
        failed: dict[str, str] = dict(bad)
        errors: list[KubernetesError] = []
        for name in self.route.names:
            if not remaining:
                break
            try:
                ok, nope = await self._apply_route(name, remaining, request_id)
            except KubernetesError as exc:
                errors.append(exc)
                for t in remaining:
                    failed.setdefault(t, str(exc))
                continue
            applied.update(ok)
            failed.update(nope)
            remaining = {t: s for t, s in remaining.items() if t not in ok and t not in nope}
        for t in remaining:
            if t not in failed:
                failed[t] = f"no rule matches header {self.route.tenant_header}: {t} in the configured HTTPRoutes"
        if errors and not applied:
            raise errors[0]  # nothing moved: let the engine show the API server's answer
        # a tenant applied in one route is not failed because another route was unreachable
        return ApplyResult(applied=applied, failed={t: why for t, why in failed.items() if t not in applied})
