"""The fleet simulator: one deterministic, seeded model of a fleet that serves every backend role.

Time only moves when someone asks: every role call first brings the world up to the engine's clock,
in fixed ticks, so drills, tests and benchmarks run the same physics at any speed.

Physics, per tick of `dt` seconds:
- Tier capacity = ready replicas x per-replica rate x cache factor, where the cache factor falls
  linearly from 1 (at the warm hit rate) to `cold_capacity_factor` (at hit rate 0). Load above capacity
  is dropped.
- Replicas become ready `startup_s` (± a seeded per-replica jitter) after they are created. An HPA
  evaluates every `hpa_interval_s`: desired = max(floor, hpa_min, load at target utilisation), scaling
  down only after `scale_down_delay_s`. `scale_tier` raises the floor.
- Each cache namespace has the hit rate of the traffic it serves (`active`) and the warmth of the
  prefixes nobody currently sends (`idle`). Traffic that arrives brings idle warmth (diluting the active
  hit rate); traffic that leaves takes its warmth to idle. Active warmth rises per request served;
  idle warmth decays with the TTL unless the namespace is frozen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zlib
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, truediv
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec

from cockpit_backends.mock.overflow import OverflowSim
from cockpit_backends.mock.scenario import Event, Scenario, TierSpec, expanded_events

STATE_FORMAT = "cockpit-mock-world/1"


def _plain(obj: object) -> object:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot save {type(obj).__name__} in a state file")


EPS = 1e-9
DEFAULT_HPA_MAX = 1000  # the least the autoscaler allows when the scenario does not say


def _unit(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) from a seed and a key: no shared RNG state to keep in step."""
    key = f"{seed}:" + ":".join(map(str, parts))
    return zlib.crc32(key.encode()) / 2**32


def _units(seed: int, parts: tuple[object, ...], last: range) -> Iterator[float]:
    """`_unit(seed, *parts, i)` for each `i` of `last`, looped in C: the CRC of the common prefix taken
    once and carried on into each `i` (a CRC continued with more bytes is the CRC of the whole key)."""
    prefix = zlib.crc32(f"{seed}:{''.join(f'{p}:' for p in parts)}".encode())
    return map(truediv, map(zlib.crc32, map(str.encode, map(str, last)), repeat(prefix)), repeat(2**32))


@dataclass
class TierSim:
    name: str
    spec: TierSpec
    replicas: list[float]  # ready_at time of each replica
    next_ordinal: int
    floor: int = 0
    hpa_min: int = 0
    desired_since: float = 0.0
    last_hpa: float = -1e18
    load: float = 0.0
    served: float = 0.0

    _sorted: tuple[int, int, list[float]] | None = field(default=None, repr=False, compare=False)

    def ready(self, t: float) -> int:
        """Replicas ready at `t`: a binary search in their ready times, sorted again only when the replica
        set changed (every change adds or removes a replica, or creates one with a new ordinal)."""
        key = (len(self.replicas), self.next_ordinal)
        cached = self._sorted
        if cached is None or cached[:2] != key:
            cached = self._sorted = (*key, sorted(self.replicas))
        return bisect_right(cached[2], t + EPS)

    @property
    def desired(self) -> int:
        return len(self.replicas)

    def cache_factor(self, hit: float) -> float:
        hw = self.spec.warm_hit_rate
        warmth = min(1.0, max(0.0, hit / hw))
        f = self.spec.cold_capacity_factor
        return f + (1.0 - f) * warmth


@dataclass
class CacheSim:
    name: str
    tier: str
    revision: str
    generation: int
    warm_hit: float
    warm_requests: float
    ttl_s: float
    active: float  # hit rate of the traffic served now
    idle: float  # warmth of prefixes not being sent
    served_load: float = 0.0  # rps this namespace served last tick
    frozen: bool = False
    hits: float = 0.0
    misses: float = 0.0
    prefixes: int = 200
    warmed: int = 0

    @property
    def hit_rate(self) -> float:
        return self.active if self.served_load > EPS else self.idle

    def arriving(self, load: float) -> float:
        """The active hit rate if `load` were served now (arriving traffic dilutes it), without changing it."""
        prev = self.served_load
        if load > prev + EPS:
            return (self.active * prev + self.idle * (load - prev)) / load
        return self.active

    def step(self, load: float, total: float, dt: float) -> None:
        prev = self.served_load
        if load > prev + EPS:  # arriving traffic brings the idle warmth
            self.active = (self.active * prev + self.idle * (load - prev)) / load
        elif load < prev - EPS:  # leaving traffic takes its warmth to idle
            idle_prev = max(total - prev, 0.0)
            moved = prev - load
            self.idle = (self.idle * idle_prev + self.active * moved) / (idle_prev + moved)
        if load > EPS:
            self.active += (self.warm_hit - self.active) * (1.0 - math.exp(-load * dt / self.warm_requests))
            self.hits += load * dt * self.active
            self.misses += load * dt * (1.0 - self.active)
        if not self.frozen:
            self.idle *= math.exp(-dt / self.ttl_s)
        self.served_load = load


@dataclass
class Metrics:
    """Ground truth for the scorecard, counted from the regression onset."""

    onset: float | None = None
    wrong_answers: float = 0.0
    dropped: float = 0.0
    peak_old_util: float = 0.0
    min_old_hit: float = 1.0
    extra_cost: float = 0.0
    restored_at: float | None = None
    last_drop_at: float | None = None  # the last tick a request was dropped
    disturbed: set[str] = field(default_factory=set)
    history: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    # (t, old utilisation, old hit rate, old ready replicas, wrong answers so far), sampled every 10 s


class World:
    # A cache, not state (never saved): the last health reading while nothing it depends on changed.
    _regressions: tuple[tuple[int, int], float, Mapping[str, float]] | None = None  # (key, valid until, reading)
    _startups: dict[str, list[float]] | None = None  # each tier's start-up times by ordinal, drawn so far
    _ahead: tuple[str, int, list[float]] | None = None  # drawn off the engine's loop (draw_ahead), not kept yet

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.seed = sc.scenario.seed
        self.dt = sc.scenario.tick_s
        self.t = 0.0
        self.rps: dict[str, float] = {}
        self.cohort: dict[str, str] = {}
        self.share: dict[str, float] = {}
        for tn in sc.tenants:
            self.rps[tn.name] = tn.rps
            self.cohort[tn.name] = tn.cohort
            self.share[tn.name] = tn.share
        for c in sc.cohorts:
            for i in range(1, c.tenants + 1):
                name = f"{c.name}-{i:04d}"
                self.rps[name] = c.rps
                self.cohort[name] = c.name
                self.share[name] = c.share
        self.initial_share = dict(self.share)
        self.total_rps = sum(self.rps.values())
        self.new_load = sum(self.rps[t] * self.share[t] for t in self.rps)
        self.severity: dict[str, float] = {}  # true regression on the new revision
        # Bumped whenever a share or a severity changes, so readings can be reused while nothing moved.
        self.share_version = 0
        self.severity_version = 0
        self.regressed_since: dict[str, float] = {}
        self.regressed_new_load = 0.0
        self.tiers = {name: self._tier(name, spec) for name, spec in sc.tiers.items()}
        revisions = {"old": sc.models.old, "new": sc.models.new}
        self.caches = {}
        for name in ("old", "new"):
            cs = getattr(sc.caches, name)
            spec = getattr(sc.tiers, name)
            hit = cs.hit_rate if cs else spec.warm_hit_rate
            self.caches[name] = CacheSim(
                name=f"mock:{revisions[name]}:g1",
                tier=name,
                revision=revisions[name],
                generation=1,
                warm_hit=spec.warm_hit_rate,
                warm_requests=cs.warm_requests if cs else 20000.0,
                ttl_s=cs.ttl_s if cs else 1800.0,
                active=hit,
                idle=hit,
                prefixes=cs.prefixes if cs else 200,
            )
        self.alias_target = sc.models.new
        self.old_alias_target = sc.models.old
        self.events = expanded_events(sc)  # repeating events expanded, in order of time
        self.stall_fraction = 0.0  # the share of a scale-up that still starts during a stall
        self.crashes: dict[str, int] = {}  # crash events with a back-off, per tier (the back-off doubles)
        self.next_event = 0
        self.stall_until = -1.0
        self.router_errors_until = -1.0
        self.router_error_rate = 0.0
        self.initial_old_replicas = sc.tiers.old.replicas
        self.metrics = Metrics()
        self.overflow = OverflowSim.create(sc.overflow, sc.models.old) if sc.overflow is not None else None
        self.next_sample = 0.0
        self.requests_applied = 0
        self.scale_log: list[tuple[float, str, int]] = []  # every scale request (the clairvoyant replays them)
        self.log: list[tuple[float, str]] = []
        # prime the caches with the starting loads so the first tick does not look like a shift
        old_load = self.total_rps - self.new_load
        self.caches["old"].served_load = old_load
        self.caches["new"].served_load = self.new_load

    def _tier(self, name: str, spec: TierSpec) -> TierSim:
        hpa_min = spec.hpa_min if spec.hpa_min is not None else spec.replicas
        return TierSim(name, spec, [0.0] * spec.replicas, spec.replicas, floor=0, hpa_min=hpa_min)

    # Time ---------------------------------------------------------------------------------------
    def advance_to(self, t: float) -> None:
        while self.t + self.dt <= t + EPS:
            self._step(self.dt)

    def _step(self, dt: float) -> None:
        self.t += dt
        t = self.t
        while self.next_event < len(self.events) and self.events[self.next_event].at_s <= t + EPS:
            self._fire(self.events[self.next_event])
            self.next_event += 1
        old = self.tiers["old"]
        loads = {"old": max(self.total_rps - self.new_load, 0.0), "new": max(self.new_load, 0.0)}
        m = self.metrics
        if self.overflow is not None:  # the overflow tier takes its part of the old revision's traffic
            loads["old"] = self._overflow_step(loads["old"], dt)
        for name, tier in self.tiers.items():
            self._autoscale(tier, loads[name], t)
        util_old = 0.0
        for name, tier in self.tiers.items():
            cache = self.caches[name]
            load = loads[name]
            # capacity at the hit rate the arriving traffic brings; only what is served warms the cache
            capacity = tier.ready(t) * tier.spec.per_replica_rps * tier.cache_factor(cache.arriving(load))
            tier.load = load
            tier.served = min(load, capacity)
            over = max(0.0, load - capacity)
            cache.step(tier.served, self.total_rps, dt)
            if name == "old":
                util_old = load / capacity if capacity > EPS else (math.inf if load > EPS else 0.0)
            if m.onset is not None:
                m.dropped += over * dt
                if over > EPS:
                    m.last_drop_at = t
        if m.onset is not None:
            m.wrong_answers += self.regressed_new_load * dt
            m.peak_old_util = max(m.peak_old_util, util_old)
            if old.load > EPS:
                m.min_old_hit = min(m.min_old_hit, self.caches["old"].active)
            extra_replicas = max(0, old.desired - self.initial_old_replicas)
            m.extra_cost += extra_replicas * old.spec.replica_hour_cost * dt / 3600.0
            c = self.caches["old"]
            miss_gap = max(0.0, c.warm_hit - c.active)
            m.extra_cost += old.served * dt * self.sc.cost.request_cost * self.sc.cost.cached_discount * miss_gap
            if (
                m.restored_at is None
                and self.regressed_since
                and self.regressed_new_load <= EPS
                and all(self.share[x] <= EPS for x in self.regressed_since)
            ):
                m.restored_at = t
            if t >= self.next_sample - EPS:
                self.next_sample = t + 10.0
                m.history.append((t, util_old, self.caches["old"].hit_rate, float(old.ready(t)), m.wrong_answers))

    def _overflow_step(self, old_revision_load: float, dt: float) -> float:
        """Serve the overflow tier's part; returns what is left for the old tier. Requests over its rate
        limit are refused (dropped); what it charges counts as extra cost."""
        ov, m = self.overflow, self.metrics
        assert ov is not None
        sent = ov.load(self.rps, self.share)
        counting = m.onset is not None
        cost = ov.cost
        refused = ov.step(sent, dt, counting, self.sc.cost.cached_discount)
        if counting:
            m.dropped += refused * dt
            m.extra_cost += ov.cost - cost
        return max(old_revision_load - sent, 0.0)

    def _autoscale(self, tier: TierSim, load: float, t: float) -> None:
        if t < self.stall_until and self.stall_fraction <= 0.0:
            return
        if t - tier.last_hpa < tier.spec.hpa_interval_s - EPS:
            return
        tier.last_hpa = t
        spec = tier.spec
        per = spec.per_replica_rps * tier.cache_factor(self.caches[tier.name].active) * spec.hpa_target_utilisation
        want = math.ceil(load / per - 1e-9) if per > 0 else 0
        desired = min(self.hpa_max(spec), max(tier.floor, tier.hpa_min, want))
        current = tier.desired
        if desired > current:
            self._add_replicas(tier, desired - current, t)
            tier.desired_since = t
        elif desired < current:
            if t - tier.desired_since >= spec.scale_down_delay_s:
                self._remove_replicas(tier, current - desired, t)
                tier.desired_since = t
        else:
            tier.desired_since = t

    def _add_replicas(self, tier: TierSim, n: int, t: float, delay: float = 0.0) -> None:
        start = max(t + delay, self.stall_until)  # a stalled autoscaler accepts the request but starts nothing yet
        now = int(n * self.stall_fraction + EPS) if t < self.stall_until else 0  # a partial stall starts some
        startups = self.startups_of(tier, range(tier.next_ordinal, tier.next_ordinal + n))
        # the first `now` ready at t + delay + start-up, the rest at start + start-up
        tier.replicas.extend(map(add, repeat(t + delay), startups[:now]))
        tier.replicas.extend(map(add, repeat(start), startups[now:]))
        tier.next_ordinal += n

    def startup_of(self, tier: TierSim, ordinal: int) -> float:
        return self.startups_of(tier, range(ordinal, ordinal + 1))[0]

    def startups_of(self, tier: TierSim, ordinals: range) -> list[float]:
        """Each replica's start-up time, by ordinal (a seeded jitter around the spec's): drawn once and
        kept, since a pre-scale asks for thousands and the capacity bound for every replica the
        autoscaler could still create."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            self.take_startups(ahead)
        if self._startups is None:
            self._startups = {}
        drawn = self._startups.setdefault(tier.name, [])
        if ordinals.stop > len(drawn):
            drawn.extend(self._draw(tier, range(len(drawn), ordinals.stop)))
        return drawn[ordinals.start : ordinals.stop]

    def _draw(self, tier: TierSim, ordinals: range) -> list[float]:
        """The start-up times of these ordinals, worked out afresh (nothing of the world changes)."""
        units = _units(self.seed, ("startup", tier.name), ordinals)
        s, j = tier.spec.startup_s, tier.spec.startup_jitter_s  # max(0.0, s + (2u - 1)·j), without a call per draw
        return [x if (x := s + (2.0 * u - 1.0) * j) > 0.0 else 0.0 for u in units]

    def draw_ahead(self, tier_name: str) -> None:
        """Draw now, off the engine's loop (the declaration's hook, on a worker thread), the start-up times
        a pre-scale of the tier will soon ask for: worked out without changing anything the loop reads,
        and handed over in one assignment that the loop's next `startups_of` takes (the same numbers it
        would draw: the first stage tick then draws none)."""
        self._ahead = self.startups_ahead(tier_name)

    def startups_ahead(self, tier_name: str) -> tuple[str, int, list[float]] | None:
        """The start-up times of every replica the tier's autoscaler could still create and that are not
        drawn yet, worked out without changing the world, for `take_startups`."""
        tier = self.tiers.get(tier_name)
        if tier is None:
            return None
        start = len((self._startups or {}).get(tier_name, ()))
        stop = tier.next_ordinal + max(0, self.hpa_max(tier.spec) - tier.desired)
        return tier_name, start, self._draw(tier, range(start, max(start, stop)))

    def take_startups(self, ahead: tuple[str, int, list[float]]) -> None:
        """Keep start-up times `startups_ahead` drew (those still missing: the same numbers either way)."""
        name, start, times = ahead
        if self._startups is None:
            self._startups = {}
        drawn = self._startups.setdefault(name, [])
        if start <= len(drawn) < start + len(times):
            drawn.extend(times[len(drawn) - start :])

    @staticmethod
    def _remove_replicas(tier: TierSim, n: int, t: float) -> None:
        # not-ready replicas go first (the furthest from ready first), then the newest ready ones
        tier.replicas.sort(key=lambda r: (r <= t + EPS, -r))
        del tier.replicas[:n]

    def _fire(self, e: Event) -> None:
        t = self.t
        tenants = list(e.tenants) + ([x for x, c in self.cohort.items() if c == e.cohort] if e.cohort else [])
        if e.kind == "regression_start":
            if self.metrics.onset is None:
                self.metrics.onset = t
            for x in tenants:
                if x not in self.severity:
                    self.regressed_new_load += self.rps[x] * self.share[x]
                self.severity[x] = e.severity
                self.regressed_since.setdefault(x, t)
            self.severity_version += 1
        elif e.kind == "regression_end":
            self.severity_version += 1
            for x in tenants:
                if self.severity.pop(x, None) is not None:
                    self.regressed_new_load -= self.rps[x] * self.share[x]
        elif e.kind == "alias_rotate":
            if e.alias == "old":
                self.old_alias_target = e.to
            else:
                self.alias_target = e.to
        elif e.kind == "autoscaler_stall":
            self.stall_until = t + e.duration_s
            self.stall_fraction = e.fraction
        elif e.kind == "router_errors":
            self.router_errors_until = t + e.duration_s
            self.router_error_rate = e.rate
        elif e.kind == "replica_crash":
            # The pods die; their ReplicaSet keeps the desired count and starts replacements at once.
            self._crash(e, t)
        self.log.append((t, e.kind))

    def _crash(self, e: Event, t: float) -> None:
        """Up to `count` replicas of the tier die (ready ones, newest first; or still-starting ones with
        `starting`); the replacements start at once, or after a back-off doubling with each such crash."""
        tier = self.tiers[e.tier]
        if e.starting:
            victims = sorted((r for r in tier.replicas if r > t + EPS), reverse=True)[: e.count]
        else:
            victims = sorted((r for r in tier.replicas if r <= t + EPS), reverse=True)[: e.count]
        for r in victims:
            tier.replicas.remove(r)
        delay = 0.0
        if e.backoff_s > 0:
            n = self.crashes.get(e.tier, 0)
            self.crashes[e.tier] = n + 1
            delay = min(e.backoff_s * 2.0**n, 300.0)  # CrashLoopBackOff doubles up to five minutes
        self._add_replicas(tier, len(victims), t, delay)

    # Roles ------------------------------------------------------------------------------------
    def apply_shares(
        self, shares: Mapping[str, float], request_id: str, *, inject_errors: bool = True
    ) -> tuple[dict[str, float], dict[str, str]]:
        applied: dict[str, float] = {}
        failed: dict[str, str] = {}
        erroring = inject_errors and self.t < self.router_errors_until
        onset = self.metrics.onset
        # the loads summed in the same order as ever, in locals (a stage writes thousands of tenants)
        share, rps, severity, disturbed = self.share, self.rps, self.severity, self.metrics.disturbed
        new_load, regressed_load = self.new_load, self.regressed_new_load
        for x, s in shares.items():
            prev = share.get(x)
            if prev is None:
                failed[x] = "unknown tenant"
                continue
            if erroring and _unit(self.seed, "router", request_id, x) < self.router_error_rate:
                failed[x] = "router error (simulated)"
                continue
            delta = rps[x] * (s - prev)
            new_load += delta
            if x in severity:
                regressed_load += delta
            elif onset is not None and s < prev - EPS:
                disturbed.add(x)
            share[x] = s
            applied[x] = s
        self.new_load, self.regressed_new_load = new_load, regressed_load
        if applied:
            self.share_version += 1
        self.requests_applied += 1
        return applied, failed

    def metrics_card(self) -> dict[str, Any]:
        """The figures every scorecard of this world starts from (the drill's and a replay's)."""
        m = self.metrics
        return {
            "onset_s": m.onset,
            "restored_at_s": m.restored_at,
            "wrong_answers": m.wrong_answers,
            "dropped_requests": m.dropped,
            "peak_old_utilisation": m.peak_old_util,
            "min_old_hit_rate": m.min_old_hit if m.onset is not None else None,
            "extra_cost": m.extra_cost,
            "last_drop_at_s": m.last_drop_at,
            "disturbed_tenants": sorted(m.disturbed),
        }

    def hpa_max(self, spec: TierSpec) -> int:
        """The autoscaler's ceiling: as the scenario says, or by default enough for the whole fleet on
        this tier with a cold cache at the target utilisation, twice over, and never under 1,000 (so a
        generated fleet of any size can fail back, as a real team sizes its HPA for its own fleet)."""
        if spec.hpa_max is not None:
            return spec.hpa_max
        per = spec.per_replica_rps * spec.cold_capacity_factor * spec.hpa_target_utilisation
        fleet = math.ceil(self.total_rps / per) if per > 0 else 0
        return max(DEFAULT_HPA_MAX, 2 * fleet)

    def scale(self, tier: str, replicas: int) -> None:
        """Raise the tier's floor. Like patching a Deployment's scale, the desired count changes at once;
        the new replicas become ready after their start-up (after the stall, if the autoscaler is stalled)."""
        ts = self.tiers[tier]
        self.scale_log.append((self.t, tier, replicas))
        ts.floor = max(0, min(replicas, self.hpa_max(ts.spec)))
        if ts.floor > ts.desired:
            self._add_replicas(ts, ts.floor - ts.desired, self.t)
            ts.desired_since = self.t

    def regressions(self) -> Mapping[str, float]:
        """What a health check reports: each regressed tenant's severity once the detection delay has
        passed, with noise that changes every 10 s. The same (read-only) mapping is returned until
        one of those changes, so a reader can tell "nothing changed" without comparing every tenant."""
        delay = self.sc.health.detection_delay_s
        noise = self.sc.health.noise
        key = (self.severity_version, int(self.t // 10) if noise else 0)
        cached = self._regressions
        if cached is not None and cached[0] == key and self.t + EPS < cached[1]:
            return cached[2]
        out = {}
        next_detection = float("inf")
        for x, sev in self.severity.items():
            if self.t - self.regressed_since[x] + EPS < delay:
                next_detection = min(next_detection, self.regressed_since[x] + delay)
                continue
            if noise:
                sev = min(1.0, max(0.0, sev + (2 * _unit(self.seed, "noise", x, int(self.t // 10)) - 1) * noise))
            out[x] = sev
        reading = MappingProxyType(out)
        self._regressions = (key, next_detection - EPS, reading)
        return reading

    def warm(self, revision: str) -> tuple[bool, float]:
        """One warming request to `revision`: a cache read if the prefix it touches was still warm
        (probability: the namespace's idle warmth), and it refreshes one of the namespace's hot prefixes."""
        cache = next((c for c in self.caches.values() if c.revision == revision), None)
        cost = self.sc.cost.request_cost
        if cache is None:
            return False, cost
        cache.warmed += 1
        read = _unit(self.seed, "warm", cache.name, cache.warmed) < cache.idle
        cache.idle += (cache.warm_hit - cache.idle) / cache.prefixes
        cost = cost * (1.0 - self.sc.cost.cached_discount) if read else cost * 1.25  # a cache write costs more
        return read, cost

    # Scorecard support ----------------------------------------------------------------------------
    def failback_lower_bound(self, declared_at: float, scope: list[str]) -> float:
        """The capacity bound (limits.capacity_bound) from now, the declaration: seconds before the old tier
        could possibly hold the failback of every tenant regressed so far, by any strategy (`scope` is
        not needed: the bound is on the regressed tenants, whichever scope a strategy arms)."""
        from cockpit_backends.mock.limits import capacity_bound

        return capacity_bound(self)

    # Persistence (crash drills) -----------------------------------------------------------------
    # A data format, never pickle: loading a state file must not be able to run code.
    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"format": STATE_FORMAT}
        for k, v in self.__dict__.items():
            if k == "events" or k.startswith("_"):
                continue  # the scenario's, sorted: rebuilt from `sc`; caches are not state
            if k == "tiers":
                v = {
                    n: {k: x for k, x in dataclasses.asdict(t).items() if not k.startswith("_")}
                    | {"spec": msgspec.to_builtins(t.spec)}
                    for n, t in v.items()
                }
            elif k == "caches":
                v = {n: dataclasses.asdict(c) for n, c in v.items()}
            elif k == "overflow":
                v = v.to_state() if v is not None else None
            elif k == "metrics":
                v = {**dataclasses.asdict(v), "disturbed": sorted(v.disturbed)}
            elif k == "sc":
                v = msgspec.to_builtins(v)
            state[k] = v
        return state

    @classmethod
    def from_state(cls, state: Any) -> World:
        """Raises ValueError (or a msgspec error) on anything that is not a state this version wrote."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a state file of this version")
        world = cls(msgspec.convert(state["sc"], Scenario))
        for k, v in state.items():
            if k in ("format", "sc"):
                continue
            if k not in world.__dict__:
                raise ValueError(f"unknown field {k!r}")
            if k == "tiers":
                v = {n: TierSim(**{**t, "spec": msgspec.convert(t["spec"], TierSpec)}) for n, t in v.items()}
            elif k == "caches":
                v = {n: CacheSim(**c) for n, c in v.items()}
            elif k == "overflow" and v is not None:
                if world.sc.overflow is None:
                    raise ValueError("overflow state without an [overflow] tier")
                v = OverflowSim.from_state(world.sc.overflow, v)
            elif k == "metrics":
                v = Metrics(**{**v, "disturbed": set(v["disturbed"]), "history": [tuple(h) for h in v["history"]]})
            elif k == "log":
                v = [tuple(e) for e in v]
            setattr(world, k, v)
        return world

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            # inf survives as Infinity; read-only mappings (views handed to the engine) are written as objects
            f.write(json.dumps(self.to_state(), separators=(",", ":"), default=_plain).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @staticmethod
    def load(path: Path) -> World:
        with open(path, "rb") as f:
            return World.from_state(json.loads(f.read()))
