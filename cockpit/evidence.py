"""The record of an incident's frozen window: the rollback as an experiment.

While the incident is open nothing drifts (rollout, flags, prompts, cache GC are frozen), so the window
is an A/B of the old versus the new revision on live traffic. This writes what the journal holds about
it as a Markdown report: timeline, per-tenant traffic and health on each revision, capacity and cache,
and every operator action with who and when.
"""

from __future__ import annotations

from pathlib import Path

from cockpit import timeline as tl
from cockpit.engine.journal import Entry, Journal
from cockpit.errors import ConfigError

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    return "".join(BLOCKS[0 if span <= 0 else min(7, int((v - lo) / span * 7.999))] for v in values)


def _window(j: Journal, incident: str) -> tuple[Entry, Entry | None, float]:
    declared = next((e for e in j.entries(kinds=("incident_declared",)) if e.data.get("id") == incident), None)
    if declared is None:
        known = sorted({e.data.get("id") for e in j.entries(kinds=("incident_declared",))})
        raise ConfigError(f"incident {incident!r} is not in the journal (incidents: {', '.join(known) or 'none'})")
    released = next(
        (e for e in j.entries(kinds=("incident_released",), since_seq=declared.seq) if e.data.get("id") == incident),
        None,
    )
    end = released.ts if released else max((e.ts for e in j.entries(since_seq=declared.seq)), default=declared.ts)
    return declared, released, end


def report(j: Journal, incident: str) -> str:
    declared, released, end = _window(j, incident)
    real = tl.is_real(j)
    t0 = declared.ts
    when = lambda t: tl.fmt_time(t, real)  # noqa: E731
    fleet = tl.fleet_at(j, t0)
    adopted = j.last("fleet_adopted")
    rps: dict[str, float] = dict(adopted.data.get("rps", {})) if adopted else {}
    freeze = declared.data.get("freeze", {})
    out: list[str] = [f"# Evidence: {incident}", ""]
    out.append(
        f"- declared: {when(t0)} by {declared.actor or declared.data.get('declared_by', '?')}"
        + (f" ({declared.data['reason']})" if declared.data.get("reason") else "")
    )
    if released:
        out.append(f"- released: {when(released.ts)} by {released.actor or '?'}")
    else:
        out.append(f"- released: not yet (journal ends {when(end)})")
    out.append(f"- frozen window: {end - t0:,.0f} s")
    if fleet:
        out.append(f"- revisions: old `{fleet.old}`, new `{fleet.new}`")
        if fleet.alias:
            out.append(
                f"- alias `{fleet.alias['alias']}` → `{fleet.alias['revision']}` since {when(fleet.alias['since'])}"
            )
    if freeze:
        out.append(
            "- frozen: rollout calendar"
            + (f"; system prompt `{freeze['system_prompt_revision']}`" if freeze.get("system_prompt_revision") else "")
            + (f"; flags {', '.join(freeze['flags'])}" if freeze.get("flags") else "")
            + (f"; cache namespaces {', '.join(freeze['cache_namespaces'])}" if freeze.get("cache_namespaces") else "")
        )
    out += ["", "## Timeline", "", "| time | what |", "|---|---|"]
    before = 600.0
    for e in tl.changes(j, t0 - before, end):
        out.append(f"| {when(e.ts)} | {tl.describe(e).replace('|', '/')} |")

    # A/B: integrate each tenant's share over the window from the confirmed actuations.
    shares = dict(fleet.shares) if fleet else {}
    on_new: dict[str, float] = dict.fromkeys(shares, 0.0)
    on_old: dict[str, float] = dict.fromkeys(shares, 0.0)
    start_share = dict(shares)
    last_t = t0
    events = [e for e in j.entries(kinds=("actuation_ack",), since_seq=declared.seq) if e.ts <= end]
    for e in [*events, None]:
        t = end if e is None else e.ts
        dt = max(0.0, t - last_t)
        for name, s in shares.items():
            r = rps.get(name, 0.0)
            on_new[name] += r * s * dt
            on_old[name] += r * (1 - s) * dt
        last_t = t
        if e is not None:
            shares.update(e.data.get("shares") or {})
    harm_sum: dict[str, float] = {}
    harm_n = 0
    metrics = [e for e in j.entries(kinds=("metrics",), since_seq=declared.seq) if e.ts <= end]
    for m in metrics:
        harm_n += 1
        for name, h in (m.data.get("harm") or {}).items():
            harm_sum[name] = harm_sum.get(name, 0.0) + h
    out += [
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
    ]
    changed = sorted(n for n in shares if abs(shares[n] - start_share.get(n, shares[n])) > 1e-9 or n in harm_sum)
    for name in changed:
        sev = harm_sum.get(name, 0.0) / harm_n if harm_n else 0.0
        cohort = fleet.cohorts.get(name, "") if fleet else ""
        out.append(
            f"| {name} | {cohort} | {start_share.get(name, 0):.0%} → {shares[name]:.0%} | {on_new[name]:,.0f} | "
            f"{on_old[name]:,.0f} | {sev:.2f} | {on_new[name] * sev:,.0f} |"
        )
    rest = [n for n in shares if n not in set(changed)]
    if rest:
        out.append(
            f"| *{len(rest)} other tenants* | | unchanged | {sum(on_new[n] for n in rest):,.0f} | "
            f"{sum(on_old[n] for n in rest):,.0f} | 0.00 | 0 |"
        )

    out += ["", "## Old tier: capacity and cache", ""]
    if metrics:
        series = {
            "ready replicas": [m.data["old_ready"] for m in metrics],
            "capacity (rps)": [m.data["old_capacity"] for m in metrics],
            "load (rps)": [m.data["old_load"] or 0.0 for m in metrics],
            "cache hit rate": [m.data["old_hit"] for m in metrics],
        }
        out += ["```", f"{when(metrics[0].ts)} → {when(metrics[-1].ts)}, one sample per 10 s"]
        for label, values in series.items():
            out.append(f"{label:<16} {sparkline(values)}  min {min(values):,.2f}  max {max(values):,.2f}")
        out.append("```")
    else:
        out.append("No capacity samples were journaled in the window.")

    out += ["", "## Operator actions", "", "| time | who | command | result |", "|---|---|---|---|"]
    for e in j.entries(kinds=("command",), since_seq=declared.seq - 1):
        if e.ts > end:
            break
        if e.ts >= t0:
            out.append(f"| {when(e.ts)} | {e.actor} | {e.data['command']} | {e.data.get('result', '')} |")
    return "\n".join(out) + "\n"


def write_report(j: Journal, incident: str, out: Path) -> None:
    text = report(j, incident)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the report ({exc.strerror})") from None
