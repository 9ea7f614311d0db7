"""The record of an incident's frozen window: the rollback as an experiment.

While the incident is open nothing drifts (rollout, flags, prompts, cache GC are frozen), so the window
is an A/B of the old versus the new revision on live traffic. This writes what the journal holds about
it as a Markdown report: timeline, per-tenant traffic and health on each revision, capacity and cache,
and every operator action with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit import timeline as tl
from cockpit.engine.journal import Entry, Journal
from cockpit.errors import ConfigError

BLOCKS = "▁▂▃▄▅▆▇█"
TIMELINE_LEAD = 600.0  # seconds of changes listed before the declaration (what led up to it)
AB_INTRO = (
    "",
    "## A/B: old versus new revision during the frozen window",
    "",
    "Requests are integrated from the confirmed shares and each tenant's rate; severity is the health",
    "backend's regression score on the new revision (0 healthy, 1 all wrong), averaged over the window's",
    "samples; wrong answers are estimated as requests on new × severity. The old revision is the baseline.",
    "",
    "| tenant | cohort | new share: start → end | requests on new | requests on old | severity on new "
    "| est. wrong answers |",
    "|---|---|---|---:|---:|---:|---:|",
)


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    return "".join(BLOCKS[0 if span <= 0 else min(7, int((v - lo) / span * 7.999))] for v in values)


def _window(j: Journal, incident: str) -> tuple[Entry, Entry | None, float]:
    declared = next((e for e in j.entries(kinds=("incident_declared",)) if e.data.get("id") == incident), None)
    if declared is None:
        known = sorted({i for e in j.entries(kinds=("incident_declared",)) if isinstance(i := e.data.get("id"), str)})
        raise ConfigError(f"incident {incident!r} is not in the journal (incidents: {', '.join(known) or 'none'})")
    released = next(
        (e for e in j.entries(kinds=("incident_released",), since_seq=declared.seq) if e.data.get("id") == incident),
        None,
    )
    end = released.ts if released else max((e.ts for e in j.entries(since_seq=declared.seq)), default=declared.ts)
    return declared, released, end


@dataclass(frozen=True)
class _Window:
    """The incident's frozen window and what every section needs to know about it."""

    incident: str
    declared: Entry
    released: Entry | None
    end: float
    real: bool
    fleet: tl.FleetAt | None

    @property
    def t0(self) -> float:
        return self.declared.ts

    def when(self, t: float) -> str:
        return tl.fmt_time(t, self.real)


@dataclass
class _Traffic:
    """Requests each tenant sent to each revision over the window, and its new share at both ends."""

    start: dict[str, float]
    end: dict[str, float]
    on_new: dict[str, float]
    on_old: dict[str, float]


def report(j: Journal, incident: str) -> str:
    declared, released, end = _window(j, incident)
    w = _Window(incident, declared, released, end, tl.is_real(j), tl.fleet_at(j, declared.ts))
    metrics = [e for e in j.entries(kinds=("metrics",), since_seq=declared.seq) if e.ts <= end]
    out = [
        *_header(w),
        *_timeline(j, w),
        *_ab_table(j, w, metrics),
        *_old_tier(w, metrics),
        *_operator_actions(j, w),
    ]
    return "\n".join(out) + "\n"


def _header(w: _Window) -> list[str]:
    declared = w.declared
    by = declared.actor or declared.data.get("declared_by", "?")
    reason = f" ({declared.data['reason']})" if declared.data.get("reason") else ""
    out = [f"# Evidence: {w.incident}", "", f"- declared: {w.when(w.t0)} by {by}{reason}"]
    if w.released:
        out.append(f"- released: {w.when(w.released.ts)} by {w.released.actor or '?'}")
    else:
        out.append(f"- released: not yet (journal ends {w.when(w.end)})")
    out.append(f"- frozen window: {w.end - w.t0:,.0f} s")
    if w.fleet:
        out.append(f"- revisions: old `{w.fleet.old}`, new `{w.fleet.new}`")
        alias = w.fleet.alias
        if alias:
            out.append(f"- alias `{alias['alias']}` → `{alias['revision']}` since {w.when(alias['since'])}")
    freeze = declared.data.get("freeze", {})
    if freeze:
        out.append(_freeze_line(freeze))
    return out


def _freeze_line(freeze: dict[str, Any]) -> str:
    parts = ["- frozen: rollout calendar"]
    if freeze.get("system_prompt_revision"):
        parts.append(f"system prompt `{freeze['system_prompt_revision']}`")
    if freeze.get("flags"):
        parts.append(f"flags {', '.join(freeze['flags'])}")
    if freeze.get("cache_namespaces"):
        parts.append(f"cache namespaces {', '.join(freeze['cache_namespaces'])}")
    return "; ".join(parts)


def _timeline(j: Journal, w: _Window) -> list[str]:
    out = ["", "## Timeline", "", "| time | what |", "|---|---|"]
    for e in tl.changes(j, w.t0 - TIMELINE_LEAD, w.end):
        out.append(f"| {w.when(e.ts)} | {tl.describe(e).replace('|', '/')} |")
    return out


def _traffic(j: Journal, w: _Window) -> _Traffic:
    """Integrate each tenant's share over the window from the confirmed actuations."""
    adopted = j.last("fleet_adopted")
    rps: dict[str, float] = dict(adopted.data.get("rps", {})) if adopted else {}
    shares = dict(w.fleet.shares) if w.fleet else {}
    traffic = _Traffic(dict(shares), shares, dict.fromkeys(shares, 0.0), dict.fromkeys(shares, 0.0))
    last_t = w.t0
    acks = [e for e in j.entries(kinds=("actuation_ack",), since_seq=w.declared.seq) if e.ts <= w.end]
    for e in [*acks, None]:
        t = w.end if e is None else e.ts
        dt = max(0.0, t - last_t)
        for name, s in shares.items():
            r = rps.get(name, 0.0)
            traffic.on_new[name] += r * s * dt
            traffic.on_old[name] += r * (1 - s) * dt
        last_t = t
        if e is not None:
            shares.update(e.data.get("shares") or {})
    return traffic


def _harm_sums(j: Journal, metrics: list[Entry]) -> dict[str, float]:
    harm_sum: dict[str, float] = {}
    carried = {m.seq: m.data["harm"] for m in metrics if "harm" in m.data}
    for m in metrics:
        harm = m.data.get("harm")
        if harm is None and "harm_as" in m.data:  # the same reading as an earlier sample: its harm
            harm = _sampled_harm(j, int(m.data["harm_as"]), carried)
        for name, h in (harm or {}).items():
            harm_sum[name] = harm_sum.get(name, 0.0) + h
    return harm_sum


def _sampled_harm(j: Journal, seq: int, carried: dict[int, Any]) -> Any:
    """The harm a `metrics` entry carries, by its seq (read from the journal when it is before the window)."""
    if seq not in carried:
        first = next(iter(j.entries(kinds=("metrics",), since_seq=seq - 1)), None)
        carried[seq] = first.data.get("harm") if first is not None and first.seq == seq else None
    return carried[seq]


def _ab_table(j: Journal, w: _Window, metrics: list[Entry]) -> list[str]:
    tr = _traffic(j, w)
    harm_sum = _harm_sums(j, metrics)
    out = list(AB_INTRO)
    start, shares = tr.start, tr.end
    changed = sorted(n for n in shares if abs(shares[n] - start.get(n, shares[n])) > 1e-9 or n in harm_sum)
    for name in changed:
        sev = harm_sum.get(name, 0.0) / len(metrics) if metrics else 0.0
        cohort = w.fleet.cohorts.get(name, "") if w.fleet else ""
        out.append(
            f"| {name} | {cohort} | {start.get(name, 0):.0%} → {shares[name]:.0%} | {tr.on_new[name]:,.0f} | "
            f"{tr.on_old[name]:,.0f} | {sev:.2f} | {tr.on_new[name] * sev:,.0f} |"
        )
    rest = [n for n in shares if n not in set(changed)]
    if rest:
        out.append(_rest_row(tr, rest))
    return out


def _rest_row(tr: _Traffic, rest: list[str]) -> str:
    """One row for the tenants the window did not move and that showed no harm."""
    return (
        f"| *{len(rest)} other tenants* | | unchanged | {sum(tr.on_new[n] for n in rest):,.0f} | "
        f"{sum(tr.on_old[n] for n in rest):,.0f} | 0.00 | 0 |"
    )


def _old_tier(w: _Window, metrics: list[Entry]) -> list[str]:
    out = ["", "## Old tier: capacity and cache", ""]
    if not metrics:
        return [*out, "No capacity samples were journaled in the window."]
    series = {
        "ready replicas": [m.data["old_ready"] for m in metrics],
        "capacity (rps)": [m.data["old_capacity"] for m in metrics],
        "load (rps)": [m.data["old_load"] or 0.0 for m in metrics],
        "cache hit rate": [m.data["old_hit"] for m in metrics],
    }
    out += ["```", f"{w.when(metrics[0].ts)} → {w.when(metrics[-1].ts)}, one sample per 10 s"]
    for label, values in series.items():
        out.append(f"{label:<16} {sparkline(values)}  min {min(values):,.2f}  max {max(values):,.2f}")
    out.append("```")
    return out


def _operator_actions(j: Journal, w: _Window) -> list[str]:
    out = ["", "## Operator actions", "", "| time | who | command | result |", "|---|---|---|---|"]
    for e in j.entries(kinds=("command",), since_seq=w.declared.seq - 1):
        if e.ts > w.end:
            break
        if e.ts >= w.t0:
            out.append(f"| {w.when(e.ts)} | {e.actor} | {e.data['command']} | {e.data.get('result', '')} |")
    return out


def write_report(j: Journal, incident: str, out: Path) -> None:
    text = report(j, incident)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the report ({exc.strerror})") from None
