"""The rollback's per-tenant arithmetic, kept cheap at 100,000 tenants: the most-harmed-first order
(sorted once, then updated for the tenants a stage changed), the whole-tenant moves a budget allows
(looped in C a chunk at a time), and the change log of ceilings that the traffic layer and the
checkpoints read incrementally. Every result equals what the plain per-tenant loop would give.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import reduce
from itertools import accumulate, compress, count, repeat
from operator import add, eq, ge, gt, lt, mul, ne, neg, not_, sub

from cockpit.domain.exact import TenantSum, finite, lesser
from cockpit.domain.memo import Memo, changed_keys
from cockpit.domain.staging import EPS, FleetView


@dataclass
class _OrderState:
    """The last rollback order and what it was worked out from, so the next can be an update of it."""

    harm: Mapping[str, float]
    rps: Mapping[str, float]
    shares: Mapping[str, float]
    scope: frozenset[str]
    cursor: tuple[int, int]
    scope_list: list[str]
    shares_vals: list[float] | None  # the scope's shares in scope_list's order (None: read from `shares`)
    # the sort key (weight, -harm, name) of each tenant of `order` is its weight here and its -harm
    # read again from `harm` (the same object): no tuple per tenant (10,000 made, tracked and collected,
    # of which an update reads a few), one dict of floats
    weights: dict[str, float]
    order: list[str]
    left: TenantSum | None  # rps × share on new (within the ceiling) per tenant of the scope, kept exactly
    remaining: float  # its value (math.fsum of the terms when one is not finite)


class Ordering(Memo):
    """Mixed into the rollback scheduler, which holds these attributes."""

    scope: frozenset[str]
    ceilings: dict[str, float]
    version: int
    _log: list[str]
    _epoch: int
    _checkpointed: tuple[int, int]
    _order_state: _OrderState | None

    def _order(self, view: FleetView) -> list[str]:
        """Tenants still to move, most harmed first (severity x traffic on new), ties by name. Worked
        out again only when the scope, a ceiling, harm, rates or shares changed; after a stage, only the
        tenants whose share or ceiling changed are taken out and put back in place."""
        inputs = (view.harm, view.rps, view.shares, self.scope, self.version)
        order = self._cached("order", inputs)
        if order is None:
            order = self._order_incremental(view)
            if order is None:
                order = self._order_full(view)
            self._keep("order", inputs, order)
            self._keep("remaining", inputs[1:], self._order_state.remaining if self._order_state else 0.0)
        return order  # read-only to the caller

    def _order_full(self, view: FleetView) -> list[str]:
        harm, rps, shares, ceilings = view.harm, view.rps, view.shares, self.ceilings
        # The last order first: between two stages it is nearly sorted already, and the sort (whose keys
        # are unique, so the result does not depend on the input order) runs in near-linear time. Without
        # one, the scope in name order when it is known (`sorted_scope`): the sort by name is then done.
        seed = (
            self._order_state.order if self._order_state is not None and self._order_state.scope is self.scope else []
        )
        named = None if seed else self._cached("sorted_scope", (self.scope,))
        scope = [*seed, *self.scope.difference(seed)] if seed else named if named is not None else list(self.scope)
        shares_vals = list(map(shares.get, scope, repeat(0.0)))
        current = _within(shares_vals, ceilings, scope)
        rates = list(map(rps.get, scope, repeat(0.0)))
        on_new = list(map(mul, rates, current))  # traffic in scope still on new
        left = TenantSum(scope, on_new) if finite(on_new) else None
        to_move = list(map(lt, repeat(EPS), current))
        todo = list(compress(scope, to_move))
        share = list(compress(current, to_move))
        neg_h = list(map(neg, map(harm.get, todo, repeat(0.0))))
        # key (-harm·rps·share, -harm, name): the same floats as `-harm * rps * share` (negation first,
        # then left to right), sorted as three stable passes on single keys, least significant first.
        # Equal to sorting the key tuples, and much faster: each pass compares plain floats or strings.
        weight = list(map(mul, map(mul, neg_h, compress(rates, to_move)), share))
        index = list(range(len(todo))) if named is not None else sorted(range(len(todo)), key=todo.__getitem__)
        index.sort(key=neg_h.__getitem__)
        index.sort(key=weight.__getitem__)
        order = list(map(todo.__getitem__, index))
        self._order_state = _OrderState(
            harm=harm,
            rps=rps,
            shares=shares,
            scope=self.scope,
            cursor=self.cursor(),
            scope_list=scope,
            shares_vals=shares_vals,
            weights=dict(zip(todo, weight, strict=True)),
            order=order,
            left=left,
            remaining=left.value if left is not None else math.fsum(on_new),
        )
        return order

    def _order_incremental(self, view: FleetView) -> list[str] | None:
        """The last order with the tenants whose share or ceiling changed since taken out and put back by
        binary search on their new keys; None when harm, rates or the scope changed, or too much did."""
        st = self._order_state
        if st is None or st.harm is not view.harm or st.rps is not view.rps or st.scope is not self.scope:
            return None
        changed, cursor = self.changes_since(st.cursor)
        if changed is None:
            return None
        shares_vals = st.shares_vals
        if view.shares is not st.shares:
            moved = changed_keys(st.shares, view.shares)
            if moved is not None:  # the same tenants in the same order: compared side by side
                changed |= moved & st.scope
                shares_vals = None
            else:
                if shares_vals is None:
                    shares_vals = list(map(st.shares.get, st.scope_list, repeat(0.0)))
                new_vals = list(map(view.shares.get, st.scope_list, repeat(0.0)))
                changed |= set(compress(st.scope_list, map(ne, shares_vals, new_vals)))
                shares_vals = new_vals
        # The tenants taken out: their traffic still on new updated in the exact total (no order to keep),
        # then those still to move put back in place (a stage moves most of its tenants to 0: they only
        # leave; many to put back is a sort's work).
        names, ceilings = list(changed), self.ceilings
        rps = list(map(view.rps.get, names, repeat(0.0)))
        now = list(lesser(list(map(view.shares.get, names, repeat(0.0))), list(map(ceilings.get, names, repeat(1.0)))))
        back = list(compress(zip(names, rps, now, strict=True), map(lt, repeat(EPS), now)))
        if len(back) > max(64, len(st.order) // 2):
            return None
        order = _without(st.order, changed, st.weights)
        on_new = list(map(mul, rps, now))
        if st.left is None or not finite(on_new):
            return None
        st.left.update(names, on_new)
        st.remaining = st.left.value
        for _ in map(st.weights.pop, names, repeat(None)):
            pass
        weights, harm = st.weights, view.harm

        def key(u: str) -> tuple[float, float, str]:
            return (weights[u], -harm.get(u, 0.0), u)

        for t, r, n in back:
            h = -harm.get(t, 0.0)
            weights[t] = h * r * n
            insort(order, t, key=key)
        st.shares, st.cursor, st.shares_vals, st.order = view.shares, cursor, shares_vals, order
        return order

    def _whole_moves(self, view: FleetView, budget: float) -> tuple[dict[str, float], float, float, str | None]:
        """Tenants moved whole to 0, most harmed first, while each fits the budget that is left: the
        moves, the traffic moved, the budget left, and the first tenant that did not fit (or None).

        The same arithmetic as a loop that subtracts each tenant's traffic from the budget in turn
        (`accumulate` keeps the running budget and the running total exactly as that loop would), done
        in C a chunk at a time, so a stage that moves 20,000 tenants does not take 20,000 Python steps.
        """
        order = self._order(view)
        traffic_of = self._traffic_on_new(view)
        moves: dict[str, float] = {}
        moved = 0.0
        chunk = 256
        for start in range(0, len(order), chunk):
            names = order[start : start + chunk]
            traffic = traffic_of(names)
            budgets = list(accumulate(traffic, sub, initial=budget))  # budgets[i]: left before names[i]
            too_big = map(gt, traffic, map(add, budgets, repeat(EPS)))
            fits = next(compress(count(), too_big), len(names))
            moves.update(dict.fromkeys(names[:fits], 0.0))
            moved = reduce(add, traffic[:fits], moved)  # added one by one, in C
            budget = budgets[fits]
            if fits < len(names):
                return moves, moved, budget, names[fits]
        return moves, moved, budget, None

    def _traffic_on_new(self, view: FleetView) -> Callable[[list[str]], list[float]]:
        """rps × share on new within the ceiling, of the tenants named (of the scope): read from the exact
        sum the order keeps of them when there is one (worked out for this very view by `_order`, the
        same products, a zero's sign aside), else worked out."""
        st = self._order_state
        if st is not None and st.left is not None:
            terms = st.left.terms
            return lambda names: list(map(terms.get, names, repeat(0.0)))
        rps, shares, ceilings = view.rps, view.shares, self.ceilings

        def traffic(names: list[str]) -> list[float]:
            current = lesser(list(map(shares.get, names, repeat(0.0))), list(map(ceilings.get, names, repeat(1.0))))
            return list(map(mul, map(rps.get, names, repeat(0.0)), current))

        return traffic

    def _pending_load(self, view: FleetView) -> float:
        """Traffic already ordered off the new revision but not yet observed there: Σ rps·(share − ceiling)
        over tenants whose observed share is above their ceiling, correctly rounded; after a stage, updated
        for the tenants whose share or ceiling changed (exact.TenantSum), else summed afresh in C."""
        inputs = (view.rps, view.shares, self.version)
        pending = self._cached("pending", inputs)
        if pending is not None:
            return float(pending)
        last = self._memo.get("pending_state")  # (rps, shares, cursor, exact total)
        if last is not None and last[0] is view.rps and last[3] is not None:
            changed, cursor = self.changes_since(last[2])
            moved = changed_keys(last[1], view.shares) if changed is not None else None
            if changed is not None and moved is not None:
                names = list(changed.union(moved.intersection(self.ceilings)))
                terms = _excess(names, self.ceilings, view)
                if finite(terms):
                    last[3].update(names, terms)
                    self._memo["pending_state"] = (view.rps, view.shares, cursor, last[3])
                    return float(self._keep("pending", inputs, last[3].value))
        names = list(self.ceilings)
        terms = _excess(names, self.ceilings, view)
        kept = TenantSum(names, terms) if finite(terms) else None
        self._memo["pending_state"] = (view.rps, view.shares, self.cursor(), kept)
        return float(self._keep("pending", inputs, math.fsum(terms)))

    def _remaining(self, view: FleetView) -> float:
        """Traffic in scope still on the new revision (within the ceilings): summed by `_order` in the
        same pass that builds the order."""
        inputs = (view.harm, view.rps, view.shares, self.scope, self.version)
        left = self._cached("remaining", inputs[1:])
        if left is None:
            self._memo.pop("order", None)
            self._order(view)
            left = self._cached("remaining", inputs[1:])
        return float(left)

    def adopt_order(self, other: Ordering, view: FleetView) -> None:
        """Start the rollback order from `other`'s (the scheduler whose state this one was just loaded
        from: the same ceilings), when it is of the same scope and was worked out for these very rates
        and harm: the next order is then an update of it for the tenants whose share or ceiling changed
        since (those `other` changed are noted as changed here too), not a sort of every tenant. Every key
        must compare (no NaN), those adopted and those put back later (a share back above 0), for the
        update to equal a sort afresh: so every harm and rate of the reading is finite (a weight, -harm ×
        rate × a share within a ceiling of at most 1, is then finite too)."""
        st = other._order_state
        if st is None or st.left is None or st.harm is not view.harm or st.rps is not view.rps:
            return
        changed, _ = other.changes_since(st.cursor)
        if changed is None or st.scope != self.scope:
            return
        if not (finite(list(view.harm.values())) and finite(list(view.rps.values()))):
            return
        weights, left = dict(st.weights), st.left.copy()
        self._order_state = replace(st, scope=self.scope, cursor=self.cursor(), weights=weights, left=left)
        self._log.extend(changed)

    def sorted_scope_is(self, names: list[str]) -> None:
        """`names` is `sorted(self.scope)`, at hand already (a caller sorted it): kept as `sorted_scope`'s
        answer, which a cold rollback order also starts from (then in name order: no sort by name)."""
        self._keep("sorted_scope", (self.scope,), names)

    def _all_changed(self) -> None:
        self._epoch += 1
        self._log = []

    def cursor(self) -> tuple[int, int]:
        """A position in the change log, for `changes_since`."""
        return (self._epoch, len(self._log))

    def changes_since(self, cursor: tuple[int, int]) -> tuple[set[str] | None, tuple[int, int]]:
        """Tenants whose ceiling changed since `cursor` (None: the scope or every ceiling), and the
        cursor to pass next time."""
        epoch, at = cursor
        changed = set(self._log[at:]) if epoch == self._epoch else None
        return changed, self.cursor()

    def mark_all_changed(self) -> None:
        """The next `take_changes()` answers "everything" (a checkpoint was lost: write it whole)."""
        self._checkpointed = (-1, 0)

    def take_changes(self) -> set[str] | None:
        """The tenants whose ceiling changed since the last call (None: the scope or all of them): what
        a checkpoint of what changed writes."""
        changed, self._checkpointed = self.changes_since(self._checkpointed)
        return changed


def _within(shares: list[float], ceilings: Mapping[str, float], names: list[str]) -> list[float]:
    """Each share within its tenant's ceiling (`min(share, ceiling)`, a ceiling of 1 where none is set),
    in C. With no ceiling set (a rollback being planned, not run yet), the shares themselves unless one
    is above 1: `min(share, 1.0)` is `share` unless `1.0 < share`."""
    if not ceilings and not any(map(lt, repeat(1.0), shares)):
        return shares
    return list(lesser(shares, list(map(ceilings.get, names, repeat(1.0)))))


def _without(order: list[str], gone: set[str], keys: Mapping[str, object]) -> list[str]:
    """`order` without the tenants of `gone` (`keys` holds the tenants of `order`). A stage moves the
    head of the order: when the tenants of `gone` in it are its first ones, a slice rather than a look
    at every tenant left to move."""
    n = sum(map(keys.__contains__, gone))
    if all(map(gone.__contains__, order[:n])):
        return order[n:]
    return list(compress(order, map(not_, map(gone.__contains__, order))))


def lower(ceilings: dict[str, float], new: Mapping[str, float]) -> None:
    """Each ceiling of `new` taken where it is lower (`min(new, ceiling)`, a ceiling of 1 where none is
    set), in C, the keys in the order `update` leaves them. A tenant without a ceiling takes the new one
    itself (`min(c, 1.0)` is `c` unless `1.0 < c`): only those that have one are compared."""
    if any(map(lt, repeat(1.0), new.values())):
        names = list(new)
        lowered = lesser(list(new.values()), list(map(ceilings.get, names, repeat(1.0))))
        ceilings.update(zip(names, lowered, strict=True))
        return
    held = list(filter(ceilings.__contains__, new))
    was = list(map(ceilings.__getitem__, held))
    ceilings.update(new)
    ceilings.update(zip(held, lesser(list(map(new.__getitem__, held)), was), strict=True))


def _none_idle(names: set[str], ceilings: Mapping[str, float], shares: Mapping[str, float]) -> bool:
    """None of `names` has a ceiling above EPS and a share at most EPS, in C: the ceilings first (after a
    stage most of the tenants whose share changed have a ceiling of 0 and are looked at no further)."""
    open_ceiling = list(compress(names, map(lt, repeat(EPS), map(ceilings.get, names, repeat(1.0)))))
    return not any(map(ge, repeat(EPS), map(shares.get, open_ceiling, repeat(0.0))))


def _all_at_zero(shares: Mapping[str, float], ceilings: Mapping[str, float], scope: frozenset[str]) -> bool:
    """Every tenant of the scope the router knows is at 0 on new and has a 0 ceiling, as the max over
    them of `max(share, ceiling)` at most EPS says, in C. A tenant's max is above EPS when its share is
    (mid-rollback one of the first few: the pass stops there; a tenant the router does not know counts
    as 0 in it), or else when its ceiling is above EPS and so above its share, unless that share is a
    NaN (`max(nan, c)` is the NaN). With none above, the max of all is at most EPS unless it is a NaN,
    which `max` (keeping the first unless a later one is greater) returns only when the first's is."""
    if any(map(lt, repeat(EPS), map(shares.get, scope, repeat(0.0)))):
        return False
    open_ceiling = filter(
        shares.__contains__, compress(scope, map(lt, repeat(EPS), map(ceilings.get, scope, repeat(1.0))))
    )
    held = list(map(shares.__getitem__, open_ceiling))
    if any(map(eq, held, held)):  # a share that is a number (at most EPS) under a ceiling above EPS
        return False
    first = next(filter(shares.__contains__, scope), None)
    return first is None or max(shares[first], ceilings.get(first, 1.0)) <= EPS


def _excess(names: list[str], ceilings: Mapping[str, float], view: FleetView) -> list[float]:
    """rps·(share − ceiling) of each tenant whose observed share is above its ceiling, else 0.0 (a share
    that is not a number is not above), in `names`' order, looped in C."""
    shares = list(map(view.shares.get, names, repeat(0.0)))
    limits = list(map(ceilings.get, names, repeat(1.0)))
    above = list(map(gt, shares, map(add, limits, repeat(EPS))))
    over = list(compress(names, above))
    excess = map(sub, compress(shares, above), compress(limits, above))
    terms = dict.fromkeys(names, 0.0)
    terms.update(zip(over, map(mul, map(view.rps.get, over, repeat(0.0)), excess), strict=True))
    return list(terms.values())
