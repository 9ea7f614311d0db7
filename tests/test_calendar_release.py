"""The health-gated rollout calendar, re-approval after release, and the scenario format that drills them
(issue 13): read back from the bundled `calendar-release` drill's scorecard and journal, and unit by unit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.domain.rollout import RolloutPlan, RolloutScheduler
from cockpit.engine.clock import SimClock
from cockpit.engine.commands import CommandError
from cockpit.engine.drill import Scorecard, run_drill
from cockpit.engine.journal import Entry, Journal
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError
from cockpit.timeline import describe
from cockpit_backends.mock.scenario import expanded_events, load_scenario
from cockpit_backends.mock.world import World

# The domain: a held tenant is never promoted ---------------------------------------------------------


def test_a_regressing_tenant_is_held_with_the_reason_and_promoted_once_the_gate_lets_it_go():
    r = RolloutScheduler.from_observed(RolloutPlan((0.25, 0.5, 1.0), 100.0), {"a": 0.25, "b": 0.25}, now=0.0)
    sick = {"b": "regressing (severity 0.60 ≥ 0.2)"}
    assert r.tick(100.0, sick.get, 1) == {"a": 0.5}
    assert r.held == sick and r.targets["b"] == 0.25
    assert r.tick(150.0, sick.get, 1) == {}  # the same health reading: held, not looked at again
    assert r.tick(150.0, lambda t: None, 2) == {"b": 0.5}  # a new reading clears it: promoted at once
    assert r.held == {}
    assert r.tick(200.0, sick.get, 3) == {"a": 1.0}  # b entered 0.5 at 150 s: not due yet, so not held
    assert r.held == {}


def test_a_new_health_reading_asks_only_the_held_tenants_again():
    shares = {f"t{i}": 0.25 for i in range(1000)}
    r = RolloutScheduler.from_observed(RolloutPlan((0.25, 0.5, 1.0), 100.0), shares, now=0.0)
    asked: list[str] = []

    def gate(t: str) -> str | None:
        asked.append(t)
        return "regressing" if t == "t7" else None

    assert len(r.tick(100.0, gate, 1)) == 999 and len(asked) == 1000
    asked.clear()
    assert r.tick(120.0, gate, 2) == {} and asked == ["t7"]  # a new reading, nothing else due: one question
    assert r.tick(130.0, lambda t: None, 3) == {"t7": 0.5} and r.next_due() == 200.0  # the others' next step


def test_cohort_calendars_have_their_own_steps_bake_and_start():
    plans = {"beta": RolloutPlan((0.1, 0.2), 50.0, start_s=-40.0)}
    r = RolloutScheduler.from_observed(
        RolloutPlan((0.1, 0.5), 1000.0), {"a": 0.1, "b": 0.1}, 0.0, plans, {"b": "beta", "a": "ga"}
    )
    assert r.tick(10.0) == {"b": 0.2}  # entered its step at -40 s: due at 10 s
    assert r.tick(999.0) == {}
    assert r.tick(1000.0) == {"a": 0.5}
    back = RolloutScheduler.restore(json.loads(json.dumps(r.snapshot())))
    assert back.plan_of("b") == plans["beta"] and back.targets == r.targets


def test_held_tenants_survive_a_checkpoint():
    r = RolloutScheduler.from_observed(RolloutPlan((0.25, 0.5), 10.0), {"a": 0.25}, now=0.0)
    r.tick(10.0, lambda t: "health unknown (no series)", 1)
    back = RolloutScheduler.restore(json.loads(json.dumps(r.snapshot())))
    assert back.held == {"a": "health unknown (no series)"}
    assert back.tick(11.0, lambda t: None, 2) == {"a": 0.5}


# The engine: re-approval -----------------------------------------------------------------------------


def test_reapproval_waits_for_the_release_and_never_lifts_a_regressing_tenant(tmp_path: Path):
    async def go():
        clock = SimClock()
        s = open_drill("calendar-release", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            while e.incident is None or not e.rollback.done:
                await e.tick()
                if e.snapshot and e.snapshot.harm and e.incident is None:
                    await e.command("arm", scope="regressing")
                clock.advance(1)
            with pytest.raises(CommandError, match="still open: release it first"):
                await e.command("reapprove", scope="all", confirm=True)
            released = await e.command("release", confirm=True)
            with pytest.raises(CommandError, match="needs confirmation"):
                await e.command("reapprove", scope="all")
            with pytest.raises(CommandError, match="neither a cohort nor a tenant"):
                await e.command("reapprove", scope="nobody", confirm=True)
            with pytest.raises(CommandError, match="beta-0001 regressing"):
                await e.command("reapprove", scope="beta", confirm=True)
            return released, dict(e.rollback.ceilings), e.snapshot
        finally:
            s.close()

    released, ceilings, snap = asyncio.run(go())
    assert "health-gated" in released and "2 rolled-back tenant(s) stay at their ceilings until re-approved" in released
    assert ceilings == {"beta-0001": 0.0, "beta-0002": 0.0}  # nothing lifted by the release or the refusals
    assert snap is not None and snap.calendar["frozen"] is False


# The bundled drill: the step waits out the incident, resumes after release, skips the sick tenant -------


@pytest.fixture(scope="module")
def calendar_drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scorecard, list[Entry]]:
    path = tmp_path_factory.mktemp("calendar") / "j.db"
    card = asyncio.run(run_drill("calendar-release", "cockpit", journal=path))
    j = Journal(path)
    try:
        return card, list(j.entries())
    finally:
        j.close()


def test_the_calendar_step_does_not_fire_while_frozen_and_resumes_after_release(calendar_drill):
    card, entries = calendar_drill
    at = {e.kind: e.ts for e in entries if e.kind in ("incident_declared", "incident_released")}
    steps = [e for e in entries if e.kind == "rollout_step"]
    assert at["incident_declared"] < 900.0 < at["incident_released"]  # the 900 s step fell due while frozen
    assert steps and all(e.ts > at["incident_released"] for e in steps)
    # the frozen 870 s do not count as bake time: due at 900 + (1200 - 330)
    assert steps[0].ts == 900.0 + at["incident_released"] - at["incident_declared"]
    assert card.calendar["steps"][0] == {"at_s": steps[0].ts, "tenants": len(steps[0].data["tenants"])}


def test_the_calendar_never_promotes_a_regressing_tenant(calendar_drill):
    card, entries = calendar_drill
    promoted = {t for e in entries if e.kind == "rollout_step" for t in e.data["tenants"]}
    assert "beta-0001" not in promoted  # still regressing when its step fell due
    assert "beta-0002" in promoted  # fixed, re-approved, then promoted
    held = [e for e in entries if e.kind == "rollout_held"]
    assert held and held[0].data["tenants"]["beta-0001"].startswith("regressing")
    assert describe(held[0]) == "rollout step HELD for 1 tenant(s): beta-0001: regressing (severity 0.60 ≥ 0.2)"
    assert card.calendar["held"] == {"beta-0001": "regressing (severity 0.60 ≥ 0.2)"}
    assert card.calendar["targets"] == {"0.25": 1, "0.5": 7, "1": 4}
    # re-approving everyone at 2000 s is refused for the regressing tenant: it keeps its ceiling
    failed = [e for e in entries if e.kind == "command_failed" and e.data["command"] == "reapprove"]
    assert failed and "beta-0001" in failed[0].data["error"]
    assert card.final_ceilings == {"beta-0001": 0.0}


def test_the_scorecard_json_carries_the_end_state(calendar_drill):
    card, _ = calendar_drill
    out = card.to_json()
    assert out["final_ceilings"] == {"beta-0001": 0.0}
    assert out["alias_alarm_at_s"] is None and out["calendar"]["frozen"] is False
    assert "prescale_target" in out


# The scenario format ---------------------------------------------------------------------------------


BASE = """
[scenario]
name = "t"
duration_s = 600
[models]
old = "claude-opus-4-20250514"
new = "claude-opus-4-1-20250805"
alias = "latest"
old_alias = "stable"
[tiers.old]
replicas = 4
per_replica_rps = 10
startup_s = 60
[tiers.new]
replicas = 4
per_replica_rps = 10
[[tenants]]
name = "a"
cohort = "c"
rps = 10
share = 0.5
"""


def scenario(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(BASE + extra)
    return p


def test_repeating_events_expand_up_to_until(tmp_path: Path):
    _, sc = load_scenario(
        str(scenario(tmp_path, '[[events]]\nat_s = 100\nkind = "replica_crash"\nevery_s = 120\nuntil_s = 400\n'))
    )
    assert [e.at_s for e in expanded_events(sc)] == [100.0, 220.0, 340.0]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('[[events]]\nat_s = 100\nkind = "replica_crash"\nuntil_s = 400\n', "events[0].until_s"),
        ('[[events]]\nat_s = 100\nkind = "replica_crash"\nevery_s = 120\nuntil_s = 4000\n', "events[0].until_s"),
        ('[[events]]\nat_s = 0\nkind = "replica_crash"\nevery_s = 0.001\n', "events[0].every_s"),
        ("[rollout.cohorts.nope]\nbake_s = 10\n", "rollout.cohorts"),
        ("[rollout]\nsteps = [0.5, 0.25]\n", "rollout.steps"),
        ("[rollout]\nbake = 10\n", "bake"),
        ('[[events]]\nat_s = 1\nkind = "replica_crash"\nbackof_s = 10\n', "backof_s"),
    ],
)
def test_a_malformed_field_is_one_sentence_naming_file_and_field(tmp_path: Path, extra: str, field: str):
    path = scenario(tmp_path, extra)
    with pytest.raises(ConfigError) as err:
        load_scenario(str(path))
    assert str(path) in str(err.value) and field in str(err.value)
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr and field in out.stderr


def test_crashing_starting_replicas_with_back_off_and_a_partial_stall(tmp_path: Path):
    _, sc = load_scenario(
        str(
            scenario(
                tmp_path,
                '[[events]]\nat_s = 10\nkind = "autoscaler_stall"\nduration_s = 100\nfraction = 0.5\n'
                '[[events]]\nat_s = 20\nkind = "replica_crash"\nstarting = true\ncount = 1\nbackoff_s = 10\n'
                "every_s = 5\nuntil_s = 30\n"
                '[[events]]\nat_s = 40\nkind = "alias_rotate"\nalias = "old"\nto = "claude-opus-4-20250601"\n',
            )
        )
    )
    w = World(sc)
    w.advance_to(11)
    w.scale("old", 8)  # four more: half start now, half wait out the stall
    starts = sorted(r - w.startup_of(w.tiers["old"], i) for i, r in enumerate(w.tiers["old"].replicas) if r > 0)
    assert starts == [11.0, 11.0, 110.0, 110.0]
    w.advance_to(30)  # three crashes of a starting replica, replacements backed off 10, 20, 40 s
    assert w.crashes == {"old": 3}
    assert w.tiers["old"].desired == 8 and w.tiers["old"].ready(30) == 4
    latest = max(w.tiers["old"].replicas)
    assert latest >= 30 + 40 + sc.tiers.old.startup_s - 1e-6
    w.advance_to(40)
    assert w.old_alias_target == "claude-opus-4-20250601" and w.alias_target == sc.models.new


def test_compare_gives_each_strategy_its_own_journal(tmp_path: Path):
    j = tmp_path / "J.db"
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", "demo", "--compare", "--json", "--journal", str(j)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    cards = json.loads(out.stdout)
    assert [c["strategy"] for c in cards] == ["cockpit", "abort", "fixed-stages"]
    assert all(c["restored"] for c in cards)
    for name in ("J.db", "J.db.abort", "J.db.fixed-stages"):
        journal = Journal(tmp_path / name)
        try:
            strategies = {e.data["rollback"]["strategy"] for e in journal.entries(kinds=("checkpoint",))}
        finally:
            journal.close()
        assert strategies == {"cockpit" if name == "J.db" else name.rsplit(".", 1)[1]}  # one strategy each


def test_cockpit_toml_cohort_calendars_inherit_the_rollout_and_bad_steps_name_the_cohort(tmp_path: Path):
    import msgspec

    from cockpit.config import ConfigFile, build_config

    models = {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"}
    raw = msgspec.convert(
        {"models": models, "rollout": {"bake_s": 60, "cohorts": {"beta": {"steps": [0.5, 1.0], "start_s": 5}}}},
        ConfigFile,
    )
    assert build_config(tmp_path / "c.toml", raw).rollout_cohorts == {"beta": RolloutPlan((0.5, 1.0), 60.0, 5.0)}
    raw = msgspec.convert({"models": models, "rollout": {"cohorts": {"x": {"steps": [0.5, 0.2]}}}}, ConfigFile)
    with pytest.raises(ConfigError, match=r"c\.toml: rollout\.cohorts\.x: rollout steps must be ascending"):
        build_config(tmp_path / "c.toml", raw)


def test_the_engine_gate_holds_unknown_health_and_rolled_back_tenants(tmp_path: Path):
    """The engine's gate reads the health backend's unknowns and the rollback's ceilings: a tenant whose
    health cannot be read, or one rolled back below its target, is not promoted (said why)."""
    from cockpit.engine import calendar

    async def go():
        clock = SimClock()
        s = open_drill("calendar-release", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            await e.tick()
            assert e.rollout is not None
            e.observed.unknown = {"health": {"free-0001": "no series for it in the health backend"}}
            e.rollback.ceilings["beta-0003"] = 0.1
            why, _ = calendar.gate(e, e.rollout)
            clock.advance(900)
            calendar.step(e, e.observed.traffic, clock.now())
            stepped = e.journal.last("rollout_step")
            return why, stepped.data["tenants"] if stepped else {}, dict(e.rollout.held)
        finally:
            s.close()

    why, stepped, held = asyncio.run(go())
    assert why("free-0001") == "health unknown (no series for it in the health backend)"
    assert why("beta-0003") == "rolled back (ceiling 10%): awaiting re-approval"
    assert why("free-0002") is None
    assert stepped == {t: 0.5 for t in ("beta-0001", "beta-0002", "beta-0004", "free-0002", "free-0003", "free-0004")}
    assert held == {
        "free-0001": "health unknown (no series for it in the health backend)",
        "beta-0003": "rolled back (ceiling 10%): awaiting re-approval",
    }


def test_the_drill_scores_what_the_last_oncall_event_did_and_the_table_says_it(calendar_drill, tmp_path: Path):
    """abort rolled everyone back: the re-approval at 2,000 s hands the healthy ones back, and the calendar
    promotes them at the next tick (the drill keeps going after the last on-call event to see it)."""
    from cockpit.report import scorecard_table

    card = asyncio.run(run_drill("calendar-release", "abort", journal=tmp_path / "abort.db"))
    assert card.calendar["steps"] == [{"at_s": 1770.0, "tenants": 1}, {"at_s": 2001.0, "tenants": 6}]
    assert card.final_ceilings == {"beta-0001": 0.0}
    table = scorecard_table([calendar_drill[0], card])
    assert "| calendar steps (tenants promoted)  | 1 (7 tenants) | 2 (7 tenants) |" in table
    assert "held by the calendar's health gate" in table
    plain = scorecard_table([Scorecard(**{**card.__dict__, "calendar": {}})])
    assert "calendar steps" not in plain  # a drill whose calendar did nothing: no calendar rows


def test_the_old_revisions_alias_is_watched_and_its_move_is_the_alias_alarm(tmp_path: Path):
    rotate = '[[events]]\nat_s = 100\nkind = "alias_rotate"\nalias = "old"\nto = "claude-opus-4-20250601"\n'
    card = asyncio.run(run_drill(str(scenario(tmp_path, rotate)), "cockpit", journal=tmp_path / "j.db"))
    j = Journal(tmp_path / "j.db")
    try:
        moved = [(e.ts, e.data) for e in j.entries(kinds=("alias_moved",))]
        resolved = sorted(e.data["alias"] for e in j.entries(kinds=("alias_resolved",)))
    finally:
        j.close()
    assert resolved == ["latest", "stable"]  # both watched from the first poll
    old, moved_to = "claude-opus-4-20250514", "claude-opus-4-20250601"
    # seen at the first poll after the move (every 60 s); the new revision's alias stayed put
    assert moved == [(120.0, {"alias": "stable", "previous": old, "current": moved_to, "seen_at": 120.0})]
    assert card.alias_alarm_at_s == 120.0
