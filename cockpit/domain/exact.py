"""Sums over tenants that a tick updates for the few tenants that changed, and that still equal, bit for
bit, the same sum taken afresh over every tenant.

A float sum depends on the order of its additions: a running total kept by subtracting a tenant's old
term and adding its new one drifts from the total summed again, and a decision taken on the last bit
(a replica count rounded up) would then depend on the history of the process, not on the fleet. Kept
exactly instead, it does not: every finite double is an integer multiple of 2**-1074, so the sum of any
of them is an integer count of that unit, whatever the order. Its float value is that integer divided
by 2**1074, rounded once (Python's int division rounds correctly): the correctly rounded sum, which is
also what `math.fsum` returns for the same terms. So the cheap path (sum afresh with `math.fsum`, in C)
and the incremental path (update the exact total for the tenants that changed) give the same float.

Making the exact total costs a few passes of `math.fsum` (see `exact_sum`); it is made once, when a
rollback is armed, and then updated in O(tenants changed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import compress, repeat
from operator import getitem, is_not, lt, mul, ne, neg
from typing import Any

_UNIT = 1 << 1074  # 2**1074 counts of the smallest subnormal make 1.0


def fixed(x: float) -> int:
    """`x` as an exact integer count of 2**-1074 (x finite)."""
    n, d = x.as_integer_ratio()  # d is a power of two, 2**k with k <= 1074
    return n << (1075 - d.bit_length())


def exact_sum(terms: list[float]) -> int:
    """Σ terms (finite) as an exact integer count of 2**-1074, with a few passes of `math.fsum` in C
    rather than a conversion per term in Python: fsum's correctly rounded sum S is taken out (the
    terms with -S appended sum exactly to the remainder) and the remainder summed again, until it is
    0.0, which a correctly rounded sum returns only for an exact 0 (every double is a multiple of
    2**-1074, so a nonzero remainder is at least that). Each pass leaves a remainder below half an
    ulp of the last S: two or three passes for terms within a few dozen powers of two of each other."""
    return _exact(list(terms))


def _exact(rest: list[float]) -> int:
    """`exact_sum` of a list it may extend (the caller's own)."""
    total = 0
    while (s := math.fsum(rest)) != 0.0:
        total += fixed(s)
        rest.append(-s)
    return total


class TenantSum:
    """Σ of one term per tenant, kept exactly: `value` equals `math.fsum` of the current terms."""

    __slots__ = ("terms", "total")

    def __init__(self, names: Iterable[str], terms: Iterable[float]) -> None:
        self.terms: dict[str, float] = dict(zip(names, terms, strict=True))
        self.total = exact_sum(list(self.terms.values()))

    def update(self, names: list[str], terms: list[float]) -> None:
        """New terms for `names`, each named once (a tenant not summed yet joins; a term of 0.0 takes one
        out: only terms that add something are kept, so a stage that moves tenants to 0 writes none)."""
        old = map(neg, map(self.terms.pop, names, repeat(0.0)))
        self.total += _exact([*terms, *old])
        self.terms.update(compress(zip(names, terms, strict=True), terms))

    @property
    def value(self) -> float:
        return self.total / _UNIT

    def copy(self) -> TenantSum:
        """The same terms and total, to update apart (no sum made again)."""
        kept = TenantSum.__new__(TenantSum)
        kept.terms, kept.total = dict(self.terms), self.total
        return kept


class Total:
    """An exact Σ whose caller updates it with the old and the new term of each tenant that changed (it
    works the old one out again from the readings the sum came from, which it still holds, rather than
    keeping every term in a dict of its own): `value` equals `math.fsum` of the current terms."""

    __slots__ = ("total",)

    def __init__(self, terms: list[float]) -> None:
        self.total = exact_sum(terms)

    def update(self, new: list[float], old: list[float]) -> None:
        self.total += _exact([*new, *map(neg, old)])

    @property
    def value(self) -> float:
        return self.total / _UNIT


def finite(terms: list[float]) -> bool:
    """Every term finite (a NaN or an infinity is never kept exactly: the sum is then taken afresh). A
    finite plain sum has only finite terms (a NaN or an infinity would carry into it), and it is summed
    in C without a call per term; only when it is not (an overflow, or a term that is not finite) is
    every term looked at."""
    return math.isfinite(sum(terms)) or all(map(math.isfinite, terms))


def lesser(xs: list[float], ys: list[float]) -> Iterator[float]:
    """`map(min, xs, ys)`, in half the time: `min(x, y)` is `y` if `y < x`, else `x` (a NaN and a tie
    included), picked from each pair by that comparison rather than by a call of `min` per pair."""
    return map(getitem, zip(xs, ys, strict=True), map(lt, ys, xs))


# The keys whose value changed between two readings, for the last few pairs asked: the old-tier load,
# the rollback order, the idle pins and the traffic layer all compare the same two readings of the
# router's vector; the comparison (the one O(tenants) step left when a stage changes a few shares) is
# then made once. The pairs are held, so an `id` is never reused while remembered.
_PAIRS: list[tuple[Mapping[str, Any], Mapping[str, Any], set[str] | None]] = []
_KEEP = 6


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str] | None:
    """The keys whose value differs between two readings of the same keys in the same order (the usual
    case: one router's vector read twice), compared side by side without a lookup per key; None when
    the keys or their order differ (the caller then compares by key). Readings are immutable once
    observed: the answer for a pair already compared is reused (the caller may not change it), or made
    from two that pass through the same reading (then it may hold a tenant whose value came back)."""
    for b, a, result in _PAIRS:
        if b is before and a is after:
            return result
    result = _chained(before, after)
    if result is None:
        result = _changed(before, after)
    _PAIRS.insert(0, (before, after, result))
    del _PAIRS[_KEEP:]
    return result


def remember(before: Mapping[str, Any], after: Mapping[str, Any], changed: set[str]) -> None:
    """Tell `changed_keys` what changed from `before` to `after` (the caller made `after` from `before`
    and knows: a superset is fine), so that no reader compares the two."""
    _PAIRS.insert(0, (before, after, changed))
    del _PAIRS[_KEEP:]


def remember_reading(before: Mapping[str, Any], after: Mapping[str, Any], changed: Iterable[str]) -> None:
    """A router's word on which tenants' values may differ from `before` to `after` (a superset): taken
    when the two readings have the same tenants in the same order (their key lists compared, in C), so
    that no reader compares every value; otherwise the readers compare them as usual."""
    if before is after or len(before) != len(after) or _keys(after) != _keys(before):
        return
    remember(before, after, set(changed))


def _chained(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str] | None:
    """The changes from `before` to `after` through a reading compared with both (a reader that skipped
    a reading another one saw): the union of the two steps, a superset of the changes (a tenant changed
    and changed back is in it), which every reader takes as tenants to look at again."""
    for mid, a, second in _PAIRS:
        if a is after and second is not None:
            for b, m, first in _PAIRS:
                if b is before and m is mid and first is not None:
                    return first | second
    return None


_KEYS: list[tuple[Mapping[str, Any], list[str]]] = []  # the last readings' keys, in order (held, as _PAIRS)


def _keys(reading: Mapping[str, Any]) -> list[str]:
    """`list(reading)`, made once for a reading compared as the newer of a pair and then as the older."""
    for r, keys in _KEYS:
        if r is reading:
            return keys
    keys = list(reading)
    _KEYS.insert(0, (reading, keys))
    del _KEYS[4:]
    return keys


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str] | None:
    """Compared in C: the keys (a list comparison, which takes the same string object as equal at
    once), then which values are other objects (a router's copy of its vector keeps the very float of
    every tenant it did not change), and of those, which differ."""
    if len(before) != len(after):
        return None
    keys = _keys(after)
    if keys != _keys(before):
        return None
    other = list(compress(keys, map(is_not, before.values(), after.values())))
    return set(compress(other, map(ne, map(before.get, other), map(after.get, other))))


class KeptSum:
    """Σ over a set of tenants of weight × value, where the values come from a reading that changes a
    few entries at a time (the router's vector after a stage, the effective vector): correctly rounded
    (`math.fsum` of the terms), updated for the tenants whose value changed while the set and the
    weights are the very objects of the last call, summed afresh otherwise.

    `over` identifies the set (compared by identity, with the weights); `names()` lists its tenants
    (each once) for a sum afresh; `pick(changed)` lists those of the changed tenants that are in it.
    The exact total is made on a sum afresh only when `keep` is asked or the set and weights are those
    of the last call (weights that change every tick, such as measured rates, would make it every tick
    for nothing). An update takes each old term again from the last values (immutable once read)."""

    __slots__ = ("_sum", "_value", "_weights", "exact", "over", "values")

    def __init__(self) -> None:
        self.exact = True  # False: always summed afresh (a dry run that sums a few times, then is dropped)
        self.over: object = None
        self._weights: Mapping[str, float] | None = None
        self.values: Mapping[str, float] | None = None
        self._value = 0.0
        self._sum: Total | None = None

    def __call__(
        self,
        over: object,
        weights: Mapping[str, float],
        values: Mapping[str, float],
        names: Callable[[], list[str]],
        pick: Callable[[set[str]], list[str]],
        keep: bool = False,
    ) -> float:
        same = over is self.over and weights is self._weights
        if same and values is self.values:
            return self._value
        last = self.values
        if same and self._sum is not None and last is not None:
            moved = changed_keys(last, values)
            if moved is not None:
                ns = pick(moved)
                w = list(map(weights.get, ns, repeat(0.0)))
                terms = list(map(mul, w, map(values.get, ns, repeat(0.0))))
                if finite(terms):  # each old term as it was summed: the same weight times the last value
                    self._sum.update(terms, list(map(mul, w, map(last.get, ns, repeat(0.0)))))
                    return self._remember(values, self._sum.value)
        ns = names()
        terms = list(map(mul, map(weights.get, ns, repeat(0.0)), map(values.get, ns, repeat(0.0))))
        self._sum = Total(terms) if self.exact and (keep or same) and finite(terms) else None
        self.over, self._weights = over, weights
        return self._remember(values, math.fsum(terms))

    def _remember(self, values: Mapping[str, float], value: float) -> float:
        self.values, self._value = values, value
        return value
