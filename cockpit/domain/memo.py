"""Memoising per-tenant work on the very inputs it came from.

The scheduler sees the same tenant mappings tick after tick while nothing changes (readings are treated
as immutable once passed in). A value kept with its inputs is reused while every mapping is the same
object and every counter has the same value: a quiet tick does no per-tenant work.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any

from cockpit.domain.exact import changed_keys

__all__ = ["Memo", "changed_keys"]


class Memo:
    _memo: dict[str, tuple[Any, ...]]

    def _cached(self, name: str, inputs: tuple[Any, ...]) -> Any:
        """The value memoised under `name` if it was computed from these very inputs, else None."""
        hit = self._memo.get(name)
        if hit is None or len(hit[0]) != len(inputs):
            return None
        for was, now in zip(hit[0], inputs, strict=True):
            # mappings by identity (immutable once passed in), counters by value
            if was is not now and not (type(was) is int and was == now):
                return None
        return hit[1]

    def _keep(self, name: str, inputs: tuple[Any, ...], value: Any) -> Any:
        self._memo[name] = (inputs, value)
        return value

    def in_reading(
        self, scope: frozenset[str], reading: Mapping[str, float], rps: Mapping[str, float]
    ) -> tuple[list[str], list[float]]:
        """The tenants of `scope` that `reading` has (in the scope's order) and their rates: worked out again
        only when the scope, the rates or the reading's tenants changed, not when only its values did."""
        present = self.present_in(scope, reading, rps)
        rates = self._cached("in_reading_rates", (present, rps))
        if rates is None:
            rates = self._keep("in_reading_rates", (present, rps), list(map(rps.get, present, repeat(0.0))))
        return present, rates

    def present_in(self, scope: frozenset[str], reading: Mapping[str, float], rps: Mapping[str, float]) -> list[str]:
        """`in_reading`'s tenants alone (their rates are not looked up for a caller that does not read them)."""
        keys = list(reading)
        hit = self._cached("in_reading", (scope, rps))
        if hit is not None and hit[0] == keys:
            return hit[1]  # read-only to the caller
        present = list(filter(reading.__contains__, scope))
        self._keep("in_reading", (scope, rps), (keys, present))
        return present
