"""cockpit.toml: the one configuration file, validated strictly.

Relative paths in it are resolved against the file's own folder, so the cockpit behaves the same
whichever directory it is started from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from cockpit.domain.rollback import Mode, RollbackPolicy
from cockpit.domain.rollout import DEFAULT_STEPS, RolloutPlan
from cockpit.errors import ConfigError, abbreviate, name_problem
from cockpit.hookspecs import ROLES
from cockpit.identity import default_operator as default_operator  # where screens and engines get it
from cockpit.pin_policy import require_pinned_by
from cockpit.schema import load

# Every number is finite and within a documented range (docs/operations.md): inf and nan never pass.
Share = Annotated[float, Meta(ge=0.0, le=1.0)]
Positive = Annotated[float, Meta(gt=0.0, le=1e9)]
NonNegative = Annotated[float, Meta(ge=0.0, le=1e9)]
Seconds = Annotated[float, Meta(ge=0.0, le=31_536_000.0)]  # up to a year


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class CockpitSection(_Strict, kw_only=True):
    journal: str = "cockpit-journal.db"
    lock: str = "cockpit.lock"  # the pin lock file written by `cockpit pin`, relative to this file
    clock: Literal["real", "simulated"] = "real"  # "simulated": a clock from 0 (mock backends)
    speed: Annotated[float, Meta(gt=0.0, le=10_000.0)] = 1.0  # simulated seconds per wall second (simulated clock)
    tick_s: Annotated[float, Meta(ge=0.01, le=3600.0)] = 1.0
    backend_timeout_s: Annotated[float, Meta(ge=0.01, le=600.0)] = 5.0
    operator: str = ""


class ModelsSection(_Strict, kw_only=True):
    old: str  # pinned revision the rollback returns to
    new: str  # pinned revision being rolled out
    alias: str = ""  # the provider alias to watch for drift (optional)
    old_alias: str = ""  # a provider alias of the old revision, watched the same way (optional)


class TiersSection(_Strict, kw_only=True):
    old: str = "old"
    new: str = "new"
    cold_capacity_factor: Share = 0.5
    warm_hit_rate: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.8
    startup_estimate_s: Seconds = 120.0  # how long a new old-tier replica takes to be ready (plan ETAs)


class RolloutCohortSection(_Strict, kw_only=True):
    """[rollout.cohorts.NAME]: a cohort's own calendar; omitted steps or bake_s are [rollout]'s (start_s:
    when its tenants entered their current step, on the engine's clock; default: the fleet's adoption)."""

    steps: Annotated[list[Share], Meta(max_length=100)] | None = None
    bake_s: Annotated[float, Meta(gt=0.0, le=31_536_000.0)] | None = None
    start_s: Annotated[float, Meta(ge=-1e12, le=1e12)] | None = None


class RolloutSection(_Strict, kw_only=True):
    steps: Annotated[list[Share], Meta(max_length=100)] = msgspec.field(default_factory=lambda: list(DEFAULT_STEPS))
    bake_s: Annotated[float, Meta(gt=0.0, le=31_536_000.0)] = 3600.0
    cohorts: dict[str, RolloutCohortSection] = msgspec.field(default_factory=dict)


class RollbackSection(_Strict, kw_only=True):
    headroom: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.8
    min_stage_interval_s: Seconds = 0.0  # and in any case until the next observation
    cache_dip_tolerance: Share = 0.15
    min_move: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.01
    min_stage_fraction: Share = 0.05  # a stage moves this much of what is left, or finishes a tenant
    over_request: Annotated[float, Meta(ge=1.0, le=10.0)] = 2.0  # ask for this many times the replicas needed
    crash_reserve: Annotated[int, Meta(ge=0, le=1000)] = 2  # within 100 % if this many ready replicas crash
    mode: str = "auto"


class IncidentSection(_Strict, kw_only=True):
    regression_threshold: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.2


class FreezeSection(_Strict, kw_only=True):
    """What else an incident freezes, recorded in the incident and passed to every plugin's hook."""

    system_prompt_revision: str = ""  # the system-prompt revision in use: no prompt change while frozen
    flags: Annotated[list[str], Meta(max_length=10_000)] = msgspec.field(default_factory=list)  # frozen flags
    reassert_s: Seconds = 30.0  # while an incident is open, plugins re-assert their freezes this often (0: never)


class WarmerSection(_Strict, kw_only=True):
    enabled: bool = False  # start with the warmer on (toggle it from the TUI or `cockpit` commands)
    rate_per_s: Annotated[float, Meta(gt=0.0, le=10_000.0)] = (
        1.0  # warming requests per second against the old (rollback target) revision
    )
    sample_size: Annotated[int, Meta(ge=1, le=100_000)] = 50  # prefixes sampled from recent traffic
    prefixes_file: str = ""  # JSON lines of recorded prefixes; else the cache store's sample_prefixes


class OverflowSection(_Strict, kw_only=True):
    """The overflow tier beside the old one (docs/writing-a-plugin.md): off unless enabled, and used only
    through a router that declares ``capabilities.overflow``."""

    enabled: bool = False
    rate_limit_rps: Annotated[float, Meta(gt=0.0, le=1e7)] = 1.0  # the provider's quota for the old revision
    price_per_1k: Annotated[float, Meta(ge=0.0, le=1e9)] = 0.0  # price of 1,000 uncached requests
    cached_discount: Share = 0.0  # a cache hit costs (1 - cached_discount) of a miss
    headroom: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.9  # the share of the rate limit the planner fills


class BackendsSection(_Strict, kw_only=True):
    router: str = "mock"
    autoscaler: str = "mock"
    cache: str = "mock"
    provider: str = "mock"
    health: str = "mock"


class ServerSection(_Strict, kw_only=True):
    """Who may attach to `cockpit engine` and how they prove who they are (see docs/operations.md)."""

    tokens_file: str = ""  # lines "OPERATOR TOKEN": over TCP a screen proves its operator with the token
    tls_cert: str = ""  # mutual TLS over TCP: the engine's certificate and key,
    tls_key: str = ""
    tls_client_ca: str = ""  # and the CA that signs operators' certificates (their CN is the operator)
    observers: list[str] = msgspec.field(default_factory=lambda: ["*"])  # who may attach (user@host patterns)
    controllers: list[str] = msgspec.field(default_factory=lambda: ["*"])  # who may take control
    max_connections: Annotated[int, Meta(ge=1, le=1000)] = 64


class EngineSection(_Strict, kw_only=True):
    """`cockpit engine`'s inbound alert endpoint: Alertmanager may declare an incident (never arm)."""

    alerts_listen: str = ""  # HOST:PORT for POST /alerts (off when empty)
    alerts_token_env: str = ""  # the bearer token Alertmanager sends (http_config.authorization), from env
    alerts_token_file: str = ""  # … or from the first line of this file (relative to this file)
    alerts_max_body_kb: Annotated[int, Meta(ge=1, le=10_240)] = 256


class ConfigFile(_Strict, kw_only=True):
    models: ModelsSection
    cockpit: CockpitSection = msgspec.field(default_factory=CockpitSection)
    tiers: TiersSection = msgspec.field(default_factory=TiersSection)
    rollout: RolloutSection = msgspec.field(default_factory=RolloutSection)
    rollback: RollbackSection = msgspec.field(default_factory=RollbackSection)
    incident: IncidentSection = msgspec.field(default_factory=IncidentSection)
    backends: BackendsSection = msgspec.field(default_factory=BackendsSection)
    freeze: FreezeSection = msgspec.field(default_factory=FreezeSection)
    warmer: WarmerSection = msgspec.field(default_factory=WarmerSection)
    overflow: OverflowSection = msgspec.field(default_factory=OverflowSection)
    server: ServerSection = msgspec.field(default_factory=ServerSection)
    engine: EngineSection = msgspec.field(default_factory=EngineSection)
    pins: dict[str, str] = msgspec.field(default_factory=dict)  # named model references (aliases allowed)
    plugins: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    keymap: dict[str, str] = msgspec.field(default_factory=dict)


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """The validated configuration, with domain values built and paths resolved."""

    path: Path
    file: ConfigFile
    rollout: RolloutPlan
    rollback: RollbackPolicy
    mode: Mode
    journal_path: Path
    operator: str
    source: str = ""  # which configuration this is and why (cockpit.paths.find_config), shown on screen
    rollout_cohorts: dict[str, RolloutPlan] = msgspec.field(default_factory=dict)  # [rollout.cohorts.NAME]

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def journal_url(self) -> str:
        """[cockpit] journal as written when it is a redis:// URL (shared by engines), else the SQLite path."""
        raw = self.file.cockpit.journal
        return raw if raw.startswith(("redis://", "rediss://", "unix://")) else str(self.journal_path)

    @property
    def lock_path(self) -> Path:
        lock = Path(self.file.cockpit.lock)
        return lock if lock.is_absolute() else self.dir / lock

    def backend_for(self, role: str) -> str:
        return getattr(self.file.backends, role)

    def options_for(self, backend: str) -> dict[str, Any]:
        return dict(self.file.plugins.get(backend, {}))


def load_config(path: Path | str, overrides: dict[str, Any] | None = None, *, require_pins: bool = True) -> Config:
    """`require_pins=False` is for `cockpit lint`, which reports aliases instead of refusing them."""
    path = Path(path).resolve() if Path(path).exists() else Path(path)
    raw = load(path, ConfigFile, "configuration file")
    return build_config(path, raw, overrides, require_pins=require_pins)


def _names(raw: ConfigFile, where: str) -> None:
    """Names are shown on screens and compared byte for byte: printable, not empty, not padded."""
    named = [("models.old", raw.models.old), ("models.new", raw.models.new)]
    named += [("models.alias", raw.models.alias)] if raw.models.alias else []
    named += [("models.old_alias", raw.models.old_alias)] if raw.models.old_alias else []
    named += [("tiers.old", raw.tiers.old), ("tiers.new", raw.tiers.new)]
    named += [("cockpit.operator", raw.cockpit.operator)] if raw.cockpit.operator else []
    named += [(f"freeze.flags[{i}]", f) for i, f in enumerate(raw.freeze.flags)]
    named += [(f"pins.{abbreviate(k)}", v) for k, v in raw.pins.items()]
    for field, value in named:
        problem = name_problem(value)
        if problem:
            raise ConfigError(f"{where}: {field}: {abbreviate(value)!r} {problem}")
    if raw.tiers.old == raw.tiers.new:
        raise ConfigError(f"{where}: tiers.new: the same tier as tiers.old ({abbreviate(raw.tiers.old)})")


def build_config(
    path: Path, raw: ConfigFile, overrides: dict[str, Any] | None = None, *, require_pins: bool = True
) -> Config:
    where = str(path)
    _names(raw, where)
    if raw.models.old == raw.models.new:
        raise ConfigError(f"{where}: models.new: the same revision as models.old ({abbreviate(raw.models.old)})")
    if require_pins:  # the configured provider's documented offline rule decides (cockpit.pin_policy)
        require_pinned_by(raw.backends.provider, raw.models.old, f"{where}: models.old")
        require_pinned_by(raw.backends.provider, raw.models.new, f"{where}: models.new")
    try:
        plan = RolloutPlan(tuple(raw.rollout.steps), raw.rollout.bake_s)
    except ValueError as exc:
        raise ConfigError(f"{where}: rollout: {exc}") from None
    cohort_plans = {}
    for name, c in raw.rollout.cohorts.items():
        try:
            steps = tuple(c.steps) if c.steps is not None else plan.steps
            cohort_plans[name] = RolloutPlan(steps, c.bake_s or plan.bake_s, c.start_s)
        except ValueError as exc:
            raise ConfigError(f"{where}: rollout.cohorts.{abbreviate(name)}: {exc}") from None
    try:
        mode = Mode(raw.rollback.mode)
    except ValueError:
        raise ConfigError(
            f"{where}: rollback.mode: expected 'auto' or 'manual', got {abbreviate(raw.rollback.mode)!r}"
        ) from None
    for role in ROLES:
        if not getattr(raw.backends, role):
            raise ConfigError(f"{where}: backends.{role}: a backend name is required")
    policy = RollbackPolicy(
        headroom=raw.rollback.headroom,
        min_stage_interval_s=raw.rollback.min_stage_interval_s,
        cache_dip_tolerance=raw.rollback.cache_dip_tolerance,
        min_move=raw.rollback.min_move,
        min_stage_fraction=raw.rollback.min_stage_fraction,
        over_request=raw.rollback.over_request,
        crash_reserve=raw.rollback.crash_reserve,
    )
    journal = Path(raw.cockpit.journal)
    if not journal.is_absolute():
        journal = path.parent / journal
    if overrides and overrides.get("journal"):
        journal = Path(overrides["journal"])
    return Config(
        path=path,
        file=raw,
        rollout=plan,
        rollback=policy,
        mode=mode,
        journal_path=journal,
        operator=raw.cockpit.operator or default_operator(),
        rollout_cohorts=cohort_plans,
    )
