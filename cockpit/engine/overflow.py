"""The engine's part for the overflow tier (cockpit/domain/overflow.py): whether it is available and why
not, the router's overflow vector as last read, and each tick's placement, actuated like every other
change: intent (journaled, durable) → ``apply_overflow`` → read-back → ack.

It is available only when cockpit.toml enables ``[overflow]`` *and* the router declares
``capabilities.overflow`` and has ``read_overflow``/``apply_overflow``; otherwise it does nothing at all
(no call, no journal entry) and the snapshot says why, so a router that cannot split three ways works
exactly as before.

Order within a tick: the scheduler plans its stage counting the overflow's unused rate limit as ready
capacity (``FleetView.overflow_spare``); the overflow shares are then written *before* the new-revision
shares that need them, so failback never lands on the old tier first. After a crash an overflow intent
without an ack is acknowledged as superseded (``Actuator.reconcile``) and the placement is planned again
from what the router reads back, never from memory: a tenant is not moved back the wrong way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cockpit.config import Config
from cockpit.domain.fleet import old_tier_load
from cockpit.domain.overflow import OverflowTier, overflow_load, place
from cockpit.domain.rollback import RollbackScheduler
from cockpit.domain.staging import FleetView, max_safe_load
from cockpit.hookspecs import OverflowReading, TrafficReading

SHARE_TOLERANCE = 1e-6
log = logging.getLogger("cockpit.engine")
DRAIN_MARGIN = 0.05  # drain only below (1 - margin) of the old tier's safe load: no push-drain flapping
DRAIN_MIN_FRACTION = 0.05  # a drain moves at least this much of the usable rate limit (or all that is left)
FAILED_KEPT = 50


class OverflowControl:
    def __init__(self, config: Config) -> None:
        sec = config.file.overflow
        self.config = config
        self.tier = (
            OverflowTier(sec.rate_limit_rps, sec.price_per_1k, sec.cached_discount, sec.headroom)
            if sec.enabled
            else None
        )
        self.why_not: str | None = None if sec.enabled else "not configured"
        self.reading: OverflowReading | None = None
        self.shares: Mapping[str, float] = {}
        self.last: dict[str, float] = {}  # the last placement's figures (for the snapshot)
        self.backends: Any = None
        self.actuator: Any = None

    def bind(self, host: Any, backends: Any, actuator: Any) -> None:
        """Once the backends exist: is the router able to split three ways?"""
        self.backends, self.actuator = backends, actuator
        if self.tier is None:
            return
        name = backends.names["router"]
        if not host.capabilities(name).overflow:
            self.why_not = f"router {name!r} cannot split three ways (no capabilities.overflow): overflow unavailable"
        elif not (hasattr(backends.router, "read_overflow") and hasattr(backends.router, "apply_overflow")):
            self.why_not = f"router {name!r} declares capabilities.overflow but has no read_overflow/apply_overflow"

    @property
    def active(self) -> bool:
        return self.tier is not None and self.why_not is None

    @property
    def holding(self) -> bool:
        """Whether the overflow tier still carries some tenant's traffic (as last read)."""
        return self.active and any(s > SHARE_TOLERANCE for s in self.shares.values())

    # Each tick -------------------------------------------------------------------------------------
    async def observe(self) -> None:
        """Read the overflow vector (a failed read: nothing is placed this tick, the view counts none)."""
        if not self.active:
            return
        b = self.backends
        r = await b.call("router", _read_overflow(b.router), clears=False)
        if isinstance(r, LookupError):  # the router has no overflow tier behind it: unavailable, said once
            self.why_not = f"router {b.names['router']!r} has no overflow tier: {r}"
            self.reading, self.shares = None, {}
            log.warning("overflow tier unavailable: %s", self.why_not)  # shown on the screen and in the plan
            return
        if r is not None and not isinstance(r, OverflowReading):
            b.degrade("router", f"{b.names['router']}: read_overflow returned {type(r).__name__}, not OverflowReading")
            r = None
        self.reading = r
        if r is not None:
            self.shares = r.shares

    def load(self, rps: Mapping[str, float], shares: Mapping[str, float]) -> float:
        """Old-revision traffic on the overflow tier as last read (0 without one): not the old tier's."""
        if not self.active or self.reading is None:
            return 0.0
        return overflow_load(rps, shares, self.shares)

    def widen(self, view: FleetView) -> FleetView:
        """The scheduler's view with the overflow tier in it: the old tier's load without the traffic on
        the overflow, that traffic (it comes back to the old tier), and the rate limit still unused."""
        if not self.active or self.reading is None or self.tier is None:
            return view
        on = overflow_load(view.rps, view.shares, self.shares)
        spare = max(0.0, self.tier.usable_rps - on)
        return replace(view, old_load=max(0.0, view.old_load - on), overflow_load=on, overflow_spare=spare)

    async def place(
        self, rollback: RollbackScheduler, view: FleetView, effective: Mapping[str, float], now: float
    ) -> None:
        """Push onto the overflow what the old tier cannot take of this tick's shares (an armed rollback),
        or drain it back as the old tier's ready capacity allows; written before the shares."""
        tier = self.tier
        if not self.active or self.reading is None or tier is None:
            return
        push = rollback.armed
        if not push and not self.shares:
            return
        safe = max_safe_load(view.old_tier, view.old_hit_rate, view.old_load, rollback.policy.headroom)
        harm = view.harm
        order = sorted((t for t in rollback.scope if t in view.rps), key=lambda t: (-harm.get(t, 0.0), t))
        p = place(
            view.rps,
            effective,
            self.shares,
            old_revision_rps=old_tier_load(view.rps, effective),
            old_safe_rps=safe,
            usable_rps=tier.usable_rps,
            order=order,
            push=push,
            step=rollback.policy.min_move,
            drain_margin=DRAIN_MARGIN,
            min_drain_rps=DRAIN_MIN_FRACTION * tier.usable_rps,
        )
        self.last = {"overflow_rps": p.overflow_rps, "old_rps": p.old_rps, "safe_rps": safe}
        if p.changes:
            await self._actuate(p.changes, p.pushed_rps, p.drained_rps, now)

    async def _actuate(self, changes: dict[str, float], pushed: float, drained: float, now: float) -> None:
        b, a = self.backends, self.actuator
        act_id = a.intent(
            {"role": "overflow", "overflow": changes, "pushed_rps": round(pushed, 3), "drained_rps": round(drained, 3)},
            now,
        )
        a.check_guard()
        result = await b.call("router", b.router.apply_overflow(changes, act_id))
        back = await b.call("router", b.router.read_overflow(), clears=False)
        if isinstance(back, OverflowReading):
            self.reading, self.shares = back, back.shares
        seen = back.shares if isinstance(back, OverflowReading) else {}
        confirmed = {t: s for t, s in changes.items() if abs(seen.get(t, 0.0) - s) <= SHARE_TOLERANCE}
        failed = {
            t: (result.failed.get(t, "not confirmed by read-back") if result is not None else "router call failed")
            for t in changes
            if t not in confirmed
        }
        a.journal.append(
            "actuation_ack",
            {
                "id": act_id,
                "verified": not failed,
                "confirmed": len(confirmed),
                "overflow": confirmed,  # never "shares": readers of acks take those as new-revision shares
                "failed": dict(list(failed.items())[:FAILED_KEPT]),
                "failed_count": len(failed),
                "recovered": False,
            },
            now,
        )
        if failed:
            why = f"{len(failed)} of {len(changes)} overflow shares not applied"
            b.write_failed("router", f"{b.names['router']}: {why}")

    # The screen ------------------------------------------------------------------------------------
    def plan_note(self) -> str:
        """One line for a dry-run plan: whether the overflow tier is there to take the failback at once."""
        tier = self.tier
        if tier is None:
            return ""
        if not self.active:
            return f"overflow tier: {self.why_not}"
        return (
            f"overflow tier: available, rate limit {tier.rate_limit_rps:,.0f} rps at ${tier.price_per_1k:,.2f} per "
            "1,000 requests: the failback the old tier cannot take yet goes there at once (not in the stages above)"
        )

    def snapshot(self, traffic: TrafficReading | None) -> dict[str, Any]:
        """What a screen shows: availability (or why not), the load, rate limit and cost per hour."""
        if self.tier is None:
            return {}
        if not self.active:
            return {"available": False, "why_not": self.why_not}
        r = self.reading
        if r is None:
            return {"available": True, "load_rps": None, "rate_limit_rps": self.tier.rate_limit_rps}
        load = r.load_rps
        if load is None and traffic is not None:
            load = overflow_load(traffic.rps, traffic.shares, self.shares)
        hit = r.hit_rate
        return {
            "available": True,
            "load_rps": load,
            "rate_limit_rps": self.tier.rate_limit_rps,
            "tenants": sum(1 for s in self.shares.values() if s > SHARE_TOLERANCE),
            "hit_rate": hit,
            # priced at the measured hit rate; cold (no discount) when unknown
            "cost_per_hour": None if load is None else self.tier.cost_per_s(load, hit or 0.0) * 3600.0,
        }


async def _read_overflow(router: Any) -> Any:
    """``read_overflow()``, with exactly a LookupError returned rather than raised: the router's way of
    saying it has no overflow tier configured (not a failure to degrade it for, every tick)."""
    try:
        return await router.read_overflow()
    except LookupError as exc:
        if type(exc) is not LookupError:  # a KeyError is a bug to degrade the router for, not "no tier"
            raise
        return exc
