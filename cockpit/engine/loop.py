"""The control loop: observe through the plugin host → step both schedulers → actuate only differences
→ journal. After a restart it resumes from the journal and reconciles against what the backends
report rather than trusting memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cockpit.config import Config
from cockpit.domain.baselines import GLOBAL_SCOPE_STRATEGIES, STRATEGIES
from cockpit.domain.composer import compose, differences
from cockpit.domain.fleet import Tier, old_tier_load
from cockpit.domain.incident import Incident
from cockpit.domain.planner import Plan, preview
from cockpit.domain.rollback import EPS, FleetView, Mode, RollbackScheduler, Stage
from cockpit.domain.rollout import RolloutScheduler
from cockpit.domain.warmer import Warmer, WarmerPolicy
from cockpit.engine.clock import Clock
from cockpit.engine.journal import Journal
from cockpit.errors import CockpitError, ConfigError, PluginError
from cockpit.hookspecs import (
    ROLES,
    BackendContext,
    NamespaceReading,
    PromptPrefix,
    TierReading,
    TrafficReading,
)
from cockpit.plugins import PluginHost

T = TypeVar("T")

SHARE_TOLERANCE = 1e-6
METRICS_EVERY_S = 10.0
ALIAS_POLL_S = 60.0
CACHE_GC_EVERY_S = 600.0
SCALE_RETRY_S = 15.0  # re-ask an autoscaler that has not taken our floor at most this often


class ReadOnlyError(CockpitError):
    """A mutating command reached an engine (or screen) that is read-only."""


class CommandError(CockpitError):
    """A command that cannot run in the current state (said in one sentence)."""


# Every command the engine accepts; all of them mutate. Read-only mode refuses each one, here.
COMMANDS = (
    "plugin-action",
    "warmer",
    "declare",
    "release",
    "arm",
    "advance",
    "pause",
    "resume",
    "mode",
    "prescale",
    "release-ceilings",
)


@dataclass
class Backends:
    names: dict[str, str]
    router: Any
    autoscaler: Any
    cache: Any
    provider: Any
    health: Any

    @classmethod
    def create(cls, config: Config, host: PluginHost, context: BackendContext) -> Backends:
        objs: dict[str, Any] = {}
        names: dict[str, str] = {}
        for role in ROLES:
            name = config.backend_for(role)
            names[role] = name
            try:
                objs[role] = host.create(role, name, config.options_for(name), context)
            except PluginError as exc:
                raise PluginError(f"{config.path}: backends.{role}: {exc}") from None
        return cls(names=names, **objs)


@dataclass
class Snapshot:
    """One consistent picture of the fleet and the engine, for screens and scripts."""

    now: float
    tick: int
    traffic: TrafficReading | None
    targets: Mapping[str, float]
    ceilings: Mapping[str, float]
    effective: Mapping[str, float]
    harm: Mapping[str, float]
    old_tier: TierReading | None
    new_tier: TierReading | None
    namespaces: list[NamespaceReading]
    incident: Incident | None
    rollback: dict[str, Any]
    hold: str | None
    degraded: dict[str, str]
    alias: dict[str, Any]
    last_stage: dict[str, Any] | None
    old_utilisation: float | None
    replicas_needed: int | None
    read_only: bool
    warmer: dict[str, Any] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)


@dataclass
class _Tick:
    changed: bool = False
    notes: list[str] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        config: Config,
        host: PluginHost,
        journal: Journal,
        clock: Clock,
        *,
        operator: str | None = None,
        read_only: bool = False,
        strategy: str = "cockpit",
        context_extra: Mapping[str, Any] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise CommandError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        self.config = config
        self.host = host
        self.journal = journal
        self.clock = clock
        self.operator = operator or config.operator
        self.read_only = read_only
        self.strategy = strategy
        self.context = BackendContext(
            clock=clock,
            config_dir=str(config.dir),
            tiers={"old": config.file.tiers.old, "new": config.file.tiers.new},
        )
        self.backends: Backends | None = None
        self.actions: dict[str, Any] = {}  # plugin actions (PluginAction) by id
        # Called right before every backend write; raises (e.g. FencedError) when this engine must not act.
        self.actuation_guard: Callable[[], None] | None = None
        self.request_prefix = ""  # e.g. "e3-": the fencing epoch in every request id sent to a backend
        self.rollout: RolloutScheduler | None = None
        self.rollback: RollbackScheduler = STRATEGIES[strategy](policy=config.rollback, mode=config.mode)
        self.rollback.strategy = strategy
        self.incident: Incident | None = None
        w = config.file.warmer
        self.warmer = Warmer(WarmerPolicy(w.rate_per_s, w.sample_size), enabled=w.enabled)
        self._prefixes: list[PromptPrefix] = []
        self.incident_count = 0
        self.actuations = 0
        self.ticks = 0
        self.degraded: dict[str, str] = {}
        self.alerts: list[str] = []  # recent plugin failures, for the screen
        self.alias_seen: dict[str, Any] = {}
        self.last_alias_poll = -1e18
        self.last_metrics = -1e18
        self.last_gc = -1e18
        self.last_harm_set: frozenset[str] = frozenset()
        self.last_tiers: dict[str, tuple[int, int]] = {}
        self.last_stage: dict[str, Any] | None = None
        self.pending_intents: list[dict[str, Any]] = []
        self.snapshot: Snapshot | None = None
        self._traffic: TrafficReading | None = None
        self._harm: Mapping[str, float] = {}
        self._old: TierReading | None = None
        self._new: TierReading | None = None
        self._namespaces: list[NamespaceReading] = []
        self._lock = asyncio.Lock()
        self._last_scale: tuple[int, float] | None = None
        self._write_failures: set[str] = set()
        self._dirty = False
        self.resumed = False

    @property
    def lock(self) -> asyncio.Lock:
        """Held by every tick and command: a server that journals around them takes it too."""
        return self._lock

    # Start-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the backends and restore state from the journal. Raises CockpitError on bad input."""
        self.backends = Backends.create(self.config, self.host, self.context)
        for f in self.host.notify("cockpit_configure", plugins=self.config.file.plugins, context=self.context):
            if f.error.startswith("ConfigError: "):
                raise ConfigError(f.error.removeprefix("ConfigError: "))
        self.actions = {a.id: a for a in self.host.actions(self.context)}
        self._restore()

    def _restore(self) -> None:
        cp = self.journal.last("checkpoint")
        if cp is None:
            self.journal.append(
                "engine_started",
                {"strategy": self.strategy, "config": str(self.config.path)},
                self.clock.now(),
                self.operator,
            )
            return
        d = cp.data
        self.rollout = RolloutScheduler.restore(d["rollout"]) if d.get("rollout") else None
        if d["rollback"]["strategy"] in STRATEGIES and d["rollback"]["strategy"] != self.strategy:
            self.strategy = d["rollback"]["strategy"]
            self.rollback = STRATEGIES[self.strategy](policy=self.config.rollback)
        self.rollback.load_snapshot(d["rollback"])
        self.incident = Incident.from_dict(d["incident"]) if d.get("incident") else None
        self.incident_count = d.get("incident_count", 0)
        self.actuations = d.get("actuations", 0)
        self.alias_seen = d.get("alias_seen", {})
        self.last_stage = d.get("last_stage")
        if d.get("warmer"):
            self.warmer.load(d["warmer"])
        acked = {e.data["id"] for e in self.journal.entries(kinds=("actuation_ack",))}
        self.pending_intents = [
            e.data for e in self.journal.entries(kinds=("actuation",), since_seq=0) if e.data["id"] not in acked
        ]
        for intent in self.pending_intents:
            if intent.get("stage"):
                self.rollback.adopt(_stage_from(intent["stage"]))
        self.resumed = True
        self.journal.append(
            "engine_resumed",
            {
                "from_checkpoint": cp.seq,
                "stage": self.rollback.stage,
                "pending_actuations": [i["id"] for i in self.pending_intents],
            },
            self.clock.now(),
            self.operator,
        )

    def _checkpoint(self) -> None:
        self.journal.append(
            "checkpoint",
            {
                "rollout": self.rollout.snapshot() if self.rollout else None,
                "rollback": self.rollback.snapshot(),
                "incident": self.incident.to_dict() if self.incident else None,
                "incident_count": self.incident_count,
                "actuations": self.actuations,
                "alias_seen": self.alias_seen,
                "last_stage": self.last_stage,
                "warmer": self.warmer.snapshot(),
            },
            self.clock.now(),
        )
        self._dirty = False

    # Backend calls ---------------------------------------------------------------------------------
    async def _call(self, role: str, what: Awaitable[T], *, clears: bool = True) -> T | None:
        """Call a backend with the configured timeout. A failure marks the role degraded (journaled
        once, shown on screen) and returns None; it never propagates into the loop."""
        name = self.backends.names[role] if self.backends else role
        try:
            async with asyncio.timeout(self.config.file.cockpit.backend_timeout_s):
                result = await what
        except TimeoutError:
            self._degrade(role, f"{name}: timed out after {self.config.file.cockpit.backend_timeout_s:g} s")
            return None
        except Exception as exc:
            self._degrade(role, f"{name}: {type(exc).__name__}: {exc}")
            return None
        if clears:
            self._recover(role)
        return result

    def _recover(self, role: str, write: bool = False) -> None:
        """A successful read clears a read failure; only a confirmed write clears a write failure."""
        if role in self.degraded and (write or role not in self._write_failures):
            del self.degraded[role]
            self._write_failures.discard(role)
            name = self.backends.names[role] if self.backends else role
            self.journal.append("backend_recovered", {"role": role, "backend": name}, self.clock.now())

    def _plugin_error(self, f: Any, now: float) -> None:
        self.journal.append("plugin_error", {"plugin": f.plugin, "hook": f.where, "error": f.error}, now)
        self.alerts = [*self.alerts[-4:], f"{f.plugin} ({f.where}): {f.error}"]

    def _degrade(self, role: str, message: str) -> None:
        if self.degraded.get(role) != message:
            self.degraded[role] = message
            self.journal.append("backend_degraded", {"role": role, "error": message}, self.clock.now())

    # The tick --------------------------------------------------------------------------------------
    async def tick(self) -> Snapshot:
        async with self._lock:
            self.journal.begin()
            try:
                snap = await self._tick()
            finally:
                self.journal.commit()
            self.snapshot = snap
            return snap

    async def _tick(self) -> Snapshot:
        assert self.backends is not None, "Engine.start() first"
        b = self.backends
        now = self.clock.now()
        self.ticks += 1
        traffic = await self._call("router", b.router.read_traffic())
        old = await self._call("autoscaler", b.autoscaler.read_tier(self.config.file.tiers.old))
        new = await self._call("autoscaler", b.autoscaler.read_tier(self.config.file.tiers.new))
        namespaces = await self._call("cache", b.cache.namespaces())
        harm = await self._call("health", b.health.regressions())
        if traffic is not None and not traffic.rps and hasattr(b.health, "rates"):
            rates = await self._call("health", b.health.rates())
            traffic = None if rates is None else TrafficReading(traffic.shares, rates, traffic.cohorts)
        if traffic is not None:
            self._traffic = traffic
        if old is not None:
            self._old = old
        if new is not None:
            self._new = new
        if namespaces is not None:
            self._namespaces = namespaces
        if harm is not None:
            self._harm = harm
        await self._poll_alias(now)
        await self._collect_garbage(now)
        await self._warm(now)
        self._journal_observations(now)
        if traffic is None:  # nothing can move without knowing where traffic is
            return self._snap(now, hold="router unreachable: holding")
        if self.pending_intents:
            await self._reconcile_pending(traffic)
            traffic = self._traffic
        # Rollout (calendar): adopt the fleet on first sight, then step unless frozen.
        if self.rollout is None:
            self.rollout = RolloutScheduler.from_observed(self.config.rollout, traffic.shares, now)
            self.journal.append(
                "fleet_adopted",
                {
                    "shares": dict(traffic.shares),
                    "rps": dict(traffic.rps),
                    "cohorts": dict(traffic.cohorts),
                    "old": self.config.file.models.old,
                    "new": self.config.file.models.new,
                },
                now,
            )
            if self.incident and self.incident.open:
                self.rollout.freeze(now)
            self._dirty = True
        if len(traffic.shares) != len(self.rollout.step):
            self.rollout.add_tenants(traffic.shares, now)
        stepped = self.rollout.tick(now)
        if stepped:
            self.journal.append("rollout_step", {"tenants": stepped}, now)
            self._dirty = True
        # Rollback (incident): plan within ready capacity.
        hold = None
        decision = None
        old_hit = self._old_hit()
        if old is not None and namespaces is not None:
            view = self._view(now, traffic, old_hit)
            decision = self.rollback.step(view)
            hold = decision.hold
        elif self.rollback.armed:  # never plan on a stale picture of capacity or cache warmth
            hold = f"{'autoscaler' if old is None else 'cache store'} unreachable: holding"
        if decision is not None and decision.scale_to is not None:
            await self._prescale(decision.scale_to, now)
        if decision is not None and decision.stage is not None:
            self.last_stage = decision.stage.to_dict()
            self._dirty = True
        if decision is not None and decision.finished:
            self.journal.append(
                "rollback_finished", {"stage": self.rollback.stage, "scope": sorted(self.rollback.scope)}, now
            )
            self._dirty = True
        effective = compose(self.rollout.targets, self.rollback.ceilings)
        diff = differences(effective, traffic.shares, SHARE_TOLERANCE)
        stage = decision.stage if decision is not None else None
        if diff:
            await self._actuate(diff, stage, now)
        elif stage is not None:
            self._stage_confirmed(stage, now)
        if self._dirty:
            self._checkpoint()
        return self._snap(now, hold=hold, effective=effective)

    def _old_hit(self) -> float:
        for ns in self._namespaces:
            if ns.tier == self.config.file.tiers.old:
                return ns.hit_rate
        return 0.0

    def _tier(self, reading: TierReading) -> Tier:
        t = self.config.file.tiers
        return Tier(
            t.old,
            reading.ready,
            reading.desired,
            reading.per_replica_rps,
            t.cold_capacity_factor,
            t.warm_hit_rate,
        )

    def _view(self, now: float, traffic: TrafficReading, old_hit: float, with_load: bool = False) -> FleetView:
        """One observation for the scheduler. The O(tenants) old-tier load is summed only when something
        will read it (an armed rollback, a plan)."""
        rps, shares = traffic.rps, traffic.shares
        old_load = old_tier_load(rps, shares) if with_load or self.rollback.armed else 0.0
        return FleetView(now, rps, shares, self._harm, self._tier(self._old), old_hit, old_load)

    async def _prescale(self, replicas: int, now: float) -> bool | None:
        """Raise the old tier's floor; True when the read-back confirms it (None: asked recently)."""
        last = self._last_scale
        if last is not None and last[0] == replicas and now - last[1] < SCALE_RETRY_S:
            return None  # asked for this already: give the autoscaler time before asking again
        self._last_scale = (replicas, now)
        b = self.backends
        self.actuations += 1
        act_id = f"{self.request_prefix}act-{self.actuations}"
        self.journal.append("actuation", {"id": act_id, "role": "autoscaler", "scale_to": replicas}, now)
        self._checkpoint()
        self.journal.commit()
        self.journal.begin()
        self._guard()
        ok = await self._call(
            "autoscaler", _done(b.autoscaler.scale_tier(self.config.file.tiers.old, replicas, act_id))
        )
        call_error = None if ok else self.degraded.get("autoscaler")
        back = await self._call("autoscaler", b.autoscaler.read_tier(self.config.file.tiers.old), clears=False)
        verified = bool(ok) and back is not None and back.desired >= replicas
        if back is not None:
            self._old = back
        if verified:
            self._recover("autoscaler", write=True)
        else:
            why = call_error or f"desired {back.desired if back else '?'} after asking for {replicas}"
            self._degrade("autoscaler", f"{self.backends.names['autoscaler']}: pre-scale not confirmed ({why})")
            self._write_failures.add("autoscaler")
        self.journal.append(
            "actuation_ack",
            {"id": act_id, "verified": verified, "desired": back.desired if back else None},
            now,
        )
        if not verified:
            self.rollback.scale_requested = 0  # ask again next tick
        return verified

    async def _actuate(self, diff: dict[str, float], stage: Stage | None, now: float) -> None:
        """Write the intent (and the committed state) first, then call the router, then read back."""
        self.actuations += 1
        act_id = f"{self.request_prefix}act-{self.actuations}"
        intent = {"id": act_id, "role": "router", "shares": diff, "stage": stage.to_dict() if stage else None}
        self.journal.append("actuation", intent, now)
        self._checkpoint()
        self.journal.commit()  # durable before the world changes
        self.journal.begin()
        await self._apply(intent, now)

    async def _apply(self, intent: dict[str, Any], now: float, recovered: bool = False) -> bool:
        b = self.backends
        diff: dict[str, float] = intent["shares"]
        self._guard()
        result = await self._call("router", b.router.apply_shares(diff, intent["id"]))
        call_error = None if result is not None else self.degraded.get("router")
        back = await self._call("router", b.router.read_traffic(), clears=False)
        if back is not None:
            rps = back.rps or (self._traffic.rps if self._traffic else {})
            back = TrafficReading(back.shares, rps, back.cohorts or (self._traffic.cohorts if self._traffic else {}))
            self._traffic = back
        confirmed = _confirmed(diff, back.shares) if back is not None else {}
        failed = {
            t: (result.failed.get(t, "not confirmed by read-back") if result else "router call failed")
            for t in diff
            if t not in confirmed
        }
        verified = not failed
        if confirmed:
            for f in self.host.shares_applied(confirmed, intent["id"]):
                self._plugin_error(f, now)
        self._ack_router(intent["id"], confirmed, failed, recovered, now)
        if failed:
            why = f" ({call_error})" if call_error else ""
            name = self.backends.names["router"]
            self._degrade("router", f"{name}: {len(failed)} of {len(diff)} shares not applied{why}")
            self._write_failures.add("router")
        else:
            self._recover("router", write=True)
        stage = intent.get("stage")
        if stage and verified:
            self._stage_confirmed(_stage_from(stage), now)
        elif stage:
            self.journal.append("stage_incomplete", {"stage": stage["number"], "failed_count": len(failed)}, now)
        return verified

    def _ack_router(
        self, act_id: str, confirmed: dict[str, float], failed: dict[str, str], recovered: bool, now: float
    ) -> None:
        """The one shape of a router actuation's ack: what the read-back confirmed, and what it did not."""
        self.journal.append(
            "actuation_ack",
            {
                "id": act_id,
                "verified": not failed,
                "confirmed": len(confirmed),
                "shares": confirmed,
                "failed": dict(list(failed.items())[:50]),
                "failed_count": len(failed),
                "recovered": recovered,
            },
            now,
        )

    def _stage_confirmed(self, stage: Stage, now: float) -> None:
        info = stage.to_dict()
        self.journal.append(
            "stage_applied",
            {"stage": stage.number, "tenants": len(stage.ceilings), "moved_rps": stage.moved_rps},
            now,
        )
        for f in self.host.stage_applied(info):
            self._plugin_error(f, now)

    def _guard(self) -> None:
        if self.actuation_guard is not None:
            self.actuation_guard()

    async def _reconcile_pending(self, traffic: TrafficReading) -> None:
        """Intents written before a crash without an ack: confirm them from what the router reports, or
        apply them again (same request id: idempotent). Each gets exactly one ack."""
        now = self.clock.now()
        for intent in self.pending_intents:
            if intent.get("role") != "router":
                self.journal.append(
                    "actuation_ack",
                    {
                        "id": intent["id"],
                        "verified": False,
                        "recovered": True,
                        "note": "superseded: re-planned after restart",
                    },
                    now,
                )
                continue
            diff = intent["shares"]
            if len(_confirmed(diff, traffic.shares)) == len(diff):
                self._ack_router(intent["id"], diff, {}, True, now)
                if intent.get("stage"):
                    self._stage_confirmed(_stage_from(intent["stage"]), now)
            else:
                await self._apply(intent, now, recovered=True)
        self.pending_intents = []

    async def _warm(self, now: float) -> None:
        """Replay sampled prompt prefixes against the rollback target at the warmer's rate."""
        n = self.warmer.due(now)
        if n == 0:
            return
        provider = self.backends.provider
        if not hasattr(provider, "warm"):
            self.warmer.enabled = False
            self.journal.append("warmer_stopped", {"reason": f"{self.backends.names['provider']} cannot warm"}, now)
            return
        if not self._prefixes:
            self._prefixes = await self._load_prefixes(now)
            if not self._prefixes:
                return
        revision = self.config.file.models.old
        for _ in range(n):
            prefix = self._prefixes[self.warmer.pick(len(self._prefixes))]
            r = await self._call("provider", provider.warm(revision, prefix), clears=False)
            if r is None:
                self.warmer.record(None)
            else:
                self.warmer.record(r.cache_read_tokens, r.cache_write_tokens, r.cost)

    async def _load_prefixes(self, now: float) -> list[PromptPrefix]:
        w = self.config.file.warmer
        try:
            if w.prefixes_file:
                path = Path(w.prefixes_file)
                path = path if path.is_absolute() else self.config.dir / path
                return load_prefixes(path)[: w.sample_size]
            store = self.backends.cache
            if hasattr(store, "sample_prefixes"):
                got = await self._call("cache", store.sample_prefixes(self.config.file.tiers.old, w.sample_size))
                return list(got or [])
        except CockpitError as exc:
            self.journal.append("warmer_stopped", {"reason": str(exc)}, now)
            self.warmer.enabled = False
            return []
        self.journal.append("warmer_stopped", {"reason": "no prefixes: set warmer.prefixes_file"}, now)
        self.warmer.enabled = False
        return []

    async def _collect_garbage(self, now: float) -> None:
        """Cache GC on its own schedule, and never while an incident is open (the evidence stays)."""
        store = self.backends.cache
        if not hasattr(store, "gc") or (self.incident is not None and self.incident.open):
            return
        if now - self.last_gc < CACHE_GC_EVERY_S:
            return
        self.last_gc = now
        result = await self._call("cache", store.gc())
        if result:
            self.journal.append("cache_gc", {"collected": _jsonable({"n": result})["n"]}, now)

    async def _poll_alias(self, now: float) -> None:
        alias = self.config.file.models.alias
        if not alias or now - self.last_alias_poll < ALIAS_POLL_S:
            return
        self.last_alias_poll = now
        current = await self._call("provider", self.backends.provider.resolve(alias))
        if current is None:
            return
        previous = self.alias_seen.get("revision")
        if previous is None:
            self.alias_seen = {"alias": alias, "revision": current, "since": now, "moved": False}
            self.journal.append("alias_resolved", {"alias": alias, "revision": current}, now)
            self._dirty = True
        elif current != previous:
            self.alias_seen = {
                "alias": alias,
                "revision": current,
                "since": now,
                "moved": True,
                "previous": previous,
            }
            self.journal.append(
                "alias_moved", {"alias": alias, "previous": previous, "current": current, "seen_at": now}, now
            )
            for f in self.host.alias_moved(alias, previous, current, now):
                self._plugin_error(f, now)
            self._dirty = True

    def _journal_observations(self, now: float) -> None:
        threshold = self.config.file.incident.regression_threshold
        harm_set = frozenset(t for t, h in self._harm.items() if h >= threshold)
        if harm_set != self.last_harm_set:
            self.journal.append("health_changed", {"regressing": sorted(harm_set)}, now)
            self.last_harm_set = harm_set
        for name, reading in (("old", self._old), ("new", self._new)):
            if reading is None:
                continue
            key = (reading.ready, reading.desired)
            if self.last_tiers.get(name) != key:
                self.journal.append(
                    "tier_changed", {"tier": name, "ready": reading.ready, "desired": reading.desired}, now
                )
                self.last_tiers[name] = key
        if now - self.last_metrics >= METRICS_EVERY_S and self._old is not None:
            self.last_metrics = now
            hit = self._old_hit()
            cap = self._tier(self._old).capacity(hit)
            load = self._old.load_rps
            sample: dict[str, Any] = {
                "old_ready": self._old.ready,
                "old_desired": self._old.desired,
                "old_hit": round(hit, 4),
                "old_capacity": round(cap, 2),
                "old_load": None if load is None else round(load, 2),
                "namespaces": {ns.name: round(ns.hit_rate, 4) for ns in self._namespaces},
            }
            if self.warmer.sent:
                sample["warmer"] = self.warmer.snapshot()
            if self.incident is not None and self.incident.open:
                sample["harm"] = {t: round(h, 4) for t, h in self._harm.items() if h > 0}
            self.journal.append("metrics", sample, now)

    def _snap(self, now: float, hold: str | None, effective: Mapping[str, float] | None = None) -> Snapshot:
        targets = self.rollout.targets if self.rollout else {}
        if effective is None:
            effective = compose(targets, self.rollback.ceilings)
        util = None
        needed = None
        if self._old is not None and self._traffic is not None:
            hit = self._old_hit()
            cap = self._tier(self._old).capacity(hit)
            load = self._old.load_rps
            if load is None:
                load = old_tier_load(self._traffic.rps, self._traffic.shares)
            util = load / cap if cap > EPS else None
            if self.rollback.armed:
                needed = self.rollback.scale_requested or None
        return Snapshot(
            now=now,
            tick=self.ticks,
            traffic=self._traffic,
            targets=targets,
            ceilings=self.rollback.ceilings,
            effective=effective,
            harm=self._harm,
            old_tier=self._old,
            new_tier=self._new,
            namespaces=self._namespaces,
            incident=self.incident,
            rollback=self.rollback.snapshot() | {"hold": self.rollback.last_hold},
            hold=hold,
            degraded=dict(self.degraded),
            alias=dict(self.alias_seen),
            last_stage=self.last_stage,
            old_utilisation=util,
            replicas_needed=needed,
            read_only=self.read_only,
            warmer=self.warmer.snapshot(),
            alerts=list(self.alerts),
        )

    # Commands ---------------------------------------------------------------------------------------
    async def command(self, name: str, *, operator: str | None = None, **args: Any) -> str:
        """The one entry for every change an operator asks for. Read-only is enforced here."""
        if name not in COMMANDS:
            raise CommandError(f"unknown command {name!r}")
        action = self.actions.get(args.get("id", "")) if name == "plugin-action" else None
        if name == "plugin-action" and action is None:
            raise CommandError(f"unknown plugin action {args.get('id')!r}")
        if self.read_only and (action is None or action.mutating):
            raise ReadOnlyError(f"read-only: the {name!r} command is refused")
        who = operator or self.operator
        async with self._lock:
            now = self.clock.now()
            self.journal.begin()
            try:
                try:
                    message = await self._command(name, who, now, args)
                except CockpitError as exc:  # refused or failed: said, and journaled all the same
                    self.journal.append(
                        "command_failed", {"command": name, "args": _jsonable(args), "error": str(exc)}, now, who
                    )
                    self._checkpoint()
                    raise
                self.journal.append("command", {"command": name, "args": _jsonable(args), "result": message}, now, who)
                self._checkpoint()
            finally:
                self.journal.commit()
            return message

    async def _command(self, name: str, who: str, now: float, args: dict[str, Any]) -> str:
        rb = self.rollback
        if name == "declare":
            return await self._declare(who, now, args.get("reason", ""))
        if name == "plugin-action":
            try:
                return str(await self.actions[args["id"]].run())
            except CockpitError:
                raise
            except Exception as exc:
                raise CommandError(f"plugin action {args['id']!r} failed: {type(exc).__name__}: {exc}") from None
        if name == "warmer":
            on = args.get("on")
            self.warmer.enabled = (not self.warmer.enabled) if on is None else bool(on)
            return f"cache warmer {'on' if self.warmer.enabled else 'off'} ({self.warmer.policy.rate_per_s:g}/s)"
        if name == "release":
            if not args.get("confirm"):
                raise CommandError("releasing the incident needs confirmation (confirm=True)")
            return await self._release(who, now)
        if "mode" in args and args["mode"] is not None and args["mode"] not in ("auto", "manual"):
            raise CommandError(f"mode {args['mode']!r}: expected 'auto' or 'manual'")
        if name == "arm":
            scope = self._scope(args.get("scope", "regressing"))
            if not scope:
                raise CommandError("nothing to roll back: no tenant in scope is regressing")
            if not (self.incident and self.incident.open):
                await self._declare(who, now, "declared by arming a rollback")
            rb.arm(scope, now, args.get("mode"))
            return f"rollback armed for {len(scope)} tenant(s), {rb.mode} mode"
        if not rb.armed and name in ("advance", "pause", "resume", "prescale"):
            raise CommandError(f"no rollback is armed: {name!r} has nothing to act on")
        if name == "advance":
            if rb.mode is Mode.AUTO:
                rb.set_mode(Mode.MANUAL)
            rb.advance()
            return f"advance requested (stage {rb.stage + 1})"
        if name == "pause":
            rb.pause()
            return "rollback held"
        if name == "resume":
            rb.resume()
            return "rollback resumed"
        if name == "mode":
            rb.set_mode(args.get("mode", "auto"))
            return f"rollback mode: {rb.mode}"
        if name == "prescale":
            if self._traffic is None or self._old is None:
                raise CommandError("cannot pre-scale: no observation of the fleet yet")
            view = self._view(now, self._traffic, self._old_hit())
            needed = rb.replicas_needed(view)
            target = max(needed, self._old.desired)
            self._last_scale = None  # the operator asked: ask now
            if not await self._prescale(target, now):
                raise CommandError(
                    f"pre-scale to {target} replicas not confirmed: {self.degraded.get('autoscaler', '')}"
                )
            rb.scale_requested = max(rb.scale_requested, needed)
            return f"old tier floor raised to {target} replicas (confirmed by read-back)"
        if name == "release-ceilings":
            if not args.get("confirm"):
                raise CommandError("releasing the ceilings needs confirmation (confirm=True)")
            lifted = rb.release()
            return f"ceilings released for {len(lifted)} tenant(s); the rollout resumes from its targets"
        raise CommandError(f"unknown command {name!r}")

    def _scope(self, scope: str | Iterable[str]) -> list[str]:
        known = self._traffic.shares if self._traffic else {}
        if self.strategy in GLOBAL_SCOPE_STRATEGIES or scope == "all":
            return sorted(known)
        if scope == "regressing":
            threshold = self.config.file.incident.regression_threshold
            return sorted(t for t, h in self._harm.items() if h >= threshold and t in known)
        chosen = sorted(scope)
        unknown = [t for t in chosen if t not in known]
        if unknown:
            raise CommandError(f"unknown tenant {unknown[0]!r} in the rollback scope")
        return chosen

    async def _declare(self, who: str, now: float, reason: str) -> str:
        if self.incident and self.incident.open:
            return f"incident {self.incident.id} is already open"
        self.incident_count += 1
        self.incident = Incident(f"INC-{self.incident_count}", now, who, reason)
        if self.rollout is not None:
            self.rollout.freeze(now)
        for ns in self._namespaces:
            await self._call("cache", self.backends.cache.freeze(ns.name))
        freeze = self.config.file.freeze
        payload = self.incident.to_dict() | {
            "freeze": {
                "rollout": True,
                "cache_namespaces": [ns.name for ns in self._namespaces],
                "system_prompt_revision": freeze.system_prompt_revision,
                "flags": list(freeze.flags),
                "models": {"old": self.config.file.models.old, "new": self.config.file.models.new},
            }
        }
        self.journal.append("incident_declared", payload, now, who)
        for f in self.host.incident_declared(payload):
            self._plugin_error(f, now)
        return f"incident {self.incident.id} declared: rollout, flags and cache GC frozen"

    async def _release(self, who: str, now: float) -> str:
        if not (self.incident and self.incident.open):
            raise CommandError("no incident is open")
        self.incident = self.incident.release(now, who)
        if self.rollout is not None:
            self.rollout.thaw(now)
        for ns in self._namespaces:
            await self._call("cache", self.backends.cache.thaw(ns.name))
        self.journal.append("incident_released", self.incident.to_dict(), now, who)
        for f in self.host.incident_released(self.incident.to_dict()):
            self._plugin_error(f, now)
        return f"incident {self.incident.id} released: the rollout calendar resumes"

    def plan(self, scope: str | Iterable[str] = "regressing") -> Plan:
        """A dry run of arming now: tenants, traffic to move, pre-scale target, stage ETAs."""
        if self._traffic is None or self._old is None:
            raise CommandError("no observation of the fleet yet: the plan needs the router and the autoscaler")
        tenants = self._scope(scope)
        if not tenants:
            raise CommandError("nothing to roll back: no tenant in scope is regressing")
        view = self._view(self.clock.now(), self._traffic, self._old_hit(), with_load=True)
        return preview(self.rollback, view, tenants, self.config.file.tiers.startup_estimate_s)

    # Running ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_tick: Any = None) -> None:
        tick_s = self.config.file.cockpit.tick_s
        while not stop.is_set():
            snap = await self.tick()
            if on_tick is not None:
                on_tick(snap)
            await self.clock.sleep(tick_s)


def _confirmed(wanted: Mapping[str, float], seen: Mapping[str, float]) -> dict[str, float]:
    """The wanted shares the router reports back (within tolerance): only these count as applied."""
    return {t: s for t, s in wanted.items() if abs(seen.get(t, -1.0) - s) <= SHARE_TOLERANCE}


async def _done(aw: Awaitable[Any]) -> bool:
    """True once `aw` completes: for backend calls whose success returns nothing."""
    await aw
    return True


def _stage_from(d: dict[str, Any]) -> Stage:
    return Stage(
        number=d["number"],
        at=d["at"],
        ceilings={t: float(c) for t, c in d["ceilings"].items()},
        moved_rps=d["moved_rps"],
        old_load_after=d["old_load_after"],
        capacity_after=d["capacity_after"],
        hit_rate_after=d["hit_rate_after"],
    )


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in args.items():
        out[k] = sorted(v) if isinstance(v, (set, frozenset, list, tuple)) else v
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
