"""The `webhook` freeze plugin: tells deploy pipelines (and anything else with an HTTP endpoint) that an
incident froze the fleet, and when it thawed, so a scheduled rollout cannot resume underneath the on-call.

It serves no role: it answers the freeze hooks. Options (``[plugins.webhook]`` in cockpit.toml)::

    urls = ["https://ci.internal/hooks/freeze"]   # each gets a POST per event
    token_env = "FREEZE_WEBHOOK_TOKEN"             # optional: sent as "Authorization: Bearer …"
    timeout_s = 3

Each POST carries JSON ``{"event": "incident_declared" | "incident_released", "incident": {...}}``, the
incident including its freeze manifest (rollout, cache namespaces, system-prompt revision, flags). A hook
runs on the control loop, so it is bounded by ``timeout_s``; a failure is raised, which the cockpit
journals as a plugin error and shows on screen: a freeze that did not reach the pipeline is not silent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, hookimpl

__version__ = "0.1.0"

KNOWN = {"urls", "token_env", "timeout_s"}


class _Settings:
    urls: tuple[str, ...] = ()
    token_env: str = ""
    timeout_s: float = 3.0


settings = _Settings()


@hookimpl
def cockpit_configure(plugins: Mapping[str, Mapping[str, Any]], context: BackendContext) -> None:
    opts = plugins.get("webhook")
    settings.urls, settings.token_env, settings.timeout_s = (), "", 3.0
    if opts is None:
        return
    unknown = set(opts) - KNOWN
    if unknown:
        raise ConfigError(f"plugins.webhook.{sorted(unknown)[0]}: unknown option (known: {', '.join(sorted(KNOWN))})")
    urls = opts.get("urls", [])
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise ConfigError("plugins.webhook.urls: expected a list of http(s) URLs")
    timeout = opts.get("timeout_s", 3.0)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        raise ConfigError("plugins.webhook.timeout_s: expected a number of seconds between 0 and 30")
    token_env = opts.get("token_env", "")
    if not isinstance(token_env, str):
        raise ConfigError("plugins.webhook.token_env: expected the name of an environment variable")
    settings.urls, settings.token_env, settings.timeout_s = tuple(urls), token_env, float(timeout)


def redact_url(url: str, *, keep_path: bool = True) -> str:
    from cockpit.redact import redact_url as _redact  # a webhook URL's path and query are its token

    return _redact(url, keep_path=keep_path)


def _post(event: str, incident: Mapping[str, Any]) -> None:
    if not settings.urls:
        return
    import httpx

    headers = {"content-type": "application/json"}
    token = os.environ.get(settings.token_env, "") if settings.token_env else ""
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"event": event, "incident": dict(incident)})
    failed = []
    with httpx.Client(timeout=settings.timeout_s) as client:
        for url in settings.urls:
            try:
                r = client.post(url, content=body, headers=headers)
                if r.status_code >= 300:
                    failed.append(f"{redact_url(url, keep_path=False)} answered {r.status_code}")
            except httpx.HTTPError as exc:
                failed.append(f"{redact_url(url, keep_path=False)}: {type(exc).__name__}")
    if failed:
        raise RuntimeError(f"{event} not delivered to {len(failed)} webhook(s): {'; '.join(failed)}")


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any]) -> None:
    _post("incident_declared", incident)


@hookimpl
def cockpit_incident_released(incident: Mapping[str, Any]) -> None:
    _post("incident_released", incident)
