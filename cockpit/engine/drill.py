"""Headless drills: run a scenario as fast as possible with an autopilot on-call, and score it.

The autopilot does what the runbook says: declare the incident as soon as a regression is visible in
the health signals, then arm the rollback for the regressing tenants (widening the scope when more
start regressing). Baseline strategies get the same autopilot, so only the strategy differs.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.domain.baselines import STRATEGIES
from cockpit.engine.clock import SimClock
from cockpit.engine.drill_oncall import OncallScript
from cockpit.engine.journal import JournalLike
from cockpit.engine.loop import Engine
from cockpit.engine.session import open_drill
from cockpit.errors import CockpitError
from cockpit.plugins import PluginHost

SETTLE_AFTER_RESTORE_S = 300.0  # keep simulating after the last stage: overload after it still counts


@dataclass
class Scorecard:
    scenario: str
    strategy: str
    restored: bool
    time_to_restore_s: float | None
    lower_bound_s: float | None
    wrong_answers: float
    dropped_requests: float
    peak_old_utilisation: float
    min_old_hit_rate: float | None
    extra_cost: float
    disturbed_tenants: list[str]
    declared_at_s: float | None
    onset_s: float | None
    stages: int
    scope: list[str]
    history: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    warmer: dict[str, Any] = field(default_factory=dict)
    # The end state (drill_oncall.OncallScript.report): ceilings, pre-scale target, alias alarm, calendar.
    final_ceilings: dict[str, float] = field(default_factory=dict)
    prescale_target: int | None = None
    alias_alarm_at_s: float | None = None
    calendar: dict[str, Any] = field(default_factory=dict)
    # `--overflow`: the overflow tier's figures (requests, rejected, cost, peak_rps, rate limit, price, and
    # extra_cost_without_overflow when the drill ran without it beside); None (and not in the JSON) without
    overflow: dict[str, Any] | None = None
    # The honest measure and the two limits (docs/scenarios.md, "Limits"): None where not known.
    harmed_requests: float | None = None  # wrong answers + dropped requests
    restored_and_held_s: float | None = None  # restored, and nothing dropped since (never below the bound)
    capacity_bound_s: float | None = None
    clairvoyant_time_to_restore_s: float | None = None
    clairvoyant_harmed_requests: float | None = None

    def __post_init__(self) -> None:
        if self.harmed_requests is None:
            self.harmed_requests = self.wrong_answers + self.dropped_requests

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("history", "warmer")}
        w = self.warmer
        d["warmer"] = {k: w[k] for k in ("enabled", "sent", "reads", "cost")} if w.get("sent") else None
        d["wrong_answers"] = _round(self.wrong_answers)
        d["dropped_requests"] = _round(self.dropped_requests)
        d["peak_old_utilisation"] = _round(self.peak_old_utilisation, 4)
        d["min_old_hit_rate"] = _round(self.min_old_hit_rate, 4)
        d["extra_cost"] = _round(self.extra_cost, 2)
        d["harmed_requests"] = _round(self.harmed_requests)
        d["clairvoyant_harmed_requests"] = _round(self.clairvoyant_harmed_requests)
        if self.overflow is None:
            del d["overflow"]  # a drill without --overflow: its JSON is as it always was
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _round(value: float | None, digits: int | None = None) -> float | int | None:
    """JSON has no infinity: an unbounded figure (an old tier with no capacity) is null, never round(inf)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value) if digits is None else round(value, digits)


class Autopilot:
    """The scripted on-call of a headless drill."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.declared_at: float | None = None
        self.scope: set[str] = set()
        self._harm_seen: Mapping[str, float] | None = None

    async def act(self) -> None:
        e = self.engine
        snap = e.snapshot
        if snap is None:
            return
        if snap.harm is self._harm_seen:
            return  # the same health reading as last tick: nothing new to act on
        self._harm_seen = snap.harm
        threshold = e.config.file.incident.regression_threshold
        regressing = {t for t, h in snap.harm.items() if h >= threshold}
        if not regressing:
            return
        if self.declared_at is None:
            await e.command("declare", reason=f"regression visible for {len(regressing)} tenant(s)")
            self.declared_at = e.clock.now()
        if not regressing <= self.scope:
            await e.command("arm", scope="regressing", mode="auto")
            self.scope |= set(e.rollback.scope)


async def run_drill(
    scenario: str,
    strategy: str = "cockpit",
    *,
    journal: Path | None = None,
    state_file: str | None = None,
    config_dir: Path | None = None,
    host: PluginHost | None = None,
    speed: float | None = None,
    to_the_end: bool = False,
    backends: dict[str, str] | None = None,
    plugin_options: dict[str, dict[str, Any]] | None = None,
    warmer: bool = False,
    overflow: bool = False,
) -> Scorecard:
    """Run `scenario` with the autopilot. The drill stops SETTLE_AFTER_RESTORE_S after the rollback
    finishes, or at the scenario's end (always at the end with `to_the_end`)."""
    if strategy not in STRATEGIES:
        raise CockpitError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    health = (backends or {}).get("health", "mock")
    if health != "mock":
        # Refused rather than scored: the scorecard counts the simulator's wrong answers and restore
        # time, which only follow if the regressions the engine acts on are the simulator's.
        raise CockpitError(
            f"--backend health={health}: a drill is scored against the simulator's own regressions in "
            f"simulated time, and {health!r} reads a real fleet's signals, so its scorecard would say "
            "nothing; leave health to the simulator, or rehearse the health backend against the "
            "simulator's Prometheus exporter in real time (docs/backends/prometheus.md)"
        )
    config_dir = config_dir or Path.cwd()
    tmp = None
    if journal is None:
        tmp = tempfile.TemporaryDirectory(prefix="cockpit-drill-")
        journal = Path(tmp.name) / "journal.db"
    clock = SimClock(0.0)
    session = open_drill(
        scenario,
        journal=journal,
        strategy=strategy,
        clock=clock,
        state_file=state_file,
        config_dir=config_dir,
        host=host,
        backends=backends,
        plugin_options=plugin_options,
        warmer=warmer,
        overflow=overflow,
    )
    engine, sim, info, j = session.engine, session.simulator, session.info, session.engine.journal
    try:
        pilot = Autopilot(engine)
        oncall = OncallScript(engine, sim)
        _restore_pilot(pilot, engine)
        tick = info["tick_s"]
        duration = info["duration_s"]
        lower_bound = _journaled_lower_bound(j)
        finished_at: float | None = None
        usage = _UsageRelay(engine, sim)
        await _seed_router(engine, sim)
        while clock.now() <= duration:
            await usage.relay()
            await engine.tick()
            declared_before = pilot.declared_at
            await pilot.act()
            await oncall.act()
            if declared_before is None and pilot.declared_at is not None:
                lower_bound = sim.lower_bound(pilot.declared_at, sorted(pilot.scope))
                j.append("drill_lower_bound", {"lower_bound_s": lower_bound}, clock.now())
            if finished_at is None and _finished(engine):
                finished_at = clock.now()
            if not to_the_end and _settled(finished_at, clock.now(), oncall):
                break
            if speed:
                await asyncio.sleep(tick / speed)
            clock.advance(tick)
        card = sim.scorecard(pilot.declared_at, sorted(pilot.scope))
        end_state = oncall.report()
        limits = _limits(sim, pilot.declared_at, engine.policy, overflow)
        ended_at = clock.now()
        j.append("drill_scorecard", {k: v for k, v in card.items() if k != "history"}, clock.now())
    finally:
        await session.aclose()
        if tmp is not None:
            tmp.cleanup()
    declared = pilot.declared_at
    restored_at = card["restored_at_s"]
    ttr = None if restored_at is None or declared is None else max(0.0, restored_at - declared)
    return Scorecard(
        scenario=info["name"],
        strategy=strategy,
        restored=restored_at is not None,
        time_to_restore_s=ttr,
        lower_bound_s=lower_bound,
        wrong_answers=card["wrong_answers"],
        dropped_requests=card["dropped_requests"],
        peak_old_utilisation=card["peak_old_utilisation"],
        min_old_hit_rate=card["min_old_hit_rate"],
        extra_cost=card["extra_cost"] + engine.warmer.cost,  # the warmer is not free: its cost counts
        disturbed_tenants=card["disturbed_tenants"],
        declared_at_s=declared,
        onset_s=card["onset_s"],
        stages=engine.rollback.stage,
        scope=sorted(pilot.scope),
        warmer=engine.warmer.snapshot(),
        **end_state,
        overflow=_overflow_card(card, overflow),
        history=card["history"],
        restored_and_held_s=_held(declared, restored_at, card.get("last_drop_at_s"), tick, ended_at),
        **limits,
    )


def _limits(sim: Any, declared: float | None, policy: Any, overflow: bool = False) -> dict[str, Any]:
    """The simulator's capacity bound and clairvoyant figures (a simulator without them: none)."""
    if declared is None or not hasattr(sim, "limits"):
        return {}
    return dict(sim.limits(declared, policy.headroom, policy.crash_reserve, overflow))


def _held(
    declared: float | None, restored: float | None, last_drop: float | None, tick: float, ended: float
) -> float | None:
    """Seconds from the declaration until restored and no request dropped since (the tick after the last
    drop): what the capacity bound bounds for every strategy. None when not restored, or still dropping
    when the drill ended."""
    if declared is None or restored is None:
        return None
    if last_drop is not None and last_drop >= ended - tick - 1e-9:
        return None
    held = restored if last_drop is None else max(restored, last_drop + tick)
    return max(0.0, held - declared)


def _finished(engine: Engine) -> bool:
    """The rollback finished, and the overflow tier (when there is one) has drained back to the old tier:
    until then it still costs, and the scorecard counts it."""
    return engine.rollback.done and not engine.overflow.holding


def _overflow_card(card: Mapping[str, Any], used: bool) -> dict[str, Any] | None:
    """The overflow tier's figures for the scorecard, rounded like the others (None: not used)."""
    if not used:
        return None
    o = card.get("overflow") or {}
    return {
        "rate_limit_rps": o.get("rate_limit_rps"),
        "price_per_1k": o.get("price_per_1k"),
        "requests": _round(o.get("requests")),
        "rejected": _round(o.get("rejected")),
        "peak_rps": _round(o.get("peak_rps"), 1),
        "cost": _round(o.get("cost"), 2),
    }


def _settled(finished_at: float | None, now: float, oncall: OncallScript) -> bool:
    """The rollback finished SETTLE_AFTER_RESTORE_S ago (overload after it still counts), and so did the
    scenario's last on-call event (its effect is scored too)."""
    if finished_at is None or now - finished_at < SETTLE_AFTER_RESTORE_S:
        return False
    return not oncall.pending(now, SETTLE_AFTER_RESTORE_S)


async def _seed_router(engine: Engine, sim: Any) -> None:
    """A real router standing in for the simulator's starts from the scenario's vector, so the engine
    adopts the same fleet the simulator models (a fresh HAProxy map is empty, i.e. all on old)."""
    if engine.backends.names["router"] == "mock" or engine.journal.last("fleet_adopted") is not None:
        return
    shares = sim.starting_shares()
    result = await engine.backends.router.apply_shares(shares, "drill-seed")
    if result.failed:
        raise CockpitError(
            f"router {engine.backends.names['router']!r} refused the scenario's starting shares for "
            f"{len(result.failed)} tenant(s), e.g. {next(iter(result.failed.items()))}"
        )


class _UsageRelay:
    """When a real cache store stands in for the simulator's, the simulated requests' cache reads are
    counted in it, so the engine reads hit rates from the real store."""

    def __init__(self, engine: Engine, sim: Any) -> None:
        self.engine = engine
        self.sim = sim
        store = engine.backends.cache
        self.active = engine.backends.names["cache"] != "mock" and hasattr(store, "record_usage")
        self.last: dict[str, tuple[float, float]] = {}

    async def relay(self) -> None:
        if not self.active:
            return
        try:
            await self._relay()
        except Exception:  # the store is down: the engine's own calls mark the cache role degraded
            return

    async def _relay(self) -> None:
        store = self.engine.backends.cache
        usage = self.sim.usage()
        tiers = self.engine.context.tiers
        by_tier = {ns.tier: ns.name for ns in await store.namespaces()}
        for role, (hits, misses) in usage.items():
            name = by_tier.get(tiers.get(role, role))
            if name is None:
                continue
            h0, m0 = self.last.get(role, (0.0, 0.0))
            dh, dm = int(hits - h0), int(misses - m0)
            if dh or dm:
                await store.record_usage(name, dh, dm)
                self.last[role] = (h0 + dh, m0 + dm)


def _restore_pilot(pilot: Autopilot, engine: Engine) -> None:
    """After a restart, the autopilot remembers what it did from the journal, like an on-call would."""
    if engine.incident is not None:
        pilot.declared_at = engine.incident.declared_at
    pilot.scope = set(engine.rollback.scope)


def _journaled_lower_bound(j: JournalLike) -> float | None:
    e = j.last("drill_lower_bound")
    return None if e is None else e.data["lower_bound_s"]


def compare(scenario: str, config_dir: Path | None = None) -> list[Scorecard]:
    return [asyncio.run(run_drill(scenario, s, config_dir=config_dir)) for s in STRATEGIES]
