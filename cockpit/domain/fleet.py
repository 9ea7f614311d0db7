"""Tiers, cache namespaces and the capacity model that ties them together."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import mul, sub


def old_tier_load(rps: Mapping[str, float], shares: Mapping[str, float]) -> float:
    """Requests per second on the old revision: each tenant's traffic not on the new one.

    Σ r·(1 − s) in the order of `rps`, written with `map` so the loop runs in C (the same operations in
    the same order as the plain generator, so the same float, a few times faster at 100,000 tenants)."""
    missing = repeat(0.0)
    return sum(map(mul, rps.values(), map(sub, repeat(1.0), map(shares.get, rps.keys(), missing))))


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
