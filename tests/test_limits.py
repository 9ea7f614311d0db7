"""The scorecard's two honest limits (cockpit_backends/mock/limits.py) and the rollback policy they judge.

- the capacity bound is a bound: over random scenarios, no strategy (the cockpit, the baselines, the
  fastest possible abort with every replica the autoscaler allows, a schedule filling the old tier to
  100 % as replicas turn ready) is restored and holding before it;
- the clairvoyant schedule never loses to the cockpit;
- replica-crash drops nothing; no stage is a micro-stage.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.domain.fleet import Tier
from cockpit.domain.rollback import FleetView, RollbackPolicy, RollbackScheduler
from cockpit.engine.drill import run_drill
from cockpit_backends.mock.limits import capacity_bound, clairvoyant, clone
from cockpit_backends.mock.scenario import Scenario, builtin_names, validate
from cockpit_backends.mock.world import World

STORED = Path(__file__).parent / "data" / "scorecards"
ONSET = 300.0

fleets = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "replicas": st.integers(1, 8),
        "per": st.sampled_from([10.0, 20.0, 35.0]),
        "startup": st.floats(20.0, 150.0),
        "jitter": st.floats(0.0, 30.0),
        "cold": st.floats(0.3, 1.0),
        "hit": st.floats(0.0, 0.75),
        "hpa_max": st.one_of(st.none(), st.integers(8, 60)),
        "stall": st.one_of(st.none(), st.floats(10.0, 300.0)),
        "crash": st.one_of(st.none(), st.tuples(st.floats(0.0, 200.0), st.integers(1, 3))),
        "tenants": st.lists(
            st.tuples(st.floats(5.0, 60.0), st.sampled_from([0.5, 1.0]), st.booleans()), min_size=2, max_size=7
        ),
    }
)


def scenario(p: dict[str, Any]) -> Scenario:
    """A random fleet: an old tier too small for the failback, some tenants regressing at ONSET, and
    perhaps a stalled autoscaler and crashing replicas."""
    import msgspec

    tenants = [
        {"name": f"t{i}", "cohort": "bad" if bad or i == 0 else "good", "rps": rps, "share": share}
        for i, (rps, share, bad) in enumerate(p["tenants"])
    ]
    events: list[dict[str, Any]] = [{"at_s": ONSET, "kind": "regression_start", "cohort": "bad", "severity": 0.6}]
    if p["stall"] is not None:
        events.append({"at_s": ONSET, "kind": "autoscaler_stall", "duration_s": p["stall"]})
    if p["crash"] is not None:
        events.append({"at_s": ONSET + 30 + p["crash"][0], "kind": "replica_crash", "count": p["crash"][1]})
    old: dict[str, Any] = {
        "replicas": p["replicas"],
        "per_replica_rps": p["per"],
        "startup_s": p["startup"],
        "startup_jitter_s": p["jitter"],
        "cold_capacity_factor": p["cold"],
    }
    if p["hpa_max"] is not None:
        old["hpa_max"] = max(p["hpa_max"], p["replicas"])
    raw = {
        "scenario": {"name": "random", "seed": p["seed"], "duration_s": 1500.0},
        "models": {"old": "m-20250101", "new": "m-20250601"},
        "tiers": {"old": old, "new": {"replicas": 30, "per_replica_rps": 20.0}},
        "caches": {"old": {"hit_rate": p["hit"]}},
        "tenants": tenants,
        "events": events,
    }
    sc = msgspec.convert(raw, Scenario)
    validate(sc, "random")
    return sc


def declared(sc: Scenario) -> World:
    w = World(sc)
    w.advance_to(ONSET + sc.health.detection_delay_s)
    return w


def held(w: World, since: float) -> float | None:
    """Restored and nothing dropped since, in seconds after `since` (None: not by the end)."""
    m = w.metrics
    if m.restored_at is None:
        return None
    if m.last_drop_at is not None and m.last_drop_at >= w.t - w.dt - 1e-9:
        return None
    end = m.restored_at if m.last_drop_at is None else max(m.restored_at, m.last_drop_at + w.dt)
    return end - since


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets)
def test_the_fastest_strategies_physics_allows_never_beat_the_capacity_bound(p: dict[str, Any]) -> None:
    sc = scenario(p)
    w = declared(sc)
    t0 = w.t
    bound = capacity_bound(w)
    everything = w.hpa_max(w.tiers["old"].spec)
    # 1. abort with every replica the autoscaler allows, asked for at the declaration
    abort = clone(w)
    abort.scale("old", everything)
    abort.apply_shares({x: 0.0 for x in abort.regressed_since}, "abort", inject_errors=False)
    abort.advance_to(sc.scenario.duration_s)
    got = held(abort, t0)
    assert got is None or got >= bound - 1e-9, (got, bound)
    # 2. fill the old tier to 100 % each tick as replicas turn ready, knowing every start-up time
    fill = clairvoyant(w, [(t0, "old", everything)], sc.scenario.duration_s, headroom=1.0)
    ttr = fill["clairvoyant_time_to_restore_s"]
    assert ttr is None or ttr >= bound - 1e-9, (ttr, bound)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets)
def test_no_drilled_strategy_beats_the_capacity_bound(p: dict[str, Any]) -> None:
    import msgspec

    sc = scenario(p)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.toml"
        path.write_text(_toml(msgspec.to_builtins(sc)))
        cards = [
            asyncio.run(run_drill(str(path), s, config_dir=Path(tmp))) for s in ("cockpit", "abort", "fixed-stages")
        ]
    for card in cards:
        strategy = card.strategy
        assert card.capacity_bound_s is not None
        if card.restored_and_held_s is not None:
            assert card.restored_and_held_s >= card.capacity_bound_s - 1e-9, (strategy, card.to_json())
        if card.restored and card.dropped_requests == 0:
            assert card.time_to_restore_s >= card.capacity_bound_s - 1e-9, (strategy, card.to_json())


def _toml(d: dict[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer for the scenario's shapes (tables, arrays of tables, scalars)."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    for k, v in tables:
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            lines.append(f"\n[{name}]")
            lines.append(_toml(v, f"{name}."))
        else:
            for item in v:
                lines.append(f"\n[[{name}]]")
                lines.append(_toml(item, f"{name}."))
    return "\n".join(lines)


@pytest.mark.parametrize("scenario_name", sorted(builtin_names()))
def test_the_clairvoyant_never_loses_to_the_cockpit(scenario_name: str) -> None:
    """On every bundled scenario (the stored `drill --compare --json`, which the golden test pins to
    what the code does): the clairvoyant is no slower and harms no more than the cockpit, the cockpit
    drops nothing and is within 5 % of it, and no strategy beats the capacity bound."""
    cards = json.loads((STORED / f"{scenario_name}.json").read_text())
    c = next(x for x in cards if x["strategy"] == "cockpit")
    assert c["clairvoyant_time_to_restore_s"] <= c["time_to_restore_s"]
    assert c["clairvoyant_harmed_requests"] <= c["harmed_requests"]
    assert c["dropped_requests"] == 0
    # within 5 %, or one tick (the clairvoyant moves on the declaration's tick, the cockpit on the next)
    assert c["time_to_restore_s"] <= max(
        1.05 * c["clairvoyant_time_to_restore_s"], c["clairvoyant_time_to_restore_s"] + 1
    )
    assert c["harmed_requests"] <= 1.05 * c["clairvoyant_harmed_requests"]
    for x in cards:
        if x["restored_and_held_s"] is not None:
            assert x["restored_and_held_s"] >= x["capacity_bound_s"]


def test_replica_crash_drops_nothing_and_the_clairvoyant_wins_live() -> None:
    c = asyncio.run(run_drill("replica-crash", "cockpit"))
    assert c.restored and c.dropped_requests == 0
    assert c.peak_old_utilisation <= 1.0  # two replicas crashed mid-rollback: the reserve held
    assert c.harmed_requests == c.wrong_answers
    assert c.clairvoyant_harmed_requests is not None and c.clairvoyant_harmed_requests <= c.harmed_requests
    assert c.clairvoyant_time_to_restore_s is not None and c.time_to_restore_s is not None
    assert c.clairvoyant_time_to_restore_s <= c.time_to_restore_s
    assert c.capacity_bound_s is not None and c.capacity_bound_s <= c.clairvoyant_time_to_restore_s


def test_with_one_replica_of_reserve_the_crash_of_two_drops() -> None:
    """The default reserve is 2 because the bundled drill loses two replicas at once: with 1 it drops."""
    import cockpit.engine.loop as loop

    orig = loop.rollback_policy
    try:
        from dataclasses import replace

        loop.rollback_policy = lambda config, host: replace(orig(config, host), crash_reserve=1)
        c = asyncio.run(run_drill("replica-crash", "cockpit"))
    finally:
        loop.rollback_policy = orig
    assert c.dropped_requests > 0


def _view(now: float, shares: dict[str, float], ready: int, hit: float) -> FleetView:
    rps = {"a": 50.0, "b": 5.0, "c": 30.0}
    load = sum(r * (1 - shares[t]) for t, r in rps.items())
    return FleetView(now, rps, shares, {"a": 0.9, "b": 0.5}, Tier("old", ready, 40, 10.0, 0.5, 0.8), hit, load)


def test_no_micro_stages_each_stage_moves_the_minimum_or_finishes_a_tenant() -> None:
    """Capacity that grows a little at a time (the cache warming) would trickle: a stage waits until
    it can move 5 % of what is left, or finish a tenant."""
    policy = RollbackPolicy(min_stage_fraction=0.05, crash_reserve=0)
    s = RollbackScheduler(policy)
    s.arm(["a", "b"], now=0)
    shares = {"a": 1.0, "b": 1.0, "c": 0.0}
    hit, ready, stages = 0.2, 6, []
    for now in range(600):
        hit = min(0.8, hit + 0.0005)  # warming: capacity creeps up
        ready = 6 + now // 60
        before = sum(r * min(shares[t], s.ceilings.get(t, 1.0)) for t, r in (("a", 50.0), ("b", 5.0)))
        d = s.step(_view(float(now), dict(shares), ready, hit))
        if d.finished:
            break
        if d.stage is not None:
            stages.append(d.stage)
            finishes = any(c == 0.0 for c in d.stage.ceilings.values())
            assert finishes or d.stage.moved_rps >= 0.05 * before - 1e-9, (now, d.stage)
            shares.update(d.stage.ceilings)
    assert s.done
    assert len(stages) >= 3  # a staged rollback, not one move


def test_stages_keep_the_old_tier_within_100_percent_if_the_reserve_crashes() -> None:
    s = RollbackScheduler(RollbackPolicy(headroom=0.8, crash_reserve=2))
    s.arm(["a"], now=0)
    v = _view(0.0, {"a": 1.0, "b": 0.0, "c": 0.0}, ready=10, hit=0.5)
    d = s.step(v)
    assert d.stage is not None
    left = v.old_tier.capacity(d.stage.hit_rate_after, replicas=8)
    assert d.stage.old_load_after <= left + 1e-6  # 2 of 10 crash: still within 100 %
    assert d.stage.old_load_after <= 0.8 * d.stage.capacity_after + 1e-6


def test_over_request_asks_for_the_factor_times_what_the_failback_needs() -> None:
    one = RollbackScheduler(RollbackPolicy(over_request=1.0, crash_reserve=0))
    two = RollbackScheduler(RollbackPolicy(over_request=2.0, crash_reserve=0))
    v = _view(0.0, {"a": 1.0, "b": 1.0, "c": 0.0}, ready=4, hit=0.5)
    for s in (one, two):
        s.arm(["a", "b"], now=0)
    n = one.replicas_needed(v)
    assert n > 4
    assert two.replicas_needed(v) == 2 * n


def test_an_autoscaler_capping_the_over_request_is_not_a_failure(tmp_path: Path) -> None:
    """classic with hpa_max 30: the failback requires 22 replicas, the policy asks for 44; the autoscaler
    grants 30. That confirms the pre-scale (the extra is best effort): the autoscaler is not marked
    degraded, and the rollback restores with nothing dropped."""
    import sqlite3

    from cockpit_backends.mock.scenario import resolve_path

    text = resolve_path("classic").read_text().replace("hpa_min = 6\n", "hpa_min = 6\nhpa_max = 30\n", 1)
    path = tmp_path / "capped.toml"
    path.write_text(text)
    card = asyncio.run(run_drill(str(path), "cockpit", journal=tmp_path / "j.db", config_dir=tmp_path))
    assert card.restored and card.dropped_requests == 0
    db = sqlite3.connect(tmp_path / "j.db")
    rows = [json.loads(d) for k, d in db.execute("SELECT kind, data FROM events") if k == "actuation"]
    asked = [r["scale_to"] for r in rows if r.get("role") == "autoscaler"]
    assert asked and asked[0] == 44
    acks = [json.loads(d) for k, d in db.execute("SELECT kind, data FROM events") if k == "actuation_ack"]
    scale_acks = [a for a in acks if "desired" in a and "shares" not in a]
    assert scale_acks[0]["verified"] and scale_acks[0]["desired"] == 30
    degraded = [json.loads(d) for k, d in db.execute("SELECT kind, data FROM events") if k == "backend_degraded"]
    assert not [d for d in degraded if d["role"] == "autoscaler"]


def test_the_settle_lasts_as_long_as_a_backends_readings_lag() -> None:
    """A stage settles until the next observation, and at least as long as a backend says its readings
    take to show a change (the Redis store's windowed hit rate: its window)."""
    from types import SimpleNamespace

    from cockpit.engine.backends import settle_for

    policy = RollbackPolicy()
    assert policy.min_stage_interval_s == 0.0
    windowed = SimpleNamespace(objects=lambda: [SimpleNamespace(observation_lag_s=5.0), object()])
    instant = SimpleNamespace(objects=lambda: [object(), object()])
    assert settle_for(policy, windowed).min_stage_interval_s == 5.0  # type: ignore[arg-type]
    assert settle_for(policy, instant) is policy  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(fleets)
def test_start_up_times_are_drawn_per_ordinal_whatever_the_batch(p: dict[str, Any]) -> None:
    """A tier's start-up times, drawn in batches in C (`_units`) and shared with a world's copies, are
    each the seeded formula of its own ordinal: the key's CRC scaled to [0, 1), then jittered."""
    import zlib

    sc = scenario(p)
    w = World(sc)
    tier = w.tiers["old"]
    twin = clone(w)
    first = w.startups_of(tier, range(3, 40))  # a batch that does not start at 0
    spec = tier.spec
    for o in range(40):
        u = zlib.crc32(f"{sc.scenario.seed}:startup:old:{o}".encode()) / 2**32
        drawn = max(0.0, spec.startup_s + (2.0 * u - 1.0) * spec.startup_jitter_s)
        assert twin.startup_of(twin.tiers["old"], o) == drawn
    assert first == twin.startups_of(twin.tiers["old"], range(3, 40))


@settings(max_examples=20, deadline=None)
@given(fleets)
def test_start_up_times_drawn_ahead_off_the_loop_are_the_ones_drawn_on_it(p: dict[str, Any]) -> None:
    """The declaration's hook draws the old tier's start-ups ahead (`draw_ahead`); the world that takes
    them scales to the very replicas of one that draws them when asked."""
    sc = scenario(p)
    ahead, plain = World(sc), World(sc)
    for w in (ahead, plain):
        w.advance_to(ONSET)
        w.startup_of(w.tiers["old"], 0)  # some drawn already (in both: a scale that adds none draws nothing)
    ahead.draw_ahead("old")  # the rest drawn ahead in one, the other draws them when it scales
    for w in (ahead, plain):
        w.scale("old", w.hpa_max(w.tiers["old"].spec))
    assert ahead.tiers["old"].replicas == plain.tiers["old"].replicas
    assert ahead._startups == plain._startups
