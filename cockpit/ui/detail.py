"""One tenant's detail (Enter on the table): its figures now, and its history from the journal: every
confirmed share on new (and the stage that moved it), every health change, the incident's milestones."""

from __future__ import annotations

from cockpit.engine.handle import EngineHandle
from cockpit.engine.journal import Entry
from cockpit.engine.snapshot import Snapshot
from cockpit.errors import CockpitError
from cockpit.ui import view

KINDS = ("actuation", "actuation_ack", "health_changed", "incident_declared", "incident_released", "stage_applied")
SCAN_LIMIT = 50_000  # journal entries read at most for one tenant's history


def now_lines(snap: Snapshot | None, tenant: str, threshold: float) -> list[str]:
    """The tenant's figures in this snapshot (also the side pane at wide widths)."""
    if snap is None or snap.traffic is None or tenant not in snap.traffic.shares:
        return [f"{tenant}: not in the latest reading"]
    tr = snap.traffic
    share = snap.effective.get(tenant, tr.shares.get(tenant, 0.0))
    ceiling = snap.ceilings.get(tenant)
    harm = snap.harm.get(tenant, 0.0)
    unknown = tenant in snap.unknown.get("health", {})
    in_scope = tenant in view.scope_of(snap)
    return [
        f"tenant   {tenant}",
        f"cohort   {tr.cohorts.get(tenant, '—')}",
        f"rps      {tr.rps.get(tenant, 0.0):.2f}",
        f"on new   {view.pct(share)}   (calendar target {view.pct(snap.targets.get(tenant))})",
        f"ceiling  {'—' if ceiling is None else view.pct(ceiling)}",
        f"health   {view.health(harm, threshold, unknown, in_scope and share <= 1e-9)} (severity {harm:.2f})",
        f"scope    {'in the rollback' if in_scope else 'not in the rollback'}",
    ]


async def _entries(engine: EngineHandle) -> list[Entry]:
    out: list[Entry] = []
    since = 0
    while len(out) < SCAN_LIMIT:
        page = await engine.journal_entries(kinds=KINDS, since_seq=since, limit=5000)
        out.extend(page)
        if len(page) < 5000:
            break
        since = page[-1].seq
    return out


def history_lines(entries: list[Entry], tenant: str, real_clock: bool) -> list[str]:
    """Newest first: share changes with their stage, health changes, the incident's milestones."""
    stage_of: dict[str, int] = {}
    out = []
    was_regr: bool | None = None
    for e in entries:
        d = e.data
        when = view.stamp(e.ts, real_clock).strip()
        if e.kind == "actuation" and isinstance(d.get("stage"), dict):
            stage = int(d["stage"].get("number", 0) or 0)
            stage_of[d["id"]] = stage
            ceiling = (d["stage"].get("ceilings") or {}).get(tenant)
            if ceiling is not None:
                out.append(f"{when}  stage {stage}: ceiling → {ceiling:.0%}")
        elif e.kind == "actuation_ack" and tenant in (d.get("shares") or {}):
            acked = stage_of.get(d["id"])
            by = f" (stage {acked})" if acked else ""
            out.append(f"{when}  share on new → {d['shares'][tenant]:.0%}{by}")
        elif e.kind == "health_changed":
            regr = tenant in d.get("regressing", ())
            if regr != was_regr and (was_regr is not None or regr):
                out.append(f"{when}  health: {'✗ regressing' if regr else '✓ no longer regressing'}")
            was_regr = regr
        elif e.kind in ("incident_declared", "incident_released"):
            out.append(f"{when}  incident {d.get('id')} {e.kind.removeprefix('incident_')}")
    return out[::-1]


async def tenant_history(engine: EngineHandle, tenant: str, real_clock: bool) -> list[str]:
    try:
        return history_lines(await _entries(engine), tenant, real_clock)
    except CockpitError as exc:
        return [f"(journal not readable: {exc})"]


def detail_body(snap: Snapshot | None, tenant: str, threshold: float, history: list[str]) -> str:
    lines = now_lines(snap, tenant, threshold)
    return "\n".join([*lines, "", "History (newest first):", *(history or ["(no change journaled)"])])
