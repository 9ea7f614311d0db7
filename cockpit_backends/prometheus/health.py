"""The ``prometheus`` health backend: per-tenant checks written in configuration, request rates and
cache warmth, read with one query per check per tick for the whole fleet.

How a check becomes a severity (docs/backends/prometheus.md says the same, with examples):

1. The check's query returns one value per (tenant, revision); a series without the tenant label is
   revision-wide and stands for every tenant without its own series (vLLM knows models, not tenants).
2. The value on the new revision is compared with a baseline: the tenant's own value on the old
   revision when it has enough samples there, else the fleet's (a revision-wide old series, else the
   median of the tenants' old values). ``baseline = "none"`` compares the value with the threshold itself.
3. The degradation d is new − baseline when higher is worse, baseline − new when lower is worse. It is a
   *breach* when d exceeds the threshold (the tenant's cohort's, where ``thresholds`` names it).
4. A tenant regresses on a check after ``consecutive`` breaches in a row; its severity is then
   ``severity_floor + (1 − severity_floor) × min(1, d / scale)``: at least the floor (0.5, above the
   engine's default regression threshold of 0.2, so a breach always counts), 1 at a degradation of
   ``scale``, and ordered by how bad it is. A tenant not regressing reads 0.
5. Several checks combine: the worst severity wins; a tenant no check finds regressing but some check
   cannot read is *unknown*, with every reason.

Unknown, never guessed: too few samples (the minimum-sample query), NaN (0/0: no requests in the
window), ±Inf, no series, a stale series (the freshness query: last sample older than max_age_s), a
failed query (down, slow past the timeout, rejected: the sentence names the check and its config line).
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, SignalReading
from cockpit_backends.prometheus.client import PrometheusClient, QueryFailed
from cockpit_backends.prometheus.config import Check, Reading, Settings, parse

FRESHNESS_REUSE_S = 1.0  # rates() right after regressions() reuses its freshness reading


@dataclass
class TenantVerdict:
    """What one check made of one tenant this tick (shown by `cockpit plugins check prometheus`)."""

    value: float | None = None
    baseline: float | None = None
    baseline_from: str = ""  # "own old", "fleet old (median of 12)", "fleet old (revision-wide)", "none"
    samples: float | None = None
    breaches: int = 0
    severity: float = 0.0
    unknown: str = ""


@dataclass
class CheckResult:
    check: Check
    error: str = ""
    series: int = 0
    tenants: dict[str, TenantVerdict] = field(default_factory=dict)


def _bad(v: float) -> str:
    if math.isnan(v):
        return "NaN (0/0: no requests in the window)"
    if math.isinf(v):
        return f"{'+' if v > 0 else '-'}Inf"
    return ""


def _by(rows: Iterable[tuple[dict[str, str], float, float]], tenant: str, revision: str):
    """(tenant, revision) -> value, and revision -> value for series without the tenant label."""
    per: dict[tuple[str, str], float] = {}
    wide: dict[str, float] = {}
    for labels, v, _ in rows:
        rev = labels.get(revision, "")
        t = labels.get(tenant)
        if t is None:
            wide[rev] = v
        else:
            per[(t, rev)] = v
    return per, wide


class PrometheusHealth:
    """``HealthSignals`` with ``rates()`` and ``warmth()``. Options: docs/backends/prometheus.md."""

    def __init__(self, options: Mapping[str, Any], context: BackendContext, backend: str = "prometheus") -> None:
        self.settings: Settings = parse(options, context.config_dir, backend)
        token = ""
        if self.settings.token_env:
            token = os.environ.get(self.settings.token_env, "").strip()
            if not token:
                raise ConfigError(
                    f"plugins.{backend}.token_env: environment variable {self.settings.token_env} is not set; export it"
                )
        self.client = PrometheusClient(self.settings.url, self.settings.timeout_s, token)
        self.context = context
        self._breaches: dict[str, dict[str, int]] = {c.name: {} for c in self.settings.checks}
        self._seen: set[str] = set(context.tenants)
        self._fresh: tuple[float, dict[str, str], str] | None = None  # (taken at, stale tenants, error)
        self.last: list[CheckResult] = []
        self.last_rates: SignalReading | None = None
        self.last_warmth: SignalReading | None = None

    def __repr__(self) -> str:
        return f"PrometheusHealth({self.settings.url!r}, {len(self.settings.checks)} checks)"

    async def aclose(self) -> None:
        await self.client.aclose()

    # Queries --------------------------------------------------------------------------------------
    async def _run(self, query: str, located: str, name: str) -> list[tuple[dict[str, str], float, float]]:
        try:
            return await self.client.query(query)
        except QueryFailed as exc:
            raise QueryFailed(f"{name} ({located}): {exc}") from None

    async def _freshness(self) -> tuple[dict[str, str], str]:
        """Stale tenants (tenant -> reason), and the error if the freshness query failed."""
        f = self.settings.freshness
        if f is None:
            return {}, ""
        now = time.monotonic()
        if self._fresh is not None and now - self._fresh[0] < FRESHNESS_REUSE_S:
            return self._fresh[1], self._fresh[2]
        stale: dict[str, str] = {}
        error = ""
        try:
            rows = await self._run(f.query, f.located(), "freshness")
        except QueryFailed as exc:
            error = str(exc)
        else:
            wall = time.time()
            label = self.settings.tenant_label
            fresh = set()
            for labels, ts, _ in rows:
                t = labels.get(label)
                if t is None or math.isnan(ts):
                    continue
                age = wall - ts
                if age > f.max_age_s:
                    stale[t] = f"stale series: last sample {age:.0f} s ago (max_age_s {f.max_age_s:g})"
                else:
                    fresh.add(t)
            # a tenant seen before with no sample at all now: its target is gone (Prometheus marked it stale)
            for t in self._seen - fresh - set(stale):
                stale[t] = "stale series: no sample within Prometheus's lookback (the target stopped reporting it)"
        self._fresh = (now, stale, error)
        return stale, error

    # Health ---------------------------------------------------------------------------------------
    async def regressions(self) -> SignalReading:
        s = self.settings
        jobs: list[Any] = []
        for c in s.checks:
            jobs.append(self._run(c.query, c.located(), f"check {c.name!r}"))
            jobs.append(self._run(c.samples, c.located(), f"check {c.name!r} samples") if c.samples else _none())
        jobs.append(self._freshness())
        got = await asyncio.gather(*jobs, return_exceptions=True)
        stale, fresh_error = got[-1] if not isinstance(got[-1], BaseException) else ({}, str(got[-1]))
        for i, c in enumerate(s.checks):  # every tenant any check sees is judged by every check
            for rows in got[2 * i : 2 * i + 2]:
                if isinstance(rows, list):
                    self._seen |= {labels[c.tenant_label] for labels, _, _ in rows if c.tenant_label in labels}
        results = []
        for i, c in enumerate(s.checks):
            rows, samples = got[2 * i], got[2 * i + 1]
            if isinstance(rows, BaseException) or isinstance(samples, BaseException):
                err = rows if isinstance(rows, BaseException) else samples
                results.append(CheckResult(c, error=str(err) if isinstance(err, QueryFailed) else repr(err)))
                continue
            results.append(self._evaluate(c, rows, samples))
        self.last = results
        return self._combine(results, stale, fresh_error)

    def _evaluate(self, c: Check, rows: list, samples: list | None) -> CheckResult:
        s = self.settings
        per, wide = _by(rows, c.tenant_label, c.revision_label)
        n_per, n_wide = _by(samples or (), c.tenant_label, c.revision_label)
        cohorts = dict(s.cohorts)
        cohorts.update(
            (labels[c.tenant_label], labels[s.cohort_label])
            for labels, _, _ in rows
            if s.cohort_label in labels and c.tenant_label in labels
        )
        res = CheckResult(c, series=len(rows))
        tenants = {t for t, _ in per} | {t for t, _ in n_per} | self._seen
        fleet_old, fleet_from = self._fleet_baseline(c, per, wide, n_per)
        counts = self._breaches[c.name]
        for t in tenants:
            v = TenantVerdict()
            res.tenants[t] = v
            new = per.get((t, s.new), wide.get(s.new))
            n_new = n_per.get((t, s.new), n_wide.get(s.new))
            v.samples = n_new
            if new is None:
                v.unknown = f"no series on the new revision {s.new!r}"
                continue
            v.value = new
            bad = _bad(new)
            if bad:
                v.unknown = bad
                continue
            if c.min_samples > 0 and (n_new is None or math.isnan(n_new) or n_new < c.min_samples):
                got = "none" if n_new is None or math.isnan(n_new) else f"{n_new:.0f}"
                v.unknown = f"too few samples on the new revision: {got} < {c.min_samples:g}"
                continue
            threshold = c.threshold_for(cohorts.get(t, ""))
            if c.baseline == "none":
                d = (new - threshold) if c.direction == "higher_is_worse" else (threshold - new)
                breach = d > 0
                v.baseline_from = "none (absolute threshold)"
            else:
                base, base_from = self._own_baseline(c, t, per, n_per)
                if base is None:
                    base, base_from = fleet_old, fleet_from
                if base is None:
                    v.unknown = f"no baseline: no old-revision {s.old!r} series with enough samples"
                    continue
                v.baseline, v.baseline_from = base, base_from
                d = (new - base) if c.direction == "higher_is_worse" else (base - new)
                breach = d > threshold
            counts[t] = counts.get(t, 0) + 1 if breach else 0
            v.breaches = counts[t]
            if breach and counts[t] >= c.consecutive:
                v.severity = c.severity_floor + (1.0 - c.severity_floor) * min(1.0, max(d, 0.0) / c.scale)
        return res

    def _own_baseline(self, c: Check, t: str, per: dict, n_per: dict) -> tuple[float | None, str]:
        s = self.settings
        v = per.get((t, s.old))
        if v is None or _bad(v):
            return None, ""
        if c.min_samples > 0:
            n = n_per.get((t, s.old))
            if n is None or math.isnan(n) or n < c.min_samples:
                return None, ""
        return v, "own old"

    def _fleet_baseline(self, c: Check, per: dict, wide: dict, n_per: dict) -> tuple[float | None, str]:
        s = self.settings
        w = wide.get(s.old)
        if w is not None and not _bad(w):
            return w, "fleet old (revision-wide series)"
        vals = []
        for (t, rev), v in per.items():
            if rev != s.old or _bad(v):
                continue
            if c.min_samples > 0:
                n = n_per.get((t, rev))
                if n is None or math.isnan(n) or n < c.min_samples:
                    continue
            vals.append(v)
        if not vals:
            return None, ""
        return statistics.median(vals), f"fleet old (median of {len(vals)} tenants)"

    def _combine(self, results: list[CheckResult], stale: Mapping[str, str], fresh_error: str) -> SignalReading:
        values: dict[str, float] = {}
        unknown: dict[str, str] = {}
        reasons: dict[str, list[str]] = {}
        failed = [r for r in results if r.error]
        for r in results:
            for t, v in r.tenants.items():
                if v.unknown:
                    reasons.setdefault(t, []).append(f"{r.check.name}: {v.unknown}")
                else:
                    values[t] = max(values.get(t, 0.0), v.severity)
        everyone = set(values) | set(reasons) | self._seen | set(stale)
        self._seen |= set(stale)
        for r in failed:
            for t in everyone:
                reasons.setdefault(t, []).append(r.error)
        for t in everyone:
            if t in stale:
                values.pop(t, None)
                unknown[t] = stale[t]
            elif values.get(t, 0.0) > 0.0:
                continue  # a regression seen by one check stands even if another cannot read
            elif t in reasons:
                values.pop(t, None)
                unknown[t] = "; ".join(reasons[t])
            elif t not in values:
                unknown[t] = "no series for this tenant this tick (seen before)"
        if fresh_error:
            for t in list(values):
                if values[t] == 0.0:
                    del values[t]
                    unknown[t] = fresh_error
        missing = "no series for this tenant in any check"
        if failed and len(failed) == len(results):
            missing = failed[0].error
        return SignalReading(values, unknown, missing)

    def report(self, per_check: int = 20) -> list[tuple[str, bool, str]]:
        """What each check's query returned on the last read, per tenant, and why a tenant is unknown:
        (name, ok, detail) lines for `cockpit plugins check prometheus`."""
        out: list[tuple[str, bool, str]] = []
        for r in self.last:
            c = r.check
            name = f"check {c.name!r}"
            if r.error:
                out.append((name, False, r.error))
                continue
            out.append((name, True, f"{r.series} series, {len(r.tenants)} tenants ({c.located()})"))
            for t in sorted(r.tenants)[:per_check]:
                v = r.tenants[t]
                if v.unknown:
                    out.append((f"  {t}", True, f"unknown: {v.unknown}"))
                    continue
                base = "" if v.baseline is None else f" vs {v.baseline:.4g} ({v.baseline_from})"
                n = "" if v.samples is None else f", {v.samples:.0f} samples"
                verdict = f"severity {v.severity:.2f}" if v.severity else f"ok (breaches in a row: {v.breaches})"
                out.append((f"  {t}", True, f"{v.value:.4g}{base}{n}: {verdict}"))
            if len(r.tenants) > per_check:
                out.append(("  …", True, f"{len(r.tenants) - per_check} more tenants"))
        return out

    # Rates and warmth -----------------------------------------------------------------------------
    async def rates(self) -> SignalReading:
        r = self.settings.rates
        if r is None:
            reading = SignalReading({}, {}, "no rates query configured (plugins.prometheus.rates)")
            self.last_rates = reading
            return reading
        (rows, err), (stale, fresh_error) = await asyncio.gather(self._reading(r), self._freshness())
        if err:
            reading = SignalReading({}, {}, f"rates {err}")
            self.last_rates = reading
            return reading
        values: dict[str, float] = {}
        unknown: dict[str, str] = {}
        label = self.settings.tenant_label
        for labels, v, _ in rows:
            t = labels.get(label)
            if t is None:
                continue
            bad = _bad(v)
            if bad or v < 0:
                unknown[t] = f"rate {bad or 'negative'}"
            elif t in stale:
                unknown[t] = stale[t]
            elif fresh_error:
                unknown[t] = fresh_error
            else:
                values[t] = v
        self._seen |= set(values) | set(unknown)
        reading = SignalReading(values, unknown, f"no request series for this tenant ({r.located()})")
        self.last_rates = reading
        return reading

    async def warmth(self) -> SignalReading:
        w = self.settings.warmth
        if w is None:
            return SignalReading({}, {}, "")
        rows, err = await self._reading(w)
        if err:
            reading = SignalReading({}, {}, f"warmth {err}")
        else:
            values: dict[str, float] = {}
            unknown: dict[str, str] = {}
            for labels, v, _ in rows:
                key = labels.get(w.key_label)
                if key is None:
                    continue
                bad = _bad(v)
                if bad or not 0.0 <= v <= 1.0:
                    unknown[key] = f"hit rate {bad or f'{v:g} outside 0..1'}"
                else:
                    values[key] = v
            reading = SignalReading(values, unknown, "")
        self.last_warmth = reading
        return reading

    async def _reading(self, r: Reading) -> tuple[list, str]:
        try:
            return await self._run(r.query, r.located(), r.kind), ""
        except QueryFailed as exc:
            return [], f"query failed: {exc}"


async def _none() -> None:
    return None
