"""One observation per tick: every role read once, with what could not be read said as unknown.

A failed read leaves the previous reading in place (the tick then holds rather than plan on it); rates a
router cannot measure come from health, never as 0 rps; warmth health measures replaces the store's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cockpit.config import Config
from cockpit.engine import signals
from cockpit.engine.backends import Backends
from cockpit.engine.observed import Observed
from cockpit.hookspecs import TrafficReading

Same = Callable[[str, tuple[Any, ...], Callable[[], Any]], Any]  # the engine's identity memo


async def _regressions(b: Backends) -> Any:
    """health's regressions(), or None; a result that is not a mapping degrades the role, saying what
    type was expected (rather than failing later with an AttributeError)."""
    harm = await b.call("health", b.health.regressions(), clears=False)
    if harm is None:
        return None
    if not isinstance(harm, Mapping):
        b.degrade(
            "health",
            f"{b.names['health']}: regressions returned {type(harm).__name__}; expected a "
            "Mapping[str, float] (tenant -> severity 0..1) or a SignalReading",
        )
        return None
    b.recover("health")
    return harm


async def _traffic(b: Backends, obs: Observed) -> TrafficReading | None:
    """The router's reading as the engine keeps it (`Observed.taken`), or None when it failed."""
    reading = await b.call("router", b.router.read_traffic())
    return None if reading is None else obs.taken(reading)


async def observe(b: Backends, config: Config, obs: Observed, same: Same) -> tuple[TrafficReading | None, str | None]:
    """Read every role once. Returns this tick's traffic (None: the router failed) and, when this
    tick's capacity or cache reading failed, which one (the rollback never plans on a stale one)."""
    tiers = config.file.tiers
    traffic = await _traffic(b, obs)
    old = await b.call("autoscaler", b.autoscaler.read_tier(tiers.old))
    new = await b.call("autoscaler", b.autoscaler.read_tier(tiers.new))
    namespaces = await b.call("cache", b.cache.namespaces())
    harm = await _regressions(b)
    unknown: dict[str, dict[str, str]] = {}
    rates_unknown = False
    if traffic is not None and not traffic.rps and hasattr(b.health, "rates"):
        rates = await b.call("health", b.health.rates())
        if rates is None:
            traffic = None
        else:  # an unknown rate is never 0 rps: a stated conservative estimate, or hold
            traffic, unknown["rps"], rates_unknown = same(
                "rates", (traffic, rates), lambda: signals.estimate_rates(traffic, rates)
            )
    if namespaces is not None and hasattr(b.health, "warmth"):
        warmth = await b.call("health", b.health.warmth())
        namespaces, unknown["warmth"] = signals.apply_warmth(namespaces, warmth)
    if traffic is not None:
        obs.traffic = traffic
    if old is not None:
        obs.old = old
    if new is not None:
        obs.new = new
    if namespaces is not None:
        obs.namespaces = namespaces
    if harm is not None:
        obs.harm = harm
    if obs.traffic is not None:
        failed = (
            "" if harm is not None else f"health unreadable ({b.degraded.get('health', 'failed')}); last reading shown"
        )
        shares = obs.traffic.shares
        unknown["health"] = same(
            "health", (harm, shares, failed), lambda: signals.health_unknowns(harm, shares, failed)
        )
    obs.unknown = {k: v for k, v in unknown.items() if v}
    missing = "autoscaler" if old is None else "cache store" if namespaces is None else None
    if missing is None and rates_unknown:
        missing = "every tenant's request rate"
    return traffic, missing
