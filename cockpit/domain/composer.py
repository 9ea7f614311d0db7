"""The traffic layer: effective share = min(rollout target, rollback ceiling), per tenant."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress
from operator import ne


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
    candidates = compress(names, map(ne, effective.values(), map(observed.get, names)))
    out = {}
    for tenant in candidates:
        share = effective[tenant]
        seen = observed.get(tenant)
        if seen is None or abs(seen - share) > tolerance:
            out[tenant] = share
    return out


class Composer:
    """The traffic layer across ticks: recomposes the effective vector only when the targets or the
    ceilings changed (their owners' version counters say so), and compares it with the router's
    observed vector only when either side changed. A tick where nothing changed costs no per-tenant
    work at all."""

    def __init__(self, tolerance: float = 1e-6) -> None:
        self.tolerance = tolerance
        self._key: tuple[int, int, int] | None = None
        self._effective: dict[str, float] = {}
        self._seen: Mapping[str, float] | None = None
        self._diff_of: dict[str, float] | None = None
        self._diff: dict[str, float] = {}

    def effective(
        self, targets: Mapping[str, float], targets_version: int, ceilings: Mapping[str, float], ceilings_version: int
    ) -> dict[str, float]:
        key = (id(targets), targets_version, ceilings_version)
        if key != self._key:
            self._effective = compose(targets, ceilings)
            self._key = key
        return self._effective

    def differences(self, effective: dict[str, float], observed: Mapping[str, float]) -> dict[str, float]:
        """`differences(effective, observed)`, computed again only when either vector is a different
        object than last time (readings are immutable once a backend returns them)."""
        if effective is self._diff_of and observed is self._seen:
            return dict(self._diff)
        diff = differences(effective, observed, self.tolerance)
        self._seen = observed
        self._diff_of = effective
        self._diff = diff
        return dict(diff)
