"""The rollback scheduler: unit cases and hypothesis properties over random fleets."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.domain.composer import compose, differences
from cockpit.domain.fleet import Tier
from cockpit.domain.rollback import (
    EPS,
    FleetView,
    Mode,
    RollbackPolicy,
    RollbackScheduler,
    diluted_hit_rate,
    max_safe_load,
)


def tier(ready=4, desired=4, per=10.0, f=0.5, hw=0.8) -> Tier:
    return Tier("old", ready, desired, per, f, hw)


def view(now, rps, shares, harm, t: Tier, hit=0.8, old_load=None) -> FleetView:
    if old_load is None:
        old_load = sum(r * (1 - shares.get(n, 0.0)) for n, r in rps.items())
    return FleetView(now, rps, shares, harm, t, hit, old_load)


def test_prescale_comes_first_and_sizes_for_full_failback():
    s = RollbackScheduler(RollbackPolicy(headroom=0.8, over_request=1.0))
    s.arm(["a", "b"], now=0)
    rps = {"a": 40.0, "b": 40.0, "c": 20.0}
    shares = {"a": 1.0, "b": 1.0, "c": 0.0}
    d = s.step(view(0, rps, shares, {"a": 0.5, "b": 0.3}, tier(ready=1, desired=1), hit=0.8))
    # full failback = 20 (c) + 80 = 100 rps; a replica carries 10 rps warm x 0.8 headroom.
    # The 80 rps arrive cold and dilute the hit rate to 0.16, so each replica is worth less.
    hit_after = diluted_hit_rate(0.8, 20.0, 80.0)
    per = 10.0 * tier().cache_factor(hit_after) * 0.8
    assert d.scale_to == math.ceil(100.0 / per)


def test_most_harmed_first_and_within_ready_capacity():
    s = RollbackScheduler(RollbackPolicy(headroom=0.8, min_move=0.01, crash_reserve=0))
    s.arm(["a", "b"], now=0)
    rps = {"a": 10.0, "b": 10.0}
    shares = {"a": 1.0, "b": 1.0}
    t = tier(ready=2, desired=10, per=10.0, f=1.0)  # no cache effect: capacity 20, headroom 16
    d = s.step(view(0, rps, shares, {"a": 0.1, "b": 0.9}, t, hit=0.8, old_load=0.0))
    assert d.stage is not None
    assert d.stage.ceilings == {"b": 0.0, "a": 0.4}  # b (more harmed) fully, then a partially
    assert d.stage.old_load_after <= 16.0 + 1e-6


def test_holds_while_settling_over_headroom_and_paused():
    s = RollbackScheduler(RollbackPolicy(min_stage_interval_s=5))
    s.arm(["a"], now=0)
    t = tier(ready=10, desired=10, f=1.0)
    assert s.step(view(0, {"a": 10.0}, {"a": 1.0}, {"a": 1}, t)).stage is not None
    assert s.step(view(2, {"a": 10.0}, {"a": 1.0}, {"a": 1}, t)).hold == "settling after the last stage"
    s2 = RollbackScheduler()
    s2.arm(["a"], now=0)
    hot = tier(ready=1, desired=1, per=10.0, f=1.0)
    assert s2.step(view(0, {"a": 5.0, "x": 9.5}, {"a": 1.0, "x": 0.0}, {}, hot)).hold == "old tier over headroom"
    s2.pause()
    assert s2.step(view(1, {"a": 5.0}, {"a": 1.0}, {}, tier(f=1.0))).hold == "paused by operator"


def test_manual_mode_waits_for_advance():
    s = RollbackScheduler()
    s.arm(["a"], now=0, mode=Mode.MANUAL)
    t = tier(ready=10, desired=10, f=1.0)
    v = view(0, {"a": 10.0}, {"a": 1.0}, {"a": 1.0}, t)
    assert s.step(v).hold == "waiting for the operator to advance"
    s.advance()
    assert s.step(v).stage is not None
    assert s.pending_advances == 0


def test_cache_recovering_hold():
    s = RollbackScheduler(RollbackPolicy(min_stage_interval_s=0, cache_dip_tolerance=0.1, crash_reserve=0))
    s.arm(["a", "b"], now=0)
    t = tier(ready=2, desired=2, per=10.0)
    d = s.step(view(0, {"a": 8.0, "b": 8.0, "c": 4.0}, {"a": 1.0, "b": 1.0, "c": 0.0}, {"a": 1, "b": 1}, t, hit=0.8))
    assert d.stage is not None
    planned = d.stage.hit_rate_after
    worse = planned * 0.5
    d2 = s.step(view(1, {"a": 8.0, "b": 8.0, "c": 4.0}, {"a": 1.0, "b": 1.0, "c": 0.0}, {}, t, hit=worse))
    assert d2.hold == "old cache recovering"


def test_finishes_and_release_lifts_ceilings():
    s = RollbackScheduler(RollbackPolicy(min_stage_interval_s=0))
    s.arm(["a"], now=0)
    t = tier(ready=10, desired=10, f=1.0)
    s.step(view(0, {"a": 10.0}, {"a": 1.0}, {"a": 1}, t))
    d = s.step(view(1, {"a": 10.0}, {"a": 0.0}, {"a": 1}, t))
    assert d.finished and s.done
    assert s.release() == {"a": 0.0}
    assert s.ceilings == {} and not s.armed


def test_max_safe_load_accounts_for_dilution():
    t = tier(ready=10, desired=10, per=10.0, f=0.5, hw=0.8)
    x = max_safe_load(t, hit=0.8, load=20.0, headroom=1.0)
    # at X the diluted hit rate gives a capacity of exactly X
    assert t.capacity(diluted_hit_rate(0.8, 20.0, x - 20.0)) == pytest.approx(x)
    assert x < t.capacity(0.8)


def test_composer_effective_is_min_and_diff_only_changes():
    eff = compose({"a": 1.0, "b": 0.5, "c": 0.25}, {"a": 0.2, "b": 0.9})
    assert eff == {"a": 0.2, "b": 0.5, "c": 0.25}
    assert differences(eff, {"a": 1.0, "b": 0.5, "c": 0.25}) == {"a": 0.2}


# Properties ----------------------------------------------------------------------------------------

fleets = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n),  # rps
        st.lists(st.sampled_from([0.0, 0.01, 0.05, 0.25, 0.5, 1.0]), min_size=n, max_size=n),  # shares
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),  # harm
        st.lists(st.booleans(), min_size=n, max_size=n),  # in scope
    )
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fleet=fleets,
    ready=st.integers(0, 40),
    per=st.floats(1.0, 50.0),
    f=st.floats(0.1, 1.0),
    hit=st.floats(0.0, 0.9),
    headroom=st.floats(0.5, 1.0),
    startup_ticks=st.integers(0, 30),
)
def test_properties_over_random_fleets(fleet, ready, per, f, hit, headroom, startup_ticks):
    rps_l, share_l, harm_l, scope_l = fleet
    names = [f"t{i}" for i in range(len(rps_l))]
    rps = dict(zip(names, rps_l, strict=True))
    shares = dict(zip(names, share_l, strict=True))
    harm = dict(zip(names, harm_l, strict=True))
    scope = {n for n, s in zip(names, scope_l, strict=True) if s} or {names[0]}
    out_of_scope_before = {n: shares[n] for n in names if n not in scope}
    s = RollbackScheduler(RollbackPolicy(headroom=headroom, min_stage_interval_s=1.0))
    s.arm(scope, now=0)
    desired = ready
    pending_ready_at: float | None = None
    prev_ceilings: dict[str, float] = {}
    for now in range(0, 400):
        if pending_ready_at is not None and now >= pending_ready_at:
            ready = desired
        t = Tier("old", ready, desired, per, f, 0.8)
        old_load = sum(r * (1 - shares[n]) for n, r in rps.items())
        d = s.step(FleetView(float(now), rps, shares, harm, t, hit, old_load))
        if d.scale_to is not None and d.scale_to > desired:
            desired = d.scale_to
            pending_ready_at = now + startup_ticks
        if d.stage is not None:
            # never plans more old-tier load than ready capacity (at the diluted hit rate) allows
            assert d.stage.old_load_after <= headroom * t.capacity(d.stage.hit_rate_after) + 1e-6
            # never moves a tenant outside its scope
            assert set(d.stage.ceilings) <= scope
        # never raises a ceiling during a rollback
        for n, c in prev_ceilings.items():
            assert s.ceilings[n] <= c + EPS
        prev_ceilings = dict(s.ceilings)
        # the router applies the composed vector (targets = current shares)
        shares = compose(shares, s.ceilings)
        if s.done:
            break
    # capacity eventually suffices (the autoscaler delivers what was asked): the rollback finishes
    assert s.done, (s.last_hold, s.stage, ready, desired)
    assert all(shares[n] == 0.0 for n in scope)
    assert {n: shares[n] for n in names if n not in scope} == out_of_scope_before
