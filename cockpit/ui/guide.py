"""What the on-call should do next, in words: the next-step line, the keys the footer shows first, why a
key was refused, and the incident summary `y` copies. Plain text (no textual), from the Snapshot alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cockpit.engine.snapshot import Snapshot
from cockpit.ui.plantext import dur
from cockpit.ui.view import stamp


@dataclass(frozen=True)
class Situation:
    """What the next step depends on, besides the snapshot."""

    regressing: int
    read_only: bool
    in_control: bool = True  # attached: this operator holds control
    controller: str | None = None
    local_read_only: bool = False  # started with --read-only (c cannot help)


def next_step(snap: Snapshot | None, s: Situation) -> tuple[str, list[str]]:
    """(the line, the binding ids it names, most important first). Always says what to do."""
    if snap is None:
        return "waiting for the first reading of the fleet · q quits", []
    if snap.alerts:  # a journal that cannot be written, a backend down: the first thing to fix
        more = f" (+{len(snap.alerts) - 1} more)" if len(snap.alerts) > 1 else ""
        return f"⚠ {snap.alerts[0]}{more} · t shows the timeline", ["timeline"]
    if s.read_only:
        return _read_only_step(snap, s)
    rb = snap.rollback
    inc = snap.incident
    open_ = inc is not None and inc.open
    if rb.get("armed") and rb.get("done"):
        if open_:
            return "restored: D releases the incident · y copies the summary · t shows the timeline", [
                "release",
                "copy",
            ]
        return "restored and released · y copies the summary · t shows the timeline", ["copy", "timeline"]
    if rb.get("armed") and rb.get("paused"):
        return "held: r resumes · n advances one stage by hand", ["resume", "advance"]
    if rb.get("armed"):
        wait = f" ({snap.hold})" if snap.hold else ""
        if rb.get("mode") == "manual":
            return f"rollback in manual mode: n advances one stage · m switches to auto{wait}", ["advance", "auto"]
        return f"rollback running on its own{wait} · h holds · n advances now", ["hold", "advance"]
    if s.regressing and not open_:
        return (
            f"{s.regressing:,} tenant(s) regressing · d declares, then a arms the rollback (A chooses the scope)",
            ["declare", "arm", "arm_scope"],
        )
    if s.regressing:
        return f"{s.regressing:,} tenant(s) regressing · a arms the rollback · A chooses the scope", [
            "arm",
            "arm_scope",
        ]
    if open_:
        return "incident open, nothing regressing · D releases when you are sure · s pre-scales", [
            "release",
            "prescale",
        ]
    return "all healthy · nothing to do (/ filters, t shows the timeline)", ["filter", "timeline"]


def beside_the_point(snap: Snapshot | None) -> set[str]:
    """Binding ids the footer leaves out now (they still work, and say why when they cannot): declare
    while an incident is open, release with none open, the rollback's keys before it is armed, resume
    unless held, hold unless running."""
    if snap is None:
        return set()
    rb, inc = snap.rollback, snap.incident
    if inc is None:
        out = {"release", "reapprove"}
    elif inc.open:  # re-approval is refused while the incident is open: offered once it is released
        out = {"declare", "reapprove"}
    else:
        out = {"release"}
    armed, done, paused = bool(rb.get("armed")), bool(rb.get("done")), bool(rb.get("paused"))
    if not armed or done:
        out |= {"advance", "auto", "hold", "resume"}
        if done:  # restored: arming again is not the next thing (a still works if another tenant regresses)
            out |= {"arm", "arm_scope"}
    elif paused:
        out |= {"hold", "arm", "arm_scope"}
    else:
        out |= {"resume", "arm", "arm_scope"}
    return out


def _read_only_step(snap: Snapshot, s: Situation) -> tuple[str, list[str]]:
    if s.local_read_only:
        return "read-only (--read-only): watching; start cockpit without --read-only to act", ["timeline"]
    who = s.controller or "nobody"
    if s.regressing:
        return f"{s.regressing:,} tenant(s) regressing · {who} is in control · c takes control to act", ["take_control"]
    return f"read-only: {who} is in control · c takes control", ["take_control"]


def refusal(action: str, description: str, s: Situation) -> str:
    """Why a key did nothing, said out loud."""
    what = description.lower() or action
    if s.local_read_only:
        return f"{what}: refused: this screen is read-only (--read-only); restart cockpit without it to act"
    if s.read_only:
        who = s.controller or "nobody"
        return f"{what}: refused: {who} is in control; c takes control"
    return f"{what}: refused"


def take_control_refusal(local_read_only: bool) -> str:
    if local_read_only:
        return "c: this screen is read-only (--read-only) and runs no shared engine: there is no control to take"
    return "this screen runs its own engine: it is already in control"


def summary(snap: Snapshot | None, timeline: Sequence[str], regressing: Sequence[str], real_clock: bool = True) -> str:
    """The incident summary `y` copies: state, figures and the timeline (the evidence formatter's lines)."""
    if snap is None:
        return "cockpit: no reading yet"
    inc = snap.incident
    head = f"{inc.id} {'open' if inc.open else 'released'}" if inc is not None else "no incident declared"
    rb, p = snap.rollback, snap.progress
    lines = [f"cockpit incident summary: {head}"]
    if snap.onset_at is not None:  # a clock time: the summary is pasted, and read later
        at = stamp(snap.onset_at, real_clock).strip()
        lines.append(f"- regression onset: {at} ({dur(snap.now - snap.onset_at)} before this summary)")
        if inc is not None:
            lines.append(
                f"- declared {dur(max(0.0, inc.declared_at - snap.onset_at))} after onset by {inc.declared_by}"
            )
    if rb.get("armed"):
        state = "done" if rb.get("done") else ("held" if rb.get("paused") else "running")
        lines.append(
            f"- rollback {state}, stage {rb.get('stage', 0)}: restored {p.get('restored_rps', 0.0):.0f}"
            f"/{p.get('scope_rps', 0.0):.0f} rps, {p.get('restored', 0)}/{p.get('tenants', 0)} tenants at 0 % new"
        )
    if regressing:
        lines.append(f"- regressing now: {len(regressing)} ({', '.join(regressing[:10])})")
    if snap.wrong_answers is not None:
        kind = "" if snap.wrong_truth else " (estimate)"
        lines.append(f"- wrong answers served{kind}: {snap.wrong_answers:,.0f}")
    lines += ["", "Timeline (newest first):", *timeline]
    return "\n".join(lines)
