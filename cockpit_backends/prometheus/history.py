"""`cockpit scenario from-prometheus`: a past window of a fleet's own metrics, read through the
configured ``prometheus`` backend's queries, turned into a drill scenario.

Range queries with a step, a few hundred steps at a time; each answer is folded into per-tenant and
per-tier aggregates and dropped, so memory does not grow with the window's length. Every estimate in
the generated file is commented with the query it came from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from cockpit.errors import ConfigError
from cockpit_backends.mock.draft import Draft
from cockpit_backends.mock.from_journal import TierTrack
from cockpit_backends.prometheus.client import PrometheusClient, QueryFailed
from cockpit_backends.prometheus.config import Check, Settings

CHUNK_STEPS = 240  # steps per range query: bounded answers, bounded memory
SHARE_STEP = 0.05  # a recorded share change: the tenant's share moved at least this much
READY_QUERY = "kube_deployment_status_replicas_ready"
DESIRED_QUERY = "kube_deployment_spec_replicas"
UTILISATION_QUERY = "avg by (model_name) (vllm:kv_cache_usage_perc)"
UTIL_RANGE = (0.05, 0.95)  # steps whose utilisation says something about capacity: not idle, not saturated
STEADY = 0.02  # ... and steady: load, utilisation and warmth within 2 % of the previous step's, same replicas
HPA_TARGET = 0.7  # the format's hpa_target_utilisation: the fallback estimate assumes the HPA held it
WARM_HIT, COLD_FACTOR = 0.8, 0.5  # the format's warm_hit_rate and cold_capacity_factor (the file keeps both)
SPAN_MARGIN_S = 1800.0

Series = list[tuple[dict[str, str], list[tuple[float, float]]]]
Progress = Callable[[int, int], None]


@dataclass
class TenantTraffic:
    first_seen: float
    rps_sum: float = 0.0  # over steps whose rate window lies wholly after the series' first sample
    n: int = 0
    early_sum: float = 0.0  # the first window's steps: a rate over a partly empty window reads low
    early_n: int = 0

    def add(self, rps: float, *, full: bool) -> None:
        if full:
            self.rps_sum += rps
            self.n += 1
        else:
            self.early_sum += rps
            self.early_n += 1

    def rps(self) -> float:
        return self.rps_sum / self.n if self.n else self.early_sum / max(1, self.early_n)

    first_share: float | None = None
    recorded_share: float | None = None


@dataclass
class TenantHealth:
    run: int = 0  # consecutive steps past the threshold
    pending: float = 0.0  # when the current run began
    crossed_at: float | None = None  # the first run that lasted the check's `consecutive` steps
    worst: float = 0.0


@dataclass
class Gathered:
    t0: float
    window_s: float
    traffic: dict[str, TenantTraffic] = field(default_factory=dict)
    steps: list[tuple[float, dict[str, float], int | None]] = field(default_factory=list)
    health: dict[str, TenantHealth] = field(default_factory=dict)
    warmth_first: dict[str, float] = field(default_factory=dict)
    warmth_max: float = 0.0
    tiers: dict[str, TierTrack] = field(default_factory=lambda: {"old": TierTrack(), "new": TierTrack()})
    per_replica_load: float = 0.0  # the most old-tier rps one ready replica carried (the fallback estimate)
    util_load: float = 0.0  # sum over usable steps of the old tier's rps ...
    util_capacity: float = 0.0  # ... and of utilisation x ready replicas x cache factor: load / this = capacity
    util_steps: int = 0
    util_prev: tuple[float, int, float, float] | None = None  # the previous step's (load, ready, util, factor)
    old_load: float = 0.0  # the latest step's old-tier rps
    points: int = 0


@dataclass(frozen=True)
class Queries:
    traffic: str  # requests in the window per tenant and revision (the first check's samples query)
    check: Check
    warmth: str
    ready: str
    desired: str
    utilisation: str = UTILISATION_QUERY


def queries(
    s: Settings, ready: str = READY_QUERY, desired: str = DESIRED_QUERY, utilisation: str = UTILISATION_QUERY
) -> Queries:
    check = next((c for c in s.checks if c.samples), None)
    if check is None:
        raise ConfigError(
            f"plugins.{s.backend}.checks: from-prometheus reads each tenant's traffic per revision from a check's "
            "samples query; give one check a samples query (the shipped error-ratio templates have one)"
        )
    return Queries(check.samples, check, s.warmth.query if s.warmth else "", ready, desired, utilisation)


def _by(series: Series, keys: tuple[str, ...], query: str) -> dict[tuple[str, ...], list[tuple[float, float]]]:
    out: dict[tuple[str, ...], list[tuple[float, float]]] = {}
    for labels, values in series:
        key = tuple(labels.get(k, "") for k in keys)
        if key in out:
            raise ConfigError(
                f"query {query!r} returned several series for {dict(zip(keys, key, strict=True))}; "
                f"aggregate it by ({', '.join(keys)})"
            )
        out[key] = values
    return out


def _at(values: list[tuple[float, float]] | None) -> dict[float, float]:
    return {t: v for t, v in (values or []) if math.isfinite(v)}


class Reader:
    def __init__(self, client: PrometheusClient, settings: Settings, q: Queries) -> None:
        self.client, self.s, self.q = client, settings, q

    async def gather(self, start: float, end: float, step: float, progress: Progress) -> Gathered:
        g = Gathered(t0=start, window_s=self.s.window_s)
        span = CHUNK_STEPS * step
        chunks = max(1, math.ceil((end - start) / span))
        for i in range(chunks):
            a = start + i * span
            b = min(end, a + span - step) if i < chunks - 1 else end
            await self._chunk(g, a, b, step)
            progress(i + 1, chunks)
        return g

    async def _range(self, promql: str, a: float, b: float, step: float) -> Series:
        try:
            return await self.client.query_range(promql, a, b, step)
        except QueryFailed as exc:
            raise ConfigError(f"query {promql!r}: {exc}") from None

    async def _chunk(self, g: Gathered, a: float, b: float, step: float) -> None:
        s, q = self.s, self.q
        tr = (s.tenant_label, s.revision_label)
        traffic = _by(await self._range(q.traffic, a, b, step), tr, q.traffic)
        tc = (q.check.tenant_label, q.check.revision_label)
        health = _by(await self._range(q.check.query, a, b, step), tc, q.check.query)
        tiers = {}
        for name, promql in (("ready", q.ready), ("desired", q.desired)):
            tiers[name] = _tier_series(await self._range(promql, a, b, step), s, promql)
        util = _revision_series(await self._range(q.utilisation, a, b, step), s, q.utilisation)
        warm_old: dict[float, float] = {}
        if q.warmth:
            for labels, values in await self._range(q.warmth, a, b, step):
                if _fold_warmth(g, labels, values, s) == s.old:
                    warm_old = _at(values)
        times = sorted(
            {t for vs in traffic.values() for t, _ in vs} | {t for vs in tiers["ready"].values() for t, _ in vs}
        )
        tenants = sorted({k[0] for k in traffic})
        per_tenant = {x: (_at(traffic.get((x, s.old))), _at(traffic.get((x, s.new)))) for x in tenants}
        checks = {x: (_at(health.get((x, s.old))), _at(health.get((x, s.new)))) for x in {k[0] for k in health}}
        ready = {n: _at(tiers["ready"].get(n)) for n in ("old", "new")}
        desired = {n: _at(tiers["desired"].get(n)) for n in ("old", "new")}
        util_old = _at(util.get("old"))
        for t in times:
            g.points += 1
            _fold_traffic(g, t, per_tenant, self.s.window_s)
            _fold_health(g, t, checks, q.check)
            _fold_tiers(g, t, ready, desired)
            _fold_utilisation(g, t, ready["old"].get(t), util_old.get(t), warm_old.get(t))


def _tier_series(series: Series, s: Settings, promql: str) -> dict[str, list[tuple[float, float]]]:
    """Which series is which tier: its revision label names the revision, or it is named old / new."""
    out: dict[str, list[tuple[float, float]]] = {}
    for labels, values in series:
        rev = labels.get(s.revision_label, "")
        tier = "old" if rev == s.old else "new" if rev == s.new else labels.get("deployment", "")
        if tier not in ("old", "new"):
            continue
        if tier in out:
            raise ConfigError(
                f"query {promql!r} returned several series for the {tier} tier; select one deployment each"
            )
        out[tier] = values
    return out


def _revision_series(series: Series, s: Settings, promql: str) -> dict[str, list[tuple[float, float]]]:
    """Which series is which tier: one of its labels names the tier's revision (vLLM's model_name)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for labels, values in series:
        rev = next((v for v in labels.values() if v in (s.old, s.new)), "")
        if not rev:
            continue
        tier = "old" if rev == s.old else "new"
        if tier in out:
            raise ConfigError(f"query {promql!r} returned several series for the {tier} tier ({rev}); aggregate it")
        out[tier] = values
    return out


def _fold_warmth(g: Gathered, labels: dict[str, str], values: list[tuple[float, float]], s: Settings) -> str:
    key = next((v for v in labels.values() if v in (s.old, s.new)), "")
    finite = [v for _t, v in values if math.isfinite(v)]
    if not key or not finite:
        return ""
    g.warmth_first.setdefault(key, finite[0])
    g.warmth_max = max(g.warmth_max, *finite)
    return key


def cache_factor(hit: float | None) -> float:
    """The format's capacity factor at a hit rate (the defaults the generated file keeps); 1 if unknown."""
    if hit is None:
        return 1.0
    return COLD_FACTOR + (1.0 - COLD_FACTOR) * min(1.0, max(0.0, hit / WARM_HIT))


def _fold_utilisation(g: Gathered, t: float, ready: float | None, util: float | None, hit: float | None) -> None:
    """Capacity from load and utilisation: over the steps where the old tier was neither idle nor saturated
    and steady, sum its load and its utilisation x ready replicas x cache factor; their ratio is the warm per-replica
    capacity (a ratio of sums: bounded memory, and steps carrying more load weigh more)."""
    if ready is None or util is None or round(ready) <= 0 or g.old_load <= 0:
        g.util_prev = None
        return
    now = (g.old_load, round(ready), util, cache_factor(hit))
    prev, g.util_prev = g.util_prev, now
    if not UTIL_RANGE[0] <= util <= UTIL_RANGE[1] or prev is None:
        return
    # a rate over a window lags the gauges while traffic or replicas move: use the steps where nothing moved
    if prev[1] != now[1] or any(abs(a - b) > STEADY * max(a, b) for a, b in zip(prev[::2], now[::2], strict=True)):
        return
    if abs(prev[3] - now[3]) > STEADY * now[3]:
        return
    g.util_load += g.old_load
    g.util_capacity += util * now[1] * now[3]
    g.util_steps += 1


def _fold_traffic(
    g: Gathered, t: float, per_tenant: dict[str, tuple[dict[float, float], dict[float, float]]], window_s: float
) -> None:
    moved: dict[str, float] = {}
    old_load = 0.0
    for x, (old, new) in per_tenant.items():
        o, n = old.get(t, 0.0), new.get(t, 0.0)
        if o + n <= 0:
            continue
        share = n / (o + n)
        rec = g.traffic.get(x) or g.traffic.setdefault(x, TenantTraffic(first_seen=t))
        rec.add((o + n) / window_s, full=t - rec.first_seen >= window_s)
        old_load += o / window_s
        if rec.first_share is None:
            rec.first_share = rec.recorded_share = share
        elif rec.recorded_share is not None and _moved(rec.recorded_share, share):
            rec.recorded_share = moved[x] = round(share, 4)
    g.old_load = old_load
    if moved:
        g.steps.append((round(t - g.t0, 3), moved, None))


def _moved(before: float, now: float) -> bool:
    return abs(now - before) >= SHARE_STEP or (now in (0.0, 1.0) and now != before)


def _fold_health(
    g: Gathered, t: float, checks: dict[str, tuple[dict[float, float], dict[float, float]]], c: Check
) -> None:
    for x, (old, new) in checks.items():
        if t not in new:
            continue
        base = old.get(t, 0.0) if c.baseline == "old" else 0.0
        worse = new[t] - base if c.direction == "higher_is_worse" else base - new[t]
        h = g.health.setdefault(x, TenantHealth())
        if worse < c.threshold:
            h.run = 0
            continue
        h.run += 1
        if h.run == 1:
            h.pending = round(t - g.t0, 3)
        if h.run >= c.consecutive and h.crossed_at is None:
            h.crossed_at = h.pending
        if h.crossed_at is not None:
            h.worst = max(h.worst, worse)


def _fold_tiers(
    g: Gathered, t: float, ready: dict[str, dict[float, float]], desired: dict[str, dict[float, float]]
) -> None:
    for name in ("old", "new"):
        if t not in ready[name]:
            continue
        r = round(ready[name][t])
        d = round(desired[name].get(t, ready[name][t]))
        track = g.tiers[name]
        before = track.desired if track.start is not None else d
        track.observe(round(t - g.t0, 3), r, d, None)
        if name == "old" and d > before:
            g.steps.append((round(t - g.t0, 3), {}, d))
        if name == "old" and r > 0:
            g.per_replica_load = max(g.per_replica_load, g.old_load / r)


def draft(
    g: Gathered, s: Settings, q: Queries, start: float, end: float, step: float, name: str = "from-prometheus"
) -> Draft:
    if not g.traffic:
        raise ConfigError(
            f"query {q.traffic!r} returned no traffic between {start:.0f} and {end:.0f}: a window with no data "
            "(check the window, the URL and plugins.prometheus.revisions)"
        )
    if g.tiers["old"].start is None:
        raise ConfigError(f"query {q.ready!r} returned no series for the old tier ({s.old}) in the window")
    d = Draft(
        preamble=[
            f"Generated by `cockpit scenario from-prometheus` from {s.url}, {start:.0f} to {end:.0f} (epoch s), "
            f"step {step:g} s, {g.points} steps. T+N is seconds after the window's start.",
        ]
    )
    d.table("scenario").add("name", name).add("description", f"Replayed from Prometheus {start:.0f}-{end:.0f}.").add(
        "seed", 1, "not in the metrics: any seed"
    ).add("duration_s", float(math.ceil(end - start) + SPAN_MARGIN_S), f"the window, plus {SPAN_MARGIN_S:g} s").add(
        "tick_s", 1.0
    )
    d.table("models").add("old", s.old, "plugins.prometheus.revisions.old").add(
        "new", s.new, "plugins.prometheus.revisions.new"
    )
    _tiers(d, g, q)
    _caches(d, g, s, q)
    _tenants(d, g, s, q)
    d.table("health").add("detection_delay_s", 0.0, "the onsets below are the signal's own")
    _events(d, g, q)
    _recorded(d, g, q)
    return d


def _tiers(d: Draft, g: Gathered, q: Queries) -> None:
    if g.util_steps and g.util_capacity > 0:
        per = g.util_load / g.util_capacity
        warm = f" x the cache factor at {q.warmth!r} (cold_capacity_factor {COLD_FACTOR}, warm_hit_rate {WARM_HIT})"
        per_note = (
            f"load / utilisation: the old tier's rps ({q.traffic!r}) summed over the {g.util_steps} steps its "
            f"utilisation ({q.utilisation!r}) read {UTIL_RANGE[0]:g}-{UTIL_RANGE[1]:g} and load, utilisation and "
            f"warmth held within {STEADY:.0%} of the previous step's (a rate lags the gauges while traffic moves), "
            f"over the sum of utilisation "
            f"x ready replicas ({q.ready!r}){warm if q.warmth else ''}"
        )
    else:
        per = g.per_replica_load / HPA_TARGET if g.per_replica_load > 0 else 20.0
        per_note = (
            f"no utilisation in {q.utilisation!r}: the most old-tier rps one ready replica carried "
            f"({g.per_replica_load:.2f}; {q.traffic!r} over {q.ready!r}) / {HPA_TARGET} (assumes the autoscaler "
            "held its target utilisation: a lower bound when it did not)"
        )
    startup_old = g.tiers["old"].startups
    for name in ("old", "new"):
        track = g.tiers[name]
        t = d.table(f"tiers.{name}")
        start = track.start if track.start is not None else 1
        src = f"first value of {q.ready!r}" if track.start is not None else f"no series for it in {q.ready!r}: assumed"
        t.add("replicas", start, src)
        t.add("per_replica_rps", round(per, 3), per_note if name == "old" else "assumed as the old tier's")
        ups = track.startups or startup_old
        if ups:
            lo, hi = min(ups), max(ups)
            how = f"{len(ups)} replica(s) ready {lo:g}-{hi:g} s after {q.desired!r} rose ({q.ready!r}), step-resolution"
            t.add("startup_s", round((lo + hi) / 2, 1), how).add("startup_jitter_s", round((hi - lo) / 2, 1))
        else:
            t.add("startup_s", 90.0, "no ramp in the window: the format's default")
        if name == "old" and track.start is not None:
            t.add("hpa_min", start, "the starting replicas")


def _caches(d: Draft, g: Gathered, s: Settings, q: Queries) -> None:
    for name, rev in (("old", s.old), ("new", s.new)):
        hit = g.warmth_first.get(rev)
        if hit is None:
            continue
        d.table(f"caches.{name}").add("hit_rate", round(min(1.0, max(0.0, hit)), 4), f"first value of {q.warmth!r}")


def _tenants(d: Draft, g: Gathered, s: Settings, q: Queries) -> None:
    first = True
    for x, rec in sorted(g.traffic.items()):
        note = (
            f"mean rate (after each series' first full window) and first share on the new revision from "
            f"{q.traffic!r} / {s.window_s:g} s"
            if first
            else ""
        )
        first = False
        t = d.table("tenants", note, array=True).add("name", x).add("cohort", s.cohorts.get(x, "default"))
        t.add("rps", round(rec.rps(), 3)).add("share", round(rec.first_share or 0.0, 4))


def _events(d: Draft, g: Gathered, q: Queries) -> None:
    c = q.check
    onsets: dict[float, list[str]] = {}
    for x, h in sorted(g.health.items()):
        if h.crossed_at is not None and h.worst >= c.threshold:
            # a step change in a rate over the window crosses the threshold threshold/worst of a window late
            lag = g.window_s * c.threshold / h.worst
            onsets.setdefault(round(max(0.0, h.crossed_at - lag)), []).append(x)
    for at, tenants in sorted(onsets.items()):
        worst = max(g.health[x].worst for x in tenants)
        note = (
            f"{q.check.name!r} ({c.query!r}) crossed {c.threshold:g} for {', '.join(tenants)}; "
            "minus the rate window's lag to reach it"
        )
        t = d.table("events", note, array=True).add("at_s", float(at)).add("kind", "regression_start")
        t.add("tenants", tenants).add(
            "severity", round(min(1.0, worst / c.scale), 4), f"worst degradation / {c.scale:g}"
        )


def _recorded(d: Draft, g: Gathered, q: Queries) -> None:
    regressing = {x for x, h in g.health.items() if h.crossed_at is not None and h.worst >= q.check.threshold}
    first_back = next((at for at, shares, _ in g.steps if any(x in regressing for x in shares)), None)
    r = d.table("recorded", "what happened: `cockpit drill --compare` replays it as 'as it happened'")
    r.add("source", "prometheus")
    if first_back is not None:
        r.add("declared_at_s", first_back, "assumed: the first share change of a regressing tenant")
    r.add("scope", sorted(regressing))
    for at, shares, scale in g.steps:
        s = d.table("recorded.steps", array=True).add("at_s", at)
        if scale is not None:
            s.add("scale_old", scale, f"{q.desired!r} rose")
        else:
            s.add("shares", shares, f"share moved >= {SHARE_STEP:g} in {q.traffic!r}")
