"""The control loop: observe through the plugin host → step both schedulers → actuate only differences
→ journal. After a restart it resumes from the journal and reconciles against what the backends report
rather than trusting memory.

The engine is a few parts with one job each: `backends` (calls with timeouts, degrade and recover), the
`actuator` (intent → apply → read-back → ack → reconcile), `commands` (the one table of what an operator
can ask), `housekeeping` (warmer, cache GC, alias polling, observations and metrics), `state`
(checkpoints and restore) and the `snapshot` screens render. This module wires them into one tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from cockpit.config import Config
from cockpit.domain.baselines import STRATEGIES
from cockpit.domain.composer import Composer
from cockpit.domain.fleet import OldTierLoad
from cockpit.domain.incident import Incident
from cockpit.domain.planner import Plan
from cockpit.domain.rollback import Decision, FleetView, RollbackScheduler
from cockpit.domain.rollout import RolloutScheduler
from cockpit.domain.warmer import Warmer, WarmerPolicy
from cockpit.engine import alarm, calendar, commands, rollback_step, state
from cockpit.engine.actuator import SHARE_TOLERANCE, Actuator
from cockpit.engine.backends import Backends, rollback_policy, run_soon, settle_for
from cockpit.engine.clock import Clock
from cockpit.engine.commands import CommandError, ReadOnlyError
from cockpit.engine.handle import Control
from cockpit.engine.housekeeping import ALIAS_POLL_S, Housekeeping, load_prefixes
from cockpit.engine.journal import Entry, JournalLike, JournalUnavailable
from cockpit.engine.observe import observe
from cockpit.engine.observed import Observed
from cockpit.engine.overflow import OverflowControl
from cockpit.engine.rollback_step import stage_summary as stage_summary  # moved; importable from here
from cockpit.engine.snapshot import Snapshot, build_snapshot
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, PinnedModels, PluginAction, TrafficReading
from cockpit.plugins import PluginHost, close_objects

__all__ = [
    "ALIAS_POLL_S",
    "CommandError",
    "Engine",
    "ReadOnlyError",
    "Snapshot",
    "load_prefixes",
]

log = logging.getLogger("cockpit.engine")


class Engine:
    """One engine per journal: it alone moves the fleet the journal describes."""

    can_take_control = False  # in-process: this screen is the operator
    attached = False

    def __init__(
        self,
        config: Config,
        host: PluginHost,
        journal: JournalLike,
        clock: Clock,
        *,
        operator: str | None = None,
        read_only: bool = False,
        strategy: str = "cockpit",
        shared: dict[str, Any] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise CommandError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        self.config = config
        self.host = host
        self.journal = journal
        self.clock = clock
        self.operator = operator or config.operator
        self._read_only = read_only
        self.strategy = strategy
        self.context = BackendContext(
            clock=clock,
            config_dir=str(config.dir),
            tiers={"old": config.file.tiers.old, "new": config.file.tiers.new},
            models=PinnedModels(config.file.models.old, config.file.models.new, config.file.models.alias),
            config_file=str(config.path),
            # the plugins' per-engine state; a drill passes the dict its simulator was created with
            shared={} if shared is None else shared,
        )
        self.observed = Observed(config.file.tiers.old, config.file.tiers.new)
        self.rollout: RolloutScheduler | None = None
        self.policy = rollback_policy(config, host)
        self.rollback: RollbackScheduler = STRATEGIES[strategy](policy=self.policy, mode=config.mode)
        self.rollback.strategy = strategy
        self.incident: Incident | None = None
        self.incident_count = 0
        w = config.file.warmer
        self.warmer = Warmer(WarmerPolicy(w.rate_per_s, w.sample_size), enabled=w.enabled)
        self.ticks = 0
        self.last_stage: dict[str, Any] | None = None
        self.snapshot: Snapshot | None = None
        self.journal_alarm: str | None = None  # set while the journal cannot be written (shown on screens)
        self._replayed: int | None = None  # the journal seq a read-only engine last replayed
        self._alarm_seq = -1  # the journal's last seq when its alarm was raised
        self._actions: dict[str, PluginAction] = {}
        self.composer = Composer(SHARE_TOLERANCE)
        self.overflow = OverflowControl(config)  # the overflow tier: inert unless configured and routable
        self._lock = asyncio.Lock()
        self.dirty = False
        self.rollout_written = -1  # the rollout version last checkpointed
        self.deltas_since_full = 0  # ceilings written as deltas since the last full rollback checkpoint
        self._memo: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._old_load = OldTierLoad()
        # Wired in start(), once the backends exist.
        self._backends: Backends | None = None
        self._actuator: Actuator | None = None
        self._housekeeping: Housekeeping | None = None
        self._guard: Callable[[], None] | None = None
        self._request_prefix = ""
        self._closed = False

    # The parts ---------------------------------------------------------------------------------------
    @property
    def backends(self) -> Backends:
        if self._backends is None:
            raise RuntimeError("Engine.start() first")
        return self._backends

    @property
    def actuator(self) -> Actuator:
        if self._actuator is None:
            raise RuntimeError("Engine.start() first")
        return self._actuator

    @property
    def housekeeping(self) -> Housekeeping:
        if self._housekeeping is None:
            raise RuntimeError("Engine.start() first")
        return self._housekeeping

    @property
    def lock(self) -> asyncio.Lock:
        """Held by every tick and command: a server that journals around them takes it too."""
        return self._lock

    @property
    def read_only(self) -> bool:
        return self._read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._read_only = value

    @property
    def actions(self) -> Mapping[str, PluginAction]:
        return self._actions

    @property
    def actuation_guard(self) -> Callable[[], None] | None:
        return self._guard

    @actuation_guard.setter
    def actuation_guard(self, guard: Callable[[], None] | None) -> None:
        """Called right before every backend write; raises (e.g. FencedError) when this engine must not act."""
        self._guard = guard
        if self._actuator is not None:
            self._actuator.guard = guard

    @property
    def request_prefix(self) -> str:
        return self._request_prefix

    @request_prefix.setter
    def request_prefix(self, prefix: str) -> None:
        """e.g. "e3-": the fencing epoch in every request id sent to a backend."""
        self._request_prefix = prefix
        if self._actuator is not None:
            self._actuator.request_prefix = prefix

    @property
    def actuations(self) -> int:
        return self._actuator.actuations if self._actuator else 0

    @property
    def degraded(self) -> dict[str, str]:
        return self._backends.degraded if self._backends else {}

    # Start-up ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the backends and restore state from the journal. Raises CockpitError on bad input."""
        if not self.read_only and hasattr(self.journal, "claim"):
            self.journal.claim(self.operator)  # one engine per journal; a read-only one never claims it
        b = Backends.create(self.config, self.host, self.context, self.journal, self.clock)
        self._backends = b
        self.policy = settle_for(self.policy, b)  # settle as long as these backends' readings need
        self.rollback.policy = self.policy
        self._actuator = Actuator(
            self.config,
            b,
            self.journal,
            self.host,
            self.observed,
            rollback=lambda: self.rollback,
            checkpoint=self._checkpoint,
            request_prefix=self._request_prefix,
            guard=self._guard,
        )
        self.overflow.bind(self.host, b, self._actuator)
        self._housekeeping = Housekeeping(
            self.config,
            b,
            self.journal,
            self.host,
            self.observed,
            self.warmer,
            incident=lambda: self.incident,
            changed=self._changed,
            context=self.context,
        )
        for f in self.host.notify("cockpit_configure", plugins=self.config.file.plugins, context=self.context):
            if f.config_error:
                raise ConfigError(f.error.split(": ", 1)[-1])
        self._actions = {a.id: a for a in self.host.actions(self.context)}
        self._restore()

    async def aclose(self) -> None:
        """Close what this engine's plugins opened, once: ``aclose()`` on each role object, then on each
        value of ``context.shared``; a failure is logged, and the rest are still closed."""
        if self._closed:
            return
        self._closed = True
        if self._housekeeping is not None and self._housekeeping.freeze_watch is not None:
            self._housekeeping.freeze_watch.cancel()  # a re-assert round still running is not awaited
        roles = self._backends.objects() if self._backends is not None else []
        for failure in await close_objects([*roles, *self.context.shared.values()]):
            log.warning("closing the engine's plugins: %s", failure)

    def close_sync(self) -> None:
        """`aclose` (run here when no event loop runs in this thread; else scheduled on that loop: await
        `aclose` first from async code), then the journal."""
        run_soon(self.aclose())
        self.journal.close()

    def _restore(self) -> None:
        state.restore(self)

    def checkpoint(self) -> None:
        state.checkpoint(self)

    _checkpoint = checkpoint

    async def _observe(self) -> tuple[TrafficReading | None, str | None]:
        return await observe(self.backends, self.config, self.observed, self._same)

    def snap(self, now: float, hold: str | None, effective: Mapping[str, float] | None = None) -> Snapshot:
        return build_snapshot(self, now, hold, effective)

    _snap = snap

    # Commands ------------------------------------------------------------------------------------------
    async def command(self, name: str, *, operator: str | None = None, **args: Any) -> str:
        """The one entry for every change an operator asks for (see `commands.run`)."""
        return await commands.run(self, name, operator, args)

    def _changed(self) -> None:
        self.dirty = True

    # The tick ------------------------------------------------------------------------------------------
    async def tick(self) -> Snapshot:
        if self.read_only:
            return await self._observe_only()
        async with self._lock:
            try:
                with self.journal.transaction():
                    snap = await self._tick()
            except JournalUnavailable as exc:
                snap = alarm.journal_down(self, str(exc))
            else:
                if self.journal_alarm is not None and alarm.journal_wrote(self):
                    log.warning("journal writable again: actuating")
                    self.journal_alarm = None
                    snap = replace(snap, alerts=list(self.backends.alerts))
            self.snapshot = snap
            return snap

    async def _observe_only(self) -> Snapshot:
        """A read-only engine observes and replays, and changes nothing anywhere: no backend write, no
        housekeeping (warmer, cache GC, freezes), no journal entry. What another engine journals since
        is replayed when the journal grows."""
        async with self._lock:
            now = self.clock.now()
            self.ticks += 1
            seq = self.journal.last_seq() if hasattr(self.journal, "last_seq") else None
            if seq is not None and seq != self._replayed:
                self._replayed = seq
                self._restore()
            await self._observe()
            await self.overflow.observe()  # a read: the plan and the screen say whether it is there
            self.snapshot = self._snap(now, hold="read-only: observing; this screen actuates nothing")
            return self.snapshot

    async def _tick(self) -> Snapshot:
        now = self.clock.now()
        self.ticks += 1
        traffic, capacity_known = await self._observe()
        await self.housekeeping.run(now)
        if traffic is None:  # nothing can move without knowing where traffic is
            return self._snap(now, hold="router unreachable: holding")
        if self.actuator.pending:
            await self.actuator.reconcile(traffic, now)
            traffic = self.observed.traffic or traffic
        await self.overflow.observe()
        rollout = self._step_rollout(traffic, now)
        decision, hold = await self._step_rollback(traffic, capacity_known, now)
        effective = self.composer.effective(rollout.targets, rollout.version, self.rollback)
        diff = self.composer.differences(effective, traffic.shares)
        stage = decision.stage if decision is not None else None
        if self.overflow.active and capacity_known is None:  # placed before the shares that need it
            await self.overflow.place(self.rollback, self.view(now, traffic, with_load=True), effective, now)
        if diff:
            await self.actuator.actuate(diff, stage, now)
        elif stage is not None:
            self.actuator.stage_confirmed(stage, now)
        if self.dirty:
            self._checkpoint()
        return self._snap(now, hold=hold, effective=effective)

    def _step_rollout(self, traffic: TrafficReading, now: float) -> RolloutScheduler:
        """The calendar: adopt the fleet on first sight, then step unless frozen, health-gated."""
        return calendar.step(self, traffic, now)

    async def _step_rollback(
        self, traffic: TrafficReading, missing: str | None, now: float
    ) -> tuple[Decision | None, str | None]:
        """The incident's scheduler: plan within ready capacity; pre-scale before anything moves."""
        return await rollback_step.step(self, traffic, missing, now)

    def view(self, now: float, traffic: TrafficReading, with_load: bool = False) -> FleetView:
        """One observation for the scheduler (the old tier's load summed only when read)."""
        return rollback_step.view(self, now, traffic, with_load)

    def old_load(
        self, rps: Mapping[str, float], shares: Mapping[str, float], exact: bool = False, force: bool = False
    ) -> float:
        """The old tier's load (domain.fleet.OldTierLoad; `exact`, `force`: see its keep_exact)."""
        if exact:
            self._old_load.keep_exact(rps, shares, force)
        return self._old_load(rps, shares)

    def _same(self, name: str, inputs: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()` again only when an input is not the very object it was last time (or an equal
        string). Readings are immutable once a backend returns them, so the same objects mean the same
        result: a tick where nothing changed does no per-tenant work."""
        hit = self._memo.get(name)
        if hit is not None and all(
            a is b or (isinstance(a, str) and a == b) for a, b in zip(hit[0], inputs, strict=True)
        ):
            return hit[1]
        value = compute()
        self._memo[name] = (inputs, value)
        return value

    # Commands ------------------------------------------------------------------------------------------
    def scope(self, scope: str | Iterable[str]) -> list[str]:
        return commands.scope_of(self, scope)

    async def plan(self, scope: str | Iterable[str] = "regressing") -> Plan:
        """A dry run of arming now: tenants, traffic to move, pre-scale target, stage ETAs."""
        return self.plan_now(scope)

    def plan_now(self, scope: str | Iterable[str] = "regressing") -> Plan:
        return rollback_step.plan_now(self, scope)

    def control(self) -> Control | None:
        return None  # in-process: this screen is the operator

    async def take_control(self, confirm: bool = False) -> str:
        return "this screen runs the engine: it is in control"

    async def journal_entries(self, kinds: tuple[str, ...] = (), since_seq: int = 0, limit: int = 5000) -> list[Entry]:
        out: list[Entry] = []
        for e in self.journal.entries(kinds=kinds, since_seq=since_seq):
            out.append(e)
            if len(out) >= limit:
                break
        return out

    async def close(self) -> None:
        """The plugins' objects are closed (`aclose`); the journal is closed by whoever opened it."""
        await self.aclose()

    # Running -------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_tick: Callable[[Snapshot], None] | None = None) -> None:
        tick_s = self.config.file.cockpit.tick_s
        while not stop.is_set():
            snap = await self.tick()
            if on_tick is not None:
                on_tick(snap)
            await self.clock.sleep(tick_s)
