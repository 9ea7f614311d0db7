"""The plugin contract.

A backend plugin is an importable module (or object) registered under the ``cockpit.backends``
entry-point group. It implements ``cockpit_backends`` to say which backends it provides and which
*roles* each serves, and may answer any of the event hooks. Each role is a small async interface,
defined as a Protocol in ``cockpit.roles`` (re-exported here): an object the plugin's factory returns for a role.

Roles
    router       read and apply the per-tenant share on the new revision
    autoscaler   ready/desired replicas and per-replica capacity of a tier; set a tier's floor
    cache        cache namespaces with hit rates; fork, freeze, thaw, garbage collection
    provider     resolve a model alias to a pinned revision
    health       which tenants regress on the new revision, and how badly

How results combine
    ``cockpit_backends``      every plugin's list is concatenated; a backend name claimed twice is an
                              error reported by the host, and the first registration wins.
    event hooks               every implementation is called, each in isolation: one that raises is
                              reported (journal, screen) and the others still run. Return values are
                              ignored. They run on the control loop, so they must return quickly. Each
                              may take ``context``: the ``BackendContext`` of the engine the event is about.

Lifetime
    Role objects belong to the one engine whose ``BackendContext`` their factory got. When that engine
    closes, the host awaits ``aclose()`` once on every role object that has one (an object serving two
    roles is closed once), then on every value in ``context.shared`` that has one. State the roles of one
    plugin share (a connection, a simulated world) goes in ``context.shared`` under the plugin's name, never
    in a module-level dict: two engines in one process never see each other's.

Writing a plugin for an in-house router takes one class with two async methods (see
``TrafficRouter``) and a ``cockpit_backends`` hook; ``cockpit_backends/mock`` is a complete example.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from cockpit.roles import ROLE_PROTOCOLS as ROLE_PROTOCOLS  # the role Protocols, re-exported
from cockpit.roles import Autoscaler as Autoscaler
from cockpit.roles import CacheStore as CacheStore
from cockpit.roles import HealthSignals as HealthSignals
from cockpit.roles import ModelProvider as ModelProvider
from cockpit.roles import Simulator as Simulator
from cockpit.roles import TrafficRouter as TrafficRouter

PROJECT = "cockpit"
ENTRY_POINT_GROUP = "cockpit.backends"
ROLES = ("router", "autoscaler", "cache", "provider", "health")
# The plugin contract this cockpit speaks. A backend declares the version it was written for in
# ``BackendSpec.contract_version``; the host refuses one outside ``SUPPORTED_CONTRACTS`` with one sentence.
#   1  the roles, values and hooks of this module without the two below
#   2  ``BackendContext.models`` (the pinned old and new revisions, the alias) and ``BackendSpec.capabilities``;
#      ``BackendContext.shared``, the ``context`` argument of the event hooks and ``aclose()`` on role objects
CONTRACT_VERSION = 2
SUPPORTED_CONTRACTS = range(1, CONTRACT_VERSION + 1)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# Values that cross the contract ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficReading:
    """Columnar, so 10,000 tenants cost three dicts rather than 10,000 objects.

    Readings are immutable once returned: the engine keeps them across ticks and never changes them,
    and a backend must not change a mapping it has handed out (return a new one instead). A backend
    may return the very same reading object (or mapping) again while nothing changed; the engine then
    skips the per-tenant work that depends on it, so a quiet tick costs the same at 100,000 tenants as
    at 10. The same holds for health readings."""

    shares: Mapping[str, float]  # observed share on the new revision, 0..1
    rps: Mapping[str, float]  # requests per second per tenant; empty if the router cannot measure it
    cohorts: Mapping[str, str] = field(default_factory=dict)
    # Optional, for a router that knows what it changed: (the `shares` of a reading it returned before,
    # the tenants whose share may differ from it there: more is fine, none left out). The engine then
    # looks at those tenants alone instead of comparing every share of the two readings (the one
    # O(tenants) step left of a stage); left None, it compares them.
    changed_since: tuple[Mapping[str, float], frozenset[str]] | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What the router confirms after applying. `failed` names tenants it could not set, with why."""

    applied: Mapping[str, float]
    failed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OverflowReading:
    """A three-way router's overflow vector (capability ``overflow``): per tenant, the part of its
    *old-revision* traffic the overflow tier serves (0..1; absent is 0), independent of the new-revision
    share: at new share n and overflow share o the router sends n to new, (1 - n)·o to the overflow tier
    and the rest to the old tier. ``apply_overflow`` sets it like ``apply_shares`` sets the new shares
    (idempotent per request id, partial failure in ``ApplyResult.failed``). `load_rps` and `hit_rate` are
    the overflow tier's own measurements when the router has them (None: unknown)."""

    shares: Mapping[str, float]
    load_rps: float | None = None
    hit_rate: float | None = None


@dataclass(frozen=True, slots=True)
class TierReading:
    ready: int
    desired: int
    per_replica_rps: float
    load_rps: float | None = None  # the tier's own measured load, when the backend knows it


@dataclass(frozen=True, slots=True)
class NamespaceReading:
    name: str
    tier: str
    revision: str
    generation: int
    hit_rate: float
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class PromptPrefix:
    """A recorded request prefix the warmer replays exactly: same system prompt, tools and settings,
    so the provider's cache key is the one live traffic will hit."""

    key: str  # stable identity (e.g. tenant + prompt revision + hash)
    system: str
    tools: tuple[Mapping[str, Any], ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. temperature, top_p: as live traffic sends
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class WarmResult:
    """What the provider reported for one warming request. Success is a cache *read* it reports."""

    cache_read_tokens: int
    cache_write_tokens: int
    input_tokens: int
    cost: float  # in the currency the cost model uses


@dataclass(frozen=True, slots=True)
class PinnedModels:
    """The revisions cockpit.toml's ``[models]`` pins (contract 2): read them here instead of repeating
    them as a plugin option, so they never disagree after a ``cockpit pin --rollback``."""

    old: str = ""  # the rollback target
    new: str = ""  # the revision being rolled out (or back)
    alias: str = ""  # the floating alias the provider resolves, "" if none


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a backend factory gets besides its options.

    `clock` is the engine's clock (``now()`` in seconds): backends that simulate use it, real ones
    may ignore it. `config_dir` resolves relative paths in options. `tiers` maps role names
    ("old", "new") to the tier names the autoscaler knows. `models` are the pinned revisions (contract 2).
    `shared` is created by the engine, one per engine: its plugins' roles and event hooks keep the state
    they share there, under the plugin's name (values with an async ``aclose()`` are closed with the engine).
    """

    clock: Any
    config_dir: str
    tiers: Mapping[str, str] = field(default_factory=dict)
    tenants: tuple[str, ...] = ()
    models: PinnedModels = PinnedModels()
    config_file: str = ""  # the configuration file the options came from, for error messages (contract 2)
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # per engine (contract 2)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do (contract 2), declared so the host and `plugins check` need not guess.

    `share_step`: the smallest share move a router stores (0.01 for a router that keeps whole-percent
    weights; 0.0 for any share); `plugins check --write` moves a tenant by it. `creates_tenants`: whether
    ``apply_shares`` may name a tenant the router does not serve yet (a drill seeds its starting shares
    that way). `measures_rates`: whether ``TrafficReading.rps`` is filled (else the health backend's
    ``rates()`` must be). `answers_unknown`: a health backend that returns a ``SignalReading`` with
    unknowns rather than leaving a tenant out. `overflow`: a router that splits three ways (new, old,
    overflow tier) and implements ``read_overflow() -> OverflowReading`` and ``apply_overflow(shares,
    request_id) -> ApplyResult`` (see ``OverflowReading``); without it the overflow tier is unavailable
    and everything else works as before."""

    share_step: float = 0.0
    creates_tenants: bool = True
    measures_rates: bool = True
    answers_unknown: bool = False
    overflow: bool = False

    def problem(self) -> str | None:
        """Why these capabilities cannot be right (one phrase), None when they can."""
        step = self.share_step
        if isinstance(step, bool) or not isinstance(step, int | float) or not 0.0 <= step <= 0.5:
            return f"capabilities.share_step must be a number from 0 to 0.5, not {step!r}"
        if not isinstance(self.overflow, bool):
            return f"capabilities.overflow must be true or false, not {self.overflow!r}"
        return None


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A backend a plugin offers. `factory(role, options, context)` returns the role object; `options`
    is the ``[plugins.NAME]`` table, or, when the spec declares an `options` type (contract 2), that table
    validated into it (see ``cockpit.options``).

    `contract_version` is the plugin contract the backend was written for (see ``CONTRACT_VERSION``);
    a backend that does not say is taken as contract 1."""

    name: str
    roles: frozenset[str]
    factory: Callable[[str, Any, BackendContext], Any]
    description: str = ""
    version: str = ""
    contract_version: int = 1
    capabilities: Capabilities = Capabilities()
    options: type | None = None  # a msgspec Struct: the host validates the table and the factory gets the Struct
    # A provider's documented offline rule, ``ref -> cockpit.domain.pins.PinClass`` with no I/O: what
    # loading cockpit.toml uses to refuse an alias where a pin is required (contract 2).
    pin_rule: Callable[[str], Any] | None = None


@dataclass(frozen=True, slots=True)
class PluginAction:
    """A keystroke a plugin adds to the cockpit (shown in help and the palette). `run()` returns one
    sentence for the screen. It goes through the engine's command entry, so it is journaled with the
    operator's identity and refused in read-only mode when `mutating`."""

    id: str  # namespaced: "<plugin>.<action>"
    key: str  # a Textual key name, e.g. "x" or "ctrl+k"
    description: str
    run: Callable[[], Awaitable[str]]
    mutating: bool = True


class SignalReading(Mapping[str, float]):
    """A per-tenant reading (regression severity, requests per second) that can also say which tenants
    it could not read, and why: *unknown is a state*, never healthy and never 0 rps.

    It is a ``Mapping[str, float]`` of the tenants it did read, so code written for a plain mapping keeps
    working, and a plugin that returns a plain mapping is still valid (it simply has no unknowns).
    `unknown` maps a tenant to one short reason ("too few samples: 3 < 20", "NaN (0/0: no requests in
    the window)", "stale series: last sample 95 s ago", "query failed: …"). `missing` is the reason for
    every tenant in neither (e.g. "no series for this tenant"); empty means an absent tenant reads as the
    old contract says (healthy for severities).
    """

    __slots__ = ("_values", "missing", "unknown")

    def __init__(
        self, values: Mapping[str, float], unknown: Mapping[str, str] | None = None, missing: str = ""
    ) -> None:
        self._values = values
        self.unknown: Mapping[str, str] = unknown or {}
        self.missing = missing

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SignalReading({len(self._values)} read, {len(self.unknown)} unknown, missing={self.missing!r})"

    def why_unknown(self, tenant: str) -> str | None:
        """The reason `tenant` has no reading here, or None when it has one (or reads as absent)."""
        if tenant in self._values:
            return None
        return self.unknown.get(tenant) or self.missing or None


def unknowns(reading: Mapping[str, float] | None, tenants: Iterable[str], failed: str = "") -> dict[str, str]:
    """Tenant -> why its reading is unknown, for the tenants asked about. A plain mapping has none; a
    reading that could not be taken at all (None) makes every tenant unknown with `failed`."""
    if reading is None:
        return dict.fromkeys(tenants, failed or "no reading") if failed else {}
    if not isinstance(reading, SignalReading):
        return {}
    if not reading.unknown and not reading.missing:
        return {}
    out = {}
    for t in tenants:
        why = reading.why_unknown(t)
        if why is not None:
            out[t] = why
    return out


# Hooks -----------------------------------------------------------------------------------------


class CockpitSpec:
    """The hook specifications. Every argument is passed by keyword."""

    @hookspec
    def cockpit_backends(self) -> list[BackendSpec]:
        """The backends this plugin provides. Lists from all plugins are concatenated."""
        raise NotImplementedError  # a specification: pluggy calls the implementations, never this

    @hookspec
    def cockpit_actions(self, context: BackendContext) -> list[PluginAction]:
        """Keystrokes this plugin adds to the cockpit for the engine bound to `context`. Lists from all
        plugins are concatenated; an id claimed twice is reported and the first one wins."""
        raise NotImplementedError  # a specification: pluggy calls the implementations, never this

    @hookspec
    def cockpit_configure(self, plugins: Mapping[str, Mapping[str, Any]], context: BackendContext) -> None:
        """The engine starts: every plugin sees cockpit.toml's ``[plugins]`` tables and picks its own,
        whether or not it serves a role (freeze-only plugins: deploy-pipeline webhooks, CronJobs). Raise
        ``cockpit.errors.ConfigError`` for bad options: the cockpit refuses to start with that sentence."""

    @hookspec
    def cockpit_incident_declared(self, incident: Mapping[str, Any], context: BackendContext) -> None:
        """An incident was declared and everything that would drift is now frozen. Answer it to
        freeze what the cockpit cannot see: deploy pipelines, CronJobs, flag services."""

    @hookspec
    def cockpit_incident_released(self, incident: Mapping[str, Any], context: BackendContext) -> None:
        """The incident was released (confirmed by an operator): thaw what you froze."""

    @hookspec
    def cockpit_freeze_reassert(self, incident: Mapping[str, Any], context: BackendContext) -> list[str] | None:
        """While the incident is open (every ``[freeze] reassert_s``, in a worker thread, never blocking a
        tick): freeze again whatever reads back unfrozen (resumed by hand, re-synced by GitOps, created
        since). Return one short phrase per thing frozen again ("Rollout models/canary"), empty when all
        held; the engine journals them as ``freeze_reasserted``. Raise to report a failure."""

    @hookspec
    def cockpit_freeze_check(
        self, name: str, freeze: Mapping[str, Any], context: BackendContext
    ) -> list[tuple[str, bool, str]] | None:
        """`cockpit plugins check NAME`, after ``cockpit_configure``: when NAME is a table you freeze from,
        read (never change) what a declare would freeze and return one (what, ok, detail) per check;
        None when NAME is not yours. `freeze` is cockpit.toml's ``[freeze]`` table (its flags)."""

    @hookspec
    def cockpit_stage_applied(self, stage: Mapping[str, Any], context: BackendContext) -> None:
        """A rollback stage was applied and confirmed by read-back."""

    @hookspec
    def cockpit_shares_applied(self, shares: Mapping[str, float], request_id: str, context: BackendContext) -> None:
        """The router confirmed (by read-back) these tenants' new-revision shares. Simulators that do
        not serve the router role mirror them; audit plugins record them."""

    @hookspec
    def cockpit_alias_moved(
        self, alias: str, previous: str, current: str, seen_at: float, context: BackendContext
    ) -> None:
        """A provider alias resolves to a different pinned revision than it did."""
