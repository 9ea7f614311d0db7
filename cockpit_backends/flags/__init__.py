"""Feature-flag freeze on incident: LaunchDarkly and Unleash, through their REST APIs.

``[freeze] flags`` names the flags an incident freezes. Each flag service here turns them off in one
environment on declare, turns back on only the flags that were on before, on release (a flag already
off is left off), and while the incident is open turns off again any that reads back on. It serves no
role: it answers the freeze hooks. Options (docs/backends/flags.md)::

    [plugins.launchdarkly]                 # or [plugins.unleash], or both
    url = "https://app.launchdarkly.com"   # Unleash: your instance, e.g. "https://unleash.internal"
    token_env = "LD_API_TOKEN"             # the API access token (Unleash: an admin or personal token)
    project = "default"
    environment = "production"
    flags = ["new-system-prompt"]          # optional: else the incident's [freeze] flags
    timeout_s = 5                          # per request
    state_file = ".cockpit-launchdarkly-freeze.json"   # the prior values, relative to cockpit.toml

The prior values are kept in `state_file` (written before any flag is turned off), so a cockpit
restarted mid-incident still turns back on what it turned off. This module is imported at every
start-up: the HTTP client and the service modules are imported when a hook runs with the table set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, hookimpl

__version__ = "0.1.0"

SERVICES = ("launchdarkly", "unleash")
KNOWN = {"url", "token_env", "project", "environment", "flags", "timeout_s", "state_file"}
DEFAULT_URL = {"launchdarkly": "https://app.launchdarkly.com"}


def _text(service: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ConfigError(f"plugins.{service}.{key}: expected a non-empty string without surrounding spaces")
    return value


def parse(service: str, opts: Mapping[str, Any], config_dir: str) -> dict[str, Any]:
    """The table checked into plain values (no I/O beyond resolving the state file's path)."""
    import os
    from pathlib import Path

    unknown = sorted(set(opts) - KNOWN)
    if unknown:
        raise ConfigError(f"plugins.{service}.{unknown[0]}: unknown option (known: {', '.join(sorted(KNOWN))})")
    url = _text(service, "url", opts.get("url", DEFAULT_URL.get(service)))
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"plugins.{service}.url: expected an http(s) URL")
    flags = opts.get("flags")
    if flags is not None and (not isinstance(flags, list) or not all(isinstance(f, str) and f for f in flags)):
        raise ConfigError(f"plugins.{service}.flags: expected a list of flag keys")
    timeout = opts.get("timeout_s", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ConfigError(f"plugins.{service}.timeout_s: expected a number of seconds between 0 and 60")
    token_env = _text(service, "token_env", opts.get("token_env"))
    if not os.environ.get(token_env):
        raise ConfigError(f"plugins.{service}.token_env: the environment variable {token_env} is not set")
    state = Path(_text(service, "state_file", opts.get("state_file", f".cockpit-{service}-freeze.json")))
    return {
        "service": service,
        "url": url.rstrip("/"),
        "token_env": token_env,
        "project": _text(service, "project", opts.get("project", "default")),
        "environment": _text(service, "environment", opts.get("environment")),
        "flags": None if flags is None else tuple(flags),
        "timeout_s": float(timeout),
        "state_file": str(state if state.is_absolute() else Path(config_dir) / state),
    }


class FlagPlugin:
    """One flag service as a plugin of its own, named as its table: the `launchdarkly` and `unleash`
    entry points are the two instances below. Its settings live in ``context.shared[service]``."""

    def __init__(self, service: str) -> None:
        self.service = service

    @hookimpl
    def cockpit_configure(self, plugins: Mapping[str, Mapping[str, Any]], context: BackendContext) -> None:
        if self.service in plugins:
            context.shared[self.service] = parse(self.service, plugins[self.service], context.config_dir)
        else:
            context.shared.pop(self.service, None)

    def _run(self, action: str, incident: Mapping[str, Any], context: BackendContext) -> list[str]:
        opts = context.shared.get(self.service)
        if opts is None:
            return []
        from cockpit_backends.flags.freezer import run

        return run(action, opts, incident)

    @hookimpl
    def cockpit_incident_declared(self, incident: Mapping[str, Any], context: BackendContext) -> None:
        self._run("freeze", incident, context)

    @hookimpl
    def cockpit_incident_released(self, incident: Mapping[str, Any], context: BackendContext) -> None:
        self._run("thaw", incident, context)

    @hookimpl
    def cockpit_freeze_reassert(self, incident: Mapping[str, Any], context: BackendContext) -> list[str]:
        return self._run("reassert", incident, context)

    @hookimpl
    def cockpit_freeze_check(
        self, name: str, freeze: Mapping[str, Any], context: BackendContext
    ) -> list[tuple[str, bool, str]] | None:
        """`cockpit plugins check launchdarkly|unleash`: read each flag a declare would turn off."""
        opts = context.shared.get(self.service)
        if name != self.service or opts is None:
            return None
        from cockpit_backends.flags.freezer import check

        return check(opts, {"freeze": {"flags": list(freeze.get("flags") or [])}})


launchdarkly = FlagPlugin("launchdarkly")
unleash = FlagPlugin("unleash")
