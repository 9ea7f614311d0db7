"""The two honest limits every drill scorecard carries, worked out by the simulator from its seeded world.

**Capacity bound** (`capacity_bound`): seconds after the declaration before the old tier could *possibly*
serve the failback of every tenant regressing at the declaration, by any strategy at all. Upper bounds
on each ingredient of the capacity, tick by tick:

- replicas: the ones that exist (with their own ready times), plus, per tick, the fastest start-ups among
  every replica the autoscaler could still create (`hpa_max` minus those that exist, plus one per replica
  a scheduled crash kills), each started no earlier than the declaration nor before a stall ends (but
  for a partial stall's share), never more than `hpa_max` ready at once;
- an overflow tier (`[overflow]`, in a drill that uses it) takes up to its rate limit of the failback at once;
- utilisation: 100 % (no headroom);
- cache: the hit rate as the physics lets it rise at best: the warmest of the namespace's served and idle
  warmth at the declaration, warming every tick as if the whole fleet's traffic were served from it
  (arriving traffic only ever mixes the two, so nothing can be warmer). A cache warmer's own requests
  (`cockpit drill --warmer`) are outside this bound.

Strategies never raise a share during a rollback, so once every regressed tenant is at 0 % new the old
tier carries at least that failback load. A strategy that gets there before the bound therefore drops
requests on every tick until the bound: `restored_and_held_s` (restored, and nothing dropped since) is
never below it. tests/test_limits.py checks that over random scenarios for every strategy.

**Clairvoyant schedule** (`clairvoyant`): from the same world at the declaration, with the same old-tier
scale requests the cockpit made (so the same replicas and start-up times, which it knows in advance), and
seeing regressions when the health signal shows them, it moves each tick as much regressed traffic as the
old tier's capacity at the next tick carries within headroom and the policy's crash reserve, and keeps
every future tick within 100 % if a scheduled replica crash takes capacity away.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from operator import mul, neg
from typing import TYPE_CHECKING, Any

from cockpit_backends.mock.world import CacheSim, Metrics, TierSim

if TYPE_CHECKING:
    from cockpit_backends.mock.world import World

EPS = 1e-9


# What a world never changes once built (the scenario, the tenants' rates and cohorts, the sorted events):
# a copy shares them; everything else is copied deeply.
_FIXED = frozenset({"sc", "rps", "cohort", "initial_share", "events"})
# What is a dict of floats by the world's own typing (a share, a severity, a time per tenant): copied as a
# dict without looking at every value's type first.
_FLOATS = frozenset({"share", "severity", "regressed_since"})


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _copy(value: Any) -> Any:
    """A deep copy; a dict, list or set of scalars (a share or severity per tenant) is copied as one, a
    log of tuples of scalars as a list, a tier with its list of replicas, and the world's other own
    dataclasses (caches, metrics) field by field, without `deepcopy`'s memo bookkeeping per entry (16 ms
    of a 10,000-tenant world's 17; at 100,000 tenants, with 11,000 replicas asked for, 120 ms)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in _OWN:
        return _copy_fields(value)
    flat = _copy_flat(value) if kind in (dict, list, set) else None
    return copy.deepcopy(value) if flat is None else flat


def _copy_flat(value: dict[Any, Any] | list[Any] | set[Any]) -> Any:
    """A container of scalars, or of tuples of scalars (immutable), copied as one; a dict of tiers, or of
    the world's own dataclasses, entry by entry; else None (deepcopy it)."""
    items = value.values() if isinstance(value, dict) else value
    types = set(map(type, items))
    if _SCALARS.issuperset(types) or (types == {tuple} and all(_SCALARS.issuperset(map(type, v)) for v in items)):
        return type(value)(value)
    if isinstance(value, dict) and types == {TierSim}:
        return {name: _copy_tier(tier) for name, tier in value.items()}
    if isinstance(value, dict) and types <= _OWN:
        return {name: _copy_fields(v) for name, v in value.items()}
    return None


_OWN = frozenset({CacheSim, Metrics})  # the world's own mutable dataclasses besides its tiers


def _copy_fields(value: Any) -> Any:
    twin = copy.copy(value)
    for name, field_value in vars(value).items():
        setattr(twin, name, _copy(field_value))
    return twin


def _copy_tier(tier: TierSim) -> TierSim:
    """A tier's copy: its replicas copied, its spec (the scenario's, never changed) shared."""
    twin = copy.copy(tier)
    twin.replicas = list(tier.replicas)
    twin._sorted = None
    return twin


def clone(world: World) -> World:
    """An independent copy of `world` (what it never changes is shared: a copy of a 100,000-tenant world
    copies its shares, not its rates)."""
    twin = copy.copy(world)
    for name, value in vars(world).items():
        if name == "_startups":  # drawn by seed, tier and ordinal: the same numbers, drawn once for both
            if value is None:
                value = world._startups = {}
            twin._startups = value
        elif name.startswith("_"):
            setattr(twin, name, None)  # caches (a health reading), rebuilt on demand
        elif name in _FLOATS:
            setattr(twin, name, dict(value))
        elif name not in _FIXED:
            setattr(twin, name, _copy(value))
    return twin


def failback_load(world: World) -> float:
    """Old-tier load once every tenant regressed so far is at 0 % new (every other share as it is)."""
    regressed = world.regressed_since
    staying = sum(world.rps[x] * s for x, s in world.share.items() if x not in regressed)
    return max(world.total_rps - staying, 0.0)


class _Pool:
    """When the replicas that exist, and every one the autoscaler could still create, would be ready at
    the earliest: `ready(t)` is an upper bound on the tier's ready replicas at `t`."""

    def __init__(self, world: World, tier: TierSim) -> None:
        events = world.events[world.next_event :]
        crashes = sum(e.count for e in events if e.kind == "replica_crash" and e.tier == tier.name)
        room = max(0, world.hpa_max(tier.spec) - tier.desired) + crashes
        self.cap = world.hpa_max(tier.spec)
        self.existing = sorted(tier.replicas)
        ordinals = range(tier.next_ordinal, tier.next_ordinal + room)
        startups = world.startups_of(tier, ordinals)
        stalled = max(world.t, world.stall_until)
        self.after_stall = sorted(stalled + s for s in startups)
        # a partial stall starts a share of each scale-up at once: at most that share of the room
        fraction = getattr(world, "stall_fraction", 0.0) if world.t < world.stall_until else 0.0
        self.early = math.ceil(room * fraction - EPS) if stalled > world.t else 0
        self.at_once = sorted(world.t + s for s in startups)

    def ready(self, t: float) -> int:
        def count(times: list[float]) -> int:
            return bisect_right(times, t + EPS)

        new = min(len(self.after_stall), min(self.early, count(self.at_once)) + count(self.after_stall))
        return min(self.cap, count(self.existing) + new)

    def all_ready(self, t: float) -> bool:
        return not self.after_stall or self.after_stall[-1] <= t + EPS


def capacity_bound(world: World, overflow: bool = False) -> float:
    """Seconds from now (the declaration) before the old tier could hold the failback at 100 %: see the
    module's docstring. 0 when nothing regressed is on the new revision; inf when it never can. With
    `overflow` (a drill that may use the scenario's overflow tier) that tier's rate limit counts too."""
    if all(world.share[x] <= EPS for x in world.regressed_since):
        return 0.0
    need = failback_load(world)
    tier_ = getattr(world, "overflow", None)  # an overflow tier takes up to its rate limit at once
    if overflow and tier_ is not None:
        need = max(0.0, need - tier_.spec.rate_limit_rps)
    tier = world.tiers["old"]
    cache = world.caches["old"]
    spec = tier.spec
    pool = _Pool(world, tier)
    hit = max(cache.active, cache.idle)
    warm_per_tick = 1.0 - math.exp(-world.total_rps * world.dt / cache.warm_requests)
    dt, t0 = world.dt, world.t
    k = 1
    while True:
        t = t0 + k * dt
        capacity = pool.ready(t) * spec.per_replica_rps * tier.cache_factor(hit)
        if capacity >= need - EPS:
            return k * dt
        if pool.all_ready(t) and hit >= cache.warm_hit - EPS:
            return math.inf  # every replica ready and the cache warm: it never can
        hit += (cache.warm_hit - hit) * warm_per_tick
        k += 1


# The clairvoyant schedule --------------------------------------------------------------------------


def _ready_floor(world: World, tier: TierSim) -> list[tuple[float, int]]:
    """(time, ready replicas just after) at each scheduled crash of the old tier still to come, counting
    replacements ready at their latest (start-up plus jitter) and replicas already starting."""
    crashes = [e for e in world.events[world.next_event :] if e.kind == "replica_crash" and e.tier == tier.name]
    if not crashes:
        return []
    latest = tier.spec.startup_s + tier.spec.startup_jitter_s
    ready_times = sorted(tier.replicas)
    out = []
    for e in crashes:
        ready = [r for r in ready_times if r <= e.at_s + EPS]
        lost = min(e.count, len(ready))
        ready_times = sorted(ready_times[: len(ready) - lost] + ready_times[len(ready) :] + [e.at_s + latest] * lost)
        out.append((e.at_s, sum(1 for r in ready_times if r <= e.at_s + EPS)))
    return out


def _max_load(world: World, replicas: int, utilisation: float) -> float:
    """The largest old-tier load `replicas` carry at `utilisation` with the hit rate arriving traffic
    brings (bisection: the capacity falls as colder traffic arrives, so the test is monotone)."""
    tier = world.tiers["old"]
    cache = world.caches["old"]
    per = replicas * tier.spec.per_replica_rps * utilisation

    def fits(load: float) -> bool:
        return load <= per * tier.cache_factor(cache.arriving(load)) + EPS

    lo, hi = 0.0, world.total_rps
    if fits(hi):
        return hi
    if not fits(lo):
        return 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _limit(world: World, rules: tuple[float, int], crash_floor: list[tuple[float, int]]) -> float:
    """The most old-tier load the next tick may carry: within headroom of the replicas ready then, within
    100 % with the crash reserve's gone, and within 100 % of what each scheduled crash to come leaves."""
    headroom, reserve = rules
    ready = world.tiers["old"].ready(world.t + world.dt)
    limit = _max_load(world, ready, headroom)
    if reserve > 0:
        limit = min(limit, _max_load(world, max(0, ready - reserve), 1.0))
    for at, left in crash_floor:
        if at > world.t + EPS:
            limit = min(limit, _max_load(world, left, 1.0))
    return limit


def _greedy_move(
    world: World, rules: tuple[float, int], crash_floor: list[tuple[float, int]], todo: set[str], n: int
) -> None:
    """Move as much of `todo`'s traffic (tenants seen regressing, still on new) as the next tick's capacity
    carries (see `clairvoyant`); tenants moved whole leave `todo`."""
    load = max(world.total_rps - world.new_load, 0.0)
    budget = _limit(world, rules, crash_floor) - load
    if budget <= EPS:
        return
    moves: dict[str, float] = {}
    # most traffic on new first, ties by name: two stable sorts on plain keys (name, then traffic), the
    # order of sorting the (-traffic, name) tuples, with the keys computed in C
    names = sorted(todo)
    on_new = list(map(mul, map(world.rps.__getitem__, names), map(world.share.__getitem__, names)))
    index = sorted(range(len(names)), key=list(map(neg, on_new)).__getitem__)
    for i in index:
        x, traffic = names[i], on_new[i]
        if traffic <= EPS or budget <= EPS:
            break  # the budget only shrinks, and the rest carry no more traffic than this one
        moved = min(traffic, budget)
        moves[x] = 0.0 if moved >= traffic - EPS else world.share[x] - moved / world.rps[x]
        budget -= moved
    if moves:
        world.apply_shares(moves, f"clairvoyant-{n}", inject_errors=False)
        todo.difference_update(x for x, share in moves.items() if share <= EPS)


def clairvoyant(
    at_declaration: World, scale_log: list[Any], end: float, headroom: float, reserve: int = 0
) -> dict[str, Any]:
    """The clairvoyant schedule's restore time (seconds after the declaration, None if it does not
    restore by `end`) and harmed requests (wrong answers plus dropped, from the onset like a drill's).

    It keeps the rules the cockpit's policy keeps: every tick within `headroom`, and within 100 % if the
    `reserve` largest ready replicas crash (the policy's crash reserve: neither can know of a crash the
    scenario does not schedule), and within 100 % of what a scheduled crash leaves.

    Why the greedy is optimal among schedules that keep those rules: a request is harmed while its
    regressed tenant is on the new revision (a wrong answer) or when the old tier drops it. Within those
    limits nothing is dropped, so harm is the regressed traffic left on new, summed over ticks. Moving a
    request sooner never makes a later tick's limit smaller: the load it adds is there either way once
    it moved, the prefixes it brings dilute the cache the same whenever they arrive, and traffic served
    sooner warms the cache sooner. So whatever any such schedule has moved by a tick, the greedy has moved
    at least as much by then (induction over ticks), and its harm is no more. (This rests on that
    monotonicity of the cache model; tests/test_limits.py checks the clairvoyant against the cockpit.)
    Replicas, start-up times and crashes are the world's own (the clairvoyant knows them); regressions
    are acted on once the health signal shows them, as the cockpit sees them. Its first move is on the
    tick after the declaration, as any strategy's is: a router write takes effect on the next tick, so
    even abort, which shifts everything at the declaration, restores one tick after it.
    """
    w = clone(at_declaration)
    declared = w.t
    floor = _ready_floor(w, w.tiers["old"])
    log = sorted((float(t), str(tier), int(n)) for t, tier, n in scale_log if t >= declared - EPS)
    i = 0
    n = 0
    todo: set[str] = set()  # tenants seen regressing (the cockpit keeps them in scope) still on new
    seen: Any = None
    while w.t + w.dt <= end + EPS:
        while i < len(log) and log[i][0] <= w.t + EPS:
            w.scale(log[i][1], log[i][2])
            i += 1
        reading = w.regressions()
        if reading is not seen:  # a new health reading: tenants it shows regressing join the schedule
            seen = reading
            todo.update(x for x in reading if w.share[x] > EPS)
        if todo and w.t > declared + EPS:  # like every strategy, its first move is on the next tick
            _greedy_move(w, (headroom, reserve), floor, todo, n)
        n += 1
        w._step(w.dt)
    m = w.metrics
    return {
        "clairvoyant_time_to_restore_s": None if m.restored_at is None else max(0.0, m.restored_at - declared),
        "clairvoyant_harmed_requests": m.wrong_answers + m.dropped,
    }
