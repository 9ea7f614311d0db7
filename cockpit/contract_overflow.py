"""`plugins check` for a router that declares ``capabilities.overflow``: ``read_overflow`` gives a valid
reading (a router with no overflow tier behind it raises exactly ``LookupError``: said, not failed), and
with --write one tenant's overflow share is moved one share step and back, read back independently,
idempotent per request id, restored in any case."""

from __future__ import annotations

import math
import uuid
from typing import Any

from cockpit.contract import SHARE_STEP, SHARE_TOLERANCE, Problem, _Checks, fraction_problems
from cockpit.hookspecs import ApplyResult, OverflowReading


class _NoTier:
    """``read_overflow`` with the one exception that means "no overflow tier here" returned, not raised."""

    def __init__(self, router: Any) -> None:
        self.router = router

    async def read_overflow(self) -> Any:
        try:
            return await self.router.read_overflow()
        except LookupError as exc:
            if type(exc) is not LookupError:  # a KeyError is a bug, not "no tier"
                raise
            return exc


def _reading_problems(r: Any) -> list[str]:
    if not isinstance(r, OverflowReading):
        return [f"read_overflow returned {type(r).__name__}, not OverflowReading"]
    out = fraction_problems(r.shares, "overflow share")
    for name, v in (("load_rps", r.load_rps), ("hit_rate", r.hit_rate)):
        if v is not None and (not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
            out.append(f"read_overflow: {name} is {v!r}: a finite number at least 0, or None when unknown")
    if r.hit_rate is not None and isinstance(r.hit_rate, int | float) and r.hit_rate > 1:
        out.append(f"read_overflow: hit_rate is {r.hit_rate:g}, outside 0..1")
    return out


async def _read(c: _Checks) -> OverflowReading | None:
    router = c.obj
    c.obj = _NoTier(router)
    try:
        r, took = await c.call("read_overflow")
    except Problem as p:
        c.fail("read_overflow", [str(p)])
        return None
    finally:
        c.obj = router
    if isinstance(r, LookupError):
        c.ok("read_overflow", f"no overflow tier behind this router ({r}): the cockpit shows it unavailable")
        return None
    if not c.fail("read_overflow", _reading_problems(r)):
        return None
    c.ok("read_overflow", f"{sum(1 for s in r.shares.values() if s > 0)} tenants on the overflow tier; {took}")
    return r


async def check_overflow(c: _Checks, tenants: list[str], write: bool) -> None:
    """After the router's own checks: the overflow read, and with `write` one tenant moved and back."""
    r = await _read(c)
    if r is None or not write or not tenants:
        return
    t = tenants[0]
    step = max(c.limits.share_step, SHARE_STEP)
    before = float(r.shares.get(t, 0.0))
    moved = round(before - step if before - step >= 0.0 else before + step, 9)
    rid = f"contract-overflow-{uuid.uuid4().hex[:12]}"
    name = f"apply_overflow (moved {t} by {step:g} and back)"
    problems: list[str] = []
    try:
        res, took = await c.call("apply_overflow", {t: moved}, rid)
        back, _ = await c.call("read_overflow")
        if not isinstance(res, ApplyResult):
            problems.append(f"apply_overflow returned {type(res).__name__}, not ApplyResult")
        elif t in res.failed:
            problems.append(f"apply_overflow could not set tenant {t!r}: {res.failed[t]}")
        elif abs(back.shares.get(t, 0.0) - moved) > SHARE_TOLERANCE:
            got = back.shares.get(t, 0.0)
            problems.append(f"apply_overflow claimed {t!r} at {moved:g}, but read_overflow reads {got!r}: not written")
        again, _ = await c.call("apply_overflow", {t: moved}, rid)
        if isinstance(res, ApplyResult) and isinstance(again, ApplyResult) and dict(again.applied) != dict(res.applied):
            problems.append("apply_overflow: the same request id twice gave a different result")
    except Problem as p:
        problems.append(str(p))
    finally:
        try:
            await c.call("apply_overflow", {t: before}, f"contract-overflow-restore-{uuid.uuid4().hex[:12]}")
        except Problem as p:
            problems.append(f"{p}; set {t!r}'s overflow share back to {before:g} by hand")
    if c.fail(name, problems):
        c.ok(name, f"confirmed by read-back, idempotent per request id, restored; {took}")
