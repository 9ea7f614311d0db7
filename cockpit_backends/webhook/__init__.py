"""The `webhook` freeze plugin: tells deploy pipelines, chat and paging (Slack, PagerDuty, incident.io, or
anything with an HTTP endpoint) that an incident froze the fleet, and when it thawed.

It serves no role: it answers the freeze hooks. Options (``[plugins.webhook]``; docs/backends/webhook.md)::

    urls = ["https://ci.internal/hooks/freeze"]   # each gets the generic body per event
    token_env = "FREEZE_WEBHOOK_TOKEN"             # optional: sent to `urls` as "Authorization: Bearer …"
    timeout_s = 3

    [[plugins.webhook.targets]]                    # any number; each its own URL, template and secrets
    url_env = "SLACK_WEBHOOK_URL"                  # or url = "https://…" (a Slack URL is its own secret)
    template = "slack"                             # generic | slack | pagerduty | incidentio | a JSON file
    token_env = "…"                                # optional: "Authorization: Bearer …" (incident.io)
    routing_key_env = "PD_ROUTING_KEY"             # what ${routing_key} is (PagerDuty's integration key)
    severity = "critical"                          # ${severity} (PagerDuty: critical|error|warning|info)
    source = "cockpit-prod"                        # ${source}

The generic body is ``{"event": "incident_declared" | "incident_released", "incident": {...}}``, the
incident including its freeze manifest. Templates are in ``cockpit_backends/webhook/templates``. A hook
runs off the control loop, bounded by ``timeout_s`` per request; a failure is raised, which the cockpit
journals as a plugin error and shows on screen: a freeze that did not reach its target is not silent.
Settings live in the engine's ``context.shared["webhook"]``: two engines in one process never mix them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, hookimpl

__version__ = "0.2.0"

KNOWN = {"urls", "token_env", "timeout_s", "targets"}
TARGET = {"url", "url_env", "template", "token_env", "routing_key_env", "severity", "source"}
SEVERITIES = ("critical", "error", "warning", "info")
P = "plugins.webhook"


@dataclass(frozen=True)
class Target:
    url_source: str  # the URL, or "$NAME" when it is read from the environment at send time
    template: Mapping[str, Any]
    token_env: str = ""
    extra_env: Mapping[str, str] = field(default_factory=dict)  # variable -> environment variable
    extra: Mapping[str, str] = field(default_factory=dict)  # variable -> value

    def url(self) -> str:
        return os.environ.get(self.url_source[1:], "") if self.url_source.startswith("$") else self.url_source


@dataclass(frozen=True)
class Settings:
    targets: tuple[Target, ...] = ()
    timeout_s: float = 3.0


def _env_name(where: str, value: Any, *, required: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected the name of an environment variable")
    if required and not os.environ.get(value.strip()):
        raise ConfigError(f"{where}: the environment variable {value.strip()} is not set")
    return value.strip()


def _http_url(where: str, url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: expected an http(s) URL")
    return url


def _target(i: int, raw: Any, config_dir: str) -> Target:
    from cockpit_backends.webhook import templates

    where = f"{P}.targets[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - TARGET)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown option (known: {', '.join(sorted(TARGET))})")
    if ("url" in raw) == ("url_env" in raw):
        raise ConfigError(f"{where}: give url or url_env (one of them)")
    if "url" in raw:
        source = _http_url(f"{where}.url", raw["url"])
    else:
        source = "$" + _env_name(f"{where}.url_env", raw["url_env"], required=True)
        _http_url(f"{where}.url_env: ${source[1:]}", os.environ[source[1:]])
    name = raw.get("template", "generic")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.template: expected a template name or a JSON file")
    template = templates.load(name, config_dir, f"{where}.template")
    severity = raw.get("severity", "critical")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.severity: expected one of {', '.join(SEVERITIES)}")
    source_name = raw.get("source", "cockpit")
    if not isinstance(source_name, str) or not source_name:
        raise ConfigError(f"{where}.source: expected a non-empty string")
    extra_env = {}
    if "routing_key_env" in raw:
        extra_env["routing_key"] = _env_name(f"{where}.routing_key_env", raw["routing_key_env"], required=True)
    elif templates.uses(template, "routing_key"):
        raise ConfigError(f"{where}: template {name!r} needs routing_key_env (the PagerDuty integration key)")
    token_env = _env_name(f"{where}.token_env", raw["token_env"], required=True) if "token_env" in raw else ""
    return Target(source, template, token_env, extra_env, {"severity": severity, "source": source_name})


def parse(opts: Mapping[str, Any], config_dir: str) -> Settings:
    unknown = set(opts) - KNOWN
    if unknown:
        raise ConfigError(f"{P}.{sorted(unknown)[0]}: unknown option (known: {', '.join(sorted(KNOWN))})")
    urls = opts.get("urls", [])
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise ConfigError(f"{P}.urls: expected a list of http(s) URLs")
    timeout = opts.get("timeout_s", 3.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        raise ConfigError(f"{P}.timeout_s: expected a number of seconds between 0 and 30")
    token_env = opts.get("token_env", "")
    if not isinstance(token_env, str):
        raise ConfigError(f"{P}.token_env: expected the name of an environment variable")
    raw_targets = opts.get("targets", [])
    if not isinstance(raw_targets, list):
        raise ConfigError(f"{P}.targets: expected a list of tables ([[plugins.webhook.targets]])")
    targets: list[Target] = []
    if urls:
        from cockpit_backends.webhook import templates

        generic = templates.load("generic", config_dir, f"{P}.urls")
        targets += [Target(u, generic, token_env) for u in urls]
    targets += [_target(i, t, config_dir) for i, t in enumerate(raw_targets)]
    return Settings(tuple(targets), float(timeout))


@hookimpl
def cockpit_configure(plugins: Mapping[str, Mapping[str, Any]], context: BackendContext) -> None:
    opts = plugins.get("webhook")
    if opts is None:
        context.shared.pop("webhook", None)
        return
    context.shared["webhook"] = parse(opts, context.config_dir)


def redact_url(url: str, *, keep_path: bool = True) -> str:
    from cockpit.redact import redact_url as _redact  # a webhook URL's path and query are its token

    return _redact(url, keep_path=keep_path)


def _answer(r: Any) -> str:
    """A short excerpt of a refusal (Slack says "invalid_blocks", PagerDuty lists its errors)."""
    try:
        body = r.json()
    except ValueError:
        return r.text.strip()[:120]
    if isinstance(body, dict):
        errors = body.get("errors")
        return str(body.get("message") or "")[:120] + (f": {str(errors)[:120]}" if errors else "")
    return ""


def _send(client: Any, target: Target, event: str, incident: Mapping[str, Any]) -> str | None:
    """POST one event to one target; None when delivered, else why not (no secret in it)."""
    import json

    import httpx

    from cockpit.redact import scrub
    from cockpit_backends.webhook import templates

    url = target.url()
    if not url:
        return f"${target.url_source[1:]} (the target's URL) is not set"
    extra = {**target.extra, **{k: os.environ.get(v, "") for k, v in target.extra_env.items()}}
    body = templates.render(target.template, event, templates.variables(event, incident, extra))
    headers = {"content-type": "application/json"}
    token = os.environ.get(target.token_env, "") if target.token_env else ""
    if token:
        headers["authorization"] = f"Bearer {token}"
    where = redact_url(url, keep_path=False)
    try:
        r = client.post(url, content=json.dumps(body), headers=headers)
    except httpx.HTTPError as exc:
        return f"{where}: {type(exc).__name__}"
    if r.status_code >= 300:
        said = scrub(_answer(r), token, *extra.values(), url)
        return f"{where} answered {r.status_code}" + (f" ({said})" if said else "")
    return None


def _post(event: str, incident: Mapping[str, Any], context: BackendContext) -> None:
    settings: Settings | None = context.shared.get("webhook")
    if settings is None or not settings.targets:
        return
    import httpx

    with httpx.Client(timeout=settings.timeout_s) as client:
        failed = [f for t in settings.targets if (f := _send(client, t, event, incident)) is not None]
    if failed:
        raise RuntimeError(f"{event} not delivered to {len(failed)} webhook(s): {'; '.join(failed)}")


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any], context: BackendContext) -> None:
    _post("incident_declared", incident, context)


@hookimpl
def cockpit_incident_released(incident: Mapping[str, Any], context: BackendContext) -> None:
    _post("incident_released", incident, context)
