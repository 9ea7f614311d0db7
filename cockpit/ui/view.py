"""Plain-text views of an engine Snapshot, kept free of textual so they are cheap to test and reuse.

Every status is carried by a word and a glyph as well as by colour, so the screen reads the same under
NO_COLOR, on an ANSI-16 terminal and for colour-blind operators.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cockpit.domain.planner import Plan
from cockpit.engine.snapshot import Snapshot
from cockpit.hookspecs import TrafficReading

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


def banner(snap: Snapshot | None) -> tuple[str, str]:
    """(text, style class): the incident state, FROZEN by word and glyph."""
    if snap is None:
        return "… WAITING for the first observation of the fleet", "waiting"
    inc = snap.incident
    if inc is not None and inc.open:
        since = max(0.0, snap.now - inc.declared_at)
        return (
            f"{FROZEN_GLYPH} FROZEN {FROZEN_GLYPH}  {inc.id} open {since:.0f} s · rollout, flags, cache GC frozen",
            "frozen",
        )
    if inc is not None:
        return f"{OK_GLYPH} NORMAL  {inc.id} released · rollout calendar running", "normal"
    return f"{OK_GLYPH} NORMAL  no incident · rollout calendar running", "normal"


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


def capacity_line(snap: Snapshot | None, needed_if_armed: int | None = None) -> str:
    """`needed`: replicas for full failback of the rollback scope (or of the regressing tenants)."""
    if snap is None or snap.old_tier is None:
        return "old tier: no reading"
    t = snap.old_tier
    n = snap.replicas_needed or snap.rollback.get("scale_requested") or needed_if_armed
    needed = "—" if not n else str(n)
    util = snap.old_utilisation
    over = "  ▲ OVER HEADROOM" if util is not None and util > 1.0 else ""
    starting = f" (+{t.desired - t.ready} starting)" if t.desired > t.ready else ""
    return f"old tier ready {t.ready}/{t.desired}{starting} need {needed} util {pct(util)} {bar(util or 0.0, 6)}{over}"


def rollback_line(snap: Snapshot | None, settle_left: float | None = None) -> str:
    if snap is None:
        return "rollback: —"
    rb = snap.rollback
    if not rb.get("armed"):
        return "rollback: not armed"
    state = "DONE ✔" if rb.get("done") else ("HELD ⏸" if rb.get("paused") else "RUNNING ▶")
    scope = rb.get("scope", [])
    hold = snap.hold or rb.get("hold")
    in_scope = [t for t in scope if t in snap.effective]
    left = sum(1 for t in in_scope if snap.effective.get(t, 0.0) > 1e-9)
    progress = 1.0 - (left / len(in_scope)) if in_scope else 0.0
    line = (
        f"rollback {state}  stage {rb.get('stage', 0)}  mode {rb.get('mode')}  "
        f"scope {len(scope)}  {bar(progress)} {len(in_scope) - left}/{len(in_scope)} at 0 %"
    )
    if hold and not rb.get("done"):
        line += f"\n  hold: {hold}"
    if rb.get("done") and settle_left:
        line += (
            f"\n  drill: scored in {settle_left:.0f} s (settling {SETTLE_S:.0f} s after restore, as the baselines do)"
        )
    return line


UNKNOWN_GLYPH = "?"


def health(harm: float, threshold: float, unknown: bool = False) -> str:
    """A tenant's health cell. Unknown is a word, never a colour only and never "ok": a tenant whose
    health cannot be read says so (a regression read earlier in the same reading still stands)."""
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

    def fmt(t: str) -> Row:
        ceiling = ceilings.get(t)
        share = effective.get(t, tr.shares.get(t, 0.0))
        o = pct(old_hit) if share < 1.0 - 1e-9 else "—"
        n = pct(new_hit) if share > 1e-9 else "—"
        return (
            t,
            tr.cohorts.get(t, ""),
            f"{tr.rps.get(t, 0.0):.0f}",
            pct(targets.get(t)),
            "—" if ceiling is None else pct(ceiling),
            pct(share),
            health(harm.get(t, 0.0), threshold, t in unknown),
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


def regressing(snap: Snapshot | None, threshold: float) -> list[str]:
    if snap is None or snap.traffic is None:
        return []
    return sorted(t for t, h in snap.harm.items() if h >= threshold and t in snap.traffic.shares)


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick's worth of what the trend plots show (the app keeps a ring buffer of these)."""

    now: float
    util: float | None
    ready: int
    desired: int
    old_hit: float | None
    wrong: float  # wrong answers served so far (the simulator's count in a drill, else an estimate)


def scaled(values: Sequence[float], top: float | None = None) -> list[float]:
    hi = top if top is not None else max(values, default=0.0)
    return [min(1.0, v / hi) if hi > 0 else 0.0 for v in values]


def buckets(values: Sequence[float], width: int) -> list[float]:
    """`values` averaged into at most `width` buckets, oldest first: a sparkline of the whole window."""
    n = len(values)
    if n <= width:
        return list(values)
    return [
        sum(values[i * n // width : (i + 1) * n // width]) / max(1, (i + 1) * n // width - i * n // width)
        for i in range(width)
    ]


def compact(n: float) -> str:
    return f"{n:.0f}" if n < 1000 else (f"{n / 1000:.1f}k" if n < 1e6 else f"{n / 1e6:.1f}M")


def trends_line(history: Sequence[Sample], width: int = 5, estimated: bool = True) -> str:
    """Old-tier utilisation and ready replicas, old-cache hit rate and wrong answers served so far, over
    the buffered window. `wrong≈` marks an estimate (outside a drill there is no ground truth)."""
    if not history:
        return "trends: no reading yet"
    last = history[-1]
    span = last.now - history[0].now
    util = buckets([s.util or 0.0 for s in history], width)
    ready = buckets([float(s.ready) for s in history], width)
    hit = buckets([s.old_hit or 0.0 for s in history], width)
    wrong = buckets([s.wrong for s in history], width)
    top = max(1.0, *(float(s.desired) for s in history))
    label = f"{span / 60:.0f}m:" if span >= 60 else f"{span:.0f}s:"
    return (
        f"{label} util {sparkline(scaled(util, max(1.0, *util)), width)} {pct(last.util)}"
        f"  ready {sparkline(scaled(ready, top), width)} {last.ready}/{last.desired}"
        f"  old hit {sparkline(hit, width)} {pct(last.old_hit)}"
        f"  wrong{'≈' if estimated else ''} {sparkline(scaled(wrong), width)} {compact(last.wrong)}"
    )


def capacity_eta(history: Sequence[Sample], needed: int | None, startup_s: float) -> str:
    """ETA to capacity: old tier ready versus needed for full failback, from when the replicas were asked."""
    if not history or not needed:
        return ""
    last = history[-1]
    if last.ready >= needed:
        return "  ✔ ready"
    if last.desired < needed:
        return f"  ETA {startup_s:.0f}s after s"
    asked = last.now
    for s in reversed(history):  # when the desired count last reached `needed`
        if s.desired < needed:
            break
        asked = s.now
    left = asked + startup_s - last.now
    return f"  ETA {left:.0f}s" if left > 0 else "  ETA late"


def plan_line(plan: Plan | None, stage: int, armed: bool, done: bool, held: bool, now_s: float) -> str:
    """The rollback plan as stages with status and ETA: ✔ applied, ▶/⏸ next, · planned."""
    if done:
        return f"plan  ✔ {stage} stage(s) applied: every tenant in scope is at 0 % new"
    if plan is None:
        return "plan  — (no regressing tenant: nothing to plan)" if not armed else "plan  — (no reading)"
    parts = [f"✔{i}" for i in range(max(1, stage - 2), stage + 1)] if armed and stage else []
    if armed and stage > 3:
        parts.insert(0, "…")
    for i, st in enumerate(plan.stages[:6]):
        glyph = ("⏸" if held else "▶") if i == 0 else "·"
        parts.append(f"{glyph}{stage + i + 1} {_dur(st.eta_s)}")
    if len(plan.stages) > 6:
        parts.append(f"… +{len(plan.stages) - 6}")
    end = f"done ≈ {_dur(plan.eta_s)}" if plan.finishes and plan.eta_s is not None else "not within 4 h"
    head = "plan " if armed else f"plan if armed now ({len(plan.scope)} tenants, pre-scale {plan.prescale_to}):"
    return f"{head} {' '.join(parts)}  {end}"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    return f"+{s}s" if s < 120 else f"+{s // 60}m"


def arm_summary(plan: Plan, ready: int | None, declares: bool, stages_shown: int = 5) -> str:
    """The arm confirmation, from the domain planner's dry run (the one the plan line shows): which
    tenants, how much traffic moves, the pre-scale target, and each stage's ETA. Arming with no incident
    open declares one (the engine's `arm` does), so the confirmation says so before the operator agrees."""
    names = ", ".join(plan.scope[:8]) + (f" (+{len(plan.scope) - 8} more)" if len(plan.scope) > 8 else "")
    ready_now = "" if ready is None else f" (ready now: {ready})"
    lines = [
        f"Roll back {len(plan.scope)} tenant(s): {names}",
        f"Traffic to move to the old revision: {plan.traffic_to_move_rps:.0f} rps",
        f"Pre-scale the old tier to {plan.prescale_to} replicas first{ready_now}",
        *stage_lines(plan, stages_shown),
        "Stages move only as fast as ready old-tier capacity allows.",
    ]
    lines.extend(plan_unknown_lines(plan))
    if declares:
        lines.append("No incident is open: arming also declares one (rollout, flags and cache GC freeze).")
    return "\n".join(lines)


def plan_unknown_lines(plan: Plan, limit: int = 6) -> list[str]:
    """The tenants the plan could not read, each with what was assumed (an unknown rate is planned at a
    stated estimate, never 0 rps; an unknown health is never counted healthy)."""
    if not plan.unknown:
        return []
    out = [f"{UNKNOWN_GLYPH} Unknown readings for {len(plan.unknown)} tenant(s), planned conservatively:"]
    for t in sorted(plan.unknown)[:limit]:
        out.append(f"  {t}: {plan.unknown[t]}")
    if len(plan.unknown) > limit:
        out.append(f"  … +{len(plan.unknown) - limit} more (cockpit plan lists them all)")
    return out


def stage_lines(plan: Plan, limit: int = 5) -> list[str]:
    """Each planned stage with its ETA from now, the traffic it moves and the tenants it lowers."""
    end = f"done ≈ {_dur(plan.eta_s)}" if plan.finishes and plan.eta_s is not None else "not done within 4 h"
    if not plan.stages:
        return [f"Stages: none planned yet · {end}"]
    out = ["Stage  ETA      moves     tenants"]
    for st in plan.stages[:limit]:
        who = ", ".join(st.tenants[:3]) + (f" +{len(st.tenants) - 3}" if len(st.tenants) > 3 else "")
        out.append(f"{st.number:>5}  {_dur(st.eta_s):<7}  {st.moved_rps:>5.0f} rps  {who}")
    if len(plan.stages) > limit:
        out.append(f"    … +{len(plan.stages) - limit} more stage(s)")
    out.append(f"       {end}")
    return out


def wrong_since(prev_now: float, snap: Snapshot, threshold: float) -> float:
    """Wrong answers estimated since `prev_now`: harm × rps × share on new of each regressing tenant
    (outside a drill there is no ground truth; the trends mark the figure with ≈)."""
    if snap.traffic is None:
        return 0.0
    dt = max(0.0, snap.now - prev_now)
    tr, eff = snap.traffic, snap.effective
    return dt * sum(
        h * tr.rps.get(t, 0.0) * eff.get(t, tr.shares.get(t, 0.0)) for t, h in snap.harm.items() if h >= threshold
    )
