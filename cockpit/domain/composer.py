"""The traffic layer: effective share = min(rollout target, rollback ceiling), per tenant."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress, repeat
from operator import gt, is_not, ne, not_, sub
from typing import Any, cast

from cockpit.domain.exact import changed_keys, remember


def compose(targets: Mapping[str, float], ceilings: Mapping[str, float]) -> dict[str, float]:
    """Effective new-revision share per tenant. `ceilings` is sparse: a tenant absent has ceiling 1."""
    eff = dict(targets)
    for tenant, ceiling in ceilings.items():
        t = eff.get(tenant)
        if t is not None and ceiling < t:
            eff[tenant] = ceiling
    return eff


def differences(
    effective: Mapping[str, float], observed: Mapping[str, float], tolerance: float = 1e-6
) -> dict[str, float]:
    """The shares the router must be told: only tenants whose observed share differs.

    Tenants whose observed share is exactly the effective one are set aside first, in a loop that runs
    in C; only the rest are compared with the tolerance, in the order of `effective`."""
    names = list(effective)
    if len(observed) == len(names) and names == list(observed):
        # the same tenants in the same order (the usual case: both come from the router's vector): the
        # values compared side by side, without a lookup per tenant
        candidates = compress(names, map(ne, effective.values(), observed.values()))
    else:
        candidates = compress(names, map(ne, effective.values(), map(observed.get, names)))
    out = {}
    for tenant in candidates:
        share = effective[tenant]
        seen = observed.get(tenant)
        if seen is None or abs(seen - share) > tolerance:
            out[tenant] = share
    return out


class Composer:
    """The traffic layer across ticks, doing per-tenant work only for what changed.

    - The effective vector is recomposed in full only when the rollout's targets changed (a calendar
      step, adoption, new tenants: rare) or the rollback changed every ceiling at once (arm, release,
      restore). A stage updates just the tenants whose ceilings it lowered (read from the scheduler's
      change log), on a copy, so a snapshot that holds the previous vector keeps it.
    - The differences against the router's vector are recomputed in full only when the router returned
      a reading of other tenants (or in another order); otherwise only the tenants whose observed or
      effective share changed are re-checked.
    The result is the same dict, in the same order, as `differences(compose(targets, ceilings), observed)`.
    """

    def __init__(self, tolerance: float = 1e-6) -> None:
        self.tolerance = tolerance
        self._targets: Mapping[str, float] | None = None
        self._targets_version = -1
        self._rollback: Any = None
        self._cursor: tuple[int, int] = (-1, 0)
        self._effective: dict[str, float] = {}
        self._position: dict[str, int] = {}  # tenant -> index in the effective vector's order
        self._dirty: set[str] | None = None  # changed since the last diff (None: everything)
        self._seen: Mapping[str, float] | None = None
        self._diff: dict[str, float] = {}

    def effective(self, targets: Mapping[str, float], targets_version: int, rollback: Any) -> dict[str, float]:
        """`compose(targets, rollback.ceilings)`, kept up to date from the rollback's change log."""
        ceilings = rollback.ceilings
        changed, cursor = rollback.changes_since(self._cursor)
        full = targets is not self._targets or targets_version != self._targets_version
        if full or rollback is not self._rollback or changed is None:
            self._effective = compose(targets, ceilings)
            self._position = {t: i for i, t in enumerate(self._effective)}
            self._dirty = None
        elif changed:
            eff = dict(self._effective)
            names = list(changed)
            wanted = list(map(targets.get, names))
            present = list(map(is_not, wanted, repeat(None)))
            # min(target, ceiling): the target unless the ceiling is below it
            lowered = map(min, compress(wanted, present), map(ceilings.get, compress(names, present), repeat(1.0)))
            eff.update(zip(compress(names, present), lowered, strict=True))
            remember(self._effective, eff, changed)  # what changed is known: no reader compares the two
            self._effective = eff
            if self._dirty is not None:
                self._dirty |= changed
        self._targets, self._targets_version, self._rollback, self._cursor = targets, targets_version, rollback, cursor
        return self._effective

    def differences(self, effective: dict[str, float], observed: Mapping[str, float]) -> dict[str, float]:
        """`differences(effective, observed)` for the vector `effective()` last returned."""
        dirty = self._dirty
        if observed is not self._seen and dirty is not None and self._seen is not None:
            # a new reading of the same tenants in the same order: only the tenants whose observed share
            # changed (compared once for every reader of the two readings) are checked again, with those
            # whose effective share changed
            moved = changed_keys(self._seen, observed)
            dirty = None if moved is None else dirty | moved
        if dirty is None:
            self._diff = differences(effective, observed, self.tolerance)
        elif dirty:
            diff = dict(self._diff)
            names = list(dirty)
            shares = list(map(effective.get, names))
            seen = list(map(observed.get, names))
            if None in shares or None in seen:
                for t, share, was in zip(names, shares, seen, strict=True):
                    if share is not None and (was is None or abs(was - share) > self.tolerance):
                        diff[t] = share
                    else:
                        diff.pop(t, None)
            else:  # every tenant in both vectors: compared in C
                far = list(map(gt, map(abs, map(sub, seen, shares)), repeat(self.tolerance)))
                diff.update(compress(zip(names, cast(list[float], shares), strict=True), far))
                for _ in map(diff.pop, compress(names, map(not_, far)), repeat(None)):
                    pass
            order = sorted(diff, key=self._position.__getitem__)
            self._diff = dict(zip(order, map(diff.__getitem__, order), strict=True))
        self._seen = observed
        self._dirty = set()
        return dict(self._diff)
