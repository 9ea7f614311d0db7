"""The words the screen chooses: which keys the footer leaves out now, and the arm confirmation's numbers
and stage lines (a review at 80x24–200x60 found R offered while it is refused, `a Arm` offered after the
restore, a 10,000-tenant stage wrapping under the Stage column, and numbers with and without separators)."""

from __future__ import annotations

from types import SimpleNamespace

from cockpit.domain.incident import Incident
from cockpit.domain.planner import Plan, PlannedStage
from cockpit.ui import guide
from cockpit.ui.plantext import arm_summary, plan_line


def _snap(rollback: dict, incident: Incident | None) -> SimpleNamespace:
    return SimpleNamespace(rollback=rollback, incident=incident)


OPEN = Incident("INC-1", 10.0, "alice")
RELEASED = Incident("INC-1", 10.0, "alice", released_at=99.0, released_by="alice")


def test_the_footer_leaves_out_what_is_refused_or_beside_the_point():
    hidden = guide.beside_the_point
    none, armed, done = {}, {"armed": True}, {"armed": True, "done": True}
    assert {"release", "reapprove", "advance", "hold", "resume"} <= hidden(_snap(none, None))  # type: ignore[arg-type]
    assert "arm" not in hidden(_snap(none, None)) and "declare" not in hidden(_snap(none, None))  # type: ignore[arg-type]
    # open: re-approval is refused until the release, so it is not offered; release and hold are
    running = hidden(_snap(armed, OPEN))  # type: ignore[arg-type]
    assert {"declare", "reapprove", "resume", "arm"} <= running and not {"release", "hold", "advance"} & running
    # restored: release is the next thing, not arming again
    restored = hidden(_snap(done, OPEN))  # type: ignore[arg-type]
    assert {"arm", "arm_scope", "hold"} <= restored and "release" not in restored
    # released: re-approval is offered, release is not
    after = hidden(_snap(done, RELEASED))  # type: ignore[arg-type]
    assert "reapprove" not in after and "release" in after


def _plan(n: int) -> Plan:
    names = tuple(f"enterprise-{i:04d}" for i in range(n))
    stages = (PlannedStage(1, 0.0, names[: n // 2], 1052.4, 0.7), PlannedStage(2, 65.0, names[n // 2 :], 3947.6, 0.8))
    return Plan(names, 5000.0, 1352, stages, True, 66.0)


def test_the_arm_confirmation_at_ten_thousand_tenants_reads_as_one_table():
    text = arm_summary(_plan(10_000), 212, declares=True, healthy=9_000)
    assert "⚠ 9,000 of the 10,000 tenants are healthy: they move to old too." in text
    assert "Roll back 10,000 tenant(s)" in text and "(+9,992 more)" in text
    assert "5,000 rps" in text and "to 1,352 replicas first (ready now: 212)" in text
    rows = [line for line in text.splitlines() if line.lstrip().startswith(("1  ", "2  "))]
    assert len(rows) == 2 and all(len(r) <= 76 for r in rows), rows  # one line each, inside an 80-column dialog
    assert rows[0].endswith("enterprise-0000, enterprise-0001 +4,998") and "1,052 rps" in rows[0]
    assert "⚠ 1 of the 5 tenants is healthy: it moves to old too." in arm_summary(_plan(5), None, False, 1)
    assert "(10,000 tenants, pre-scale to 1,352)" in plan_line(_plan(10_000), 0, False, False, False)


def test_the_plot_draws_the_configured_headroom_and_what_arming_would_ask():
    from cockpit.ui.plot import plot_lines
    from cockpit.ui.trends import Sample

    history = [Sample(float(t), 0.2 + t / 200, 6, 6, 0.5, 0.0) for t in range(60)]
    rows = plot_lines(history, 60, headroom=0.8, if_armed=46)
    assert any(r.endswith("┄ 80% headroom") for r in rows), rows  # the planner's 80 %, not 100 %
    assert rows[-3].endswith("needed 46 if armed now")  # as the capacity line says "full failback needs 46"
    asked = [*history[:-1], Sample(60.0, 0.5, 6, 46, 0.5, 0.0, needed=46)]
    assert plot_lines(asked, 60, 0.8, 46)[-3].endswith("needed 46")


def test_the_timeline_folds_a_run_of_tier_readings_into_one_line():
    from cockpit.engine.journal import Entry
    from cockpit.ui.timeline import TimelineFeed

    feed = TimelineFeed(engine=None)  # type: ignore[arg-type]  # fed by hand: no engine read here
    tier = [
        Entry(i, float(i), 0.0, "tier_changed", "e", {"tier": "old", "ready": 6 + i, "desired": 46}) for i in range(5)
    ]
    stage = Entry(5, 5.0, 0.0, "stage_applied", "e", {"stage": 2, "tenants": 1, "moved_rps": 10.0})
    more = Entry(6, 6.0, 0.0, "tier_changed", "e", {"tier": "old", "ready": 12, "desired": 46})
    feed.entries.extend([*tier, stage, more])
    lines = feed.lines(real_clock=False, width=100)
    assert "tier old: 12 ready / 46 desired" in lines[0]  # newest first, alone (no run)
    assert "stage 2 applied" in lines[1]
    assert "tier old: 10 ready / 46 desired" in lines[2] and lines[3].strip() == "… 4 earlier tier reading(s)"
    assert len(lines) == 4


def test_the_copied_summary_gives_the_onset_a_clock_time_and_the_warmer_its_words():
    from cockpit.ui.panels import warmer_text

    snap = SimpleNamespace(
        incident=OPEN, rollback={}, progress={}, onset_at=65.0, now=165.0, wrong_answers=None, wrong_truth=False
    )
    text = guide.summary(snap, [], [], real_clock=False)  # type: ignore[arg-type]
    assert "- regression onset: T+00:01:05 (1m40 before this summary)" in text  # not "1m40 ago", once pasted
    assert warmer_text({"enabled": True, "sent": 4, "reads": 0, "cost": 0.05}) == (
        " · warmer ON: 4 sent, 0 served from cache, $0.05"
    )


def test_a_key_and_its_verb_never_part_when_the_next_step_line_wraps():
    from cockpit.ui.panels import KEY_VERB

    line = "rollback running on its own (waiting for old-tier capacity (6/46 ready)) · h holds · n advances now"
    bound = KEY_VERB.sub("\\1\\2\u00a0", line)
    assert "h\u00a0holds" in bound and "n\u00a0advances" in bound and "(6/46\u00a0ready" not in bound
    assert KEY_VERB.sub("\\1\\2\u00a0", "d declares, then a arms the rollback (A chooses the scope)") == (
        "d\u00a0declares, then a\u00a0arms the rollback (A\u00a0chooses the scope)"
    )
