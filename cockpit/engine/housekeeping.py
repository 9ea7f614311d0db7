"""Work the engine does beside moving traffic, each on its own schedule: the cache warmer, cache
garbage collection (never while an incident is open), alias polling, the freeze of cache namespaces,
and the observations and metrics the journal keeps for the timeline and the evidence report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import Any

from cockpit.config import Config
from cockpit.domain.fleet import Tier
from cockpit.domain.incident import Incident
from cockpit.domain.warmer import Warmer
from cockpit.engine.backends import Backends
from cockpit.engine.freeze_watch import FreezeWatch
from cockpit.engine.journal import JournalLike
from cockpit.engine.observed import Observed
from cockpit.errors import CockpitError, ConfigError
from cockpit.hookspecs import PromptPrefix
from cockpit.plugins import PluginHost

METRICS_EVERY_S = 10.0
ALIAS_POLL_S = 60.0
CACHE_GC_EVERY_S = 600.0
NEVER = -1e18

log = logging.getLogger("cockpit.engine")


def old_tier(config: Config, observed: Observed) -> Tier | None:
    """The old tier as the capacity model sees it, from the latest reading."""
    reading = observed.old
    if reading is None:
        return None
    t = config.file.tiers
    return Tier(t.old, reading.ready, reading.desired, reading.per_replica_rps, t.cold_capacity_factor, t.warm_hit_rate)


@dataclass
class Housekeeping:
    config: Config
    backends: Backends
    journal: JournalLike
    host: PluginHost
    observed: Observed
    warmer: Warmer
    incident: Callable[[], Incident | None]
    changed: Callable[[], None]  # marks the engine's state for the next checkpoint
    alias_seen: dict[str, Any] = field(default_factory=dict)
    old_alias_seen: dict[str, Any] = field(default_factory=dict)  # [models] old_alias, when set
    last_alias_poll: float = NEVER
    last_metrics: float = NEVER
    last_gc: float = NEVER
    last_harm_set: frozenset[str] = frozenset()
    last_tiers: dict[str, tuple[int, int]] = field(default_factory=dict)
    prefixes: list[PromptPrefix] = field(default_factory=list)
    context: Any = None  # the engine's BackendContext, handed to the freeze re-assert hook
    freeze_watch: FreezeWatch | None = None
    _harm_seen: Mapping[str, float] | None = None
    _harm_sampled: tuple[Mapping[str, float], int] | None = None  # the reading a metrics entry carries, its seq

    async def run(self, now: float) -> None:
        await self.reassert_freeze(now)
        self.watch_freezes(now)
        await self.poll_alias(now)
        await self.collect_garbage(now)
        await self.warm(now)
        self.journal_observations(now)

    def _incident_open(self) -> bool:
        incident = self.incident()
        return incident is not None and incident.open

    # The freeze ------------------------------------------------------------------------------------
    async def freeze_caches(self, frozen: bool) -> None:
        """Freeze (no expiry, no GC) or thaw every cache namespace the store reports."""
        store = self.backends.cache
        for ns in self.observed.namespaces:
            call = store.freeze(ns.name) if frozen else store.thaw(ns.name)
            await self.backends.call("cache", call)

    async def reassert_freeze(self, now: float) -> None:
        """Desired state is re-asserted, as the router's vector is: while an incident is open, a
        namespace that reads back unfrozen (the cache store restarted, someone thawed it) is frozen
        again, and the journal says so. Only those namespaces are called: O(namespaces) reads, no writes
        on a quiet tick."""
        if not self._incident_open() or not hasattr(self.backends.cache, "freeze"):
            return
        thawed = [ns.name for ns in self.observed.namespaces if not ns.frozen]
        if not thawed:
            return
        for name in thawed:
            await self.backends.call("cache", self.backends.cache.freeze(name))
        log.warning("freeze re-asserted on %d cache namespace(s) that read back unfrozen", len(thawed))
        self.journal.append("freeze_reasserted", {"namespaces": thawed[:50], "count": len(thawed)}, now)

    def watch_freezes(self, now: float) -> None:
        """The plugins' freezes (CronJobs, Rollouts, flags…) re-asserted off the loop (freeze_watch.py)."""
        if self.freeze_watch is None:
            f = self.config.file
            self.freeze_watch = FreezeWatch(
                self.host,
                self.journal,
                self.backends,
                self.context,
                f.freeze.reassert_s,
                f.cockpit.backend_timeout_s,
                self.incident,
            )
        self.freeze_watch.poll(now)

    # The warmer ------------------------------------------------------------------------------------
    async def warm(self, now: float) -> None:
        """Replay sampled prompt prefixes against the rollback target at the warmer's rate."""
        n = self.warmer.due(now)
        if n == 0:
            return
        provider = self.backends.provider
        if not hasattr(provider, "warm"):
            self._stop_warmer(f"{self.backends.names['provider']} cannot warm", now)
            return
        if not self.prefixes:
            self.prefixes = await self._load_prefixes(now)
            if not self.prefixes:
                return
        revision = self.config.file.models.old
        for _ in range(n):
            prefix = self.prefixes[self.warmer.pick(len(self.prefixes))]
            r = await self.backends.call("provider", provider.warm(revision, prefix), clears=False)
            if r is None:
                self.warmer.record(None)
            else:
                self.warmer.record(r.cache_read_tokens, r.cache_write_tokens, r.cost)

    def _stop_warmer(self, reason: str, now: float) -> None:
        self.warmer.enabled = False
        log.warning("cache warmer stopped: %s", reason)
        self.journal.append("warmer_stopped", {"reason": reason}, now)

    async def _load_prefixes(self, now: float) -> list[PromptPrefix]:
        w = self.config.file.warmer
        try:
            if w.prefixes_file:
                path = Path(w.prefixes_file)
                path = path if path.is_absolute() else self.config.dir / path
                return load_prefixes(path)[: w.sample_size]
            store = self.backends.cache
            if hasattr(store, "sample_prefixes"):
                got = await self.backends.call(
                    "cache", store.sample_prefixes(self.config.file.tiers.old, w.sample_size)
                )
                return list(got or [])
        except CockpitError as exc:
            self._stop_warmer(str(exc), now)
            return []
        self._stop_warmer("no prefixes: set warmer.prefixes_file", now)
        return []

    # Cache GC --------------------------------------------------------------------------------------
    async def collect_garbage(self, now: float) -> None:
        """Cache GC on its own schedule, and never while an incident is open (the evidence stays)."""
        store = self.backends.cache
        if not hasattr(store, "gc") or self._incident_open() or now - self.last_gc < CACHE_GC_EVERY_S:
            return
        self.last_gc = now
        result = await self.backends.call("cache", store.gc())
        if result:
            collected = sorted(result) if isinstance(result, (list, tuple, set, frozenset)) else result
            self.journal.append("cache_gc", {"collected": collected}, now)

    # Alias drift -----------------------------------------------------------------------------------
    async def poll_alias(self, now: float) -> None:
        """Every ALIAS_POLL_S: resolve [models] alias (and old_alias, when set); a move is journaled
        (`alias_moved`) and raised to every plugin."""
        models = self.config.file.models
        if not (models.alias or models.old_alias) or now - self.last_alias_poll < ALIAS_POLL_S:
            return
        self.last_alias_poll = now
        if models.alias:
            self.alias_seen = await self._poll_one(models.alias, self.alias_seen, now)
        if models.old_alias:
            self.old_alias_seen = await self._poll_one(models.old_alias, self.old_alias_seen, now)

    async def _poll_one(self, alias: str, seen: dict[str, Any], now: float) -> dict[str, Any]:
        current = await self.backends.call("provider", self.backends.provider.resolve(alias))
        if current is None:
            return seen
        previous = seen.get("revision")
        if previous is None:
            self.journal.append("alias_resolved", {"alias": alias, "revision": current}, now)
            self.changed()
            return {"alias": alias, "revision": current, "since": now, "moved": False}
        if current == previous:
            return seen
        log.warning("alias %s moved: %s -> %s", alias, previous, current)
        self.journal.append(
            "alias_moved", {"alias": alias, "previous": previous, "current": current, "seen_at": now}, now
        )
        for f in self.host.alias_moved(alias, previous, current, now, self.backends.context):
            self.backends.plugin_error(f, now)
        self.changed()
        return {"alias": alias, "revision": current, "since": now, "moved": True, "previous": previous}

    # Observations and metrics ------------------------------------------------------------------------
    def journal_observations(self, now: float) -> None:
        self._health_changes(now)
        self._tier_changes(now)
        if now - self.last_metrics >= METRICS_EVERY_S and self.observed.old is not None:
            self.last_metrics = now
            sample = self._metrics_sample()
            seq = self.journal.append("metrics", sample, now)
            if "harm" in sample and seq:
                self._harm_sampled = (self.observed.harm, seq)

    def _health_changes(self, now: float) -> None:
        if self.observed.harm is self._harm_seen:
            return  # the same reading as last tick: nothing to compare
        self._harm_seen = self.observed.harm
        threshold = self.config.file.incident.regression_threshold
        harm_set = frozenset(t for t, h in self.observed.harm.items() if h >= threshold)
        if harm_set != self.last_harm_set:
            self.journal.append("health_changed", {"regressing": sorted(harm_set)}, now)
            self.last_harm_set = harm_set

    def _tier_changes(self, now: float) -> None:
        for name, reading in (("old", self.observed.old), ("new", self.observed.new)):
            if reading is None:
                continue
            key = (reading.ready, reading.desired)
            if self.last_tiers.get(name) != key:
                self.journal.append(
                    "tier_changed", {"tier": name, "ready": reading.ready, "desired": reading.desired}, now
                )
                self.last_tiers[name] = key

    def _metrics_sample(self) -> dict[str, Any]:
        obs = self.observed
        assert obs.old is not None
        hit = obs.old_hit()
        tier = old_tier(self.config, obs)
        cap = tier.capacity(hit) if tier else 0.0
        load = obs.old.load_rps
        sample: dict[str, Any] = {
            "old_ready": obs.old.ready,
            "old_desired": obs.old.desired,
            "old_hit": round(hit, 4),
            "old_capacity": round(cap, 2),
            "old_load": None if load is None else round(load, 2),
            "namespaces": {ns.name: round(ns.hit_rate, 4) for ns in obs.namespaces},
        }
        if self.warmer.sent:
            sample["warmer"] = self.warmer.snapshot()
        if self._incident_open():
            # The same health reading as an earlier sample (readings are immutable once observed): that
            # sample's seq instead of every tenant again (at 10,000 tenants 45 KB every 10 s otherwise).
            if self._harm_sampled is not None and self._harm_sampled[0] is obs.harm:
                sample["harm_as"] = self._harm_sampled[1]
            else:
                sample["harm"] = _rounded_positive(obs.harm)
        return sample


_ROUNDED: list[tuple[Mapping[str, float], dict[str, float]]] = []  # the last reading and its rounding


def _rounded_positive(harm: Mapping[str, float]) -> dict[str, float]:
    """{tenant: round(severity, 4)} for every tenant with a severity above 0, looped in C (a metrics
    sample of 25,000 regressing tenants every 10 s), and not again while the same reading comes back
    (readings are immutable once observed; the sample is only encoded, never changed)."""
    if _ROUNDED and _ROUNDED[0][0] is harm:
        return _ROUNDED[0][1]
    names, values = list(harm.keys()), list(harm.values())
    positive = list(map((0.0).__lt__, values))
    out = dict(zip(compress(names, positive), map(round, compress(values, positive), repeat(4)), strict=True))
    _ROUNDED[:] = [(harm, out)]
    return out


def load_prefixes(path: Path) -> list[PromptPrefix]:
    """Recorded prefixes, one JSON object a line: key, system, tools (list), settings (object), tenant."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the warmer's prefixes ({exc.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(
                PromptPrefix(
                    key=str(d["key"]),
                    system=str(d["system"]),
                    tools=tuple(d.get("tools", ())),
                    settings=dict(d.get("settings", {})),
                    tenant=str(d.get("tenant", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{n}: not a prefix record ({type(exc).__name__}: {exc})") from None
    return out
