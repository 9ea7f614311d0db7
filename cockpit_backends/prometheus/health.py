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
window), ±Inf, no series, a stale series (the freshness query: last sample older than max_age_s; with
the shipped HTTP templates and a window within max_age_s their rows already prove freshness, so it is
sent only to say why a tenant is missing), a failed query (down, slow past the timeout, rejected: the
sentence names the check and its config line).
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

import msgspec

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, SignalReading
from cockpit_backends.prometheus.client import PrometheusClient, QueryFailed
from cockpit_backends.prometheus.config import Check, Reading, Settings, parse
from cockpit_backends.prometheus.sums import Sums, merged
from cockpit_backends.prometheus.templates import Shared

REUSE_S = 1.0  # rates() and warmth() within this long after regressions() returns reuse what it read
RECORDED_MAX_AGE_S = 60.0  # recording rules' sums older than this are not read (without freshness)
Rows = list[tuple[dict[str, str], float, float]]  # (labels, value, sample time) per series
Got = Rows | Sums | BaseException  # a query's answer: rows, a shared query's sums, or what went wrong


class TenantVerdict(msgspec.Struct, gc=False):
    """What one check made of one tenant this tick (shown by `cockpit plugins check prometheus`). Numbers
    and strings only, so the garbage collector need not track it: a tick makes one per tenant and check,
    and tracking 10,000 of them cost about a third of the verdict loop in collections."""

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


def _failed(name: str, located: str, exc: BaseException) -> str:
    return f"{name} ({located}): {exc}" if isinstance(exc, QueryFailed) else repr(exc)


PerRevision = dict[str, dict[str, float]]  # revision -> tenant -> value


@dataclass
class _Values:
    """One check's reading this tick: value and samples per revision and tenant, and per revision for
    series without the tenant label (revision-wide); the cohorts its rows name; how many series."""

    per: PerRevision = field(default_factory=dict)
    wide: dict[str, float] = field(default_factory=dict)
    n_per: PerRevision = field(default_factory=dict)
    n_wide: dict[str, float] = field(default_factory=dict)
    cohorts: dict[str, str] = field(default_factory=dict)
    series: int = 0

    def tenants(self) -> set[str]:
        out: set[str] = set()
        for per in (*self.per.values(), *self.n_per.values()):
            out.update(per)
        return out


def _by(rows: Rows, tenant: str, revision: str) -> tuple[PerRevision, dict[str, float]]:
    """revision -> tenant -> value, and revision -> value for series without the tenant label."""
    per: PerRevision = {}
    wide: dict[str, float] = {}
    for labels, v, _ in rows:
        rev = labels.get(revision, "")
        t = labels.get(tenant)
        if t is None:
            wide[rev] = v
        else:
            per.setdefault(rev, {})[t] = v
    return per, wide


def _direct(rows: Rows, samples: Rows | None, c: Check, cohort_label: str) -> _Values:
    """A check read by its own query (and samples query)."""
    per, wide = _by(rows, c.tenant_label, c.revision_label)
    n_per, n_wide = _by(samples or [], c.tenant_label, c.revision_label)
    t_label = c.tenant_label
    cohorts = {
        labels[t_label]: labels[cohort_label] for labels, _, _ in rows if cohort_label in labels and t_label in labels
    }
    return _Values(per, wide, n_per, n_wide, cohorts, len(rows))


def _summed(sums: Sums) -> _Values:
    """A check summed from a shared query's answer: the error ratio per (tenant, revision) is errors / all
    (0/0 is NaN, as in PromQL), its samples are all."""
    out = _Values(series=sum(len(per) for per in sums.total.values()))
    nan = math.nan
    for rev, total in sums.total.items():
        errors = sums.errors.get(rev, {})
        n_per: dict[str | None, float] = dict(total)
        err = errors.get
        ratios = {t: (err(t, 0.0) / n if n else nan) for t, n in total.items()}
        if None in n_per:
            out.wide[rev], out.n_wide[rev] = ratios.pop(None), n_per.pop(None)  # type: ignore[call-overload]
        out.per[rev], out.n_per[rev] = ratios, n_per  # type: ignore[assignment]
    return out


def _unreadable(new: float | None, n_new: float | None, c: Check, s: Settings) -> str:
    """Why a tenant's value on the new revision cannot be judged ("" when it can)."""
    if new is None:
        return f"no series on the new revision {s.new!r}"
    bad = _bad(new)
    if bad:
        return bad
    if c.min_samples > 0 and (n_new is None or math.isnan(n_new) or n_new < c.min_samples):
        got = "none" if n_new is None or math.isnan(n_new) else f"{n_new:.0f}"
        return f"too few samples on the new revision: {got} < {c.min_samples:g}"
    return ""


def _enough(c: Check, n: float | None) -> bool:
    return c.min_samples <= 0 or (n is not None and not math.isnan(n) and n >= c.min_samples)


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
        self.client = PrometheusClient(self.settings.url, self.settings.timeout_s, token, self.settings.compress)
        self.context = context
        self._breaches: dict[str, dict[str, int]] = {c.name: {} for c in self.settings.checks}
        self._seen: set[str] = set(context.tenants)
        self._seen_rows = False  # a first reading was taken (the freshness query goes with the first)
        s = self.settings
        # shared queries, read as sums (sums.py): query -> (it, its tenant, revision and code labels, errors)
        self._sums: dict[str, tuple[Shared, tuple[str, str, str, str]]] = {}
        for c in s.checks:
            if c.shared is not None:
                labels = (c.tenant_label, c.revision_label, c.shared.code_label, c.shared.errors)
                self._sums[c.shared.query] = (c.shared, labels)
        if s.rates is not None and s.rates.shared is not None and s.rates.shared.query not in self._sums:
            sh = s.rates.shared
            self._sums[sh.query] = (sh, (s.tenant_label, s.revision_label, sh.code_label, sh.errors))
        self._recorded_age: float | None = None  # how old the recording rules' sums were when last read
        self._got: dict[str, tuple[float, Got]] = {}  # query -> (read at, result)
        self.last: list[CheckResult] = []
        self.last_rates: SignalReading | None = None
        self.last_warmth: SignalReading | None = None

    def __repr__(self) -> str:
        return f"PrometheusHealth({self.settings.url!r}, {len(self.settings.checks)} checks)"

    async def aclose(self) -> None:
        await self.client.aclose()

    # Queries --------------------------------------------------------------------------------------
    async def _fetch(self, queries: Iterable[str], reuse: bool = False) -> dict[str, Got]:
        """Each distinct query once, concurrently: query -> its rows, or what went wrong. With `reuse`,
        a result regressions() got less than REUSE_S ago stands (rates() and warmth() right after it)."""
        out: dict[str, Got] = {}
        now = time.monotonic()
        for q in queries:
            hit = self._got.get(q)
            if reuse and hit is not None and now - hit[0] < REUSE_S:
                out[q] = hit[1]
        todo = [q for q in dict.fromkeys(queries) if q not in out]
        if todo:
            got = await asyncio.gather(*(self._query(q) for q in todo), return_exceptions=True)
            done = time.monotonic()
            for q, r in zip(todo, got, strict=True):
                out[q] = r
                self._got[q] = (done, r)
        return out

    async def _query(self, q: str) -> Rows | Sums:
        """Rows, or for a shared query its sums: its revision shards sent concurrently, summed back (with
        the recording rules' evaluation time when it reads them)."""
        spec = self._sums.get(q)
        if spec is None:
            return await self.client.query(q)
        shared, labels = spec
        sums = [self.client.query_sums(x, *labels, only) for x, only in shared.shards or [(q, None)]]
        if not shared.evaluated:
            return merged(list(await asyncio.gather(*sums)))
        *parts, evaluated = await asyncio.gather(*sums, self.client.query(shared.evaluated))
        out = merged(parts)  # type: ignore[arg-type]
        out.recorded_at = self._recorded_at(shared, evaluated)  # type: ignore[arg-type]
        return out

    def _recorded_at(self, shared: Shared, rows: Rows) -> float:
        """When the recording rules were evaluated; QueryFailed when never, or longer ago than freshness's
        max_age_s (60 s without freshness): sums that old describe a past window."""
        if not rows:
            raise QueryFailed(
                f"no {shared.evaluated} series: the recording rules are not loaded in Prometheus, or recorded "
                "nothing (no request series in the window?); load them (python -m "
                "cockpit_backends.prometheus.rules; docs/backends/prometheus.md, 'Recording rules') or set "
                "recorded = false"
            )
        at = max(v for _, v, _ in rows)
        self._recorded_age = age = max(0.0, time.time() - at)
        limit = self.settings.freshness.max_age_s if self.settings.freshness else RECORDED_MAX_AGE_S
        if not age <= limit:
            raise QueryFailed(
                f"the recording rules were last evaluated {age:.0f} s ago (more than {limit:g} s): is their "
                "rule group failing? (Prometheus's /rules page says why)"
            )
        return at

    def _queries(self) -> list[str]:
        """What one regressions() tick reads: each check's query and samples (or the shared query they are
        summed from), the freshness query, and a rates query summed from a shared one (it costs nothing)."""
        s = self.settings
        out = []
        for c in s.checks:
            out.extend([c.shared.query] if c.shared else [c.query, *([c.samples] if c.samples else [])])
        if s.freshness is not None and not self._implied(out):
            out.append(s.freshness.query)
        if s.rates is not None and s.rates.shared is not None and s.rates.shared.query in out:
            out.append(s.rates.shared.query)
        return out

    def _implied(self, queries: Iterable[str]) -> bool:
        """Whether the freshness query can stay unsent this tick: its template is implied by a shared
        query sent anyway (``increase(…[window])`` over the same series) and the window is within
        max_age_s. Then every tenant in that query's rows has a sample at most `window` old, so none of
        them is stale, and the query would only say why a tenant is missing: it is sent on the first
        reading and whenever a tenant seen before is missing from the rows (``_explain_missing``)."""
        f = self.settings.freshness
        if f is None or f.shared is None or f.shared.query not in queries or not self._seen_rows:
            return False
        # read from recording rules, the rows are as old as their last evaluation (known after reading
        # them: _explain_missing sends the query after all when that age makes the window too long)
        lag = self.settings.window_s + ((self._recorded_age or 0.0) if f.shared.evaluated else 0.0)
        return lag <= f.max_age_s

    async def _explain_missing(self, got: dict[str, Got]) -> None:
        """With the freshness query implied: read it after all when a tenant seen before is missing from
        the shared rows (to say why: a stale series, or none at all). Adds its result to `got`."""
        f = self.settings.freshness
        if f is None or f.shared is None or f.query in got:
            return
        sums = got.get(f.shared.query)
        if not isinstance(sums, Sums):
            return  # the checks say the shared query failed; freshness cannot add to that
        late = sums.recorded_at is not None and time.time() - sums.recorded_at + self.settings.window_s > f.max_age_s
        if late or self._seen - sums.tenants():
            got.update(await self._fetch([f.query]))

    def _stale(self, got: Got | None) -> tuple[dict[str, str], str]:
        """Stale tenants (tenant -> reason) from the freshness query's rows, and the error if it failed."""
        f = self.settings.freshness
        if f is None or got is None:
            return {}, ""
        if isinstance(got, BaseException):
            return {}, _failed("freshness", f.located(), got)
        assert not isinstance(got, Sums)  # the freshness query is never a shared one
        stale: dict[str, str] = {}
        wall = time.time()
        label = self.settings.tenant_label
        fresh = set()
        for labels, ts, _ in got:
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
        return stale, ""

    def _check_values(self, c: Check, got: Mapping[str, Got]) -> _Values:
        """The check's values and samples this tick; QueryFailed naming the check."""
        if c.shared is not None:
            rows = got[c.shared.query]
            if isinstance(rows, BaseException):
                raise QueryFailed(_failed(f"check {c.name!r}", c.located(), rows))
            assert isinstance(rows, Sums)  # a shared query is always read as sums (_query)
            return _summed(rows)
        rows = got[c.query]
        if isinstance(rows, BaseException):
            raise QueryFailed(_failed(f"check {c.name!r}", c.located(), rows))
        samples = got[c.samples] if c.samples else None
        if isinstance(samples, BaseException):
            raise QueryFailed(_failed(f"check {c.name!r} samples", c.located(), samples))
        if isinstance(rows, Sums) or isinstance(samples, Sums):
            raise QueryFailed(
                f"check {c.name!r} ({c.located()}): its query is word for word the shared HTTP query, which is "
                "read as sums; use template = 'http.error_ratio' instead"
            )
        return _direct(rows, samples, c, self.settings.cohort_label)

    # Health ---------------------------------------------------------------------------------------
    async def regressions(self) -> SignalReading:
        s = self.settings
        got = await self._fetch(self._queries())
        await self._explain_missing(got)
        self._seen_rows = True
        stale, fresh_error = self._stale(got.get(s.freshness.query) if s.freshness else None)
        read: list[tuple[Check, _Values | str]] = []
        for c in s.checks:
            try:
                values = self._check_values(c, got)
            except QueryFailed as exc:
                read.append((c, str(exc)))
                continue
            read.append((c, values))
            self._seen |= values.tenants()  # every tenant any check sees is judged by every check
        results = [CheckResult(c, error=r) if isinstance(r, str) else self._evaluate(c, r) for c, r in read]
        self.last = results
        done = time.monotonic()  # rates() and warmth() right after this call reuse what it read (only that)
        self._got = {q: (done, r) for q, r in got.items()}
        return self._combine(results, stale, fresh_error)

    def _evaluate(self, c: Check, got: _Values) -> CheckResult:
        """Each tenant's verdict on check `c` (steps 2-4 of the module's docstring). Written as one loop
        with its lookups bound once: it runs for every tenant of the fleet on every tick."""
        s = self.settings
        cohorts = dict(s.cohorts)
        cohorts.update(got.cohorts)
        # tenant -> its cohort's threshold, for the tenants whose cohort has one (else the check's)
        threshold_of = {t: c.thresholds[k] for t, k in cohorts.items() if k in c.thresholds}.get
        res = CheckResult(c, series=got.series)
        verdicts = res.tenants
        fleet = self._fleet_baseline(c, got)
        counts = self._breaches[c.name]
        new_rev, old_rev = s.new, s.old
        new_of, n_new_of = got.per.get(new_rev, {}).get, got.n_per.get(new_rev, {}).get
        old_of, n_old_of = got.per.get(old_rev, {}).get, got.n_per.get(old_rev, {}).get
        wide_new, n_wide_new = got.wide.get(new_rev), got.n_wide.get(new_rev)
        default_threshold = c.threshold
        worse, absolute, min_n = c.direction == "higher_is_worse", c.baseline == "none", c.min_samples
        floor, span, scale, consecutive = c.severity_floor, 1.0 - c.severity_floor, c.scale, c.consecutive
        isfinite, verdict = math.isfinite, TenantVerdict

        def few(n: float | None) -> bool:  # too few samples to judge (NaN counts as too few)
            return min_n > 0 and (n is None or not n >= min_n)

        for t in got.tenants() | self._seen:
            new = new_of(t, wide_new)
            n = n_new_of(t, n_wide_new)
            if new is None or not isfinite(new) or few(n):
                verdicts[t] = verdict(new, None, "", n, unknown=_unreadable(new, n, c, s))
                continue
            threshold = threshold_of(t, default_threshold)
            if absolute:
                base, base_from = None, "none (absolute threshold)"
                d = (new - threshold) if worse else (threshold - new)
                breach = d > 0
            else:
                base, n_base = old_of(t), n_old_of(t)
                if base is None or not isfinite(base) or few(n_base):
                    base, base_from = fleet
                    if base is None:
                        why = f"no baseline: no old-revision {old_rev!r} series with enough samples"
                        verdicts[t] = verdict(new, None, "", n, unknown=why)
                        continue
                else:
                    base_from = "own old"
                d = (new - base) if worse else (base - new)
                breach = d > threshold
            k = counts[t] = counts.get(t, 0) + 1 if breach else 0
            severity = floor + span * min(1.0, max(d, 0.0) / scale) if breach and k >= consecutive else 0.0
            verdicts[t] = verdict(new, base, base_from, n, k, severity)
        return res

    def _fleet_baseline(self, c: Check, got: _Values) -> tuple[float | None, str]:
        old = self.settings.old
        w = got.wide.get(old)
        if w is not None and not _bad(w):
            return w, "fleet old (revision-wide series)"
        n_old = got.n_per.get(old, {}).get
        vals = [v for t, v in got.per.get(old, {}).items() if not _bad(v) and _enough(c, n_old(t))]
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
        f = self.settings.freshness
        query = r.shared.query if r.shared else r.query
        # the freshness query when it is not implied by the rows read (a tenant in them is fresh)
        fresh = [f.query] if f is not None and not self._implied([query]) else []
        got = await self._fetch([query, *fresh], reuse=True)
        per_tenant, err = self._reading(r, got, self.settings.tenant_label)
        stale, fresh_error = self._stale(got.get(f.query) if f else None)
        if err:
            reading = SignalReading({}, {}, f"rates {err}")
            self.last_rates = reading
            return reading
        # unknown: a NaN, infinite or negative rate, else a stale tenant, else all when freshness failed
        values = {t: v for t, v in per_tenant.items() if 0.0 <= v < math.inf}
        unknown = {t: f"rate {_bad(v) or 'negative'}" for t, v in per_tenant.items() if t not in values}
        for t in stale.keys() & values.keys():
            unknown[t] = stale[t]
            del values[t]
        if fresh_error:
            unknown.update(dict.fromkeys(values, fresh_error))
            values = {}
        self._seen.update(per_tenant)
        reading = SignalReading(values, unknown, f"no request series for this tenant ({r.located()})")
        self.last_rates = reading
        return reading

    async def warmth(self) -> SignalReading:
        w = self.settings.warmth
        if w is None:
            return SignalReading({}, {}, "")
        per_key, err = self._reading(w, await self._fetch([w.query], reuse=True), w.key_label)
        if err:
            reading = SignalReading({}, {}, f"warmth {err}")
        else:
            values: dict[str, float] = {}
            unknown: dict[str, str] = {}
            for key, v in per_key.items():
                bad = _bad(v)
                if bad or not 0.0 <= v <= 1.0:
                    unknown[key] = f"hit rate {bad or f'{v:g} outside 0..1'}"
                else:
                    values[key] = v
            reading = SignalReading(values, unknown, "")
        self.last_warmth = reading
        return reading

    def _reading(self, r: Reading, got: Mapping[str, Got], key: str) -> tuple[dict[str, float], str]:
        """The rates or warmth read: value per `key` label (rows without it left out), or why none."""
        rows = got[r.shared.query if r.shared else r.query]
        if isinstance(rows, QueryFailed):
            return {}, f"query failed: {r.kind} ({r.located()}): {rows}"
        if isinstance(rows, BaseException):
            raise rows
        if isinstance(rows, Sums):  # requests in the window over its seconds (rate is increase / window)
            window_s = self.settings.window_s
            return {t: n / window_s for t, n in rows.per_tenant().items()}, ""
        return {labels[key]: v for labels, v, _ in rows if key in labels}, ""
