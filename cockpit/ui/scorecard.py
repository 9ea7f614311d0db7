"""The drill scorecard as the screen builds it: the operator's own run scored like the baselines.

A drill run in this process is scored from the simulator once the rollback is done and the same
`SETTLE_S` simulated seconds have passed that the baselines (`run_drill`) get after restoring, so
overload or a cold cache after the last stage still counts. A screen attached to an engine running a
game day reads the engine's own scorecard from the journal instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cockpit.engine.snapshot import Snapshot
from cockpit.ui.plantext import dur
from cockpit.ui.view import SETTLE_S, sim_clock

if TYPE_CHECKING:  # cockpit.engine.drill (the baselines' runner) is imported when a card is made
    from cockpit.engine.drill import Scorecard

TITLE = "Drill finished: scorecard"
REMOTE_TITLE = "Rollback finished: scorecard"


def compute_baselines(scenario: str) -> list[Scorecard]:
    """The abort and fixed-stages baselines on the same scenario (seconds of CPU: run on a thread)."""
    from cockpit.engine.drill import run_drill

    return [asyncio.run(run_drill(scenario, s)) for s in ("abort", "fixed-stages")]


def declare_delay(onset: float | None, declared: float | None) -> str:
    """The scorecard's "declared N after onset" row."""
    if onset is None:
        return "declared after onset: — (no regression)"
    if declared is None:
        return "declared after onset: never declared"
    when = f"onset {sim_clock(onset)}, declared {sim_clock(declared)}"
    return f"declared after onset: {dur(max(0.0, declared - onset))} ({when})"


def journal_card(card: Mapping[str, Any], declared: float | None, lower_bound: float | None) -> Scorecard:
    """An engine's `drill_scorecard` journal entry (the simulator's figures) as a Scorecard, with the
    declaration and lower bound the journal holds beside it."""
    from cockpit.engine.drill import Scorecard

    restored = card.get("restored_at_s")
    return Scorecard(
        scenario=str(card.get("scenario", "")),
        strategy="engine",
        restored=restored is not None,
        time_to_restore_s=None if restored is None or declared is None else max(0.0, restored - declared),
        lower_bound_s=lower_bound,
        wrong_answers=float(card.get("wrong_answers", 0.0)),
        dropped_requests=float(card.get("dropped_requests", 0.0)),
        peak_old_utilisation=float(card.get("peak_old_utilisation", 0.0)),
        min_old_hit_rate=card.get("min_old_hit_rate"),
        extra_cost=float(card.get("extra_cost", 0.0)),
        disturbed_tenants=list(card.get("disturbed_tenants", [])),
        declared_at_s=declared,
        onset_s=card.get("onset_s"),
        stages=int(card.get("stages", 0) or 0),
        scope=list(card.get("scope", [])),
    )


def journal_card_text(card: Mapping[str, Any], declared: float | None = None, lower_bound: float | None = None) -> str:
    """An engine's scorecard formatted like the drill's own (rounded, time to restore against the
    bound); the baselines are `cockpit drill SCENARIO --compare`'s, not re-run here."""
    from cockpit.report import scorecard_table

    sc = journal_card(card, declared, lower_bound)
    return (
        scorecard_table([sc]).strip()
        + "\n\n"
        + declare_delay(sc.onset_s, declared)
        + "\n\nbaselines (abort, fixed-stages): cockpit drill SCENARIO --compare on the engine's scenario"
    )


class DrillScore:
    """The operator's scorecard for a drill session (`cockpit.engine.session` DrillSession)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.baselines: list[Scorecard] | None = None
        self.finished_at: float | None = None
        self.shown = False

    def settle_left(self, snap: Snapshot | None, now: float) -> float | None:
        """Simulated seconds left before the finished drill is scored (None: the rollback is not done)."""
        if snap is None or not snap.rollback.get("done"):
            return None
        if self.finished_at is None:
            self.finished_at = now
        return max(0.0, SETTLE_S - (now - self.finished_at))

    def due(self, snap: Snapshot | None, now: float) -> bool:
        """True once, when the scorecard should be shown."""
        if self.shown:
            return False
        left = self.settle_left(snap, now)
        if left is None or left > 0:
            return False
        self.shown = True
        return True

    def card(self, snap: Snapshot) -> Scorecard:
        from cockpit.engine.drill import Scorecard

        sim = self.session.simulator
        declared = snap.incident.declared_at if snap.incident else None
        scope = sorted(snap.rollback.get("scope", ()))
        card = sim.scorecard(declared, scope)
        restored = card["restored_at_s"]
        warmer = snap.warmer or {}
        limits: dict[str, Any] = {}
        if declared is not None and hasattr(sim, "limits"):  # the capacity bound and the clairvoyant's figures
            policy = self.session.engine.policy
            limits = dict(sim.limits(declared, policy.headroom, policy.crash_reserve))
        return Scorecard(
            scenario=self.session.info["name"],
            strategy="you (TUI)",
            restored=restored is not None,
            time_to_restore_s=None if restored is None or declared is None else max(0.0, restored - declared),
            lower_bound_s=sim.lower_bound(declared, scope) if declared is not None else None,
            wrong_answers=card["wrong_answers"],
            dropped_requests=card["dropped_requests"],
            peak_old_utilisation=card["peak_old_utilisation"],
            min_old_hit_rate=card["min_old_hit_rate"],
            extra_cost=card["extra_cost"] + float(warmer.get("cost", 0.0) or 0.0),
            disturbed_tenants=card["disturbed_tenants"],
            declared_at_s=declared,
            onset_s=card["onset_s"],
            overflow=card.get("overflow") if snap.overflow.get("available") else None,  # --drill S --overflow
            stages=int(snap.rollback.get("stage", 0)),
            scope=scope,
            history=card["history"],
            warmer=dict(warmer),
            **limits,
        )

    def text(self, snap: Snapshot) -> str:
        from cockpit.report import scorecard_table

        cards = [self.card(snap), *(self.baselines or [])]
        note = "" if self.baselines is not None else "\n\n(baselines abort and fixed-stages: computing…)"
        return declare_delay(cards[0].onset_s, cards[0].declared_at_s) + "\n\n" + scorecard_table(cards) + note
