"""The overflow tier: capacity beside the old tier that serves the same pinned old revision and need not
start (the provider's pay-per-token API, on-demand capacity), with its own rate limit, price and cache.

A router that can split three ways keeps, per tenant, an *overflow share*: the part of the tenant's
old-revision traffic the overflow tier serves (the rest of it goes to the old tier). It is independent of
the new-revision share, so the traffic layer's min(target, ceiling) is untouched: a tenant at new share n
and overflow share o sends n to the new tier, (1 - n)·o to the overflow tier and (1 - n)·(1 - o) to the
old tier.

Each tick, after the rollback scheduler lowered ceilings (counting the overflow's unused rate limit as
capacity available at once), `place` decides the overflow vector: push onto the overflow tier the
failback the old tier's ready capacity cannot carry within headroom (tenants in rollback order, up to the
rate limit), and drain it back to the old tier as its ready capacity allows. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class OverflowTier:
    """The overflow tier as the planner knows it: declared in configuration, never guessed."""

    rate_limit_rps: float  # the provider's quota: requests above it are refused (429)
    price_per_1k: float  # price of 1,000 uncached requests (what the screen and scorecard price)
    cached_discount: float = 0.0  # a cache hit costs (1 - cached_discount) of a miss
    headroom: float = 0.9  # the share of the rate limit the planner fills

    def __post_init__(self) -> None:
        if not self.rate_limit_rps > 0 or not 0.0 < self.headroom <= 1.0 or self.price_per_1k < 0:
            raise ValueError("overflow: rate_limit_rps must be positive, headroom in (0, 1], price not negative")

    @property
    def usable_rps(self) -> float:
        return self.rate_limit_rps * self.headroom

    def cost_per_s(self, load_rps: float, hit_rate: float = 0.0) -> float:
        """What serving `load_rps` costs per second at this cache hit rate."""
        return load_rps * self.price_per_1k / 1000.0 * (1.0 - self.cached_discount * min(1.0, max(0.0, hit_rate)))


def overflow_load(rps: Mapping[str, float], shares: Mapping[str, float], overflow: Mapping[str, float]) -> float:
    """Requests per second on the overflow tier: Σ rps·(1 − new share)·overflow share."""
    return sum(rps.get(t, 0.0) * (1.0 - shares.get(t, 0.0)) * o for t, o in overflow.items() if o > EPS)


@dataclass(frozen=True, slots=True)
class Placement:
    """One tick's overflow decision: the shares to change and the loads they lead to."""

    changes: dict[str, float]  # tenant -> new overflow share (only the ones that change)
    pushed_rps: float  # moved onto the overflow tier (failback the old tier cannot take yet)
    drained_rps: float  # moved back to the old tier
    overflow_rps: float  # overflow tier load after the changes
    old_rps: float  # old tier load after the changes


def place(
    rps: Mapping[str, float],
    shares: Mapping[str, float],
    overflow: Mapping[str, float],
    *,
    old_revision_rps: float,
    old_safe_rps: float,
    usable_rps: float,
    order: Iterable[str],
    push: bool,
    step: float = 0.01,
    drain_margin: float = 0.0,
    min_drain_rps: float = 0.0,
) -> Placement:
    """The overflow vector that keeps the old tier within `old_safe_rps`.

    `shares` are the new-revision shares the router is about to serve, `old_revision_rps` the traffic on
    the old revision at those shares (old tier and overflow together). With `push` (an armed rollback),
    what the old tier cannot take goes to the overflow tier, tenants in `order` (the rollback's), up to
    `usable_rps`; shares are rounded *up* to `step`, so the old tier never gets more than planned. Without
    anything to push, the overflow drains back into the old tier's spare capacity, the smallest overflow
    loads first (whole tenants leave the paid tier soonest), rounded so that no more moves than fits, and
    only below (1 - `drain_margin`) of the safe load, so a push and a drain do not take turns; a drain
    waits until it can move `min_drain_rps` (or all that is left), so it is not a trickle of actuations."""
    on_overflow = overflow_load(rps, shares, overflow)
    old = old_revision_rps - on_overflow
    changes: dict[str, float] = {}
    if push and old > old_safe_rps + EPS:
        excess = min(old - old_safe_rps, usable_rps - on_overflow)
        pushed = _push(rps, shares, overflow, order, excess, step, changes)
        return Placement(changes, pushed, 0.0, on_overflow + pushed, old - pushed)
    # a share left on a tenant with no old-revision traffic (back on the new revision) carries nothing: cleared
    changes.update(
        (t, 0.0) for t, o in overflow.items() if o > EPS and rps.get(t, 0.0) * (1.0 - shares.get(t, 0.0)) <= EPS
    )
    room = old_safe_rps * (1.0 - drain_margin) - old
    if on_overflow > EPS and room > EPS and room + EPS >= min(min_drain_rps, on_overflow):
        drained = _drain(rps, shares, overflow, room, step, changes)
        return Placement(changes, 0.0, drained, on_overflow - drained, old + drained)
    return Placement(changes, 0.0, 0.0, on_overflow, old)


def _push(
    rps: Mapping[str, float],
    shares: Mapping[str, float],
    overflow: Mapping[str, float],
    order: Iterable[str],
    excess: float,
    step: float,
    changes: dict[str, float],
) -> float:
    pushed = 0.0
    for t in order:
        if excess - pushed <= EPS:
            break
        demand = rps.get(t, 0.0) * (1.0 - shares.get(t, 0.0))
        o = overflow.get(t, 0.0)
        if demand <= EPS or o >= 1.0 - EPS:
            continue
        want = o + (excess - pushed) / demand
        new = min(1.0, math.ceil(want / step - 1e-9) * step) if want < 1.0 else 1.0
        new = round(new, 6)
        if new - o < EPS:
            continue
        changes[t] = new
        pushed += demand * (new - o)
    return pushed


def _drain(
    rps: Mapping[str, float],
    shares: Mapping[str, float],
    overflow: Mapping[str, float],
    budget: float,
    step: float,
    changes: dict[str, float],
) -> float:
    loads = {t: rps.get(t, 0.0) * (1.0 - shares.get(t, 0.0)) for t, o in overflow.items() if o > EPS}
    drained = 0.0
    for t in sorted(loads, key=lambda t: (loads[t] * overflow[t], t)):
        left = budget - drained
        if left <= EPS:
            break
        demand, o = loads[t], overflow[t]
        if demand <= EPS:  # no old-revision traffic left to carry: nothing moves when it is cleared
            changes[t] = 0.0
            continue
        new = max(0.0, math.ceil((o - left / demand) / step - 1e-9) * step) if demand * o > left else 0.0
        new = round(new, 6)
        if o - new < step - EPS and new > 0.0:
            continue
        changes[t] = new
        drained += demand * (o - new)
    return drained
