"""`plugins check` for the router role: reads checked per tenant, and with --write, the write path proved
by moving two tenants one share step and back, read back independently, restored in any case."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from cockpit.contract import (
    SHARE_STEP,
    SHARE_TOLERANCE,
    WRITE_TENANTS,
    Check,
    Limits,
    Problem,
    _Checks,
    fraction_problems,
    rate_problems,
)
from cockpit.hookspecs import (
    ApplyResult,
    TrafficReading,
)


async def _read_traffic(c: _Checks) -> TrafficReading | None:
    r = await c.run("read_traffic", "read_traffic")
    if r is None:
        return None
    if not isinstance(r, TrafficReading):
        c.fail("read_traffic", [f"read_traffic returned {type(r).__name__}, not TrafficReading"])
        return None
    problems = fraction_problems(r.shares, "share")
    problems += rate_problems(r.rps, c.limits.max_rps)
    if not c.fail("read_traffic", problems):
        return None
    rates = "" if r.rps else " (no rates: the health backend must provide them)"
    uncovered = sorted(t for t in r.shares if t not in r.rps) if r.rps else []
    if uncovered:
        shown = ", ".join(uncovered[:5]) + (", …" if len(uncovered) > 5 else "")
        rates = f" (warning: rates cover {len(r.shares) - len(uncovered)} of {len(r.shares)} tenants; none for {shown})"
    c.ok("read_traffic", f"{len(r.shares)} tenants{rates}; {c.took}, event loop free")
    return r


def _moved(share: float, step: float) -> float:
    return round(share - step if share - step >= 0.0 else share + step, 9)


def _result_problems(res: Any, asked: Mapping[str, float]) -> list[str]:
    if not isinstance(res, ApplyResult):
        return [f"apply_shares returned {type(res).__name__}, not ApplyResult"]
    out = [
        f"apply_shares dropped tenant {t!r}: in neither applied nor failed"
        for t in asked
        if t not in res.applied and t not in res.failed
    ]
    out += [
        f"apply_shares reported tenant {t!r}, which it was not asked to set"
        for t in {**res.applied, **res.failed}
        if t not in asked
    ]
    out += [f"apply_shares could not set tenant {t!r}: {why}" for t, why in res.failed.items() if t in asked]
    return out


async def _apply_and_read_back(c: _Checks, moved: dict[str, float], rid: str) -> list[str]:
    try:
        res, took = await c.call("apply_shares", moved, rid)
        problems = _result_problems(res, moved)
        if not isinstance(res, ApplyResult):
            return problems
        back, _ = await c.call("read_traffic")
        for t, want in moved.items():
            got = back.shares.get(t)
            if t in res.applied and (got is None or abs(got - want) > SHARE_TOLERANCE):
                problems.append(
                    f"apply_shares claimed tenant {t!r} at {want:g}, but read_traffic reads {got!r}: not written"
                )
        again, _ = await c.call("apply_shares", moved, rid)
        if isinstance(again, ApplyResult) and dict(again.applied) != dict(res.applied):
            problems.append("apply_shares: the same request id twice gave a different result")
    except Problem as p:
        return [str(p)]
    c.took = took
    return problems


async def _restore(c: _Checks, original: dict[str, float]) -> None:
    try:
        await c.call("apply_shares", original, f"contract-restore-{uuid.uuid4().hex[:12]}")
        back, _ = await c.call("read_traffic")
        left = {
            t: back.shares.get(t)
            for t, s in original.items()
            if abs(back.shares.get(t, math.inf) - s) > SHARE_TOLERANCE
        }
    except Problem as p:
        c.fail("restore", [f"{p}; set {dict(original)} back by hand"])
        return
    problems = [
        f"could not restore tenant {t!r} to {original[t]:g} (reads {got!r}): set it back by hand"
        for t, got in left.items()
    ]
    if c.fail("restore", problems):
        c.ok("restore", f"{', '.join(original)} back at {', '.join(f'{s:g}' for s in original.values())}")


async def check_router(router: Any, *, write: bool = False, limits: Limits | None = None) -> list[Check]:
    """The router contract: a valid reading; with `write`, a move of up to two tenants by one share step,
    accounted for and read back, then restored."""
    c = _Checks("router", router, limits or Limits())
    r = await _read_traffic(c)
    if r is not None and c.limits.overflow:  # capabilities.overflow: the three-way split's methods too
        from cockpit.contract_overflow import check_overflow

        await check_overflow(c, sorted(r.shares), write)
    if r is None or not write:
        return c.results
    step = max(c.limits.share_step, SHARE_STEP)
    original = {t: float(s) for t, s in sorted(r.shares.items())[:WRITE_TENANTS]}
    if not original:
        c.ok("apply_shares", "no tenants to move: write path not exercised")
        return c.results
    moved = {t: _moved(s, step) for t, s in original.items()}
    try:
        problems = await _apply_and_read_back(c, moved, f"contract-{uuid.uuid4().hex[:12]}")
    finally:
        await _restore(c, original)
    name = f"apply_shares (moved {', '.join(original)} by {step:g} and back)"
    if c.fail(name, problems):
        c.ok(name, f"all accounted for, confirmed by read-back, idempotent per request id; {c.took}")
    # the restore check ran first (in `finally`): report it after the move it undoes
    c.results.sort(key=lambda k: k.name == "restore")
    return c.results


# Autoscaler, cache, provider -------------------------------------------------------------------
