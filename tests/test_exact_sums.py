"""Sums kept up to date for the tenants that changed equal, bit for bit, the same sums taken afresh."""

from __future__ import annotations

import math
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.exact import TenantSum, changed_keys
from cockpit.domain.fleet import OldTierLoad, old_tier_load

RATES = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
SHARES = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(RATES, SHARES), min_size=1, max_size=40),
    st.lists(st.lists(st.tuples(st.integers(min_value=0, max_value=39), SHARES), max_size=8), max_size=6),
)
def test_old_tier_load_updated_equals_summed_afresh(tenants, stages):
    names = [f"t{i}" for i in range(len(tenants))]
    rps = MappingProxyType(dict(zip(names, (r for r, _ in tenants), strict=True)))
    shares = dict(zip(names, (s for _, s in tenants), strict=True))
    load = OldTierLoad()
    load.keep_exact(rps, MappingProxyType(dict(shares)), force=True)
    for moves in stages:
        for i, s in moves:
            if i < len(names):
                shares[names[i]] = s
        reading = MappingProxyType(dict(shares))  # a new reading, as a router returns after a stage
        assert (
            load(rps, reading)
            == old_tier_load(rps, reading)
            == math.fsum(r * (1.0 - reading[t]) for t, r in rps.items())
        )
        assert load._sum is not None  # the same rates and tenants: updated, never summed again


def test_old_tier_load_drops_the_exact_total_when_the_tenants_or_rates_change():
    rps = {"a": 10.0, "b": 5.0}
    load = OldTierLoad()
    load.keep_exact(rps, {"a": 1.0, "b": 0.5}, force=True)
    assert load._sum is not None
    wider = {"a": 1.0, "b": 0.5, "c": 0.0}
    assert load(rps, wider) == 2.5  # a new tenant: summed afresh (c has no rate)
    assert load._sum is None
    load.keep_exact(rps, wider)  # the same rates as the last call: made again
    assert load._sum is not None
    measured = {"a": 10.0, "b": 6.0}  # a router that measures rates every tick: never made for nothing
    load.keep_exact(measured, wider)
    assert load._sum is None
    assert load(measured, wider) == 3.0


def test_a_non_finite_term_is_summed_afresh_not_kept():
    rps = {"a": 10.0, "b": 5.0}
    load = OldTierLoad()
    load.keep_exact(rps, {"a": 1.0, "b": 0.5}, force=True)
    assert math.isnan(load(rps, {"a": math.nan, "b": 0.5}))
    assert load._sum is None
    assert load(rps, {"a": 0.0, "b": 0.5}) == 12.5


def test_tenant_sum_is_the_correctly_rounded_sum():
    terms = [1e16, 1.0, -1e16, 1e-300, 3.0]
    s = TenantSum([f"t{i}" for i in range(5)], terms)
    assert s.value == math.fsum(terms) == 4.0  # a plain left-to-right sum gives 3.0
    s.update(["t1", "t5"], [0.0, 0.5])
    assert s.value == math.fsum([1e16, -1e16, 1e-300, 3.0, 0.5])


def test_changed_keys_is_compared_once_per_pair_of_readings():
    before = MappingProxyType({"a": 1.0, "b": 0.5})
    after = MappingProxyType({"a": 1.0, "b": 0.0})
    first = changed_keys(before, after)
    assert first == {"b"}
    assert changed_keys(before, after) is first
    assert changed_keys(after, MappingProxyType({"b": 0.0, "a": 1.0})) is None  # another order: by key


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(RATES, SHARES, st.booleans()), min_size=1, max_size=30),
    st.lists(st.lists(st.tuples(st.integers(min_value=0, max_value=29), SHARES), max_size=6), max_size=5),
)
def test_kept_sum_updated_equals_summed_afresh(tenants, readings):
    from cockpit.domain.exact import KeptSum

    names = [f"t{i}" for i in range(len(tenants))]
    weights = MappingProxyType({t: r for t, (r, _, _) in zip(names, tenants, strict=True)})
    scope = frozenset(t for t, (_, _, inside) in zip(names, tenants, strict=True) if inside)
    values = {t: v for t, (_, v, _) in zip(names, tenants, strict=True)}
    kept = KeptSum()

    def members() -> list[str]:
        return [t for t in names if t in scope]

    def pick(moved: set[str]) -> list[str]:
        return list(scope.intersection(moved))

    def afresh(vals) -> float:
        return math.fsum(weights[t] * vals[t] for t in members())

    first = MappingProxyType(dict(values))
    assert kept(scope, weights, first, members, pick, keep=True) == afresh(first)
    for moves in readings:
        for i, v in moves:
            if i < len(names):
                values[names[i]] = v
        reading = MappingProxyType(dict(values))
        assert kept(scope, weights, reading, members, pick) == afresh(reading)
        assert kept._sum is not None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(SHARES, min_size=1, max_size=30),
    st.lists(st.lists(st.tuples(st.integers(min_value=0, max_value=29), SHARES), max_size=6), max_size=5),
)
def test_composer_differences_on_new_readings_equal_the_full_comparison(targets, readings):
    from cockpit.domain.composer import Composer, compose, differences
    from cockpit.domain.rollback import RollbackScheduler

    names = [f"t{i}" for i in range(len(targets))]
    goal = dict(zip(names, targets, strict=True))
    rollback = RollbackScheduler()
    composer = Composer()
    observed = dict(goal)
    for moves in readings:
        effective = composer.effective(goal, 1, rollback)
        for i, v in moves:
            if i < len(names):
                observed[names[i]] = v  # the router drifted, or confirmed only part of a move
        reading = MappingProxyType(dict(observed))
        got = composer.differences(effective, reading)
        assert list(got.items()) == list(differences(compose(goal, rollback.ceilings), reading).items())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(RATES, SHARES), min_size=2, max_size=30),
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(min_value=0, max_value=29), SHARES), max_size=5),  # ceilings lowered
            st.lists(st.tuples(st.integers(min_value=0, max_value=29), SHARES), max_size=5),  # shares observed
        ),
        max_size=5,
    ),
)
def test_pending_load_updated_equals_summed_afresh(tenants, steps):
    from cockpit.domain.fleet import Tier
    from cockpit.domain.rollback import FleetView, RollbackScheduler

    names = [f"t{i}" for i in range(len(tenants))]
    rps = MappingProxyType({t: r for t, (r, _) in zip(names, tenants, strict=True)})
    shares = {t: s for t, (_, s) in zip(names, tenants, strict=True)}
    tier = Tier("old", 10, 10, 100.0)
    rb = RollbackScheduler()
    rb.arm(names, 0.0)

    def view() -> FleetView:
        return FleetView(0.0, rps, MappingProxyType(dict(shares)), {}, tier, 0.9, 0.0)

    rb._pending_load(view())
    for lowered, observed in steps:
        for i, c in lowered:
            if i < len(names):
                rb.ceilings[names[i]] = min(c, rb.ceilings.get(names[i], 1.0))
                rb._log.append(names[i])
        rb.version += 1
        for i, s in observed:
            if i < len(names):
                shares[names[i]] = s
        v = view()
        fresh = RollbackScheduler(ceilings=dict(rb.ceilings))  # summed afresh
        assert (
            rb._pending_load(v)
            == fresh._pending_load(v)
            == math.fsum(rps[t] * (v.shares[t] - c) for t, c in rb.ceilings.items() if v.shares[t] > c + 1e-9)
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), max_size=40))
def test_exact_sum_is_the_exact_total_of_the_terms(terms):
    from fractions import Fraction

    from cockpit.domain.exact import exact_sum, fixed

    exact = exact_sum(terms)
    assert exact == sum(map(fixed, terms))  # one conversion per term: the plain way
    assert Fraction(exact, 1 << 1074) == sum(map(Fraction, terms), Fraction(0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(RATES, SHARES, st.sampled_from([0.0, 0.3, 0.6])), min_size=2, max_size=40),
    st.lists(st.tuples(st.floats(0.0, 50.0), st.lists(st.integers(0, 39), max_size=4)), max_size=8),
)
def test_the_rollback_order_kept_across_stages_equals_the_order_worked_out_afresh(tenants, stages):
    """Each stage moves the head of the order (whole tenants to 0, perhaps one partly), the router
    confirms, and sometimes a few other tenants' shares change by themselves: the order updated for the
    tenants that changed, with its traffic still on new, equals a fresh scheduler's."""
    from cockpit.domain.fleet import Tier
    from cockpit.domain.rollback import FleetView, RollbackScheduler

    names = [f"t{i}" for i in range(len(tenants))]
    rps = {t: r for t, (r, _, _) in zip(names, tenants, strict=True)}
    shares = {t: s for t, (_, s, _) in zip(names, tenants, strict=True)}
    harm = {t: h for t, (_, _, h) in zip(names, tenants, strict=True)}
    tier = Tier("old", 10, 10, 100.0)
    rb = RollbackScheduler()
    rb.arm(names[::2] + names[1::2], 0.0)

    def view() -> FleetView:
        return FleetView(0.0, rps, dict(shares), harm, tier, 0.9, 0.0)

    rb._order(view())
    for budget, drifted in stages:
        v = view()
        moves, _, left, partial = rb._whole_moves(v, budget)
        if partial is not None and left > 1e-9:
            moves[partial] = round(max(0.0, rb.current_share(partial, v.shares) - 0.25), 6)
        rb.ceilings.update((t, min(c, rb.ceilings.get(t, 1.0))) for t, c in moves.items())
        rb._log.extend(moves)
        rb.version += 1
        shares.update((t, min(shares[t], c)) for t, c in moves.items())  # the router confirms
        for i in drifted:
            if i < len(names):
                shares[names[i]] = shares[names[i]] / 2  # a share the router changed by itself
        v = view()
        fresh = RollbackScheduler(ceilings=dict(rb.ceilings))
        fresh.arm(names, 0.0)
        assert rb._order(v) == fresh._order(v)
        assert rb._remaining(v) == fresh._remaining(v)


def test_the_mock_router_says_what_changed_and_the_engine_compares_nothing(tmp_path):
    """A reading after the router's own writes names the tenants written since the last reading (a
    superset of those whose share differs); after a write it did not make, it says nothing. The engine
    takes the word only for the same tenants in the same order, and then compares no share."""
    import asyncio

    from cockpit.domain import exact
    from cockpit.engine.clock import SimClock
    from cockpit.engine.observed import Observed
    from cockpit.engine.session import open_drill

    async def run() -> None:
        s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(0.0))
        try:
            router = s.engine.backends.router
            first = await router.read_traffic()
            assert first.changed_since is None and await router.read_traffic() is first
            tenants = sorted(first.shares)[:3]
            await router.apply_shares({t: 0.0 for t in tenants}, "r1")
            second = await router.read_traffic()
            assert second.changed_since is not None
            before, changed = second.changed_since
            assert before is first.shares
            assert {t for t in first.shares if first.shares[t] != second.shares[t]} <= changed <= set(tenants)
            obs = Observed("old", "new")
            kept = obs.taken(second)
            assert kept.changed_since is None and kept.shares is second.shares and obs.taken(second) is kept
            assert exact.changed_keys(first.shares, second.shares) == changed  # the router's word, not compared
            s.simulator.h.world.apply_shares({tenants[0]: 0.5}, "elsewhere")  # a write the router did not make
            assert (await router.read_traffic()).changed_since is None
        finally:
            s.close()

    asyncio.run(run())
    before, after = {"a": 1.0, "b": 0.5}, {"b": 0.0, "a": 1.0}  # other tenants' order: the word is not taken
    exact.remember_reading(before, after, {"b"})
    assert exact.changed_keys(before, after) is None
