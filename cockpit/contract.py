"""Contract checks for backends: what `cockpit plugins check NAME` runs for each role a backend claims,
and what `cockpit.testing` hands a plugin's own tests.

Read checks are safe against production. Write checks (`--write`) prove the write path: the router
moves up to two tenants by one share step and back (``apply_shares`` must account for every tenant it
was asked about, and ``read_traffic`` must read the move back independently; the original shares are
restored whatever happens), the autoscaler re-applies its current floor, the cache freezes then thaws a
namespace the incident would freeze anyway.

Every call is timed and watched for blocking the event loop. The bounds, documented in
docs/writing-a-plugin.md:

- ``BLOCK_BOUND_S``: a call may hold the event loop at most this long (a synchronous HTTP client or
  ``time.sleep`` inside an ``async def`` freezes every screen and lease renewal while it runs);
- ``MAX_TENANT_RPS``: a per-tenant request rate above this is taken as the wrong unit (per minute);
- shares and severities are finite numbers in 0..1, keyed by tenant names (strings).

Each problem is one line (one failed `Check`) naming the method and the tenant.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.hookspecs import (
    BackendContext,
    NamespaceReading,
    TierReading,
)
from cockpit.plugins import PluginHost, raised_at, source_of

BLOCK_BOUND_S = 0.25  # longest a call may hold the event loop
MAX_TENANT_RPS = 20_000.0  # above this, a tenant's rate is taken as per-minute (or per-hour) figures
SHARE_STEP = 0.01  # how far `--write` moves a tenant (or the router's declared share_step, if larger)
SHARE_TOLERANCE = 1e-6  # as the engine's actuator: a read-back this close confirms a share
WRITE_TENANTS = 2  # how many tenants `--write` moves (two: a router that writes only the first is caught)


@dataclass(frozen=True, slots=True)
class Check:
    role: str
    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        """As `cockpit plugins check` prints it: ``FAIL  router     apply_shares: …``."""
        return f"{'PASS' if self.ok else 'FAIL'}  {self.role:<10} {self.name}" + (
            f": {self.detail}" if self.detail else ""
        )


class Problem(Exception):
    """A call went wrong: one sentence, already naming the method (and the tenant)."""


@dataclass
class Limits:
    timeout_s: float = 10.0
    block_bound_s: float = BLOCK_BOUND_S
    max_rps: float = MAX_TENANT_RPS
    threshold: float = 0.2  # [incident] regression_threshold: "regressing" is a severity at or above it
    share_step: float = SHARE_STEP
    overflow: bool = False  # the router declares capabilities.overflow: check read_overflow/apply_overflow


@dataclass
class _Checks:
    role: str
    obj: Any
    limits: Limits
    results: list[Check] = field(default_factory=list)
    took: str = ""  # the latency of the last call `run` made

    def ok(self, name: str, detail: str = "") -> None:
        self.results.append(Check(self.role, name, True, detail))

    def fail(self, name: str, problems: list[str]) -> bool:
        self.results.extend(Check(self.role, name, False, p) for p in problems)
        return not problems

    async def call(self, method: str, *args: Any) -> tuple[Any, str]:
        """`obj.method(*args)`, timed and watched: (its value, "12 ms"). Raises Problem for a plain
        `def`, an exception (with the plugin's file and line), a timeout or a blocked event loop."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        worst = 0.0

        async def probe() -> None:
            nonlocal last, worst
            while True:
                await asyncio.sleep(0.005)
                now = loop.time()
                worst, last = max(worst, now - last), now

        task = asyncio.create_task(probe())
        await asyncio.sleep(0)
        last = loop.time()
        start = time.perf_counter()
        try:
            value = await self._await(method, getattr(self.obj, method)(*args))
        except Problem:
            raise
        except Exception as exc:
            at = raised_at(exc, source_of(self.obj))
            raise Problem(f"{type(exc).__name__}: {exc}" + (f" (at {at})" if at else "")) from None
        finally:
            elapsed = time.perf_counter() - start
            worst = max(worst, loop.time() - last)
            task.cancel()
        if worst > self.limits.block_bound_s:
            raise Problem(
                f"{method} blocked the event loop for {worst:.2f} s (bound {self.limits.block_bound_s:g} s): a "
                "synchronous call (time.sleep, a blocking client) inside it stops the engine; await, or use "
                "asyncio.to_thread"
            )
        return value, f"{elapsed * 1000:.0f} ms"

    async def _await(self, method: str, result: Any) -> Any:
        if not inspect.isawaitable(result):
            raise Problem(
                f"{method} is a plain def; the {self.role} role requires async def {method}(...) "
                f"(it returned {type(result).__name__}, not an awaitable)"
            )
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                return await result
        except TimeoutError:
            raise Problem(f"{method} did not answer within {self.limits.timeout_s:g} s") from None

    async def run(self, name: str, method: str, *args: Any) -> Any:
        """Call `method` and record a failed check when the call itself goes wrong; None then."""
        try:
            value, took = await self.call(method, *args)
        except Problem as p:
            self.fail(name, [str(p)])
            return None
        self.took = took
        return value


# Values ----------------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping_problem(method: str, value: Any, what: str) -> list[str]:
    if isinstance(value, Mapping):
        return []
    return [f"{method} returned {type(value).__name__}; expected a Mapping[str, float] ({what}) or a SignalReading"]


def _key_problems(values: Mapping[Any, Any]) -> list[str]:
    return [
        f"tenant key {k!r} is {type(k).__name__}, not a string (tenant names are str)"
        for k in values
        if not isinstance(k, str)
    ]


def rate_problems(rates: Mapping[Any, Any], max_rps: float = MAX_TENANT_RPS) -> list[str]:
    """One line per tenant whose rate is not a finite, plausible requests-per-second figure."""
    out = _key_problems(rates)
    for t, v in rates.items():
        if not _number(v):
            out.append(f"rate for {t!r} is {v!r} ({type(v).__name__}), not a number")
        elif not math.isfinite(v):
            out.append(f"rate for {t!r} is {v} (not finite): report it as unknown instead")
        elif v < 0:
            out.append(f"rate for {t!r} is negative ({v:g} rps)")
        elif v > max_rps:
            out.append(
                f"rate for {t!r} is {v:,.0f} rps, above the bound of {max_rps:,.0f} per tenant "
                "(per-minute figures? rates are requests per second)"
            )
    return out


def fraction_problems(values: Mapping[Any, Any], what: str) -> list[str]:
    """One line per tenant whose `what` (share, severity) is not a finite number in 0..1."""
    out = _key_problems(values)
    for t, v in values.items():
        if not _number(v):
            out.append(f"{what} for {t!r} is {v!r} ({type(v).__name__}), not a number in 0..1")
        elif math.isnan(v):
            out.append(f"{what} for {t!r} is NaN: report the tenant as unknown (SignalReading) instead")
        elif not 0.0 <= v <= 1.0:
            hint = " (a percent? divide by 100)" if 1.0 < v <= 100.0 else ""
            out.append(f"{what} for {t!r} is {v:g}, outside 0..1{hint}")
    return out


# Router ----------------------------------------------------------------------------------------


async def _autoscaler(c: _Checks, write: bool, ctx: BackendContext) -> None:
    for tier in (ctx.tiers.get("old", "old"), ctx.tiers.get("new", "new")):
        r = await c.run(f"read_tier({tier})", "read_tier", tier)
        if r is None:
            continue
        if not isinstance(r, TierReading):
            c.fail(f"read_tier({tier})", [f"read_tier returned {type(r).__name__}, not TierReading"])
            continue
        problems = [f"read_tier({tier}): negative {k} replicas" for k in ("ready", "desired") if getattr(r, k) < 0]
        if not _number(r.per_replica_rps) or not r.per_replica_rps > 0 or not math.isfinite(r.per_replica_rps):
            problems.append(
                f"read_tier({tier}): per_replica_rps must be a positive finite number, not {r.per_replica_rps!r}"
            )
        if not c.fail(f"read_tier({tier})", problems):
            continue
        c.ok(f"read_tier({tier})", f"ready {r.ready}, desired {r.desired}, {r.per_replica_rps:g} rps/replica; {c.took}")
        if not write:
            continue
        name = f"scale_tier({tier}, current)"
        try:
            await c.call("scale_tier", tier, r.desired, f"contract-{uuid.uuid4().hex[:12]}")
            back, _ = await c.call("read_tier", tier)
            problems = [] if back.desired >= r.desired else [f"desired fell from {r.desired} to {back.desired}"]
        except Problem as p:
            problems = [str(p)]
        if c.fail(name, problems):
            c.ok(name, f"floor held at {r.desired}")


async def _cache(c: _Checks, write: bool) -> None:
    ns = await c.run("namespaces", "namespaces")
    if ns is None:
        return
    problems = [] if isinstance(ns, list) else [f"namespaces returned {type(ns).__name__}, not a list"]
    problems = problems or [
        f"namespaces: {n!r} is not a NamespaceReading" for n in ns if not isinstance(n, NamespaceReading)
    ]
    problems = problems or [
        f"namespaces: hit rate of {n.name!r} is {n.hit_rate!r}, outside 0..1"
        for n in ns
        if not 0.0 <= n.hit_rate <= 1.0
    ]
    if not c.fail("namespaces", problems):
        return
    c.ok("namespaces", f"{len(ns)} namespaces; {c.took}")
    if write and ns:
        await _freeze_thaw(c, ns[0])


async def _freeze_thaw(c: _Checks, target: NamespaceReading) -> None:
    try:
        await c.call("freeze", target.name)
        frozen = {n.name: n.frozen for n in (await c.call("namespaces"))[0]}
        problems = [] if frozen.get(target.name) else ["freeze did not show in namespaces()"]
        if not target.frozen and not problems:
            await c.call("thaw", target.name)
            thawed = {n.name: n.frozen for n in (await c.call("namespaces"))[0]}
            problems = ["thaw did not show in namespaces()"] if thawed.get(target.name) else []
    except Problem as p:
        problems = [str(p)]
    if c.fail("freeze / thaw", problems):
        c.ok("freeze / thaw", target.name)


# A role object, a backend ------------------------------------------------------------------------


async def check_role(
    role: str,
    obj: Any,
    context: BackendContext | None = None,
    *,
    alias: str = "",
    write: bool = False,
    limits: Limits | None = None,
) -> list[Check]:
    """The contract checks for one role object (what `plugins check` runs after creating it)."""
    limits = limits or Limits()
    if role == "router":
        from cockpit.contract_router import check_router

        return await check_router(obj, write=write, limits=limits)
    if role == "health":
        from cockpit.contract_health import check_health

        return await check_health(obj, limits=limits)
    c = _Checks(role, obj, limits)
    if role == "autoscaler":
        await _autoscaler(c, write, context or BackendContext(None, "."))
    elif role == "cache":
        await _cache(c, write)
    elif role == "provider":
        from cockpit.contract_provider import check_provider

        await check_provider(c, alias, context)
    return c.results


async def check_backend(
    host: PluginHost,
    name: str,
    options: dict[str, Any],
    context: BackendContext,
    *,
    alias: str = "",
    write: bool = False,
    timeout_s: float = 10.0,
    threshold: float = 0.2,
) -> list[Check]:
    """Run the contract checks for every role `name` claims. Never raises for a backend's failure."""
    spec = host.backends()[name]
    step = getattr(getattr(spec, "capabilities", None), "share_step", 0.0) or SHARE_STEP
    overflow = getattr(getattr(spec, "capabilities", None), "overflow", False) is True
    limits = Limits(timeout_s=timeout_s, threshold=threshold, share_step=step, overflow=overflow)
    results: list[Check] = []
    for role in sorted(spec.roles):
        if role == "simulator":
            continue
        try:
            obj = host.create(role, name, options, context)
        except Exception as exc:
            results.append(Check(role, "create", False, str(exc)))
            continue
        results.append(Check(role, "implements the role", True))
        results.extend(await check_role(role, obj, context, alias=alias, write=write, limits=limits))
    return results


def __getattr__(name: str) -> Any:
    """`check_router` and `check_health` live in contract_router and contract_health (which build on this
    module); importable from here too."""
    if name == "check_router":
        from cockpit.contract_router import check_router

        return check_router
    if name == "check_health":
        from cockpit.contract_health import check_health

        return check_health
    raise AttributeError(name)
