"""Webhook bodies from templates.

A template is a JSON file with one body per event, ``{"declared": {...}, "released": {...}}``, whose
strings may hold ``${name}`` variables. A string that is exactly one variable takes its value whole
(``"${incident}"`` becomes the incident object); anywhere else the value is put in as text, cut to
1,000 characters. Values are substituted into the parsed JSON, never into JSON text, so no incident
reason can break (or inject into) a body. ``"escape": "slack"`` at the top escapes ``& < >`` in text
as Slack's mrkdwn requires. Shipped: ``generic`` (the original ``{"event", "incident"}`` body),
``slack`` (incoming webhook: text + blocks), ``pagerduty`` (Events API v2: trigger / resolve with a
dedup key) and ``incidentio`` (an HTTP alert source: firing / resolved). Any other name is a path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError

SHIPPED = ("generic", "slack", "pagerduty", "incidentio")
VARIABLES = frozenset(
    {
        "event",
        "status",
        "summary",
        "frozen",
        "source",
        "severity",
        "routing_key",
        "timestamp",
        "incident",
        "incident.id",
        "incident.reason",
        "incident.declared_by",
        "incident.declared_at",
        "incident.released_by",
        "incident.released_at",
        "models.old",
        "models.new",
    }
)
TEXT_MAX = 1000
SUMMARY_MAX = 1024  # PagerDuty's payload.summary limit
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_TOPS = {"declared", "released", "escape"}


def _names(node: Any) -> set[str]:
    if isinstance(node, str):
        return set(_VAR.findall(node))
    if isinstance(node, Mapping):
        return set().union(*(_names(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node)) if node else set()
    return set()


def load(name: str, config_dir: str, where: str) -> dict[str, Any]:
    """A shipped template by name, or a JSON file (relative to cockpit.toml); checked now."""
    if name in SHIPPED:
        path = Path(__file__).parent / "templates" / f"{name}.json"
    else:
        path = Path(name).expanduser()
        path = path if path.is_absolute() else Path(config_dir) / path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: no template {name!r} (shipped: {', '.join(SHIPPED)}; else a JSON file)") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: template {name!r} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not {"declared", "released"} <= set(data) or set(data) - _TOPS:
        raise ConfigError(f"{where}: template {name!r} must be an object with exactly 'declared' and 'released' bodies")
    unknown = sorted(_names(data) - VARIABLES)
    if unknown:
        raise ConfigError(f"{where}: template {name!r} uses unknown variable ${{{unknown[0]}}}")
    if data.get("escape", "slack") != "slack":
        raise ConfigError(f"{where}: template {name!r}: escape must be 'slack' when given")
    return data


def uses(template: Mapping[str, Any], name: str) -> bool:
    return name in _names(template)


def _frozen(freeze: Mapping[str, Any]) -> str:
    parts = []
    if freeze.get("rollout"):
        parts.append("rollout calendar")
    namespaces = freeze.get("cache_namespaces") or []
    if namespaces:
        parts.append(f"{len(namespaces)} cache namespace(s)")
    flags = freeze.get("flags") or []
    if flags:
        parts.append("flags " + ", ".join(str(f) for f in flags[:10]) + (" …" if len(flags) > 10 else ""))
    if freeze.get("system_prompt_revision"):
        parts.append(f"system prompt {freeze['system_prompt_revision']}")
    return "; ".join(parts) or "the rollout calendar"


def variables(event: str, incident: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, Any]:
    declared = event == "incident_declared"
    freeze = incident.get("freeze") or {}
    models = freeze.get("models") or {}
    ident = str(incident.get("id", "?"))
    if declared:
        reason = incident.get("reason") or "no reason given"
        summary = f"Incident {ident} declared by {incident.get('declared_by', '?')}: {reason}"
    else:
        summary = f"Incident {ident} released by {incident.get('released_by') or '?'}: freeze lifted"
    return {
        "event": event,
        "status": "firing" if declared else "resolved",
        "summary": summary[:SUMMARY_MAX],
        "frozen": _frozen(freeze),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "incident": dict(incident),
        "incident.id": ident,
        "incident.reason": str(incident.get("reason") or ""),
        "incident.declared_by": str(incident.get("declared_by") or ""),
        "incident.declared_at": incident.get("declared_at"),
        "incident.released_by": str(incident.get("released_by") or ""),
        "incident.released_at": incident.get("released_at"),
        "models.old": str(models.get("old") or ""),
        "models.new": str(models.get("new") or ""),
        **extra,
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(template: Mapping[str, Any], event: str, values: Mapping[str, Any]) -> Any:
    body = template["declared" if event == "incident_declared" else "released"]
    slack = template.get("escape") == "slack"

    def text(v: Any) -> str:
        s = ("" if v is None else v if isinstance(v, str) else json.dumps(v))[:TEXT_MAX]
        return _escape(s) if slack else s

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            whole = _VAR.fullmatch(node)
            if whole:
                v = values.get(whole.group(1))
                return text(v) if isinstance(v, str) else v
            return _VAR.sub(lambda m: text(values.get(m.group(1))), node)
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(body)
