"""Every bundled drill scenario, run headless with the cockpit strategy and checked against the physics.

The scenarios are discovered (a new file in cockpit_backends/mock/scenarios/ is picked up without editing this
module); the facts each fault scenario drills are checked on top of the common guarantees.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.domain.staging import RollbackPolicy
from cockpit.engine.drill import Scorecard, run_drill
from cockpit.engine.journal import Entry, Journal
from cockpit.engine.loop import ALIAS_POLL_S
from cockpit_backends.mock.scenario import Scenario, builtin_names, load_scenario

HEADROOM = 0.8  # the default [rollback] headroom the drill configuration runs with
FAULT_SCENARIOS = {"alias-rotation", "autoscaler-stall", "router-errors", "replica-crash", "fleet-1000"}


@dataclass
class Drill:
    scenario: Scenario
    card: Scorecard
    entries: list[Entry]

    def kinds(self, *kinds: str) -> list[Entry]:
        return [e for e in self.entries if e.kind in kinds]

    def events(self, kind: str):
        return [e for e in self.scenario.events if e.kind == kind]


_cache: dict[str, Drill] = {}


def drill(name: str, tmp_dir: Path) -> Drill:
    """Each scenario is drilled once per test session; its journal is read back in full."""
    if name not in _cache:
        path = tmp_dir / f"{name}.db"
        card = asyncio.run(run_drill(name, "cockpit", journal=path))
        j = Journal(path)
        try:
            entries = list(j.entries())
        finally:
            j.close()
        _cache[name] = Drill(load_scenario(name)[1], card, entries)
    return _cache[name]


@pytest.fixture(scope="session")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drills")


def tenant_names(sc: Scenario) -> dict[str, str]:
    """tenant -> cohort, including the tenants [[cohorts]] generate (<name>-0001 …)."""
    out = {t.name: t.cohort for t in sc.tenants}
    for c in sc.cohorts:
        out.update({f"{c.name}-{i:04d}": c.name for i in range(1, c.tenants + 1)})
    return out


def regressing(sc: Scenario) -> set[str]:
    cohorts = tenant_names(sc)
    out: set[str] = set()
    for e in sc.events:
        if e.kind == "regression_start":
            out |= set(e.tenants) | {t for t, c in cohorts.items() if e.cohort and c == e.cohort}
    return out


def crashes_old_tier(sc: Scenario) -> bool:
    return any(e.kind == "replica_crash" and e.tier == "old" for e in sc.events)


# Every bundled scenario ------------------------------------------------------------------------------


def test_the_fault_scenarios_are_bundled() -> None:
    assert FAULT_SCENARIOS.issubset(builtin_names())


@pytest.mark.parametrize("name", builtin_names())
def test_scenario_restores_every_regressing_tenant(name: str, tmp_dir: Path) -> None:
    d = drill(name, tmp_dir)
    card, sc = d.card, d.scenario
    assert regressing(sc), f"{name}: a bundled scenario drills a regression"
    assert card.restored, f"{name}: not restored within {sc.scenario.duration_s} s"
    assert card.onset_s is not None and card.declared_at_s is not None
    assert card.declared_at_s >= card.onset_s + sc.health.detection_delay_s - sc.scenario.tick_s
    assert card.time_to_restore_s is not None
    assert card.declared_at_s + card.time_to_restore_s <= sc.scenario.duration_s
    # the rollback covered exactly the tenants that regressed, and finished
    assert set(card.scope) == regressing(sc)
    finished = d.kinds("rollback_finished")
    assert len(finished) == 1 and set(finished[0].data["scope"]) == regressing(sc)
    # per-tenant rollback: nobody out of scope was moved
    assert card.disturbed_tenants == []


@pytest.mark.parametrize("name", [n for n in builtin_names() if not crashes_old_tier(load_scenario(n)[1])])
def test_scenario_drops_nothing_and_keeps_headroom(name: str, tmp_dir: Path) -> None:
    card = drill(name, tmp_dir).card
    assert card.dropped_requests == 0
    assert card.peak_old_utilisation <= HEADROOM + 1e-6


# alias-rotation --------------------------------------------------------------------------------------


def test_alias_rotation_is_seen_before_the_incident(tmp_dir: Path) -> None:
    d = drill("alias-rotation", tmp_dir)
    sc = d.scenario
    (rotate,) = d.events("alias_rotate")
    (start,) = d.events("regression_start")
    assert sc.models.alias and rotate.at_s < start.at_s
    (resolved,) = d.kinds("alias_resolved")
    assert resolved.data == {"alias": sc.models.alias, "revision": sc.models.new}
    (moved,) = d.kinds("alias_moved")
    assert moved.data["previous"] == sc.models.new
    assert moved.data["current"] == rotate.to != sc.models.new
    assert rotate.at_s <= moved.ts <= rotate.at_s + ALIAS_POLL_S
    (declared,) = d.kinds("incident_declared")
    assert moved.ts < declared.ts
    # the move is evidence, not a trigger: the rollback covers only the regressing tenants, as in classic
    assert d.card.restored and d.card.dropped_requests == 0
    assert set(d.card.scope) == regressing(sc)


# autoscaler-stall ------------------------------------------------------------------------------------


def test_autoscaler_stall_holds_the_shift_to_ready_capacity(tmp_dir: Path) -> None:
    d = drill("autoscaler-stall", tmp_dir)
    sc = d.scenario
    (stall,) = d.events("autoscaler_stall")
    (start,) = d.events("regression_start")
    assert stall.at_s <= start.at_s + sc.health.detection_delay_s  # stalled when the incident starts
    stall_end = stall.at_s + stall.duration_s
    old = sc.tiers.old
    # the pre-scale was asked for at once, and the stalled autoscaler accepted it (desired rose) ...
    scales = [e for e in d.kinds("actuation") if e.data["role"] == "autoscaler"]
    assert scales and scales[0].ts <= d.card.declared_at_s + 2 * sc.scenario.tick_s
    first_ack = next(e for e in d.kinds("actuation_ack") if e.data["id"] == scales[0].data["id"])
    assert first_ack.data["verified"] and first_ack.data["desired"] >= scales[0].data["scale_to"]
    # ... but no replica became ready until one started after the stall had
    grown = [e for e in d.kinds("tier_changed") if e.data["tier"] == "old" and e.data["ready"] > old.replicas]
    assert grown and min(e.ts for e in grown) >= stall_end + old.startup_s - old.startup_jitter_s
    # so the rollback could not finish before a replica started after the stall became ready
    restored_at = d.card.declared_at_s + d.card.time_to_restore_s
    assert restored_at >= stall_end + old.startup_s - old.startup_jitter_s
    # and it moved only what six ready replicas could carry: nothing dropped, headroom kept
    assert d.card.dropped_requests == 0
    assert d.card.peak_old_utilisation <= HEADROOM + 1e-6


# router-errors ---------------------------------------------------------------------------------------


def test_router_errors_are_journaled_and_retried(tmp_dir: Path) -> None:
    d = drill("router-errors", tmp_dir)
    (fault,) = d.events("router_errors")
    window_end = fault.at_s + fault.duration_s
    acks = [e for e in d.kinds("actuation_ack") if "failed_count" in e.data]  # router acks
    failed = [e for e in acks if e.data["failed_count"] > 0]
    assert failed, "the router fault never hit an apply"
    for e in failed:
        assert fault.at_s <= e.ts < window_end
        assert set(e.data["failed"].values()) == {"router error (simulated)"}
    assert d.kinds("stage_incomplete")
    degraded = [e for e in d.kinds("backend_degraded") if e.data["role"] == "router"]
    recovered = [e for e in d.kinds("backend_recovered") if e.data["role"] == "router"]
    assert degraded and recovered and recovered[-1].ts >= degraded[-1].ts
    # every tenant whose change failed was asked again, and a later apply of it went through
    intents = {e.data["id"]: e for e in d.kinds("actuation")}
    outcome = {e.data["id"]: e.data["failed"] for e in acks}  # id -> the tenants it failed for
    for e in failed:
        for tenant in e.data["failed"]:
            retried = [
                i
                for i in intents.values()
                if i.seq > e.seq and tenant in i.data.get("shares", {}) and tenant not in outcome[i.data["id"]]
            ]
            assert retried, f"{tenant}: the failed change was never applied"
    assert acks[-1].data["verified"]
    assert d.card.restored and d.card.dropped_requests == 0


# replica-crash ---------------------------------------------------------------------------------------


def test_replica_crash_holds_then_finishes(tmp_dir: Path) -> None:
    d = drill("replica-crash", tmp_dir)
    (crash,) = d.events("replica_crash")
    assert crash.tier == "old"
    declared = d.card.declared_at_s
    stages = d.kinds("stage_applied")
    finished = d.kinds("rollback_finished")
    # the crash lands mid-rollback: stages before and after it
    assert any(declared <= s.ts < crash.at_s for s in stages)
    assert finished and finished[0].ts > crash.at_s
    old_ready = [(e.ts, e.data["ready"]) for e in d.kinds("tier_changed") if e.data["tier"] == "old"]
    before = [r for t, r in old_ready if t < crash.at_s][-1]
    assert (crash.at_s, before - crash.count) in old_ready
    recovered_at = min(t for t, r in old_ready if t > crash.at_s and r >= before)
    # while short of the capacity it had, the rollback moved nothing more
    assert not [s for s in stages if crash.at_s <= s.ts < recovered_at]
    # Ceilings never go back up, so the traffic moved before the crash stays on the old tier: the stages
    # were planned within 100 % of what is left if the policy's crash reserve (2 replicas) crashes, so
    # losing 2 drops nothing.
    assert crash.count <= RollbackPolicy().crash_reserve
    assert d.card.dropped_requests == 0
    assert d.card.peak_old_utilisation <= 1.0
    # once the tier had its replicas back, it was never over capacity again
    assert all(util <= 1.0 + 1e-6 for t, util, *_ in d.card.history if t >= recovered_at)


# fleet-1000 ------------------------------------------------------------------------------------------


def test_fleet_1000_is_a_thousand_cohort_tenants_with_the_old_tier_at_a_quarter(tmp_dir: Path) -> None:
    d = drill("fleet-1000", tmp_dir)
    sc = d.scenario
    tenants = tenant_names(sc)
    assert len(tenants) == 1000 and not sc.tenants and len(sc.cohorts) >= 3
    regressing_cohorts = {e.cohort for e in sc.events if e.kind == "regression_start"}
    assert len(regressing_cohorts) == 1
    (cohort,) = regressing_cohorts
    assert set(d.card.scope) == {t for t, c in tenants.items() if c == cohort}
    # the old tier is about a quarter of what full failback of the whole fleet needs at its cold cache
    old = sc.tiers.old
    total = sum(c.tenants * c.rps for c in sc.cohorts)
    hit = sc.caches.old.hit_rate
    factor = old.cold_capacity_factor + (1 - old.cold_capacity_factor) * min(1.0, hit / old.warm_hit_rate)
    need = math.ceil(total / (old.per_replica_rps * factor))
    assert 0.2 <= old.replicas / need <= 0.3
    # the new tier carries its load within its HPA target, so nothing moves before the incident
    new_load = sum(c.tenants * c.rps * c.share for c in sc.cohorts)
    assert new_load <= sc.tiers.new.replicas * sc.tiers.new.per_replica_rps * sc.tiers.new.hpa_target_utilisation
    assert len(d.card.disturbed_tenants) == 0 and d.card.dropped_requests == 0
