"""The router role: per-tenant weights on routing resources (Gateway API HTTPRoute by default; Envoy AI
Gateway AIGatewayRoute, Istio VirtualService or any resource described by path expressions).

The mapping (see docs/backends/kubernetes.md, route_options.py and paths.py): each tenant has one rule
in one of the configured objects, found by the ``tenant`` path (for an HTTPRoute, an exact header
``<tenant_header>: <tenant>``), with two destinations found by the ``backends`` path and named by
``backend_name``: the old tier's and the new tier's. The tenant's share on the new revision is
``new weight / (old weight + new weight)`` (a destination without a weight weighs 1, the Gateway API
default; a rule whose weights are both 0 reads as share 0).

Reading: the objects named in ``names``, one GET each, or with a label ``selector``, all of them with
one list call, whatever their number (an HTTPRoute holds 16 rules, an AIGatewayRoute 15: one object per
16 tenants).

Writing is read-modify-write: a merge patch would replace the whole list of rules (and with it any
concurrent change to another tenant's rule), so the object is read, the weights are changed in place,
and the whole object is PUT back carrying the ``resourceVersion`` it was read at. A 409 Conflict
means someone wrote in between: read again and redo, a bounded number of times. Then the object is
read back (with a selector: all of them, one list call) and only tenants whose weights read back as
asked are reported applied.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit_backends.kubernetes.api import KubernetesError, call
from cockpit_backends.kubernetes.options import REQUEST_ID_ANNOTATION, Options
from cockpit_backends.kubernetes.route_options import RouteRef

TOLERANCE = 1e-6


def _tenant_of(rule: Any, route: RouteRef) -> str | None:
    for value in route.tenant.find(rule):
        if isinstance(value, str):
            return value
    return None


def _refs(rule: Any, route: RouteRef) -> tuple[dict | None, dict | None]:
    old = new = None
    for ref in route.backends.find(rule):
        name = route.backend_name.first(ref)
        if name == route.old_backend and old is None:
            old = ref
        elif name == route.new_backend and new is None:
            new = ref
    return old, new


def _weight(ref: Any, route: RouteRef) -> int:
    if ref is None:
        return 0
    found = route.weight.find(ref)
    w = found[0] if found else 1  # unset: 1, the Gateway API default
    return int(w) if isinstance(w, int) and not isinstance(w, bool) and w >= 0 else 0


def rule_share(rule: Any, route: RouteRef) -> float:
    old, new = _refs(rule, route)
    wo, wn = _weight(old, route), _weight(new, route)
    return wn / (wo + wn) if wo + wn > 0 else 0.0


def shares_of(obj: Mapping[str, Any], route: RouteRef) -> dict[str, float]:
    out: dict[str, float] = {}
    for rule in route.rules.find(obj):
        tenant = _tenant_of(rule, route)
        if tenant is not None and tenant not in out:
            out[tenant] = rule_share(rule, route)
    return out


def _name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class KubernetesRouter:
    def __init__(self, api: client.ApiClient, opts: Options) -> None:
        assert opts.route is not None
        self.route = opts.route
        self.kind = opts.route.kind.name
        self.custom = client.CustomObjectsApi(api)
        self.timeout = opts.request_timeout_s
        self.retries = opts.conflict_retries

    def _args(self) -> tuple[str, str, str, str]:
        r = self.route
        return (r.group, r.version, r.namespace, r.kind.plural)

    async def _get(self, name: str) -> dict[str, Any]:
        return await call(
            f"read {self.kind} {self.route.namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            *self._args(),
            name,
            _request_timeout=self.timeout,
        )

    async def _list(self) -> list[dict[str, Any]]:
        """Every object the selector matches, in name order: one call."""
        r = self.route
        answer = await call(
            f"list {self.kind}s in {r.namespace} matching {r.selector!r}",
            self.custom.list_namespaced_custom_object,
            *self._args(),
            label_selector=r.selector,
            _request_timeout=self.timeout,
        )
        items = [o for o in answer.get("items") or [] if isinstance(o, dict)]
        return sorted(items, key=_name_of)

    async def _objects(self) -> list[dict[str, Any]]:
        if self.route.selector:
            return await self._list()
        return [await self._get(name) for name in self.route.names]

    async def read_traffic(self) -> TrafficReading:
        shares: dict[str, float] = {}
        for obj in await self._objects():
            for tenant, share in shares_of(obj, self.route).items():
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
        for rule in r.rules.find(new):
            tenant = _tenant_of(rule, r)
            if tenant is None or tenant not in wanted or tenant in done or tenant in failed:
                continue
            old_ref, new_ref = _refs(rule, r)
            if old_ref is None or new_ref is None:
                missing = r.old_backend if old_ref is None else r.new_backend
                failed[tenant] = f"its {self.kind} rule has no {r.kind.ref} named {missing!r}"
                continue
            wn = round(wanted[tenant] * r.weight_total)
            wo = r.weight_total - wn
            unset = not r.weight.has(old_ref) or not r.weight.has(new_ref)
            if _weight(old_ref, r) != wo or _weight(new_ref, r) != wn or unset:
                r.weight.put(old_ref, wo)
                r.weight.put(new_ref, wn)
                changed = True
            done[tenant] = wn / r.weight_total
        if changed:
            meta = new.setdefault("metadata", {})
            meta.setdefault("annotations", {})[REQUEST_ID_ANNOTATION] = request_id
        return (new if changed else obj), done, failed

    async def _write(
        self, name: str, wanted: Mapping[str, float], request_id: str, listed: dict[str, Any] | None = None
    ) -> tuple[dict[str, float], dict[str, str], bool]:
        """Read-modify-write one object (starting from `listed` when the list call just read it):
        (tenants set, tenants failed, whether it was written)."""
        r = self.route
        obj: dict[str, Any] = {}
        for attempt in range(self.retries + 1):
            obj = listed if attempt == 0 and listed is not None else await self._get(name)
            new, done, failed = self._edit(obj, wanted, request_id)
            if new is obj:  # already as asked: nothing to write (idempotent)
                return done, failed, False
            try:
                await call(
                    f"replace {self.kind} {r.namespace}/{name}",
                    self.custom.replace_namespaced_custom_object,
                    *self._args(),
                    name,
                    new,  # carries metadata.resourceVersion as read: a stale write gets 409
                    _headers={"Content-Type": "application/json"},  # the client names none for custom objects
                    _request_timeout=self.timeout,
                )
            except KubernetesError as exc:
                if exc.status == 409:
                    continue  # someone wrote in between: read again and redo
                raise
            return done, failed, True
        why = f"{self.kind} {r.namespace}/{name} kept changing: {self.retries + 1} writes got 409 Conflict"
        return {}, {t: why for t in wanted if t in shares_of(obj, r)}, False

    def _confirm(self, done: Mapping[str, float], back: Mapping[str, float], failed: dict[str, str]) -> dict:
        """Report only what the API server now holds."""
        ok = {t: s for t, s in done.items() if abs(back.get(t, -1.0) - s) <= TOLERANCE}
        for t in done:
            if t not in ok:
                failed[t] = f"the {self.kind} read back with a different weight"
        return ok

    async def _apply_named(
        self, remaining: dict[str, float], request_id: str, applied: dict, failed: dict, errors: list
    ) -> dict[str, float]:
        """One object after the other, in `names` order: read, write, read back."""
        for name in self.route.names:
            if not remaining:
                break
            try:
                done, nope, written = await self._write(name, remaining, request_id)
                if written:
                    done = self._confirm(done, shares_of(await self._get(name), self.route), nope)
            except KubernetesError as exc:
                errors.append(exc)
                for t in remaining:
                    failed.setdefault(t, str(exc))
                continue
            applied.update(done)
            failed.update(nope)
            remaining = {t: s for t, s in remaining.items() if t not in done and t not in nope}
        return remaining

    async def _apply_selected(
        self, remaining: dict[str, float], request_id: str, applied: dict, failed: dict, errors: list
    ) -> dict[str, float]:
        """One list call, a write for each object holding an asked tenant, one list call to read back."""
        try:
            objects = await self._list()
        except KubernetesError as exc:
            errors.append(exc)
            failed.update((t, str(exc)) for t in remaining if t not in failed)
            return {}
        said: dict[str, float] = {}
        for obj in objects:
            mine = {t: s for t, s in remaining.items() if t in shares_of(obj, self.route)}
            if not mine:
                continue
            try:
                done, nope, _written = await self._write(_name_of(obj), mine, request_id, listed=obj)
            except KubernetesError as exc:
                errors.append(exc)
                done, nope = {}, dict.fromkeys(mine, str(exc))
            said.update(done)
            failed.update(nope)
            remaining = {t: s for t, s in remaining.items() if t not in mine}
        if said:
            try:
                back = (await self.read_traffic()).shares
            except KubernetesError as exc:
                errors.append(exc)
                failed.update(dict.fromkeys(said, f"not confirmed: {exc}"))
                return remaining
            applied.update(self._confirm(said, back, failed))
        return remaining

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        bad = {t: f"share {s!r} is outside [0, 1]" for t, s in shares.items() if not 0.0 <= s <= 1.0}
        remaining = {t: float(s) for t, s in shares.items() if t not in bad}
        applied: dict[str, float] = {}
        failed: dict[str, str] = dict(bad)
        errors: list[KubernetesError] = []
        apply = self._apply_selected if self.route.selector else self._apply_named
        remaining = await apply(remaining, request_id, applied, failed, errors)
        where = (
            f"the {self.kind}s matching {self.route.selector!r}"
            if self.route.selector
            else f"the configured {self.kind}s"
        )
        for t in remaining:
            if t not in failed:
                failed[t] = f"no rule matches {self._match_word()}: {t} in {where}"
        if errors and not applied:
            raise errors[0]  # nothing moved: let the engine show the API server's answer
        # a tenant applied in one object is not failed because another object was unreachable
        return ApplyResult(applied=applied, failed={t: why for t, why in failed.items() if t not in applied})

    def _match_word(self) -> str:
        r = self.route
        return f"header {r.tenant_header}" if "{header}" in r.kind.tenant else f"{r.tenant.text!r}"
