"""The overflow tier (issue 13): the placement arithmetic, the simulated tier's rate limit and price, the
done-when drill on classic, a router that cannot split three ways left exactly as it was, and a crash in
the middle of the drain."""

from __future__ import annotations

import asyncio
import collections
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.overflow import OverflowTier, overflow_load, place
from cockpit.engine.drill import Autopilot, run_drill
from cockpit.engine.session import open_drill
from cockpit.hookspecs import ApplyResult, BackendSpec, TrafficReading, hookimpl
from cockpit.plugins import PluginHost
from cockpit.ui.overflow import overflow_line
from cockpit_backends.mock.scenario import load_scenario
from cockpit_backends.mock.world import World

# The domain: where the failback goes ------------------------------------------------------------


def test_push_fills_the_overflow_up_to_its_usable_rate_limit_in_rollback_order():
    rps = {"a": 50.0, "b": 40.0, "c": 30.0}
    shares = {"a": 0.0, "b": 0.0, "c": 0.0}  # this tick's stage took all three off the new revision
    p = place(rps, shares, {}, old_revision_rps=120.0, old_safe_rps=20.0, usable_rps=60.0, order=["b", "a", "c"],
              push=True, step=0.01)  # fmt: skip
    assert p.changes == {"b": 1.0, "a": 0.4}  # b first (the order), then a part of a: 60 rps in all
    assert overflow_load(rps, shares, p.changes) == pytest.approx(60.0)
    assert p.old_rps == pytest.approx(60.0)  # the rate limit, not the old tier, is what ran out


def test_push_rounds_up_so_the_old_tier_never_gets_more_than_it_can_take():
    rps = {"a": 30.0}
    p = place(rps, {"a": 0.0}, {}, old_revision_rps=30.0, old_safe_rps=10.05, usable_rps=100.0, order=["a"],
              push=True, step=0.05)  # fmt: skip
    assert p.changes == {"a": pytest.approx(0.7)}  # 0.665 needed: 0.70 on the 0.05 grid
    assert p.old_rps <= 10.05 + 1e-9


def test_drain_moves_back_no_more_than_the_old_tier_can_take_smallest_first():
    rps = {"a": 50.0, "b": 10.0}
    shares = {"a": 0.0, "b": 0.0}
    p = place(rps, shares, {"a": 1.0, "b": 1.0}, old_revision_rps=60.0, old_safe_rps=25.0, usable_rps=100.0,
              order=[], push=False, step=0.01)  # fmt: skip
    # 25 rps of room: b (10 rps) whole first, then 15 of a's 50 (a: 1.0 -> 0.70)
    assert p.changes == {"b": 0.0, "a": pytest.approx(0.7)}
    assert p.drained_rps == pytest.approx(25.0)
    assert p.old_rps <= 25.0 + 1e-9


def test_nothing_moves_inside_the_margin_or_below_the_smallest_drain():
    rps = {"a": 50.0}
    kwargs: dict[str, Any] = {"old_revision_rps": 50.0, "usable_rps": 100.0, "order": [], "push": False}
    assert place(rps, {"a": 0.0}, {"a": 0.5}, old_safe_rps=26.0, drain_margin=0.05, **kwargs).changes == {}
    assert place(rps, {"a": 0.0}, {"a": 0.5}, old_safe_rps=27.0, min_drain_rps=5.0, **kwargs).changes == {}
    assert place(rps, {"a": 0.0}, {"a": 0.5}, old_safe_rps=31.0, min_drain_rps=5.0, **kwargs).changes == {"a": 0.38}


def test_overflow_tier_prices_cache_hits_at_the_discount():
    tier = OverflowTier(rate_limit_rps=100.0, price_per_1k=10.0, cached_discount=0.9)
    assert tier.usable_rps == pytest.approx(90.0)
    assert tier.cost_per_s(100.0, hit_rate=0.0) == pytest.approx(1.0)
    assert tier.cost_per_s(100.0, hit_rate=0.5) == pytest.approx(0.55)
    with pytest.raises(ValueError):
        OverflowTier(rate_limit_rps=0.0, price_per_1k=1.0)


# The simulator ----------------------------------------------------------------------------------

SCENARIO = """
[scenario]
name = "spill"
seed = 3
duration_s = 600
tick_s = 1

[models]
old = "m-20240101"
new = "m-20250101"

[tiers.old]
replicas = 10
per_replica_rps = 20

[tiers.new]
replicas = 10
per_replica_rps = 20

[[tenants]]
name = "a"
rps = 80
share = 0.0

[[tenants]]
name = "b"
rps = 20
share = 1.0

[cost]
request_cost = 0.01
cached_discount = 0.5

[overflow]
rate_limit_rps = 50
price_per_1k = 20.0

[[events]]
at_s = 1
kind = "regression_start"
tenants = ["b"]
"""


def _world(tmp_path: Path) -> World:
    path = tmp_path / "spill.toml"
    path.write_text(SCENARIO)
    return World(load_scenario(str(path))[1])


def test_the_simulated_overflow_refuses_what_is_over_its_rate_limit_and_counts_it_dropped(tmp_path):
    from cockpit_backends.mock.overflow import apply_overflow

    w = _world(tmp_path)
    w.advance_to(10.0)
    assert w.metrics.dropped == 0
    applied, failed = apply_overflow(w, {"a": 1.0, "nobody": 1.0}, "r1")  # 80 rps of a's old traffic: 30 over
    assert applied == {"a": 1.0} and failed == {"nobody": "unknown tenant"}
    w.advance_to(20.0)
    ov = w.overflow
    assert ov is not None
    assert ov.requests == pytest.approx(50.0 * 10)  # served at the rate limit, never above it
    assert ov.rejected == pytest.approx(30.0 * 10)
    assert w.metrics.dropped == pytest.approx(30.0 * 10)  # refused requests are dropped requests
    assert w.tiers["old"].load == pytest.approx(0.0)  # the old tier no longer serves a's old-revision traffic
    assert ov.peak_rps == pytest.approx(80.0)


def test_the_simulated_overflow_charges_its_price_and_its_cache_warms(tmp_path):
    from cockpit_backends.mock.overflow import apply_overflow

    w = _world(tmp_path)
    w.advance_to(10.0)
    apply_overflow(w, {"a": 0.5}, "r1")  # 40 rps, within the limit
    cost_before, extra_before = w.overflow.cost, w.metrics.extra_cost
    w.advance_to(11.0)
    ov = w.overflow
    # one second at 40 rps, the cache from cold: 40 x 0.02 x (1 - 0.5 x hit), hit just above 0
    step = ov.cost - cost_before
    assert 40 * 0.02 * (1 - 0.5 * ov.active) == pytest.approx(step, rel=1e-9)
    assert 0 < ov.active < 0.01
    assert w.metrics.extra_cost - extra_before >= step  # the overflow's charge is in the extra cost
    w.advance_to(600.0)
    assert ov.active > 0.5  # warm after 20,000+ requests
    assert ov.rejected == 0 and w.metrics.dropped == 0


def test_the_overflow_survives_a_state_file(tmp_path):
    from cockpit_backends.mock.overflow import apply_overflow

    w = _world(tmp_path)
    w.advance_to(5.0)
    apply_overflow(w, {"a": 0.25}, "r1")
    w.advance_to(9.0)
    w.save(tmp_path / "state.json")
    back = World.load(tmp_path / "state.json")
    assert back.overflow is not None and back.overflow.shares == {"a": 0.25}
    assert back.overflow.cost == w.overflow.cost and back.overflow.active == w.overflow.active


# The done-when drill ----------------------------------------------------------------------------


def _drill(*args: str, cwd: Path) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", "classic", "--json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_drill_classic_with_overflow_meets_the_issue(tmp_path):
    card = _drill("--overflow", cwd=tmp_path)
    fixed = _drill("--strategy", "fixed-stages", cwd=tmp_path)
    plain = _drill(cwd=tmp_path)
    harmed = card["wrong_answers"] + card["dropped_requests"]
    fixed_harmed = fixed["wrong_answers"] + fixed["dropped_requests"]
    assert card["restored"] and card["time_to_restore_s"] <= 10
    assert card["dropped_requests"] == 0
    assert harmed <= 0.5 * fixed_harmed, (harmed, fixed_harmed)
    o = card["overflow"]
    assert o["requests"] > 0 and o["rejected"] == 0 and o["peak_rps"] <= o["rate_limit_rps"]
    assert o["cost"] > 0
    assert o["extra_cost_without_overflow"] == pytest.approx(plain["extra_cost"], abs=0.01)
    assert card["extra_cost"] > plain["extra_cost"]  # the overflow is not free, and that is shown
    assert "overflow" not in plain  # a drill without --overflow: its scorecard as it always was


def test_the_scorecard_table_shows_the_overflow_cost_beside_the_cost_without(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", "classic", "--overflow"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.stdout.splitlines() if "|" in line}
    assert rows["overflow tier: cost"].startswith("$") and rows["extra cost without overflow"].startswith("$")
    assert float(rows["extra cost"].strip("$").replace(",", "")) > float(
        rows["extra cost without overflow"].strip("$").replace(",", "")
    )


def test_overflow_on_a_scenario_without_one_is_one_sentence(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", "demo", "--overflow"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 2
    assert "no [overflow] tier" in out.stderr and "Traceback" not in out.stderr


def test_the_screen_shows_the_overflow_load_and_its_cost(tmp_path):
    async def run() -> tuple[dict[str, Any], str]:
        session = open_drill("classic", journal=tmp_path / "j.db", overflow=True)
        engine = session.engine
        pilot = Autopilot(engine)
        seen: dict[str, Any] = {}
        try:
            while engine.clock.now() < 700:
                await engine.tick()
                await pilot.act()
                snap = engine.snapshot
                if snap is not None and (snap.overflow.get("load_rps") or 0) > (seen.get("load_rps") or 0):
                    seen = dict(snap.overflow)
                engine.clock.advance(1.0)
        finally:
            await session.aclose()
        return seen, overflow_line(seen)

    seen, line = asyncio.run(run())
    assert seen["available"] and seen["load_rps"] > 100 and seen["rate_limit_rps"] == 200
    assert seen["cost_per_hour"] == pytest.approx(seen["load_rps"] * 15.0 / 1000 * 3600 * (1 - 0.9 * seen["hit_rate"]))
    assert line.startswith(f"overflow {seen['load_rps']:,.0f}/200 rps · 3 tenants") and line.endswith("/h")


# A router that cannot split three ways ----------------------------------------------------------


class _TwoWayRouter:
    """A router with the new-revision share only (no capabilities.overflow): the simulator mirrors it."""

    def __init__(self) -> None:
        self.shares: dict[str, float] = {}
        self.calls: list[str] = []

    async def read_traffic(self) -> TrafficReading:
        return TrafficReading(shares=dict(self.shares), rps={})

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        self.shares.update(shares)
        self.calls.append(request_id)
        return ApplyResult(applied=dict(shares))


class _TwoWayPlugin:
    def __init__(self) -> None:
        self.router = _TwoWayRouter()

    @hookimpl
    def cockpit_backends(self) -> list[BackendSpec]:
        return [BackendSpec("twoway", frozenset({"router"}), lambda role, options, context: self.router)]


def _two_way(tmp_path: Path, overflow: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    plugin = _TwoWayPlugin()
    host = PluginHost(plugins=[("twoway", plugin)])
    journal = tmp_path / f"twoway-{overflow}.db"
    card = asyncio.run(
        run_drill("classic", journal=journal, host=host, backends={"router": "twoway"}, overflow=overflow)
    )
    con = sqlite3.connect(journal)
    try:
        acts = [json.loads(d) for (d,) in con.execute("SELECT data FROM events WHERE kind='actuation' ORDER BY seq")]
    finally:
        con.close()
    return card.to_json(), acts


def test_a_router_without_the_capability_works_exactly_as_before(tmp_path):
    with_overflow, acts = _two_way(tmp_path, overflow=True)
    without, acts_without = _two_way(tmp_path, overflow=False)
    assert not [a for a in acts if a.get("role") == "overflow"]  # nothing asked of it
    assert with_overflow["overflow"]["requests"] == 0  # the simulated overflow tier never served anything
    del with_overflow["overflow"]
    # The capacity bound is what *any* strategy could do with the tier the drill offers (limits.py), not
    # what this router did: it may differ. Every figure of what happened is as without the overflow tier.
    for bound in ("capacity_bound_s", "lower_bound_s"):
        with_overflow.pop(bound, None), without.pop(bound, None)
    assert with_overflow == without
    assert [a.get("role") for a in acts] == [a.get("role") for a in acts_without]
    assert with_overflow["restored"] and with_overflow["dropped_requests"] == 0


def test_the_engine_says_why_the_overflow_is_unavailable(tmp_path):
    plugin = _TwoWayPlugin()
    host = PluginHost(plugins=[("twoway", plugin)])
    session = open_drill("classic", journal=tmp_path / "j.db", host=host, backends={"router": "twoway"}, overflow=True)
    try:
        assert not session.engine.overflow.active
        why = session.engine.overflow.snapshot(None)["why_not"]
        assert "'twoway' cannot split three ways" in why
        assert overflow_line(session.engine.overflow.snapshot(None)).startswith("overflow: router 'twoway'")
    finally:
        session.close()


# Crash in the middle of the drain ---------------------------------------------------------------


def _rows(db: Path, kind: str) -> list[dict[str, Any]]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return [json.loads(d) for (d,) in con.execute("SELECT data FROM events WHERE kind=? ORDER BY seq", (kind,))]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_sigkill_mid_drain_resumes_without_moving_a_tenant_the_wrong_way(tmp_path):
    journal, state = tmp_path / "journal.db", tmp_path / "world.json"
    cmd = [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--overflow", "--journal", str(journal)]
    cmd += ["--state-file", str(state), "--json"]
    first = subprocess.Popen([*cmd, "--speed", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and first.poll() is None:
        drains = [a for a in _rows(journal, "actuation") if a.get("role") == "overflow" and a["drained_rps"] > 0]
        if drains:
            os.kill(first.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    first.wait(timeout=30)
    assert killed, "the drill finished before it could be killed mid-drain"
    left = {t: s for a in _rows(journal, "actuation_ack") for t, s in (a.get("overflow") or {}).items()}
    assert any(s > 0 for s in left.values()), "killed after the drain ended: not mid-drain"

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["restored"] and card["dropped_requests"] == 0
    assert len(_rows(journal, "engine_resumed")) == 1

    intents = [a["id"] for a in _rows(journal, "actuation")]
    acks = collections.Counter(a["id"] for a in _rows(journal, "actuation_ack"))
    assert len(intents) == len(set(intents)) and all(acks[i] == 1 for i in intents) and set(acks) == set(intents)
    # Once the drain began, no tenant's overflow share went up again, and no regressed tenant went back
    # to the new revision: every confirmed move after the crash continues the way it was going.
    last: dict[str, float] = {}
    draining = False
    for a in _rows(journal, "actuation_ack"):
        for t, s in (a.get("overflow") or {}).items():
            if draining:
                assert s <= last.get(t, math.inf) + 1e-9, (t, last.get(t), s)
            elif t in last and s < last[t]:
                draining = True
            last[t] = s
        for t in ("acme", "globex", "initech", "umbrella"):
            assert (a.get("shares") or {}).get(t, 0.0) == 0.0
    assert all(s == 0.0 for s in last.values())  # drained to the end


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ("classic", "overflow tier: available, rate limit 200 rps at $15.00 per 1,000 requests"),
        # the router can split three ways, but nothing is behind it: unavailable, and the router not degraded
        ("demo", "overflow tier: router 'mock' has no overflow tier: the scenario has no [overflow] tier"),
    ],
)
def test_the_plan_says_whether_the_overflow_tier_is_there(tmp_path, scenario, said):
    (tmp_path / "cockpit.toml").write_text(
        '[models]\nold = "claude-opus-4-20250514"\nnew = "claude-opus-4-1-20250805"\n'
        f'[cockpit]\njournal = "journal.db"\n[plugins.mock]\nscenario = "{scenario}"\n'
        "[overflow]\nenabled = true\nrate_limit_rps = 200\nprice_per_1k = 15.0\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", "cockpit.toml", "plan", "--scope", "all"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert any(line.startswith(said) for line in out.stdout.splitlines()), out.stdout
    assert "degraded" not in out.stdout + out.stderr


# plugins check ----------------------------------------------------------------------------------


class _ThreeWayRouter(_TwoWayRouter):
    """A three-way router with a bug chosen by the test."""

    def __init__(self, bug: str = "") -> None:
        super().__init__()
        self.shares = {"a": 1.0, "b": 0.5}
        self.overflow: dict[str, float] = {}
        self.bug = bug

    async def read_traffic(self) -> TrafficReading:
        return TrafficReading(shares=dict(self.shares), rps={"a": 10.0, "b": 5.0})

    async def read_overflow(self) -> Any:
        from cockpit.hookspecs import OverflowReading

        if self.bug == "no tier":
            raise LookupError("no spillover deployment configured")
        if self.bug == "percent":
            return OverflowReading({"a": 50.0})
        return OverflowReading(dict(self.overflow))

    async def apply_overflow(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        if self.bug != "claims":
            self.overflow.update(shares)
        return ApplyResult(applied=dict(shares))


@pytest.mark.parametrize(
    ("bug", "passed", "said"),
    [
        ("", True, "apply_overflow (moved a by 0.01 and back): confirmed by read-back"),
        ("no tier", True, "no overflow tier behind this router (no spillover deployment configured)"),
        ("percent", False, "overflow share for 'a' is 50, outside 0..1 (a percent? divide by 100)"),
        ("claims", False, "apply_overflow claimed 'a' at 0.01, but read_overflow reads 0.0: not written"),
    ],
)
def test_plugins_check_checks_the_overflow_methods(bug, passed, said):
    from cockpit.contract import Limits
    from cockpit.contract_router import check_router

    router = _ThreeWayRouter(bug)
    checks = asyncio.run(check_router(router, write=True, limits=Limits(overflow=True)))
    mine = [c for c in checks if "overflow" in c.name]
    assert mine and all(c.ok for c in mine) is passed, mine
    assert any(said in f"{c.name}: {c.detail}" for c in mine), [c.line() for c in mine]
    assert router.overflow.get("a", 0.0) == 0.0  # restored (or never written)
    plain = asyncio.run(check_router(router, write=True))  # not declared: not asked
    assert not [c for c in plain if "overflow" in c.name]


def test_a_share_left_on_a_tenant_back_on_the_new_revision_is_cleared():
    # after a release the rollout takes b back to 100 % new: its overflow share carries nothing any more
    p = place({"a": 10.0, "b": 10.0}, {"a": 0.0, "b": 1.0}, {"a": 0.5, "b": 1.0}, old_revision_rps=10.0,
              old_safe_rps=5.0, usable_rps=100.0, order=[], push=False)  # fmt: skip
    assert p.changes == {"b": 0.0}  # a stays: the old tier has no room for it yet
    assert p.overflow_rps == pytest.approx(5.0)
