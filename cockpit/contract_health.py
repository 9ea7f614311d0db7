"""`plugins check` for the health role: severities finite in 0..1 per tenant (named when not), and the
optional rates and warmth called and checked when the backend has them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.contract import (
    Check,
    Limits,
    _Checks,
    _mapping_problem,
    fraction_problems,
    rate_problems,
)


async def check_health(health: Any, *, limits: Limits | None = None) -> list[Check]:
    """The health contract: severities are finite numbers in 0..1 per tenant (named when not); rates and
    warmth, when the backend has them, are called and checked too."""
    c = _Checks("health", health, limits or Limits())
    r = await c.run("regressions", "regressions")
    if r is not None:
        problems = _mapping_problem("regressions", r, "tenant -> severity 0..1") or fraction_problems(r, "severity")
        if c.fail("regressions", problems):
            c.ok("regressions", _health_summary(r, c.limits.threshold) + f"; {c.took}")
    # A backend that can say what each query returned per tenant (the prometheus backend) says it here.
    for name, ok, detail in health.report() if hasattr(health, "report") else ():
        c.results.append(Check("health", name, ok, detail))
    if hasattr(health, "rates"):
        await _rates(c, r if isinstance(r, Mapping) else {})
    if hasattr(health, "warmth"):
        await _warmth(c)
    return c.results


def _health_summary(r: Mapping[str, float], threshold: float) -> str:
    regressing = sum(1 for v in r.values() if v >= threshold)
    below = sum(1 for v in r.values() if 0 < v < threshold)
    unknown = len(getattr(r, "unknown", {}))
    return (
        f"{len(r)} read, {regressing} regressing (severity >= {threshold:g})"
        + (f", {below} below the threshold" if below else "")
        + (f", {unknown} unknown" if unknown else "")
    )


async def _rates(c: _Checks, severities: Mapping[str, float]) -> None:
    r = await c.run("rates", "rates")
    if r is None:
        return
    if not c.fail(
        "rates",
        _mapping_problem("rates", r, "tenant -> requests per second") or rate_problems(r, c.limits.max_rps),
    ):
        return
    tenants = set(severities) | set(getattr(severities, "unknown", {})) | set(r)
    unknown = {t: r.why_unknown(t) for t in sorted(tenants - set(r))} if hasattr(r, "why_unknown") else {}
    if unknown:
        sample = "; ".join(f"{t}: {why}" for t, why in list(unknown.items())[:5])
        c.ok(
            "rates",
            f"warning: partial coverage, {len(r)} of {len(tenants)} tenants have a rate; "
            f"unknown (planned at a conservative estimate): {sample}",
        )
        return
    c.ok("rates", f"{len(r)} tenants, {sum(r.values()):,.1f} rps in all; {c.took}")


async def _warmth(c: _Checks) -> None:
    w = await c.run("warmth", "warmth")
    if w is None:
        return
    if not c.fail(
        "warmth",
        _mapping_problem("warmth", w, "namespace -> hit rate 0..1") or fraction_problems(w, "hit rate"),
    ):
        return
    bad = getattr(w, "unknown", {})
    shown = ", ".join(f"{k} {v:.0%}" for k, v in list(w.items())[:6]) or "nothing configured or returned"
    c.ok("warmth", shown + (f"; unknown: {'; '.join(f'{k}: {v}' for k, v in bad.items())}" if bad else ""))
