"""Answers from the journal: "what revision was serving each tenant at 13:00?", and what changed around it.

The journal holds the fleet as first adopted and every actuation the router confirmed by read-back, so
the vector at any moment is the adopted one with the confirmed changes up to that moment applied.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.engine.journal import Entry, Journal
from cockpit.errors import ConfigError

# Kinds worth listing as "what changed" (observations that only sample metrics are left out).
CHANGE_KINDS = (
    "engine_started",
    "engine_resumed",
    "fleet_adopted",
    "rollout_step",
    "rollout_held",
    "alias_resolved",
    "alias_moved",
    "health_changed",
    "incident_declared",
    "incident_released",
    "command",
    "stage_applied",
    "stage_incomplete",
    "rollback_finished",
    "backend_degraded",
    "backend_recovered",
    "tier_changed",
    "plugin_error",
    "cache_gc",
    "freeze_reasserted",
    "alert_received",
    "alert_refused",
)

REAL_CLOCK_AFTER = 1e9  # engine timestamps above this are epoch seconds; below, simulated seconds


@dataclass
class FleetAt:
    t: float
    old: str
    new: str
    shares: dict[str, float]
    cohorts: dict[str, str]
    alias: dict[str, Any] = field(default_factory=dict)
    incident: dict[str, Any] | None = None


def is_real(journal: Journal) -> bool:
    first = journal.last("fleet_adopted") or journal.last("engine_started")
    return first is not None and first.ts > REAL_CLOCK_AFTER


def parse_time(text: str, real: bool, now: dt.datetime | None = None) -> float:
    """`T+630` or `630` (simulated seconds); on a real clock also `13:00`, `13:00:05` (today, local time)
    and ISO dates (`2026-11-28T13:00`, with or without an offset)."""
    s = text.strip()
    m = re.fullmatch(r"T?\+?(\d+(?:\.\d+)?)", s)
    if m and not real:
        return float(m.group(1))
    if real:
        local = (now or dt.datetime.now()).astimezone()
        m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", s)
        if m:
            h, mi, se = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            return local.replace(hour=h, minute=mi, second=se, microsecond=0).timestamp()
        try:
            when = dt.datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            return (when if when.tzinfo else when.astimezone()).timestamp()
        if m := re.fullmatch(r"\d+(?:\.\d+)?", s):
            return float(s)
    hint = "T+SECONDS" if not real else "HH:MM, HH:MM:SS or an ISO date-time"
    raise ConfigError(f"time {text!r}: expected {hint}")


def fmt_time(t: float, real: bool) -> str:
    if real:
        return dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"T+{t:,.0f}s"


def fleet_at(journal: Journal, t: float) -> FleetAt | None:
    adopted: Entry | None = None
    for e in journal.entries(kinds=("fleet_adopted",)):
        if e.ts <= t:
            adopted = e
    if adopted is None:
        return None
    data = adopted.data
    fleet = FleetAt(t, data["old"], data["new"], dict(data["shares"]), dict(data.get("cohorts", {})))
    kinds = ("actuation_ack", "alias_resolved", "alias_moved", "incident_declared", "incident_released")
    for e in journal.entries(kinds=kinds, since_seq=adopted.seq):
        if e.ts > t:
            break
        _replay(fleet, e)
    return fleet


def _replay(fleet: FleetAt, e: Entry) -> None:
    """Apply one journaled change to the fleet as it stood just before it."""
    d = e.data
    if e.kind == "actuation_ack":
        fleet.shares.update(d.get("shares") or {})
    elif e.kind == "alias_resolved":
        fleet.alias = {"alias": d["alias"], "revision": d["revision"], "since": e.ts}
    elif e.kind == "alias_moved":
        fleet.alias = {"alias": d["alias"], "revision": d["current"], "previous": d["previous"], "since": e.ts}
    elif e.kind == "incident_declared":
        fleet.incident = d
    elif e.kind == "incident_released":
        fleet.incident = None


def changes(journal: Journal, since: float, until: float) -> list[Entry]:
    return [e for e in journal.entries(kinds=CHANGE_KINDS) if since <= e.ts <= until]


def _rollout_step(d: dict[str, Any], who: str) -> str:
    steps = d["tenants"]
    sample = ", ".join(f"{t} → {s:.0%}" for t, s in list(steps.items())[:4])
    more = f" (+{len(steps) - 4} more)" if len(steps) > 4 else ""
    return f"deploy: rollout step {sample}{more}"


def _rollout_held(d: dict[str, Any], who: str) -> str:
    held = d["tenants"]
    sample = "; ".join(f"{t}: {why}" for t, why in list(held.items())[:3])
    more = f" (+{len(held) - 3} more)" if len(held) > 3 else ""
    return f"rollout step HELD for {len(held)} tenant(s): {sample}{more}"


def _health_changed(d: dict[str, Any], who: str) -> str:
    reg = d["regressing"]
    return f"health: {len(reg)} tenant(s) regressing" + (f" ({', '.join(reg[:5])})" if reg else "")


# One line per change kind, from the entry's data and " by ACTOR" (empty when no actor was recorded).
_DESCRIBE: dict[str, Callable[[dict[str, Any], str], str]] = {
    "rollout_step": _rollout_step,
    "rollout_held": _rollout_held,
    "alias_moved": lambda d, who: f"ALIAS ROTATED: {d['alias']} {d['previous']} → {d['current']}",
    "alias_resolved": lambda d, who: f"alias {d['alias']} resolves to {d['revision']}",
    "health_changed": _health_changed,
    "incident_declared": lambda d, who: f"INCIDENT {d['id']} declared{who}: freeze on",
    "incident_released": lambda d, who: f"incident {d['id']} released{who}: freeze off",
    "command": lambda d, who: f"command {d['command']}{who}: {d.get('result', '')}",
    "stage_applied": lambda d, who: (
        f"stage {d['stage']} applied: {d['tenants']} tenant(s), {d['moved_rps']:.1f} rps to old"
    ),
    "stage_incomplete": lambda d, who: f"stage {d['stage']} INCOMPLETE: {d['failed_count']} tenant(s) not confirmed",
    "rollback_finished": lambda d, who: (
        f"rollback finished at stage {d['stage']} ({len(d['scope'])} tenants at 0 % new)"
    ),
    "backend_degraded": lambda d, who: f"backend DEGRADED ({d['role']}): {d['error']}",
    "backend_recovered": lambda d, who: f"backend recovered ({d['role']})",
    "tier_changed": lambda d, who: f"tier {d['tier']}: {d['ready']} ready / {d['desired']} desired",
    "fleet_adopted": lambda d, who: f"fleet adopted: {len(d['shares'])} tenants, old {d['old']}, new {d['new']}",
}


def _freeze_reasserted(d: dict[str, Any], who: str) -> str:
    if "plugin" in d:  # a plugin's freeze (Rollouts, flags…)
        names = ", ".join(d["frozen_again"][:3]) + (" …" if d["count"] > 3 else "")
        return f"freeze RE-ASSERTED by {d['plugin']} on {d['count']}: {names}"
    return f"freeze RE-ASSERTED on {d['count']} cache namespace(s)"


def _alert_received(d: dict[str, Any], who: str) -> str:
    names = sorted({a["labels"].get("alertname", "?") for a in d["alerts"]})
    done = f"; declared {d['incident']}" if d["declared"] else ""
    return f"alert {d['status']}{who}: {d['count']} alert(s) ({', '.join(names[:3])}){done}"


_DESCRIBE["freeze_reasserted"] = _freeze_reasserted
_DESCRIBE["alert_received"] = _alert_received
_DESCRIBE["alert_refused"] = lambda d, who: f"alert REFUSED from {d['peer']}: {d['reason']}"


def describe(e: Entry) -> str:
    line = _DESCRIBE.get(e.kind)
    if line is None:
        return e.kind.replace("_", " ")
    return line(e.data, f" by {e.actor}" if e.actor else "")
