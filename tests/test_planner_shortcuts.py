"""The dry run's shortcuts give what the plain code gives: the pairwise min picked by one comparison,
the finished test's passes in C, the cold order started from the scope in name order, the order
adopted from the scheduler that runs (then updated), ceilings lowered, the stage's changed shares told
to the readers, and a step without its pre-scale. Each is compared with the plain computation, NaNs
included."""

from __future__ import annotations

import math
import random
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain import planner
from cockpit.domain.exact import _changed, changed_keys, lesser
from cockpit.domain.fleet import Tier, old_tier_load
from cockpit.domain.ordering import _all_at_zero, _within, lower
from cockpit.domain.planner import preview
from cockpit.domain.rollback import EPS, FleetView, RollbackPolicy, RollbackScheduler

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e-10, EPS, 2 * EPS, math.nan]),
    st.integers(min_value=-2, max_value=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, values), max_size=40))
def test_lesser_picks_what_min_picks(pairs: list[tuple[Any, Any]]) -> None:
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    # the very objects (a NaN is only itself; -0.0 and 0.0 stay apart)
    assert all(a is b for a, b in zip(lesser(xs, ys), map(min, xs, ys), strict=True))


def _all_at_zero_plainly(shares: dict[str, Any], ceilings: dict[str, Any], scope: frozenset[str]) -> bool:
    present = [t for t in scope if t in shares]
    return max(map(max, (shares[t] for t in present), (ceilings.get(t, 1.0) for t in present)), default=0.0) <= EPS


small = st.sampled_from([0.0, -0.0, EPS / 2, EPS, 2 * EPS, 0.5, math.nan])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=400),
    st.dictionaries(st.integers(0, 399), small, max_size=6),
    st.dictionaries(st.integers(0, 399), small, max_size=6),
    st.booleans(),
)
def test_the_finished_test_in_c_says_what_the_max_of_all_says(
    n: int, odd_shares: dict[int, float], odd_ceilings: dict[int, float], unknown: bool
) -> None:
    names = [f"t{i:03d}" for i in range(n)]
    shares = dict.fromkeys(names, 0.0) | {f"t{i:03d}": v for i, v in odd_shares.items() if i < n}
    ceilings = dict.fromkeys(names, 0.0) | {f"t{i:03d}": v for i, v in odd_ceilings.items() if i < n}
    if unknown:  # tenants the router does not know, and one without a ceiling
        for t in names[::7]:
            shares.pop(t)
        ceilings.pop(names[-1], None) if names else None
    scope = frozenset(names)
    assert _all_at_zero(shares, ceilings, scope) == _all_at_zero_plainly(shares, ceilings, scope)


def test_the_finished_test_takes_a_nan_first_as_the_max_does() -> None:
    scope = frozenset(f"t{i}" for i in range(100))
    first = next(iter(scope))
    for nan_at in (first, sorted(scope)[50] if sorted(scope)[50] != first else sorted(scope)[51]):
        shares, ceilings = dict.fromkeys(scope, 0.0) | {nan_at: math.nan}, dict.fromkeys(scope, 0.0)
        assert _all_at_zero(shares, ceilings, scope) is _all_at_zero_plainly(shares, ceilings, scope)
        assert _all_at_zero(shares, ceilings, scope) is (nan_at != first)


def test_shares_within_no_ceiling_are_the_shares_unless_one_is_above_one() -> None:
    names = ["a", "b", "c"]
    plain = [0.5, 1.0, math.nan]
    assert _within(plain, {}, names) is plain
    above = [0.5, 1.5, 2]
    assert _within(above, {}, names) == [0.5, 1.0, 1.0]
    assert _within(plain, {"a": 0.25}, names)[0] == 0.25


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdefgh"), values, max_size=6),
    st.dictionaries(st.sampled_from("abcdefghij"), values, max_size=8),
)
def test_ceilings_lowered_as_min_per_tenant_lowers_them(ceilings: dict[str, Any], new: dict[str, Any]) -> None:
    plain = dict(ceilings)
    plain.update({t: min(c, plain.get(t, 1.0)) for t, c in new.items()})
    lower(ceilings, new)
    assert list(ceilings) == list(plain)  # the same keys in the same order
    # the same values: the same type and digits (a NaN, -0.0 and an int told apart)
    assert [(type(c), repr(c)) for c in ceilings.values()] == [(type(c), repr(c)) for c in plain.values()]


def _fleet(rng: random.Random, n: int, nan_harm: bool = False) -> tuple[dict, dict, dict]:
    names = [f"tenant-{rng.randrange(10**6):06d}" for _ in range(n)]
    rps = {t: rng.choice([0.0, 0.5, 1.0, 2.0, rng.uniform(0, 30)]) for t in names}
    shares = {t: rng.choice([0.0, 1.0, 0.5, rng.random()]) for t in names}
    harm = {t: rng.choice([0.0, 0.0, 0.6, rng.random()]) for t in names}
    if nan_harm:
        rps[names[3]], shares[names[3]], harm[names[3]] = 5.0, 1.0, math.nan
    return rps, shares, harm


def _view(now: float, rps: dict, shares: dict, harm: dict, extra: int) -> FleetView:
    """The old tier ready for its load (20 rps a replica, 12 at this hit rate and headroom) and `extra`."""
    load = old_tier_load(rps, shares)
    ready = math.ceil(load / 12.0) + extra
    return FleetView(now, rps, shares, harm, Tier("old", ready, ready, 20.0), 0.4, load)


@pytest.mark.parametrize("nan_harm", [False, True])
def test_the_cold_order_from_the_scope_in_name_order_is_the_order(nan_harm: bool) -> None:
    rng = random.Random(5)
    rps, shares, harm = _fleet(rng, 3000, nan_harm)
    v = _view(0.0, rps, shares, harm, 40)
    plain, named = RollbackScheduler(), RollbackScheduler()
    for s in (plain, named):
        s.arm(list(rps), 0.0)
    named.sorted_scope_is(sorted(named.scope))
    assert named._order(v) == plain._order(v)
    assert named._remaining(v) == plain._remaining(v)


def _plan(p: planner.Plan) -> bytes:
    return msgspec.json.encode(p)


def _cold(s: RollbackScheduler) -> RollbackScheduler:
    """The same scheduler without the order it keeps: its preview sorts every tenant again."""
    twin = RollbackScheduler(policy=s.policy)
    twin.load_snapshot(s.snapshot())
    return twin


@pytest.mark.parametrize("nan_harm", [False, True])
def test_a_plan_from_the_running_order_is_the_plan_from_a_cold_one(nan_harm: bool) -> None:
    rng = random.Random(11)
    rps, shares, harm = _fleet(rng, 2000, nan_harm)
    s = RollbackScheduler(RollbackPolicy(crash_reserve=1))
    scope = sorted(t for t, h in harm.items() if h > 0.1 or h != h)
    s.arm(scope, 0.0)
    adopted, refused = 0, 0
    for tick in range(12):
        v = _view(float(tick), rps, shares, harm, 8 * tick)
        d = s.step(v)
        if tick % 2:  # the router follows the ceilings every other tick: a plan between the two
            shares = {t: min(x, s.ceilings.get(t, 1.0)) for t, x in shares.items()}
        v = _view(float(tick), rps, shares, harm, 8 * tick)
        for plan_scope in (scope, sorted(rps)):
            sim = RollbackScheduler(policy=s.policy)
            sim.load_snapshot(s.snapshot())
            sim.arm(plan_scope, v.now)
            sim.adopt_order(s, v)
            adopted += sim._order_state is not None
            if any(map(math.isnan, harm.values())):
                assert sim._order_state is None  # a NaN harm in the reading: an update might not equal a sort
                refused += 1
            assert _plan(preview(s, v, plan_scope, 60.0)) == _plan(preview(_cold(s), v, plan_scope, 60.0))
        if d.finished:
            break
    assert s.stage >= 2
    assert (adopted > 0) is not nan_harm and (refused > 0) is nan_harm


def test_a_tenant_with_a_nan_harm_back_on_new_gets_the_cold_orders_place() -> None:
    """Its share was 0 when the running order was worked out (so it is not in it) and is back above 0
    in the reading planned on: the adopted order would put it back with a NaN key, last, where a sort
    afresh places it elsewhere. A NaN or infinite harm or rate in the reading: no order is adopted."""
    for seed in range(60):
        rng = random.Random(seed)
        names = [f"t{i:03d}" for i in range(rng.choice([10, 40, 100]))]
        rps = {t: float(rng.randint(1, 20)) for t in names}
        harm = {t: rng.choice([0.3, 0.5, 0.8, 0.9, rng.random()]) for t in names}
        back = rng.choice(names)
        harm[back] = math.nan
        before = dict.fromkeys(names, 1.0) | {back: 0.0}
        after = before | {back: rng.choice([1.0, 0.5])}
        extra = rng.choice([1, 2, 3, 5])  # the budget binds: where the tenant stands decides the stage
        s = RollbackScheduler(RollbackPolicy(crash_reserve=0))
        s.arm(names, 0.0)
        s.prepare(_view(0.0, rps, before, harm, extra))  # the engine works the order out on arming
        v = _view(1.0, rps, after, harm, extra)
        assert _plan(preview(s, v, names, 30.0)) == _plan(preview(_cold(s), v, names, 30.0)), seed


def test_the_changes_a_stage_makes_are_told_exactly() -> None:
    rng = random.Random(3)
    rps, shares, harm = _fleet(rng, 500)
    s = RollbackScheduler()
    s.arm(list(rps), 0.0)
    d = s.step(_view(0.0, rps, shares, harm, 20))
    assert d.stage is not None
    after = dict(shares)
    planner._apply(d.stage, shares, after, rps, 0.0)
    assert changed_keys(shares, after) == _changed(shares, after) != set()


def test_a_step_without_its_prescale_decides_the_same_stages() -> None:
    rng = random.Random(8)
    rps, shares, harm = _fleet(rng, 800)
    a, b = RollbackScheduler(), RollbackScheduler()
    for s in (a, b):
        s.arm(list(rps), 0.0)
    for tick in range(6):
        v = _view(float(tick), rps, shares, harm, 5 * tick)
        da, db = a.step(v), b.step(v, prescale=False)
        assert db.scale_to is None and (da.stage, da.hold, da.finished) == (db.stage, db.hold, db.finished)
        shares = {t: min(x, a.ceilings.get(t, 1.0)) for t, x in shares.items()}


def test_the_tenants_in_a_reading_are_kept_apart_from_their_rates() -> None:
    s = RollbackScheduler()
    s.arm(["a", "b", "c"], 0.0)
    rps, shares = {"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.5, "c": 1.0}
    present = s.present_in(s.scope, shares, rps)
    assert sorted(present) == ["a", "c"]
    got, rates = s.in_reading(s.scope, shares, rps)
    assert got is present and rates == [rps[t] for t in present]
    # new values for the same tenants: the same lists; another tenant: worked out again
    assert s.in_reading(s.scope, {"a": 0.0, "c": 0.0}, rps) == (present, rates)
    assert s.in_reading(s.scope, {"a": 0.0, "c": 0.0}, rps)[1] is rates
    moved = s.in_reading(s.scope, {"a": 0.0, "b": 0.1, "c": 0.0}, rps)
    assert sorted(moved[0]) == ["a", "b", "c"] and moved[1] == [rps[t] for t in moved[0]]


def test_a_tenant_whose_share_fell_to_zero_on_its_own_is_pinned_as_a_fresh_look_pins_it() -> None:
    rng = random.Random(4)
    rps, shares, harm = _fleet(rng, 300)
    s = RollbackScheduler()
    s.arm(list(rps), 0.0)
    s.step(_view(0.0, rps, shares, harm, 0))  # pinned what is idle; no stage (no spare capacity)
    open_now = [t for t in s.scope if s.ceilings.get(t, 1.0) > EPS and shares[t] > EPS]
    fell = sorted(open_now)[:5]
    after = {t: (0.0 if t in fell else x) for t, x in shares.items()}  # the router's next reading
    fresh = _cold(s)
    v = _view(1.0, rps, after, harm, 0)
    assert sorted(s._idle(v)) == sorted(fresh._idle(v)) == fell  # found among the changed shares alone
    d = s.step(_view(1.0, rps, after, harm, 40))  # pinned, and a stage
    assert d.stage is not None and all(s.ceilings[t] == 0.0 for t in fell)
    follows = {t: min(x, s.ceilings.get(t, 1.0)) for t, x in after.items()}  # the stage's tenants at 0
    v = _view(2.0, rps, follows, harm, 0)
    assert s._idle(v) == _cold(s)._idle(v) == []  # none newly idle: their ceilings are 0


def test_the_traffic_to_move_is_the_same_whatever_order_the_scope_iterates_in() -> None:
    """Σ rps·share over the scope is correctly rounded (math.fsum), not summed in the order a set
    iterates in, which depends on the process's hash seed: an engine and `cockpit plan --local` print
    the same figure. A big tenant iterated first is where a running sum loses the small ones."""
    for big in ("a", "b", "c", "d"):
        rps = dict.fromkeys("abcd", 1.0) | {big: 1e16}
        shares = dict.fromkeys("abcd", 1.0)
        view = _view(0.0, rps, shares, dict.fromkeys("abcd", 1.0), 0)
        plan = preview(RollbackScheduler(), view, sorted(rps), startup_estimate_s=60.0)
        assert plan.traffic_to_move_rps == math.fsum(rps.values()) == 1e16 + 4
