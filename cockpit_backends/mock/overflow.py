"""The simulated overflow tier (a scenario's ``[overflow]``): capacity beside the old tier serving the same
pinned old revision that needs no start-up (the provider's pay-per-token API), with a rate limit (requests
above it are refused, 429, and counted as dropped), a price per request and a cache of its own that starts
cold and warms under traffic like any namespace (a cache hit is cheaper).

The router's overflow vector says, per tenant, the part of its old-revision traffic sent here (see
``cockpit.hookspecs.OverflowReading``); the world takes this tier's load out of the old tier's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit_backends.mock.scenario import OverflowSpec

EPS = 1e-9


@dataclass
class OverflowSim:
    spec: OverflowSpec
    revision: str
    shares: dict[str, float] = field(default_factory=dict)  # tenant -> overflow share (only non-zero kept)
    active: float = 0.0  # hit rate of the traffic served now
    idle: float = 0.0  # warmth of prefixes nobody sends now
    served_load: float = 0.0  # rps served last tick
    requests: float = 0.0  # served since the regression onset
    rejected: float = 0.0  # refused by the rate limit since the onset (also counted as dropped)
    cost: float = 0.0  # what it charged since the onset
    peak_rps: float = 0.0  # the most it was sent, per second
    applied: int = 0  # apply_overflow calls (for tests)

    @classmethod
    def create(cls, spec: OverflowSpec, revision: str) -> OverflowSim:
        return cls(spec=spec, revision=revision, active=spec.hit_rate, idle=spec.hit_rate)

    def load(self, rps: Mapping[str, float], shares: Mapping[str, float]) -> float:
        """Requests per second sent here: Σ rps·(1 − new share)·overflow share."""
        return sum(rps[t] * (1.0 - shares[t]) * o for t, o in self.shares.items())

    def set(self, tenant: str, share: float) -> None:
        if share > EPS:
            self.shares[tenant] = share
        else:
            self.shares.pop(tenant, None)

    def step(self, load: float, dt: float, counting: bool, default_discount: float) -> float:
        """Serve `load` rps for `dt` seconds; returns the rps refused by the rate limit."""
        spec = self.spec
        served = min(load, spec.rate_limit_rps)
        over = load - served
        if served > self.served_load + EPS:  # arriving traffic brings the idle warmth
            self.active = (self.active * self.served_load + self.idle * (served - self.served_load)) / served
        elif served < self.served_load - EPS:
            self.idle = max(self.idle, self.active) if served <= EPS else self.idle
        if served > EPS:
            gap = spec.warm_hit_rate - self.active
            self.active += gap * (1.0 - math.exp(-served * dt / spec.warm_requests))
        self.idle *= math.exp(-dt / spec.ttl_s)
        self.served_load = served
        if counting:
            discount = spec.cached_discount if spec.cached_discount is not None else default_discount
            self.requests += served * dt
            self.rejected += over * dt
            self.cost += served * dt * spec.price_per_1k / 1000.0 * (1.0 - discount * self.active)
            self.peak_rps = max(self.peak_rps, load)
        return over

    def card(self) -> dict[str, Any]:
        """The overflow tier's figures for the scorecard."""
        return {
            "rate_limit_rps": self.spec.rate_limit_rps,
            "price_per_1k": self.spec.price_per_1k,
            "requests": self.requests,
            "rejected": self.rejected,
            "cost": self.cost,
            "peak_rps": self.peak_rps,
            "share_left": sum(self.shares.values()),
        }

    def to_state(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "spec"}

    @classmethod
    def from_state(cls, spec: OverflowSpec, state: Mapping[str, Any]) -> OverflowSim:
        return cls(spec=spec, **{**state, "shares": dict(state["shares"])})


def apply_overflow(world: Any, shares: Mapping[str, float], request_id: str) -> tuple[dict[str, float], dict[str, str]]:
    """The router's three-way split: set tenants' overflow shares (simulated router errors apply to it as
    to ``apply_shares``). Raises LookupError when the scenario has no overflow tier."""
    from cockpit_backends.mock.world import _unit

    ov = world.overflow
    if ov is None:
        raise LookupError("the scenario has no [overflow] tier")
    erroring = world.t < world.router_errors_until
    applied: dict[str, float] = {}
    failed: dict[str, str] = {}
    for t, s in shares.items():
        if t not in world.share:
            failed[t] = "unknown tenant"
        elif not 0.0 <= s <= 1.0:
            failed[t] = f"overflow share {s!r} is not between 0 and 1"
        elif erroring and _unit(world.seed, "overflow", request_id, t) < world.router_error_rate:
            failed[t] = "router error (simulated)"
        else:
            ov.set(t, float(s))
            applied[t] = float(s)
    ov.applied += 1
    return applied, failed
