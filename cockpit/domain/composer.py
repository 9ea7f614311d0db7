"""The traffic layer: effective share = min(rollout target, rollback ceiling), per tenant."""

from __future__ import annotations

from collections.abc import Mapping


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
    """The shares the router must be told: only tenants whose observed share differs."""
    out = {}
    for tenant, share in effective.items():
        seen = observed.get(tenant)
        if seen is None or abs(seen - share) > tolerance:
            out[tenant] = share
    return out
