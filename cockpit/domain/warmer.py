"""The cache warmer: keeps the rollback target's prompt cache warm during a rollout window.

It replays a representative sample of recent prompt prefixes against the *old* (rollback target)
revision at a fixed rate, so a failback does not shock-load a cold cache. A request only counts as a
success when the provider reports a cache read: a request that merely succeeds may have written the cache
(paid the write premium) without proving it is warm. Pure: the engine does the sending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class WarmerPolicy:
    rate_per_s: float = 1.0
    sample_size: int = 50
    burst_s: float = 10.0  # after a stall (a slow provider), catch up at most this much

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.sample_size < 1 or self.burst_s <= 0:
            raise ValueError("warmer rate, sample size and burst must be positive")


@dataclass
class Warmer:
    policy: WarmerPolicy = field(default_factory=WarmerPolicy)
    enabled: bool = False
    budget: float = 0.0
    last_t: float | None = None
    cursor: int = 0
    sent: int = 0
    reads: int = 0  # requests the provider reported as cache reads
    writes: int = 0
    failures: int = 0
    cost: float = 0.0

    def due(self, now: float) -> int:
        """How many requests to send now (a token bucket at `rate_per_s`)."""
        if not self.enabled:
            self.last_t = now
            return 0
        if self.last_t is None:
            self.last_t = now
        cap = self.policy.rate_per_s * self.policy.burst_s
        self.budget = min(cap, self.budget + max(0.0, now - self.last_t) * self.policy.rate_per_s)
        self.last_t = now
        n = math.floor(self.budget + 1e-9)
        self.budget -= n
        return n

    def pick(self, sample_len: int) -> int:
        """Round-robin over the sample: every prefix in it is refreshed in turn."""
        i = self.cursor % sample_len
        self.cursor += 1
        return i

    def record(self, cache_read_tokens: int | None, cache_write_tokens: int = 0, cost: float = 0.0) -> None:
        """A result from the provider, or None for a failed request."""
        self.sent += 1
        if cache_read_tokens is None:
            self.failures += 1
            return
        self.cost += cost
        if cache_read_tokens > 0:
            self.reads += 1
        elif cache_write_tokens > 0:
            self.writes += 1

    @property
    def read_rate(self) -> float | None:
        done = self.reads + self.writes
        return None if done == 0 else self.reads / done

    def snapshot(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "rate_per_s": self.policy.rate_per_s,
            "sent": self.sent,
            "reads": self.reads,
            "writes": self.writes,
            "failures": self.failures,
            "cost": round(self.cost, 4),
            "cursor": self.cursor,
        }

    def load(self, d: dict[str, Any]) -> None:
        self.enabled = d["enabled"]
        self.sent, self.reads, self.writes = d["sent"], d["reads"], d["writes"]
        self.failures, self.cost, self.cursor = d["failures"], d["cost"], d["cursor"]
