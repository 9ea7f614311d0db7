"""Plain-text views of an engine Snapshot, kept free of textual so they are cheap to test and reuse.

Every status is carried by a word and a glyph as well as by colour, so the screen reads the same under
NO_COLOR, on an ANSI-16 terminal and for colour-blind operators.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from cockpit.engine.snapshot import Snapshot
from cockpit.hookspecs import TrafficReading
from cockpit.ui.plantext import UNKNOWN_GLYPH, clock, dur

SPARK = "▁▂▃▄▅▆▇█"
FROZEN_GLYPH = "❄"
OK_GLYPH = "●"
SETTLE_S = 300.0  # cockpit.engine.drill.SETTLE_AFTER_RESTORE_S (a test keeps the two equal)


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"


def sim_clock(seconds: float) -> str:
    s = int(seconds)
    return f"T+{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def stamp(ts: float, real: bool) -> str:
    """A journal time: wall-clock on a real clock, T+h:mm:ss of simulated time on a simulated one."""
    if real:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    return f"{sim_clock(ts):>12}"


def sparkline(values: Iterable[float], width: int = 12) -> str:
    vals = list(values)[-width:]
    return "".join(SPARK[min(len(SPARK) - 1, max(0, int(v * (len(SPARK) - 1) + 0.5)))] for v in vals)


def bar(fraction: float, width: int = 10) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def banner(snap: Snapshot | None, regressing: int = 0) -> tuple[str, str]:
    """(text, style class): the incident state by word and glyph as well as colour. Tenants regressing
    with no incident open is not NORMAL: it says REGRESSING (amber)."""
    if snap is None:
        return "… WAITING for the first observation of the fleet", "waiting"
    inc = snap.incident
    if inc is not None and inc.open:
        since = max(0.0, snap.now - inc.declared_at)
        frozen = f"{FROZEN_GLYPH} FROZEN {FROZEN_GLYPH}"
        return f"{frozen}  {inc.id} open {clock(since)} · rollout, flags, cache GC frozen", "frozen"
    if regressing:
        return f"▲ REGRESSING  {regressing:,} tenant(s) · no incident open", "regressing"
    if inc is not None:
        return f"{OK_GLYPH} NORMAL  {inc.id} released · rollout calendar running", "normal"
    return f"{OK_GLYPH} NORMAL  no incident · rollout calendar running", "normal"


def incident_clock(snap: Snapshot | None, real: bool) -> str:
    """The time now (wall-clock hh:mm:ss, or T+ of a drill), time since onset and how long the
    declaration took after it."""
    if snap is None:
        return ""
    now = time.strftime("%H:%M:%S", time.localtime(snap.now)) if real else sim_clock(snap.now)
    parts = [f"⏱ {now}"]
    onset = snap.onset_at
    if onset is not None:
        parts.append(f"onset {dur(snap.now - onset)} ago")
        inc = snap.incident
        if inc is not None and inc.declared_at >= onset - 1e-6:
            parts.append(f"declared {dur(inc.declared_at - onset)} after onset")
        elif inc is None or not inc.open:
            parts.append("not declared")
    return " · ".join(parts)


def models_line(snap: Snapshot | None, old: str, new: str) -> tuple[str, bool]:
    """(text, drifted): the pinned revisions and the alias-drift alarm."""
    text = f"old {old}  ◀  new {new}"
    alias = snap.alias if snap else {}
    if alias.get("moved"):
        return (
            f"{text}\n⚠ ALIAS DRIFT: {alias['alias']} moved {alias.get('previous')} → {alias['revision']}",
            True,
        )
    if alias.get("alias"):
        return f"{text}\n  alias {alias['alias']} → {alias['revision']} (steady)", False
    return f"{text}\n  alias: not watched", False


def capacity_eta(snap: Snapshot, needed: int | None) -> str:
    """The engine's ETA to the capacity asked for (counted once, by the engine: every screen agrees)."""
    t = snap.old_tier
    if t is None or not needed:
        return ""
    if t.ready >= needed:
        return f" · ✔ ready at {needed}"
    eta = snap.capacity_eta_s
    if eta is None:
        return f" · asked for {needed}: the autoscaler has not taken it yet"
    if eta < 0:
        return f" · {needed} asked: start-up estimate passed {dur(-eta)} ago, still starting"
    return f" · {needed} ready in ≈{dur(eta)}"


def capacity_line(snap: Snapshot | None, needed_if_armed: int | None = None) -> str:
    """Old-tier replicas ready/desired, utilisation and the ETA to the replicas asked for full failback
    (of the rollback's scope once armed, else of the regressing tenants' plan)."""
    if snap is None or snap.old_tier is None:
        return "old tier: no reading"
    t = snap.old_tier
    n = snap.replicas_needed or snap.rollback.get("scale_requested") or needed_if_armed
    util = snap.old_utilisation
    over = "  ▲ OVER HEADROOM" if util is not None and util > 1.0 else ""
    starting = f" (+{t.desired - t.ready} starting)" if t.desired > t.ready else ""
    asked = capacity_eta(snap, n) if snap.replicas_needed or snap.rollback.get("scale_requested") else ""
    need = f" · full failback needs {n:,}" if n and not asked else ""
    return f"old tier {t.ready}/{t.desired} ready{starting} · util {pct(util)} {bar(util or 0.0, 6)}{over}{need}{asked}"


def rollback_line(snap: Snapshot | None, settle_left: float | None = None, eta_s: float | None = None) -> str:
    """The rollback's state and ONE progress figure, the engine's: rps of the scope restored to old."""
    if snap is None:
        return "rollback: —"
    rb = snap.rollback
    if not rb.get("armed"):
        return "rollback: not armed"
    done = bool(rb.get("done"))
    state = "DONE ✔" if done else ("HELD ⏸" if rb.get("paused") else "RUNNING ▶")
    p = snap.progress
    frac = float(p.get("fraction", 1.0 if done else 0.0))
    restored = (
        f"restored {p.get('restored_rps', 0.0):,.0f}/{p.get('scope_rps', 0.0):,.0f} rps {bar(frac)} {frac:.0%}"
        f" · {p.get('restored', 0)}/{p.get('tenants', 0)} tenants at 0 %"
        if p
        else "restored —"
    )
    line = f"rollback {state} stage {rb.get('stage', 0)} · {rb.get('mode')} · {restored}"
    if not done and eta_s is not None and not rb.get("paused") and rb.get("mode") != "manual":
        line += f" · ETA {dur(eta_s)}"  # none while it waits for the operator (held, or n in manual mode)
    if snap.restore_bound_s is not None:
        line += f" · bound {dur(snap.restore_bound_s)}"
    hold = snap.hold if not rb.get("paused") else (snap.hold or rb.get("hold") or "paused")
    if hold and not done:
        line += f"\n  hold: {hold}" + (" · r resumes" if rb.get("paused") else "")
    if done and settle_left:
        line += f"\n  drill: scored in {settle_left:.0f} s (settling {SETTLE_S:.0f} s after restore, as baselines do)"
    return line


RESTORED = "✓ restored"


def health(harm: float, threshold: float, unknown: bool = False, restored: bool = False) -> str:
    """A tenant's health cell. Unknown is a word, never a colour only and never "ok": a tenant whose
    health cannot be read says so (a regression read earlier in the same reading still stands). A tenant
    the rollback brought back to 0 % new reads "✓ restored": its regression was on new, it no longer is."""
    if restored:
        return RESTORED
    if harm >= threshold:
        return f"✗ REGR {harm:.2f}"
    if unknown:
        return f"{UNKNOWN_GLYPH} unknown"
    if harm > 0:
        return f"~ warn {harm:.2f}"
    return "✓ ok"


TENANT_COLUMNS = ("tenant", "cohort", "rps", "target", "ceiling", "on new", "health", "hit o·n")
FIXED_WIDTHS = (5, 6, 7, 6, 11, 9)  # every column after tenant and cohort
HIT_NOTE = "hit o·n: hit rate of the old·new tier's cache namespace serving the tenant (no per-tenant reading)"

Row = tuple[str, ...]


def health_word(harm: float, threshold: float, unknown: bool = False) -> str:
    if harm >= threshold:
        return "✗ regr"
    if unknown:
        return f"{UNKNOWN_GLYPH} unknown"
    return "~ warn" if harm > 0 else "✓ ok"


UNKNOWN_KINDS = (  # Snapshot.unknown's kinds, what each counts, and what the cockpit does about it
    ("health", "tenant(s)", "health unknown", "never counted healthy"),
    ("rps", "tenant(s)", "rps unknown", "planned at a stated estimate"),
    ("warmth", "namespace(s)", "hit rate unknown", "planned cold"),
)


def unknown_lines(snap: Snapshot | None, width: int = 300) -> list[str]:
    """What could not be read, one line per kind: how many, what the cockpit does, and the first reason
    (by name), cut at `width` characters (the panel wraps it). Empty when everything was read."""
    unknown = snap.unknown if snap is not None else {}
    out = []
    for kind, what, head, does in UNKNOWN_KINDS:
        got = unknown.get(kind)
        if not got:
            continue
        first = min(got)
        line = f"{UNKNOWN_GLYPH} {head}: {len(got)} {what} ({does}) · {first}: {got[first]}"
        out.append(line if len(line) <= width else line[: width - 1] + "…")
    return out


def tier_hits(snap: Snapshot | None, old_tier: str, new_tier: str) -> tuple[float | None, float | None]:
    """The old and new tiers' namespace hit rates: the only cache reading there is (per tier, not tenant)."""
    old = new = None
    for ns in snap.namespaces if snap is not None else ():
        if ns.tier == old_tier and old is None:
            old = ns.hit_rate
        elif ns.tier == new_tier and new is None:
            new = ns.hit_rate
    return old, new


def row_formatter(
    snap: Snapshot, tr: TrafficReading, threshold: float, hits: tuple[float | None, float | None]
) -> Callable[[str], Row]:
    """A function formatting one tenant's cells from `snap` (whose traffic reading is `tr`); the table
    calls it only for rows on screen."""
    harm, ceilings, targets, effective = snap.harm, snap.ceilings, snap.targets, snap.effective
    old_hit, new_hit = hits
    unknown = snap.unknown.get("health", {})
    scope = scope_of(snap)

    def fmt(t: str) -> Row:
        ceiling = ceilings.get(t)
        share = effective.get(t, tr.shares.get(t, 0.0))
        rps = tr.rps.get(t, 0.0)
        o = pct(old_hit) if share < 1.0 - 1e-9 else "—"
        n = pct(new_hit) if share > 1e-9 else "—"
        return (
            t,
            tr.cohorts.get(t, ""),
            f"{rps:.0f}" if rps >= 10 or rps == 0 else f"{rps:.1f}" if rps >= 0.05 else f"{rps:.2g}",
            pct(targets.get(t)),
            "—" if ceiling is None else pct(ceiling),
            pct(share),
            health(harm.get(t, 0.0), threshold, t in unknown, t in scope and share <= 1e-9),
            f"{o}·{n}",
        )

    return fmt


def table_order(
    tenants: Iterable[str], harm: Mapping[str, float], threshold: float, unknown: Mapping[str, str]
) -> list[str]:
    """Regressing tenants first, then those whose health cannot be read (they need a look too), then the
    rest, each in the router's order."""
    tenants = list(tenants)
    regr = [t for t in tenants if harm.get(t, 0.0) >= threshold]
    rest = [t for t in tenants if harm.get(t, 0.0) < threshold] if regr else tenants
    if unknown:
        rest = [t for t in rest if t in unknown] + [t for t in rest if t not in unknown]
    return regr + rest


class TenantIndex:
    """The table's order (regressing first, then unknown health) and filter, cached: a new tick costs one
    scan, a keystroke in the filter at most one scan of the tenants still matching, and nothing else costs
    a scan."""

    def __init__(self) -> None:
        self._traffic: TrafficReading | None = None
        self._harm: Mapping[str, float] | None = None
        self._unknown: Mapping[str, str] = {}
        self._threshold = 0.0
        self.ordered: list[str] = []
        self.widths = (6, 6)
        self._search: dict[str, str] | None = None
        self._last: tuple[str, list[str]] | None = None

    def update(self, snap: Snapshot | None, threshold: float) -> bool:
        """Re-derive the order if the snapshot's traffic or health changed; True if it did."""
        traffic = snap.traffic if snap is not None else None
        harm = snap.harm if snap is not None else None
        unknown = snap.unknown.get("health", {}) if snap is not None else {}
        same_unknown = unknown is self._unknown or unknown == self._unknown  # a new snapshot copies it
        if traffic is self._traffic and harm is self._harm and threshold == self._threshold and same_unknown:
            return False
        self._traffic, self._harm, self._threshold, self._unknown = traffic, harm, threshold, unknown
        self._search = None
        self._last = None
        if traffic is None or harm is None:
            self.ordered = []
            return True
        shares = traffic.shares
        self.ordered = table_order(shares, harm, threshold, unknown)
        longest = max(map(len, shares), default=6)
        cohort = max(map(len, traffic.cohorts.values()), default=6)
        self.widths = (max(6, min(16, longest)), max(6, min(10, cohort)))
        return True

    def matching(self, filter_text: str) -> list[str]:
        needle = filter_text.strip().lower()
        if not needle:
            return self.ordered
        if self._last is not None and self._last[0] == needle:
            return self._last[1]
        if self._search is None:
            tr, harm, th, unknown = self._traffic, self._harm or {}, self._threshold, self._unknown
            cohorts = tr.cohorts if tr is not None else {}
            self._search = {
                t: f"{t.lower()}\0{cohorts.get(t, '').lower()}\0{health_word(harm.get(t, 0.0), th, t in unknown)}"
                for t in self.ordered
            }
        base = self._last[1] if self._last is not None and needle.startswith(self._last[0]) else self.ordered
        search = self._search
        found = [t for t in base if needle in search[t]]
        self._last = (needle, found)
        return found


_SCOPE: list[tuple[Snapshot, frozenset[str]]] = []


def scope_of(snap: Snapshot | None) -> frozenset[str]:
    """The armed rollback's scope as a set (cached for the latest snapshot: the table asks per row)."""
    if snap is None or not snap.rollback.get("armed"):
        return frozenset()
    if _SCOPE and _SCOPE[0][0] is snap:
        return _SCOPE[0][1]
    scope = frozenset(snap.rollback.get("scope", ()))
    _SCOPE[:] = [(snap, scope)]
    return scope


def is_restored(snap: Snapshot, tenant: str) -> bool:
    return tenant in scope_of(snap) and snap.effective.get(tenant, 1.0) <= 1e-9


SORT_KEYS: dict[str, Callable[[Snapshot, str, float], object]] = {
    "tenant": lambda snap, t, th: t,
    "rps": lambda snap, t, th: -(snap.traffic.rps.get(t, 0.0) if snap.traffic else 0.0),
    "on new": lambda snap, t, th: -snap.effective.get(t, 0.0),
    "health": lambda snap, t, th: -snap.harm.get(t, 0.0),
}


def sorted_order(order: list[str], sort: str, snap: Snapshot | None, threshold: float) -> list[str]:
    """The table's order under `o` / `:sort` (the default, "", keeps regressing first)."""
    key = SORT_KEYS.get(sort)
    if key is None or snap is None:
        return order
    return sorted(order, key=lambda t: key(snap, t, threshold))  # type: ignore[arg-type,return-value]


def regressing(snap: Snapshot | None, threshold: float) -> list[str]:
    """Tenants regressing on new now: not those the rollback restored to 0 % new."""
    if snap is None or snap.traffic is None:
        return []
    shares = snap.traffic.shares
    return sorted(t for t, h in snap.harm.items() if h >= threshold and t in shares and not is_restored(snap, t))
