"""Unknown is a state: what the engine does with readings that say a tenant (or a namespace) could not
be read, and why.

- Health: a tenant with new-revision traffic whose severity is unknown is shown as unknown with the
  reason; it is never counted healthy (nor regressing: the on-call decides).
- Rates: a tenant whose request rate is unknown is never planned as 0 rps. It is planned at a stated,
  conservative estimate: the highest known rate in its cohort, else in the fleet; with no known rate at
  all the rollback holds (nothing can be sized).
- Warmth: a namespace whose hit rate health measures replaces the store's; one it cannot read is planned
  cold (0), the safe side for capacity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from cockpit.hookspecs import NamespaceReading, SignalReading, TrafficReading, unknowns


def health_unknowns(harm: Mapping[str, float] | None, shares: Mapping[str, float], failed: str = "") -> dict[str, str]:
    """Tenants carrying new-revision traffic whose health is unknown (a tenant at 0 % new has nothing to
    regress on, so its missing series is not news)."""
    if harm is not None and not (isinstance(harm, SignalReading) and (harm.unknown or harm.missing)):
        return {}  # a plain, complete reading: nobody is unknown (no need to look at every tenant)
    on_new = [t for t, s in shares.items() if s > 0.0]
    return unknowns(harm, on_new, failed)


def estimate_rates(traffic: TrafficReading, rates: Mapping[str, float]) -> tuple[TrafficReading, dict[str, str], bool]:
    """The traffic with every tenant's rate: read, or estimated. Returns the traffic, tenant -> what was
    assumed and why, and whether no rate at all is known (then nothing can be sized: hold)."""
    tenants = list(traffic.shares)
    missing = (
        unknowns(rates, tenants)
        if isinstance(rates, SignalReading)
        else {t: "absent from the health backend's rates" for t in tenants if t not in rates}
    )
    if not missing:
        return TrafficReading(traffic.shares, rates, traffic.cohorts), {}, False
    known = {t: v for t, v in rates.items() if t not in missing}
    if not known:
        why = next(iter(missing.values()), "no rates")
        return TrafficReading(traffic.shares, known, traffic.cohorts), dict.fromkeys(missing, why), True
    fleet_max = max(known.values())
    cohort_max: dict[str, float] = {}
    for t, v in known.items():
        c = traffic.cohorts.get(t, "")
        cohort_max[c] = max(cohort_max.get(c, 0.0), v)
    merged = dict(known)
    said: dict[str, str] = {}
    for t, why in missing.items():
        c = traffic.cohorts.get(t, "")
        if c and c in cohort_max:
            est, src = cohort_max[c], f"the highest in cohort {c!r}"
        else:
            est, src = fleet_max, "the highest in the fleet"
        merged[t] = est
        said[t] = f"rps unknown ({why}): planned at {est:,.1f} rps, {src}"
    return TrafficReading(traffic.shares, merged, traffic.cohorts), said, False


def apply_warmth(
    namespaces: list[NamespaceReading], warmth: Mapping[str, float] | None
) -> tuple[list[NamespaceReading], dict[str, str]]:
    """Namespaces with the hit rates health measured (keyed by name, revision or tier), and the ones it
    could not read (planned cold)."""
    if not warmth and not (isinstance(warmth, SignalReading) and warmth.unknown):
        return namespaces, {}
    assert warmth is not None
    out = []
    unknown: dict[str, str] = {}
    bad = warmth.unknown if isinstance(warmth, SignalReading) else {}
    for ns in namespaces:
        key = next((k for k in (ns.name, ns.revision, ns.tier) if k in warmth), None)
        if key is not None:
            out.append(replace(ns, hit_rate=float(warmth[key])))
            continue
        key = next((k for k in (ns.name, ns.revision, ns.tier) if k in bad), None)
        if key is not None:
            out.append(replace(ns, hit_rate=0.0))
            unknown[ns.name] = f"hit rate unknown ({bad[key]}): planned cold"
            continue
        out.append(ns)
    return out, unknown
