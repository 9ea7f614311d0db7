"""The mock backend: a faithful, deterministic fleet simulator that serves every backend role.

It is registered through the ``cockpit.backends`` entry-point group exactly as a third-party plugin
would be, and it is the reference implementation of the plugin contract: read it to write your own.

Options (``[plugins.mock]`` in cockpit.toml):
    scenario    a bundled scenario name ("demo", "classic", …) or a path to a scenario file
    state_file  optional: persist the world here after every tick and resume from it on start, so a
                drill survives the engine being killed (crash drills)
    exporter    optional HOST:PORT: serve the fleet as Prometheus metrics on /metrics (per tenant and
                revision request and error counters, cache hit and query counters), so a real
                Prometheus scrapes it and the ``prometheus`` health backend reads it (exporter.py)
    router_rates  default true; false makes the router report no rates, like a router that cannot
                measure them (the engine then takes rates from the health backend)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import (
    ApplyResult,
    BackendContext,
    BackendSpec,
    Capabilities,
    NamespaceReading,
    OverflowReading,
    PluginAction,
    PromptPrefix,
    TierReading,
    TrafficReading,
    WarmResult,
    hookimpl,
)
from cockpit_backends.mock.limits import capacity_bound, clairvoyant, clone
from cockpit_backends.mock.overflow import apply_overflow
from cockpit_backends.mock.scenario import ONCALL_KINDS, Event, load_scenario, rollout_config
from cockpit_backends.mock.world import World

__version__ = "0.1.0"

NAME = "mock"
ROLES = frozenset({"router", "autoscaler", "cache", "provider", "health", "simulator"})


class _Handle:
    """Keeps the world in step with the engine's clock and persists it when asked. One per engine: it
    lives in the engine's ``context.shared`` (under "mock"), where every role and hook of that engine finds
    it, and the engine closes it (``aclose``) when it closes."""

    def __init__(self, world: World, clock: Any, state_file: Path | None) -> None:
        self.world = world
        self.clock = clock
        self.state_file = state_file
        self.exporter: Any = None  # an Exporter when [plugins.mock] exporter is set
        self.router_rates = True
        self.serves_router = False  # when another backend routes, the world mirrors what it confirms
        self.owner: dict[str, Any] = {}  # the context.shared it lives in
        self.at_declaration: World | None = None  # a copy of the world when the incident was declared (limits.py)
        self.declared_pending = False  # declared: copy the world on the loop's next call, before it moves
        self.declared_clock: float | None = None  # the declaration's time on the engine's clock
        # Simulated time starts where the world is: on a real clock (epoch seconds) the world must not
        # try to catch up on fifty years of ticks.
        self.origin = clock.now() - world.t

    def sync(self) -> World:
        w = self.world
        before = w.t
        if self.declared_pending:  # the world as it is at the declaration, before it moves on
            self.declared_pending = False
            if self.declared_clock is not None:  # declared between two calls (a key on a live screen)
                w.advance_to(self.declared_clock - self.origin)
            self.at_declaration = clone(w)
        w.advance_to(self.clock.now() - self.origin)
        if self.exporter is not None and w.t != before:
            self.exporter.integrate(w, before, w.t)
        if self.state_file is not None and w.t != before:
            w.save(self.state_file)
        return w

    def close(self) -> None:
        if self.exporter is not None:
            self.exporter.close()
            self.exporter = None

    async def aclose(self) -> None:
        self.close()

    def saved(self) -> None:
        if self.state_file is not None:
            self.world.save(self.state_file)


def _handle(options: Mapping[str, Any], context: BackendContext) -> _Handle:
    h: _Handle | None = context.shared.get(NAME)
    if h is not None:
        return h
    unknown = set(options) - {"scenario", "state_file", "exporter", "router_rates"}
    if unknown:
        raise ConfigError(
            f"plugins.mock: unknown option {sorted(unknown)[0]!r} (known: scenario, state_file, exporter, router_rates)"
        )
    router_rates = options.get("router_rates", True)
    if not isinstance(router_rates, bool):
        raise ConfigError(f"plugins.mock.router_rates: expected true or false, got {router_rates!r}")
    exporter = options.get("exporter")
    if exporter is not None and (not isinstance(exporter, str) or not exporter):
        raise ConfigError(f"plugins.mock.exporter: expected HOST:PORT, e.g. '127.0.0.1:9464', got {exporter!r}")
    ref = options.get("scenario")
    if not isinstance(ref, str) or not ref:
        got = "nothing" if ref is None else repr(ref)
        raise ConfigError(f"plugins.mock.scenario: expected a bundled scenario name or a file path, got {got}")
    base = Path(context.config_dir)
    state_file = options.get("state_file")
    state_path = (base / state_file) if state_file else None
    if state_path is not None and state_path.exists():
        try:
            world = World.load(state_path)
        except Exception as exc:  # a truncated or foreign file: say which, never a traceback
            raise ConfigError(
                f"{state_path}: not a simulated-fleet state file ({type(exc).__name__}); delete it to start afresh"
            ) from None
    else:
        _, sc = load_scenario(ref, base)
        world = World(sc)
    # A restored world sets the clock: simulated time never runs backwards.
    if hasattr(context.clock, "set") and context.clock.now() < world.t:
        context.clock.set(world.t)
    h = context.shared[NAME] = _Handle(world, context.clock, state_path)
    h.owner = context.shared
    h.router_rates = router_rates
    if exporter:
        from cockpit_backends.mock.exporter import Exporter

        h.exporter = Exporter(exporter, getattr(context.clock, "speed", 1.0))
        h.exporter.integrate(world, world.t, world.t)
    return h


def forget(context: BackendContext) -> None:
    """Drop (and close) the world of the engine `context` belongs to, now rather than when it closes."""
    h = context.shared.pop(NAME, None)
    if h is not None:
        h.close()


class MockRouter:
    def __init__(self, h: _Handle) -> None:
        self.h = h
        h.serves_router = True
        self._last: tuple[Any, int, TrafficReading] | None = None
        # (the share version of the last reading, the version after this router's last write) while
        # only this router wrote since that reading, and the tenants it wrote: the next reading says so
        self._since: tuple[int, int] | None = None
        self._written: set[str] = set()

    async def read_traffic(self) -> TrafficReading:
        """The same reading until a share changes: the engine then skips its comparisons. Plain dicts of
        the mock's own, never changed once handed out (the contract), as a router's decoded JSON is: a
        read-only proxy in front of each would cost the engine a method call on every lookup."""
        w = self.h.sync()
        last = self._last
        if last is not None and last[0] is w and last[1] == w.share_version:
            return last[2]
        if last is not None and last[0] is w:  # the simulated rates and cohorts never change: the same copies
            rps, cohorts = last[2].rps, last[2].cohorts
        else:
            rps = dict(w.rps) if self.h.router_rates else {}
            cohorts = dict(w.cohort)
        since = None  # what changed since the last reading, when every write since was this router's
        if last is not None and last[0] is w and self._since == (last[1], w.share_version):
            since = (last[2].shares, frozenset(self._written))
        reading = TrafficReading(shares=dict(w.share), rps=rps, cohorts=cohorts, changed_since=since)
        self._last = (w, w.share_version, reading)
        self._since, self._written = (w.share_version, w.share_version), set()
        return reading

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        w = self.h.sync()
        version = w.share_version
        applied, failed = w.apply_shares(shares, request_id)
        last = self._last
        if last is not None and last[0] is w and self._since is not None and self._since[1] == version:
            self._since = (self._since[0], w.share_version)
            self._written.update(applied)
        else:
            self._since = None  # another writer, or another world: the next reading says nothing
        self.h.saved()
        return ApplyResult(applied=applied, failed=failed)

    async def read_overflow(self) -> OverflowReading:
        """The three-way split (capability ``overflow``): the scenario's ``[overflow]`` tier."""
        w = self.h.sync()
        ov = w.overflow
        if ov is None:
            raise LookupError("the scenario has no [overflow] tier")
        return OverflowReading(MappingProxyType(dict(ov.shares)), load_rps=ov.served_load, hit_rate=ov.active)

    async def apply_overflow(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        applied, failed = apply_overflow(self.h.sync(), shares, request_id)
        self.h.saved()
        return ApplyResult(applied=applied, failed=failed)


class MockAutoscaler:
    def __init__(self, h: _Handle) -> None:
        self.h = h

    async def read_tier(self, tier: str) -> TierReading:
        w = self.h.sync()
        ts = w.tiers.get(tier)
        if ts is None:
            raise KeyError(f"no tier {tier!r} in the simulated fleet")
        return TierReading(
            ready=ts.ready(w.t), desired=ts.desired, per_replica_rps=ts.spec.per_replica_rps, load_rps=ts.load
        )

    async def scale_tier(self, tier: str, replicas: int, request_id: str) -> None:
        w = self.h.sync()
        w.scale(tier, replicas)
        self.h.saved()


class MockCache:
    def __init__(self, h: _Handle) -> None:
        self.h = h

    async def namespaces(self) -> list[NamespaceReading]:
        w = self.h.sync()
        return [
            NamespaceReading(c.name, c.tier, c.revision, c.generation, c.hit_rate, c.frozen) for c in w.caches.values()
        ]

    def _find(self, namespace: str):
        for c in self.h.world.caches.values():
            if c.name == namespace:
                return c
        raise KeyError(f"no cache namespace {namespace!r}")

    async def sample_prefixes(self, tier: str, n: int) -> list[PromptPrefix]:
        """The busiest tenants' prefixes (one per tenant: its system prompt at its prompt revision)."""
        w = self.h.sync()
        top = sorted(w.rps, key=lambda t: (-w.rps[t], t))[:n]
        return [
            PromptPrefix(
                key=f"{t}:prompt-v1", system=f"You are the assistant of {t}.", settings={"temperature": 0}, tenant=t
            )
            for t in top
        ]

    async def fork(self, source: str, revision: str) -> str:
        self.h.sync()
        c = self._find(source)
        c.generation += 1
        c.revision = revision
        c.name = f"mock:{revision}:g{c.generation}"
        self.h.saved()
        return c.name

    async def freeze(self, namespace: str) -> None:
        self.h.sync()
        self._find(namespace).frozen = True
        self.h.saved()

    async def thaw(self, namespace: str) -> None:
        self.h.sync()
        self._find(namespace).frozen = False
        self.h.saved()


class MockProvider:
    def __init__(self, h: _Handle) -> None:
        self.h = h

    async def warm(self, revision: str, prefix: PromptPrefix) -> WarmResult:
        w = self.h.sync()
        read, cost = w.warm(revision)
        tokens = 2000 + len(prefix.system)
        return WarmResult(
            cache_read_tokens=tokens if read else 0, cache_write_tokens=0 if read else tokens, input_tokens=1, cost=cost
        )

    async def resolve(self, alias: str) -> str:
        w = self.h.sync()
        if alias and alias == w.sc.models.old_alias:
            return w.old_alias_target
        if alias != w.sc.models.alias:
            raise KeyError(f"unknown alias {alias!r}")
        return w.alias_target


class MockHealth:
    def __init__(self, h: _Handle) -> None:
        self.h = h

    async def regressions(self) -> Mapping[str, float]:
        return self.h.sync().regressions()

    async def rates(self) -> Mapping[str, float]:
        w = self.h.sync()
        if getattr(self, "_rates_of", None) is not w:  # the simulated rates never change: one copy
            self._rates_of, self._rates = w, dict(w.rps)
        return self._rates


class MockSimulator:
    def __init__(self, h: _Handle) -> None:
        self.h = h

    def now(self) -> float:
        return self.h.world.t

    def scenario_info(self) -> Mapping[str, Any]:
        sc = self.h.world.sc
        s = sc.scenario
        return {
            "name": s.name,
            "duration_s": s.duration_s,
            "tick_s": s.tick_s,
            "description": s.description,
            "models": {
                "old": sc.models.old,
                "new": sc.models.new,
                "alias": sc.models.alias,
                "old_alias": sc.models.old_alias,
            },
            "rollout": rollout_config(sc, set(self.h.world.cohort.values())),
            "tenants": len(self.h.world.rps),
            # the scenario's overflow tier, as a drill with --overflow configures the cockpit's [overflow]
            "overflow": None if sc.overflow is None else _overflow_config(sc),
            # the capacity model the engine should plan with: the simulated old tier's own
            "tiers": {
                "cold_capacity_factor": sc.tiers.old.cold_capacity_factor,
                "warm_hit_rate": sc.tiers.old.warm_hit_rate,
                "startup_estimate_s": sc.tiers.old.startup_s + sc.tiers.old.startup_jitter_s,
            },
        }

    def close(self) -> None:
        if self.h.owner.get(NAME) is self.h:
            del self.h.owner[NAME]
        self.h.close()

    def scorecard(self, declared_at: float | None, scope: list[str]) -> dict[str, Any]:
        w = self.h.sync()
        card = w.metrics_card() | {"regressed_tenants": sorted(w.regressed_since), "history": list(w.metrics.history)}
        return card | ({"overflow": w.overflow.card()} if w.overflow is not None else {})

    def oncall_events(self) -> list[dict[str, Any]]:
        """What the scenario has the on-call do, and when (incident_release, release_ceilings), in order."""
        w = self.h.world
        return [
            {"at_s": e.at_s, "kind": e.kind, "tenants": list(e.tenants), "cohort": e.cohort}
            for e in w.events
            if e.kind in ONCALL_KINDS
        ]

    def starting_shares(self) -> dict[str, float]:
        """The scenario's starting vector (to seed a real router that stands in for the simulator's)."""
        return dict(self.h.world.initial_share)

    def usage(self) -> dict[str, tuple[float, float]]:
        """Cumulative (hits, misses) served per tier ("old", "new")."""
        w = self.h.sync()
        return {name: (c.hits, c.misses) for name, c in w.caches.items()}

    def _declared_world(self, declared_at: float) -> World | None:
        if self.h.declared_pending:
            self.h.sync()
        # the world's time is the engine clock's less `origin` (a live drill's clock ran before the world)
        at = declared_at - self.h.origin
        d = self.h.at_declaration
        if d is not None and abs(d.t - at) <= d.dt:
            return d
        w = self.h.sync()
        return w if abs(w.t - at) <= w.dt else None  # asked later: unknown rather than guessed

    def lower_bound(self, declared_at: float, scope: list[str]) -> float | None:
        """The capacity bound (limits.py), from the world as it was at the declaration (worked out once
        per declaration: the live figures ask every tick)."""
        d = self._declared_world(declared_at)
        if d is None:
            return None
        cached = getattr(self, "_bound", None)
        if cached is None or cached[0] is not d or cached[1] != d.t:
            cached = self._bound = (d, d.t, capacity_bound(d))
        return cached[2]

    def limits(self, declared_at: float, headroom: float, reserve: int = 0, overflow: bool = False) -> dict[str, Any]:
        """The capacity bound and the clairvoyant schedule's figures (limits.py) for a drill declared at
        `declared_at`, scored up to now; None figures when the world at the declaration is not known."""
        d = self._declared_world(declared_at)
        if d is None:
            return dict.fromkeys(("capacity_bound_s", "clairvoyant_time_to_restore_s", "clairvoyant_harmed_requests"))
        w = self.h.sync()
        return {"capacity_bound_s": capacity_bound(d, overflow)} | clairvoyant(d, w.scale_log, w.t, headroom, reserve)


def _overflow_config(sc: Any) -> dict[str, Any]:
    o = sc.overflow
    discount = o.cached_discount if o.cached_discount is not None else sc.cost.cached_discount
    return {"rate_limit_rps": o.rate_limit_rps, "price_per_1k": o.price_per_1k, "cached_discount": discount}


_ROLE_CLASSES = {
    "router": MockRouter,
    "autoscaler": MockAutoscaler,
    "cache": MockCache,
    "provider": MockProvider,
    "health": MockHealth,
    "simulator": MockSimulator,
}


def _factory(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    return _ROLE_CLASSES[role](_handle(options, context))


@hookimpl
def cockpit_actions(context: BackendContext) -> list[PluginAction]:
    """Game-day keystrokes on the simulated fleet (only where the mock runs the engine's fleet)."""
    h = context.shared.get(NAME)
    if h is None:
        return []

    async def crash() -> str:
        w = h.sync()
        w._fire(Event(at_s=w.t, kind="replica_crash", tier="old", count=2))
        h.saved()
        return f"game day: 2 old-tier replicas crashed at T+{w.t:.0f}s (the autoscaler replaces them)"

    async def stall() -> str:
        w = h.sync()
        w._fire(Event(at_s=w.t, kind="autoscaler_stall", duration_s=120.0))
        h.saved()
        return f"game day: the autoscaler stalls for 120 s from T+{w.t:.0f}s"

    return [
        PluginAction("mock.crash", "x", "Game day: crash 2 old replicas", crash),
        PluginAction("mock.stall", "X", "Game day: stall the autoscaler", stall),
    ]


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any], context: BackendContext) -> None:
    """Keep a copy of the world as it is at the declaration: the scorecard's limits start from it."""
    h = context.shared.get(NAME)
    if h is not None:  # the hook runs on a worker thread: the copy is taken on the engine's loop
        at = incident.get("declared_at")
        h.declared_clock = float(at) if isinstance(at, int | float) else None
        h.declared_pending = True
        h.world.draw_ahead("old")  # the start-ups a pre-scale will ask for, drawn here off the loop


@hookimpl
def cockpit_shares_applied(shares: Mapping[str, float], request_id: str, context: BackendContext) -> None:
    """Another backend routes (a real HAProxy in a drill): this engine's simulated fleet follows what it
    confirmed."""
    h = context.shared.get(NAME)
    if h is not None and not h.serves_router:
        h.sync().apply_shares(shares, request_id, inject_errors=False)
        h.saved()


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="mock",
            roles=ROLES,
            factory=_factory,
            description="deterministic fleet simulator serving every role (drills, tests, demos)",
            version=__version__,
            contract_version=2,
            capabilities=Capabilities(overflow=True),  # a scenario's [overflow] tier, split three ways
        )
    ]
