"""Tiers, cache namespaces and the capacity model that ties them together."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import mul, sub

from cockpit.domain.exact import Total, changed_keys, finite


def old_tier_load(rps: Mapping[str, float], shares: Mapping[str, float]) -> float:
    """Requests per second on the old revision: each tenant's traffic not on the new one.

    Σ r·(1 − s) over the tenants of `rps`, correctly rounded (`math.fsum`: the float does not depend on
    the order of the tenants, so `OldTierLoad` can update it for a few tenants and get the same), looped
    in C."""
    return math.fsum(_old_terms(rps, shares, rps.keys()))


def _old_terms(rps: Mapping[str, float], shares: Mapping[str, float], names: Iterable[str]) -> Iterator[float]:
    names = list(names)
    return map(mul, map(rps.get, names, repeat(0.0)), map(sub, repeat(1.0), map(shares.get, names, repeat(0.0))))


class OldTierLoad:
    """`old_tier_load` across readings of the router's vector, for an engine.

    The same readings: the last value. New shares for the same rates (a stage moved some tenants): the
    tenants whose share changed are found once (`exact.changed_keys`, shared with the other readers of
    the same two readings) and the exact total updated for them alone, when one is kept. Otherwise it is
    summed afresh, in C. The exact total is made by `keep_exact` (an armed rollback: its stages change a
    few shares a tick) and dropped when the rates or the tenants change (a router that measures rates
    anew every tick gets the sum afresh each tick, as cheap as before)."""

    def __init__(self) -> None:
        self._rps: Mapping[str, float] | None = None
        self._shares: Mapping[str, float] | None = None
        self._value = 0.0
        self._sum: Total | None = None

    def __call__(self, rps: Mapping[str, float], shares: Mapping[str, float]) -> float:
        if shares is self._shares and rps is self._rps:
            return self._value
        moved = None
        if self._sum is not None and rps is self._rps and self._shares is not None:
            moved = changed_keys(self._shares, shares)
        if moved is not None and self._sum is not None and self._shares is not None:
            names = list(moved)
            terms = list(_old_terms(rps, shares, names))
            if finite(terms):  # each old term as it was summed, from the last reading
                self._sum.update(terms, list(_old_terms(rps, self._shares, names)))
                value = self._sum.value
            else:
                self._sum, value = None, old_tier_load(rps, shares)
        else:
            self._sum, value = None, old_tier_load(rps, shares)
        self._rps, self._shares, self._value = rps, shares, value
        return value

    def keep_exact(self, rps: Mapping[str, float], shares: Mapping[str, float], force: bool = False) -> None:
        """Make the exact total now, for these readings (O(tenants) in Python, once), so that the next
        readings with the same rates are updates. Made only when `force`d (arming) or for rates seen on
        the last call too (rates that change every tick would make it every tick, for nothing)."""
        stable = force or rps is self._rps
        self(rps, shares)
        if self._sum is None and stable:
            terms = list(_old_terms(rps, shares, rps.keys()))
            if finite(terms):
                self._sum = Total(terms)


@dataclass(frozen=True, slots=True)
class Tier:
    """One model tier as the autoscaler reports it.

    `per_replica_rps` is a replica's throughput with a warm prompt cache. A cold cache means every
    request pays the full prefill, so a replica serves less: at hit rate 0 it serves
    `cold_capacity_factor` of its warm throughput, rising linearly to 1 at `warm_hit_rate`.
    """

    name: str
    ready: int
    desired: int
    per_replica_rps: float
    cold_capacity_factor: float = 0.5
    warm_hit_rate: float = 0.8

    def cache_factor(self, hit_rate: float) -> float:
        if self.warm_hit_rate <= 0:
            return 1.0
        warmth = min(1.0, max(0.0, hit_rate / self.warm_hit_rate))
        return self.cold_capacity_factor + (1.0 - self.cold_capacity_factor) * warmth

    def capacity(self, hit_rate: float, replicas: int | None = None) -> float:
        """Requests per second the tier can serve at this cache hit rate."""
        n = self.ready if replicas is None else replicas
        return n * self.per_replica_rps * self.cache_factor(hit_rate)

    def replicas_for(self, load_rps: float, hit_rate: float, headroom: float) -> int:
        """Replicas needed to carry `load_rps` at no more than `headroom` utilisation."""
        per = self.per_replica_rps * self.cache_factor(hit_rate) * headroom
        if per <= 0:
            return 0
        return max(0, math.ceil(load_rps / per - 1e-9))
