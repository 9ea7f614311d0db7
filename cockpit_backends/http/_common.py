"""Shared by the router and the providers: strict options, secrets that never print, retries.

Secrets (a bearer token, an API key) are held in :class:`Secret`, whose ``repr`` and ``str`` are a
placeholder, and every error message built here passes through :func:`scrub` so a server that echoes
the key back in its error body cannot make it reach the screen, the journal or a log.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 5.0


class Secret:
    """A credential that refuses to be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def scrub(text: str, *secrets: Secret | None) -> str:
    """Exact, line-folded, base64 and URL-encoded forms of each secret become ***, and URL credentials
    are hidden, on the raw text (before anything normalises it)."""
    from cockpit.redact import redact_text
    from cockpit.redact import scrub as _scrub

    return redact_text(_scrub(text, *(s.reveal() for s in secrets if s)))


class Options:
    """Strict reading of one ``[plugins.NAME]`` table: unknown keys and wrong types are one sentence."""

    def __init__(self, backend: str, raw: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self.backend = backend
        self.raw = dict(raw)
        unknown = sorted(set(self.raw) - set(known))
        if unknown:
            raise ConfigError(f"plugins.{backend}: unknown option {unknown[0]!r} (known: {', '.join(known)})")

    def where(self, key: str) -> str:
        return f"plugins.{self.backend}.{key}"

    def url(self, key: str, default: str | None = None) -> str:
        v = self.raw.get(key, default)
        if v is None:
            raise ConfigError(
                f"{self.where(key)}: required; set it to the service's address, e.g. 'http://127.0.0.1:8080'"
            )
        if not isinstance(v, str) or not v.startswith(("http://", "https://")):
            raise ConfigError(f"{self.where(key)}: expected an http:// or https:// URL, got {v!r}")
        return v.rstrip("/")

    def number(self, key: str, default: float, *, minimum: float, maximum: float) -> float:
        v = self.raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not minimum <= v <= maximum:
            raise ConfigError(f"{self.where(key)}: expected a number from {minimum:g} to {maximum:g}, got {v!r}")
        return float(v)

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        v = self.raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
            raise ConfigError(f"{self.where(key)}: expected a whole number from {minimum} to {maximum}, got {v!r}")
        return v

    def string(self, key: str, default: str) -> str:
        v = self.raw.get(key, default)
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{self.where(key)}: expected a non-empty string, got {v!r}")
        return v

    def secret(self, env_key: str, file_key: str | None, config_dir: str, *, default_env: str = "") -> Secret | None:
        """The credential named by `env_key` (an environment variable's *name*) or `file_key` (a file
        holding it). Errors name the variable or the file, never the value."""
        env_name = self.raw.get(env_key)
        path = self.raw.get(file_key) if file_key else None
        if env_name is not None and path is not None:
            raise ConfigError(f"{self.where(env_key)}: set either {env_key} or {file_key}, not both")
        if file_key and path is not None:  # (path is only ever read when file_key names it)
            if not isinstance(path, str) or not path:
                raise ConfigError(f"{self.where(file_key)}: expected a file path, got {type(path).__name__}")
            p = Path(path) if Path(path).is_absolute() else Path(config_dir) / path
            try:
                value = p.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{self.where(file_key)}: cannot read {str(p)!r} ({exc.strerror})") from None
            if not value:
                raise ConfigError(f"{self.where(file_key)}: {str(p)!r} is empty; put the key on its first line")
            return Secret(value)
        if env_name is None:
            if not default_env:
                return None
            env_name = default_env
        if not isinstance(env_name, str) or not env_name or "=" in env_name:
            raise ConfigError(f"{self.where(env_key)}: expected an environment variable's name, e.g. 'ROUTER_TOKEN'")
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(f"{self.where(env_key)}: environment variable {env_name} is not set; export it")
        return Secret(value.strip())


def backoff_delay(attempt: int, base_s: float, retry_after: str | None = None) -> float:
    """Exponential backoff with jitter; a server's Retry-After (seconds) wins, capped."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    return base_s * (2**attempt) * (0.5 + random.random() / 2)


async def request_with_retries(
    send: Callable[[], Awaitable[Any]],
    *,
    retries: int,
    backoff_s: float,
    what: str,
    secrets: tuple[Secret | None, ...] = (),
) -> Any:
    """Call `send` (an httpx request) until it answers something other than a connect error, a
    timeout, a 5xx or a 429, at most ``retries + 1`` times. Returns that response, or raises
    :class:`RequestFailed` (one scrubbed sentence) when every attempt failed."""
    import httpx

    last_error = ""
    for attempt in range(retries + 1):
        retry_after = None
        try:
            resp = await send()
        except httpx.TimeoutException:
            last_error = "timed out"
        except httpx.TransportError as exc:
            last_error = f"could not connect ({type(exc).__name__})"
        else:
            if resp.status_code not in RETRY_STATUSES:
                return resp
            last_error = f"answered {resp.status_code}"
            detail = error_detail(resp, *secrets)
            if detail:
                last_error += f" ({detail})"
            retry_after = resp.headers.get("retry-after")
        if attempt < retries:
            await asyncio.sleep(backoff_delay(attempt, backoff_s, retry_after))
    raise RequestFailed(scrub(f"{what} {last_error}, after {retries + 1} attempt(s)", *secrets))


class RequestFailed(Exception):
    """A request that failed on every attempt; its message is one scrubbed sentence."""


def error_detail(resp: Any, *secrets: Secret | None, limit: int = 200) -> str:
    """A short, scrubbed reason from an error response's body (JSON `error`/`message`, or its text)."""
    text = ""
    try:
        body = resp.json()
        if isinstance(body, dict):
            err = body.get("error", body.get("message", ""))
            if isinstance(err, dict):
                err = err.get("message", "")
            text = str(err)
    except Exception:
        text = resp.text
    text = " ".join(scrub(text, *secrets).split())  # scrub first: normalising could join a folded key
    return text[:limit]
