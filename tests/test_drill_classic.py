"""The acceptance drill: the classic bad upgrade, the cockpit against the two baselines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from cockpit.engine.drill import run_drill

REQUIRED_KEYS = {
    "scenario",
    "strategy",
    "restored",
    "time_to_restore_s",
    "lower_bound_s",
    "wrong_answers",
    "dropped_requests",
    "peak_old_utilisation",
    "min_old_hit_rate",
    "extra_cost",
    "disturbed_tenants",
    # the honest measure and the two limits (docs/scenarios.md, "Limits")
    "harmed_requests",
    "restored_and_held_s",
    "capacity_bound_s",
    "clairvoyant_time_to_restore_s",
    "clairvoyant_harmed_requests",
}


@pytest.fixture(scope="module")
def cards():
    return {s: asyncio.run(run_drill("classic", s)) for s in ("cockpit", "abort", "fixed-stages")}


def test_cockpit_restores_without_drops_near_the_capacity_lower_bound(cards):
    c = cards["cockpit"]
    assert c.restored
    assert set(c.scope) == {"acme", "globex", "initech", "umbrella"}  # the regressing cohort only
    assert c.dropped_requests == 0
    assert c.disturbed_tenants == []
    assert c.peak_old_utilisation <= 0.8 + 1e-6  # the headroom held
    assert c.lower_bound_s > 0
    assert c.time_to_restore_s <= c.lower_bound_s + max(0.10 * c.lower_bound_s, 30.0)


def test_instant_abort_drops_requests_and_disturbs_healthy_tenants(cards):
    a = cards["abort"]
    assert a.restored
    assert a.dropped_requests > 1000
    assert a.peak_old_utilisation > 1.0
    assert len(a.disturbed_tenants) == 8


def test_fixed_stages_are_slower_or_drop(cards):
    f, c = cards["fixed-stages"], cards["cockpit"]
    assert f.time_to_restore_s > c.time_to_restore_s or f.dropped_requests > 0
    assert f.dropped_requests > 0


def test_same_scenario_same_result():
    a = asyncio.run(run_drill("classic", "cockpit"))
    b = asyncio.run(run_drill("classic", "cockpit"))
    assert a.to_json() == b.to_json()


def test_cli_json_compare_has_the_documented_keys():
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--compare", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert [d["strategy"] for d in data] == ["cockpit", "abort", "fixed-stages"]
    for d in data:
        assert set(d) >= REQUIRED_KEYS
        assert isinstance(d["disturbed_tenants"], list)
        assert isinstance(d["restored"], bool)
