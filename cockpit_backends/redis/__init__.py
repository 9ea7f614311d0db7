"""The redis backend: versioned, forkable prompt-cache namespaces in a real Redis server (the cache role).

A namespace is keyed by provider, resolved model revision and a platform-owned generation, so a model
swap forks a new namespace instead of migrating one in place; each tier has an ``active`` pointer that
a rollback flips back. The key schema is in docs/backends/redis.md.

Options (``[plugins.redis]`` in cockpit.toml):
    url         redis://[user:password@]host:port/db (default redis://127.0.0.1:6379/0)
    prefix      key prefix, so several stores share a database (default "cockpit:cache:")
    provider    the model provider the namespaces belong to (default "anthropic")
    tiers       tier -> pinned revision: the namespace each tier's active pointer starts at, created
                when the tier has none ({old = "claude-opus-4-20250514", new = "..."}); optional
    window_s    the sliding window hit rates are computed over, in seconds of the engine's clock (5)
    buckets     how many buckets the window is cut into (5)
    ttl_s       the default expiry of an entry put without one (3600)
    timeout_s   socket connect and read timeout (2)

This module only validates options: redis-py is imported when a store is created.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_REVISION = re.compile(r"^[A-Za-z0-9._:@/+-]+$")
KNOWN = ("url", "prefix", "provider", "tiers", "window_s", "buckets", "ttl_s", "timeout_s")


@dataclass(frozen=True, slots=True)
class Options:
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "cockpit:cache:"
    provider: str = "anthropic"
    tiers: tuple[tuple[str, str], ...] = ()  # (tier name as the autoscaler knows it, revision)
    window_s: float = 5.0
    buckets: int = 5
    ttl_s: float = 3600.0
    timeout_s: float = 2.0

    @property
    def safe_url(self) -> str:
        """The url without credentials: the only form that reaches an error message."""
        return redact(self.url)


def redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "redis://<unparseable url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _url(url: Any) -> str:
    if not isinstance(url, str):
        raise ConfigError("plugins.redis.url: expected a string such as redis://127.0.0.1:6379/0")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigError("plugins.redis.url: not a valid URL; use redis://host:port/db") from None
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.scheme == "unix"):
        raise ConfigError(f"plugins.redis.url: {redact(url)!r} is not a redis:// URL; use redis://host:port/db")
    db = parts.path.lstrip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise ConfigError(f"plugins.redis.url: database {db!r} must be a number, e.g. redis://127.0.0.1:6379/1")
    return url


def _prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        raise ConfigError("plugins.redis.prefix: expected a non-empty string without spaces, e.g. 'cockpit:cache:'")
    return prefix


def _provider(provider: Any) -> str:
    if not isinstance(provider, str) or not _NAME.match(provider):
        raise ConfigError("plugins.redis.provider: expected a name of letters, digits, '.', '_' or '-'")
    return provider


def _tiers(raw: Any, roles: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError("plugins.redis.tiers: expected a table of tier = pinned revision")
    tiers = []
    for tier, revision in raw.items():
        if not isinstance(revision, str) or not _REVISION.match(revision):
            raise ConfigError(f"plugins.redis.tiers.{tier}: expected a pinned revision string, got {revision!r}")
        # "old"/"new" are the cockpit's role names: map them to the tier names the autoscaler knows.
        tiers.append((roles.get(tier, tier), revision))
    return tuple(tiers)


def _seconds(field: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"plugins.redis.{field}: expected a positive number, got {value!r}")
        return float(value)

    return check


def _buckets(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"plugins.redis.buckets: expected a positive integer, got {value!r}")
    if value > 1000:
        raise ConfigError("plugins.redis.buckets: at most 1000 buckets per window")
    return value


DEFAULTS = Options()

# Each option's check, in the order they are validated (the first bad one is the one reported).
# ``tiers`` also needs the context's role names: parse_options rebinds it (keeping its place).
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "url": _url,
    "prefix": _prefix,
    "provider": _provider,
    "tiers": partial(_tiers, roles={}),
    "window_s": _seconds("window_s"),
    "buckets": _buckets,
    "ttl_s": _seconds("ttl_s"),
    "timeout_s": _seconds("timeout_s"),
}
_RAW_DEFAULTS: dict[str, Any] = {field: getattr(DEFAULTS, field) for field in KNOWN} | {"tiers": {}}


def parse_options(options: Mapping[str, Any], context: BackendContext | None = None) -> Options:
    """Strict: unknown fields and bad values are one-sentence ConfigErrors naming the field."""
    unknown = sorted(set(options) - set(KNOWN))
    if unknown:
        raise ConfigError(f"plugins.redis: unknown option {unknown[0]!r} (known: {', '.join(KNOWN)})")
    roles = dict(context.tiers) if context is not None else {}
    checks = _CHECKS | {"tiers": partial(_tiers, roles=roles)}
    return Options(**{field: check(options.get(field, _RAW_DEFAULTS[field])) for field, check in checks.items()})


def _factory(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    opts = parse_options(options, context)
    from cockpit_backends.redis.store import RedisCacheStore  # redis-py only when the backend is configured

    return RedisCacheStore(opts, clock=context.clock)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="redis",
            roles=frozenset({"cache"}),
            factory=_factory,
            description="versioned, forkable prompt-cache namespaces in Redis: freeze, fork, active pointers, GC",
            version=__version__,
        )
    ]
