"""Contract checks for backends: what `cockpit plugins check NAME` runs for each role a backend claims.

Read checks are safe against production. Write checks (`--write`) only re-apply what the backend
already reports (same shares, same replica floor, freeze then thaw a namespace the incident would
freeze anyway), so they prove the write path without moving traffic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cockpit.domain.revisions import is_pinned
from cockpit.hookspecs import (
    ApplyResult,
    BackendContext,
    NamespaceReading,
    TierReading,
    TrafficReading,
)
from cockpit.plugins import PluginHost


@dataclass(frozen=True, slots=True)
class Check:
    role: str
    name: str
    ok: bool
    detail: str = ""


class _Checks:
    def __init__(self, role: str, timeout_s: float) -> None:
        self.role = role
        self.timeout_s = timeout_s
        self.results: list[Check] = []

    async def run(self, name: str, fn: Callable[[], Awaitable[str | None]]) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                detail = await fn()
        except AssertionError as exc:
            self.results.append(Check(self.role, name, False, str(exc)))
            return False
        except TimeoutError:
            self.results.append(Check(self.role, name, False, f"timed out after {self.timeout_s:g} s"))
            return False
        except Exception as exc:
            self.results.append(Check(self.role, name, False, f"{type(exc).__name__}: {exc}"))
            return False
        self.results.append(Check(self.role, name, True, detail or ""))
        return True


async def _router(obj: Any, c: _Checks, write: bool) -> None:
    seen: dict[str, TrafficReading] = {}

    async def read() -> str:
        r = await obj.read_traffic()
        assert isinstance(r, TrafficReading), f"read_traffic returned {type(r).__name__}, not TrafficReading"
        bad = [t for t, s in r.shares.items() if not 0.0 <= s <= 1.0]
        assert not bad, f"shares outside [0, 1] for {bad[:3]}"
        assert all(v >= 0 for v in r.rps.values()), "negative request rate"
        seen["r"] = r
        return f"{len(r.shares)} tenants" + ("" if r.rps else " (no rates: the health backend must provide them)")

    if not await c.run("read_traffic", read) or not write:
        return
    current = dict(seen["r"].shares)
    rid = f"contract-{uuid.uuid4().hex[:12]}"

    async def apply_same() -> str:
        res = await obj.apply_shares(current, rid)
        assert isinstance(res, ApplyResult), "apply_shares must return ApplyResult"
        assert not res.failed, f"{len(res.failed)} tenants failed: {list(res.failed.items())[:3]}"
        again = await obj.apply_shares(current, rid)
        assert dict(again.applied) == dict(res.applied), "the same request id gave a different result"
        back = await obj.read_traffic()
        diff = [t for t, s in current.items() if abs(back.shares.get(t, -1) - s) > 1e-6]
        assert not diff, f"read-back differs for {diff[:3]}"
        return "idempotent, confirmed by read-back"

    await c.run("apply_shares (re-apply current, same request id twice)", apply_same)


async def _autoscaler(obj: Any, c: _Checks, write: bool, ctx: BackendContext) -> None:
    for tier in (ctx.tiers.get("old", "old"), ctx.tiers.get("new", "new")):
        seen: dict[str, TierReading] = {}

        async def read(tier: str = tier, seen: dict = seen) -> str:
            r = await obj.read_tier(tier)
            assert isinstance(r, TierReading), "read_tier must return TierReading"
            assert r.ready >= 0, "negative ready replicas"
            assert r.desired >= 0, "negative desired replicas"
            assert r.per_replica_rps > 0, "per_replica_rps must be positive"
            seen["r"] = r
            return f"ready {r.ready}, desired {r.desired}, {r.per_replica_rps:g} rps/replica"

        if await c.run(f"read_tier({tier})", read) and write:

            async def scale(tier: str = tier, seen: dict = seen) -> str:
                r = seen["r"]
                await obj.scale_tier(tier, r.desired, f"contract-{uuid.uuid4().hex[:12]}")
                back = await obj.read_tier(tier)
                assert back.desired >= r.desired, f"desired fell from {r.desired} to {back.desired}"
                return f"floor held at {r.desired}"

            await c.run(f"scale_tier({tier}, current)", scale)


async def _cache(obj: Any, c: _Checks, write: bool) -> None:
    seen: dict[str, list[NamespaceReading]] = {}

    async def read() -> str:
        ns = await obj.namespaces()
        assert all(isinstance(n, NamespaceReading) for n in ns), "namespaces must be NamespaceReading"
        assert all(0.0 <= n.hit_rate <= 1.0 for n in ns), "hit rate outside [0, 1]"
        seen["ns"] = ns
        return f"{len(ns)} namespaces"

    if not await c.run("namespaces", read) or not write or not seen["ns"]:
        return
    target = seen["ns"][0]

    async def freeze_thaw() -> str:
        await obj.freeze(target.name)
        frozen = {n.name: n.frozen for n in await obj.namespaces()}
        assert frozen.get(target.name), "freeze did not show in namespaces()"
        if not target.frozen:
            await obj.thaw(target.name)
            thawed = {n.name: n.frozen for n in await obj.namespaces()}
            assert not thawed.get(target.name), "thaw did not show in namespaces()"
        return target.name

    await c.run("freeze / thaw", freeze_thaw)


async def _provider(obj: Any, c: _Checks, alias: str) -> None:
    if not alias:
        c.results.append(Check("provider", "resolve", True, "no models.alias configured: nothing to resolve"))
        return

    async def resolve() -> str:
        rev = await obj.resolve(alias)
        assert isinstance(rev, str) and is_pinned(rev), f"{alias!r} resolved to {rev!r}, not a pinned revision"
        return f"{alias} -> {rev}"

    await c.run("resolve", resolve)


async def _health(obj: Any, c: _Checks) -> None:
    seen: dict[str, Any] = {}

    async def read() -> str:
        r = await obj.regressions()
        assert all(0.0 <= v <= 1.0 for v in r.values()), "severity outside [0, 1]"
        seen["r"] = r
        regressing = sum(1 for v in r.values() if v > 0)
        unknown = len(getattr(r, "unknown", {}))
        return f"{len(r)} read, {regressing} regressing" + (f", {unknown} unknown" if unknown else "")

    await c.run("regressions", read)
    # A backend that can say what each query returned per tenant (the prometheus backend) says it here.
    for name, ok, detail in obj.report() if hasattr(obj, "report") else ():
        c.results.append(Check("health", name, ok, detail))
    if hasattr(obj, "rates"):

        async def rates() -> str:
            r = await obj.rates()
            assert all(v >= 0 for v in r.values()), "negative request rate"
            tenants = set(seen.get("r", {})) | set(getattr(seen.get("r"), "unknown", {})) | set(r)
            unknown = {t: r.why_unknown(t) for t in sorted(tenants - set(r))} if hasattr(r, "why_unknown") else {}
            if unknown:
                sample = "; ".join(f"{t}: {why}" for t, why in list(unknown.items())[:5])
                return (
                    f"warning: partial coverage, {len(r)} of {len(tenants)} tenants have a rate; "
                    f"unknown (planned at a conservative estimate): {sample}"
                )
            return f"{len(r)} tenants, {sum(r.values()):,.1f} rps in all"

        await c.run("rates", rates)
    if hasattr(obj, "warmth"):

        async def warmth() -> str:
            w = await obj.warmth()
            assert all(0.0 <= v <= 1.0 for v in w.values()), "hit rate outside [0, 1]"
            bad = getattr(w, "unknown", {})
            shown = ", ".join(f"{k} {v:.0%}" for k, v in list(w.items())[:6]) or "nothing configured or returned"
            return shown + (f"; unknown: {'; '.join(f'{k}: {v}' for k, v in bad.items())}" if bad else "")

        await c.run("warmth", warmth)


async def check_backend(
    host: PluginHost,
    name: str,
    options: dict[str, Any],
    context: BackendContext,
    *,
    alias: str = "",
    write: bool = False,
    timeout_s: float = 10.0,
) -> list[Check]:
    """Run the contract checks for every role `name` claims. Never raises for a backend's failure."""
    spec = host.backends()[name]
    results: list[Check] = []
    for role in sorted(spec.roles):
        if role == "simulator":
            continue
        c = _Checks(role, timeout_s)
        try:
            obj = host.create(role, name, options, context)
        except Exception as exc:
            results.append(Check(role, "create", False, str(exc)))
            continue
        c.results.append(Check(role, "implements the role", True))
        if role == "router":
            await _router(obj, c, write)
        elif role == "autoscaler":
            await _autoscaler(obj, c, write, context)
        elif role == "cache":
            await _cache(obj, c, write)
        elif role == "provider":
            await _provider(obj, c, alias)
        elif role == "health":
            await _health(obj, c)
        results.extend(c.results)
    return results
