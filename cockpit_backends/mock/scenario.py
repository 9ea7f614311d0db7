"""The drill scenario format: a TOML file that describes a simulated fleet and what happens to it.

It is a public interface (game-day teams write their own), so it is validated strictly: an unknown
field, a wrong type or an out-of-range value is one clear error naming the file and the field.
The format is documented field by field in docs/scenarios.md.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from cockpit.domain.revisions import require_pinned
from cockpit.errors import ConfigError
from cockpit.schema import convert, read_toml

Share = Annotated[float, Meta(ge=0.0, le=1.0)]
Positive = Annotated[float, Meta(gt=0.0)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Count = Annotated[int, Meta(ge=0)]

EventKind = Literal[
    "regression_start",  # tenants start regressing on the new revision
    "regression_end",  # a fix ships: they stop regressing
    "alias_rotate",  # the provider repoints the alias
    "autoscaler_stall",  # the autoscaler accepts requests but starts no replica for a while
    "router_errors",  # the router fails a share of apply calls for a while
    "replica_crash",  # ready replicas of a tier crash (the autoscaler replaces them)
]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Meta_(_Strict, kw_only=True):
    name: str
    description: str = ""
    seed: int = 1
    duration_s: Positive = 3600.0
    tick_s: Positive = 1.0


class Models(_Strict, kw_only=True):
    old: str
    new: str
    alias: str = ""


class TierSpec(_Strict, kw_only=True):
    replicas: Count
    per_replica_rps: Positive
    startup_s: NonNegative = 90.0
    startup_jitter_s: NonNegative = 0.0
    cold_capacity_factor: Share = 0.5
    warm_hit_rate: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.8
    hpa_min: Count | None = None  # default: the starting replica count
    hpa_max: Annotated[int, Meta(ge=1)] = 1000
    hpa_target_utilisation: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.7
    hpa_interval_s: Positive = 15.0
    scale_down_delay_s: NonNegative = 300.0
    replica_hour_cost: NonNegative = 4.0


class CacheSpec(_Strict, kw_only=True):
    hit_rate: Share = 0.7  # the namespace's starting hit rate
    warm_requests: Positive = 20000.0  # requests served to close 63 % of the gap to warm
    ttl_s: Positive = 1800.0  # warmth of unused prefixes decays with this time constant
    prefixes: Annotated[int, Meta(ge=1)] = 200  # distinct hot prefixes: one warming request refreshes one


class Tenant(_Strict, kw_only=True):
    name: str
    cohort: str = "default"
    rps: NonNegative
    share: Share  # starting share on the new revision


class Cohort(_Strict, kw_only=True):
    """Generates `tenants` tenants named <name>-0001 … with the same rate and share."""

    name: str
    tenants: Annotated[int, Meta(ge=1)]
    rps: NonNegative
    share: Share


class Health(_Strict, kw_only=True):
    detection_delay_s: NonNegative = 30.0
    noise: Share = 0.0


class Cost(_Strict, kw_only=True):
    request_cost: NonNegative = 0.01  # cost of one uncached request
    cached_discount: Share = 0.9  # a cache hit costs (1 - cached_discount) of a miss


class Event(_Strict, kw_only=True):
    at_s: NonNegative
    kind: EventKind
    tenants: list[str] = msgspec.field(default_factory=list)
    cohort: str = ""
    severity: Share = 0.5
    to: str = ""
    duration_s: NonNegative = 0.0
    rate: Share = 0.0
    tier: Literal["old", "new"] = "old"
    count: Count = 1


class Tiers(_Strict, kw_only=True):
    old: TierSpec
    new: TierSpec

    def items(self) -> list[tuple[str, TierSpec]]:
        return [("old", self.old), ("new", self.new)]


class Caches(_Strict, kw_only=True):
    old: CacheSpec | None = None
    new: CacheSpec | None = None


class Scenario(_Strict, kw_only=True):
    scenario: Meta_
    models: Models
    tiers: Tiers
    caches: Caches = msgspec.field(default_factory=Caches)
    tenants: list[Tenant] = msgspec.field(default_factory=list)
    cohorts: list[Cohort] = msgspec.field(default_factory=list)
    health: Health = msgspec.field(default_factory=Health)
    cost: Cost = msgspec.field(default_factory=Cost)
    events: list[Event] = msgspec.field(default_factory=list)


BUILTIN = "cockpit_backends.mock"


def builtin_names() -> list[str]:
    folder = resources.files(BUILTIN) / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve_path(ref: str, base: Path | None = None) -> Path:
    """A scenario reference: a path (relative to `base`), or the name of a bundled scenario."""
    p = Path(ref)
    if base is not None and not p.is_absolute():
        candidate = base / p
        if candidate.exists():
            return candidate
    if p.exists():
        return p
    if "/" not in ref and not ref.endswith(".toml"):
        bundled = Path(str(resources.files(BUILTIN) / "scenarios" / f"{ref}.toml"))
        if bundled.exists():
            return bundled
        raise ConfigError(
            f"scenario {ref!r} is neither a file nor a bundled scenario (bundled: {', '.join(builtin_names())})"
        )
    raise ConfigError(f"{ref}: scenario file not found")


def load_scenario(ref: str, base: Path | None = None) -> tuple[Path, Scenario]:
    path = resolve_path(ref, base)
    sc = convert(read_toml(path, "scenario"), Scenario, str(path))
    validate(sc, str(path))
    return path, sc


def validate(sc: Scenario, where: str) -> None:
    """Cross-field rules the types cannot say."""
    require_pinned(sc.models.old, f"{where}: models.old")
    require_pinned(sc.models.new, f"{where}: models.new")
    names: set[str] = set()
    cohorts: set[str] = set()
    for i, t in enumerate(sc.tenants):
        if t.name in names:
            raise ConfigError(f"{where}: tenants[{i}].name: tenant {t.name!r} is listed twice")
        names.add(t.name)
        cohorts.add(t.cohort)
    for i, c in enumerate(sc.cohorts):
        if c.name in cohorts:
            raise ConfigError(f"{where}: cohorts[{i}].name: cohort {c.name!r} is defined twice")
        cohorts.add(c.name)
        for n in range(1, c.tenants + 1):
            generated = f"{c.name}-{n:04d}"
            if generated in names:
                raise ConfigError(f"{where}: cohorts[{i}]: generated tenant {generated!r} is also listed in tenants")
            names.add(generated)
    if not sc.tenants and not sc.cohorts:
        raise ConfigError(f"{where}: tenants: a scenario needs at least one tenant or cohort")
    for i, e in enumerate(sc.events):
        at = f"{where}: events[{i}]"
        if e.at_s > sc.scenario.duration_s:
            raise ConfigError(f"{at}.at_s: {e.at_s} is after the scenario ends ({sc.scenario.duration_s} s)")
        for t in e.tenants:
            if t not in names:
                raise ConfigError(f"{at}.tenants: unknown tenant {t!r}")
        if e.cohort and e.cohort not in cohorts:
            raise ConfigError(f"{at}.cohort: unknown cohort {e.cohort!r}")
        if e.kind in ("regression_start", "regression_end") and not (e.tenants or e.cohort):
            raise ConfigError(f"{at}: a {e.kind} event names its tenants or its cohort")
        if e.kind == "alias_rotate":
            if not sc.models.alias:
                raise ConfigError(f"{at}: alias_rotate needs models.alias")
            require_pinned(e.to, f"{at}.to")
        if e.kind in ("autoscaler_stall", "router_errors") and e.duration_s <= 0:
            raise ConfigError(f"{at}.duration_s: a {e.kind} event needs a positive duration")
        if e.kind == "router_errors" and e.rate <= 0:
            raise ConfigError(f"{at}.rate: a router_errors event needs a rate above 0")
