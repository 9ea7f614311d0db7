"""The roles a backend serves: one small async interface each, as a Protocol (re-exported by
``cockpit.hookspecs``, where the values they exchange and the hooks are; import them from either)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: hookspecs imports this module
    from cockpit.hookspecs import ApplyResult, NamespaceReading, TierReading, TrafficReading


@runtime_checkable
class TrafficRouter(Protocol):
    async def read_traffic(self) -> TrafficReading:
        """The per-tenant share on the new revision as the router serves it *now*, and the rates."""
        ...

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        """Set these tenants' shares. Idempotent per `request_id`. Report partial failure in
        ``ApplyResult.failed``; never report a tenant as applied that was not."""
        ...


@runtime_checkable
class Autoscaler(Protocol):
    async def read_tier(self, tier: str) -> TierReading: ...

    async def scale_tier(self, tier: str, replicas: int, request_id: str) -> None:
        """Hold the tier at no fewer than `replicas` (raise its floor: an HPA overrides hand-set
        replica counts, so a real backend raises the HPA's minimum as well)."""
        ...


@runtime_checkable
class CacheStore(Protocol):
    """Optionally also ``async def record_usage(self, namespace, hits, misses)``: count cache reads
    reported by the provider (the warmer, and drills that drive a real store from the simulator); and
    ``async def sample_prefixes(self, tier, n) -> list[PromptPrefix]``: a representative sample of recent
    prompt prefixes served by a tier (what the warmer replays); and
    ``async def gc(self)``: collect namespaces that are neither active, the rollback target nor frozen
    (the engine calls it periodically, never while an incident is open)."""

    async def namespaces(self) -> list[NamespaceReading]:
        """Every namespace the store knows; `tier` says which tier's *active* namespace it is ("" if
        none): the engine reads the old tier's hit rate from it."""
        ...

    async def fork(self, source: str, revision: str) -> str:
        """Make a namespace for `revision` from `source` (copy or re-point); return its name."""
        ...

    async def freeze(self, namespace: str) -> None:
        """No garbage collection or expiry of the namespace's entries until ``thaw``."""
        ...

    async def thaw(self, namespace: str) -> None: ...


@runtime_checkable
class ModelProvider(Protocol):
    """Optionally also ``async def warm(self, revision: str, prefix: PromptPrefix) -> WarmResult``: send
    one request with exactly that prefix to `revision` (the cache warmer); and ``async def classify(self,
    ref: str) -> cockpit.domain.pins.PinClass``: snapshot, alias or unknown, from the API or, offline, from
    the documented rule (``cockpit lint`` and ``cockpit pin`` use it; without it, only dated, ``@rev-…``
    and ``@sha256:…`` ids count as pinned)."""

    async def resolve(self, alias: str) -> str:
        """The pinned revision an alias points to right now."""
        ...


@runtime_checkable
class HealthSignals(Protocol):
    """Optionally also ``async def rates(self) -> Mapping[str, float]``: requests per second per
    tenant, used when the router cannot measure them (its ``TrafficReading.rps`` is empty); and
    ``async def warmth(self) -> Mapping[str, float]``: cache hit rate (0..1) keyed by a cache namespace's
    name, revision or tier, measured from live traffic (for example a serving engine's prefix-cache
    counters); where it names a namespace, it replaces the hit rate the cache store reports.

    Each may return a :class:`SignalReading` to say which tenants (or namespaces) are *unknown* and why;
    the engine shows them, never plans an unknown rate as 0 rps and never counts an unknown tenant as
    healthy. A plain mapping is still accepted."""

    async def regressions(self) -> Mapping[str, float]:
        """Regression severity on the new revision per tenant (0 healthy .. 1 all wrong). Tenants
        absent are healthy, unless the result is a :class:`SignalReading` that says why they are unknown."""
        ...


@runtime_checkable
class Simulator(Protocol):
    """Served by simulated backends only (the mock): drills use it to run a scenario and score it."""

    def now(self) -> float:
        """The simulated time the world has reached."""
        ...

    def scenario_info(self) -> Mapping[str, Any]:
        """name, duration_s, tick_s, description."""
        ...

    def scorecard(self, declared_at: float | None, scope: list[str]) -> dict[str, Any]:
        """Ground-truth figures for the drill so far (see the README's scorecard)."""
        ...

    def lower_bound(self, declared_at: float, scope: list[str]) -> float | None:
        """The capacity bound: seconds after `declared_at` before the old tier could possibly hold the
        failback (docs/scenarios.md, "Limits"); None when the world at `declared_at` is not known. A
        simulator may also offer `limits(declared_at, headroom, reserve, overflow)`: the scorecard's
        capacity_bound_s and clairvoyant figures (the mock's, cockpit_backends/mock/limits.py)."""
        ...

    def starting_shares(self) -> Mapping[str, float]:
        """The scenario's starting vector: a drill seeds a real router that stands in with it."""
        ...

    def usage(self) -> Mapping[str, tuple[float, float]]:
        """Cumulative (hits, misses) served per tier ("old", "new"): relayed into a real cache store
        when one stands in for the simulator's."""
        ...

    def close(self) -> None:
        """Drop the simulated world."""
        ...


ROLE_PROTOCOLS: dict[str, type] = {
    "simulator": Simulator,
    "router": TrafficRouter,
    "autoscaler": Autoscaler,
    "cache": CacheStore,
    "provider": ModelProvider,
    "health": HealthSignals,
}
