"""`cockpit scenario from-journal`: a past incident (or drill), as the cockpit journaled it, turned into a
drill scenario, with every estimate commented with the records it came from, and what the cockpit
actually did kept in `[recorded]` so a drill can score it as the column "as it happened".

One pass over the entries, keeping aggregates rather than samples (a day-long journal holds tens of
thousands of metrics records). No I/O: the caller hands the entries in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cockpit.domain.revisions import is_pinned
from cockpit.errors import ConfigError
from cockpit_backends.mock.draft import Draft

ALIAS_POLL_S = 60.0  # the engine polls the alias every minute: a move is noticed up to this late
DEFAULT_DETECTION_DELAY_S = 30.0  # the scenario format's default
SPAN_MARGIN_S = 1800.0  # the scenario runs this long past the journal's last record
MIN_WARMING_RUN_S = 60.0


class EntryLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass
class Fit:
    """Streaming least squares of y on x."""

    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, x: float, y: float) -> None:
        self.n += 1
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.sxy += x * y

    def line(self) -> tuple[float, float] | None:
        """(intercept, slope), or None while the x values do not vary."""
        d = self.n * self.sxx - self.sx * self.sx
        if self.n < 2 or d <= 1e-12 * max(1.0, self.n * self.sxx):
            return None
        slope = (self.n * self.sxy - self.sx * self.sy) / d
        return (self.sy - slope * self.sx) / self.n, slope


@dataclass
class TierTrack:
    """A tier's replicas over the journal: the start, and each replica's start-up from request to ready."""

    start: int | None = None
    ready: int = 0
    desired: int = 0
    pending: deque[float] = field(default_factory=deque)  # request times of replicas not ready yet
    startups: list[float] = field(default_factory=list)
    crashes: list[tuple[float, int]] = field(default_factory=list)

    def observe(self, t: float, ready: int, desired: int, requested_at: float | None) -> None:
        if self.start is None:
            self.start, self.ready, self.desired = ready, ready, desired
            return
        if desired > self.desired:
            since = requested_at if requested_at is not None and t - requested_at <= 15.0 else t
            self.pending.extend([since] * (desired - self.desired))
        elif ready < self.ready and desired == self.desired:
            self.crashes.append((t, self.ready - ready))
            self.pending.extend([t] * (self.ready - ready))
        for _ in range(max(0, ready - self.ready)):
            if self.pending:
                self.startups.append(t - self.pending.popleft())
        self.ready, self.desired = ready, desired


@dataclass
class Warming:
    """Runs of metrics samples at a constant old-tier load: how fast the old cache warmed under it."""

    run: tuple[float, float, float] | None = None  # (start t, start hit, load)
    last: tuple[float, float] | None = None  # (t, hit) of the run's latest sample
    best: tuple[float, float, float, float, float] | None = None  # (dt, load, h1, h2, t1)

    def add(self, t: float, hit: float, load: float) -> None:
        if self.run is None or abs(load - self.run[2]) > 1e-6 or load <= 0:
            self._close()
            self.run = (t, hit, load) if load > 0 else None
        self.last = (t, hit)

    def _close(self) -> None:
        if self.run is None or self.last is None:
            return
        dt = self.last[0] - self.run[0]
        if self.best is None or dt > self.best[0]:
            self.best = (dt, self.run[2], self.run[1], self.last[1], self.run[0])

    def estimate(self, warm: float) -> tuple[float, str] | None:
        self._close()
        self.run = None
        if self.best is None:
            return None
        dt, load, h1, h2, t1 = self.best
        if dt < MIN_WARMING_RUN_S or not (h1 < h2 < warm - 0.01):
            return None
        w = load * dt / -math.log((warm - h2) / (warm - h1))
        return w, (
            f"old cache warmed {h1:.3f} -> {h2:.3f} over {dt:g} s at {load:g} rps from T+{t1:g} "
            f"(metrics.old_hit): warm_requests = load x dt / -ln((warm - h2) / (warm - h1))"
        )


@dataclass
class Journaled:
    """Everything the estimates need, gathered in one pass."""

    t0: float = 0.0
    last_ts: float = 0.0
    fleet: dict[str, Any] | None = None
    alias: str = ""
    alias_moves: list[tuple[float, str, str]] = field(default_factory=list)
    tiers: dict[str, TierTrack] = field(default_factory=lambda: {"old": TierTrack(), "new": TierTrack()})
    last_scale_at: float | None = None
    capacity: Fit = field(default_factory=Fit)
    warm_sum: float = 0.0  # capacity per replica summed over samples at or above the warm rate
    warm_n: int = 0
    max_hit: float = 0.0
    warming: Warming = field(default_factory=Warming)
    first_hits: dict[str, float] | None = None
    hit_samples: list[tuple[float, float]] = field(default_factory=list)  # (hit, capacity per replica)
    regressing: set[str] = field(default_factory=set)
    onsets: list[tuple[float, str, list[str]]] = field(default_factory=list)  # (t seen, kind, tenants)
    severity: dict[str, float] = field(default_factory=dict)
    declared_at: float | None = None
    scope: list[str] = field(default_factory=list)
    steps: list[tuple[float, dict[str, float], int | None]] = field(default_factory=list)
    records: int = 0

    def t(self, ts: float) -> float:
        return round(max(0.0, ts - self.t0), 3)


def _fleet_adopted(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    if j.fleet is None:
        j.fleet = d


def _alias_resolved(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    j.alias = j.alias or str(d.get("alias", ""))


def _alias_moved(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    j.alias = j.alias or str(d.get("alias", ""))
    j.alias_moves.append((j.t(ts), str(d.get("previous", "")), str(d.get("current", ""))))


def _tier_changed(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    track = j.tiers.get(str(d.get("tier")))
    if track is not None:
        requested = j.last_scale_at if d.get("tier") == "old" else None
        track.observe(j.t(ts), int(d["ready"]), int(d["desired"]), requested)


def _actuation(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    if d.get("role") == "autoscaler":
        j.last_scale_at = j.t(ts)


def _actuation_ack(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    if j.fleet is None:
        return
    if "desired" in d and "shares" not in d:
        j.steps.append((j.t(ts), {}, int(d["desired"])))
    elif d.get("shares"):
        j.steps.append((j.t(ts), {str(k): float(v) for k, v in d["shares"].items()}, None))


def _metrics(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    namespaces = d.get("namespaces") or {}
    j.max_hit = max([j.max_hit, *[float(v) for v in namespaces.values() if v is not None]])
    if j.first_hits is None and namespaces:
        j.first_hits = {str(k): float(v) for k, v in namespaces.items() if v is not None}
    ready, cap, hit = d.get("old_ready"), d.get("old_capacity"), d.get("old_hit")
    if ready and cap is not None and hit is not None:
        j.hit_samples.append((float(hit), float(cap) / int(ready)))
        if len(j.hit_samples) > 4096:  # bounded: the fit below is what is kept
            _fold_samples(j)
    if hit is not None and d.get("old_load") is not None:
        j.warming.add(j.t(ts), float(hit), float(d["old_load"]))
    for tenant, sev in (d.get("harm") or {}).items():
        j.severity.setdefault(str(tenant), float(sev))


def _health_changed(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    now = set(d.get("regressing") or [])
    started, ended = sorted(now - j.regressing), sorted(j.regressing - now)
    if started:
        j.onsets.append((j.t(ts), "regression_start", started))
    if ended:
        j.onsets.append((j.t(ts), "regression_end", ended))
    j.regressing = now


def _incident_declared(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    if j.declared_at is None:
        j.declared_at = j.t(ts)


def _rollback_checkpoint(j: Journaled, ts: float, d: dict[str, Any]) -> None:
    if d.get("scope"):
        j.scope = sorted(str(x) for x in d["scope"])


_READERS = {
    "fleet_adopted": _fleet_adopted,
    "alias_resolved": _alias_resolved,
    "alias_moved": _alias_moved,
    "tier_changed": _tier_changed,
    "actuation": _actuation,
    "actuation_ack": _actuation_ack,
    "metrics": _metrics,
    "health_changed": _health_changed,
    "incident_declared": _incident_declared,
    "rollback_checkpoint": _rollback_checkpoint,
}


def _fold_samples(j: Journaled) -> None:
    """Move the held (hit, capacity per replica) samples into the fit (needs the warm rate seen so far)."""
    warm = j.max_hit or 0.8
    for hit, per in j.hit_samples:
        if hit >= warm - 1e-9:
            j.warm_sum += per
            j.warm_n += 1
        else:
            j.capacity.add(hit, per)
    j.hit_samples.clear()


def read(entries: Iterable[EntryLike]) -> Journaled:
    j = Journaled()
    for e in entries:
        if j.records == 0:
            j.t0 = e.ts  # time 0 of the scenario: the engine's first record
        j.records += 1
        j.last_ts = max(j.last_ts, e.ts)
        reader = _READERS.get(e.kind)
        if reader is not None:
            reader(j, e.ts, e.data)
    _fold_samples(j)
    return j


def draft(
    entries: Iterable[EntryLike],
    source: str,
    detection_delay_s: float = DEFAULT_DETECTION_DELAY_S,
    name: str = "from-journal",
) -> Draft:
    """The scenario the journal at `source` describes. Raises ConfigError when it holds no fleet."""
    j = read(entries)
    if j.fleet is None:
        raise ConfigError(
            f"journal {source}: no fleet_adopted record ({j.records} record(s)); only a journal of an engine "
            "that adopted a fleet can become a scenario"
        )
    d = Draft(
        preamble=[
            f"Generated by `cockpit scenario from-journal` from {source} ({j.records} records).",
            "Every estimate says what it came from; T+N is seconds after the journal's first record.",
        ]
    )
    fleet = j.fleet
    span = math.ceil(j.t(j.last_ts))
    d.table("scenario").add("name", name).add("description", f"Replayed from the journal {source}.").add(
        "seed", 1, "not journaled: any seed"
    ).add("duration_s", float(span + SPAN_MARGIN_S), f"the journal spans {span} s, plus {SPAN_MARGIN_S:g} s").add(
        "tick_s", 1.0, "the engine's tick in a drill"
    )
    models = d.table("models").add("old", str(fleet["old"]), "fleet_adopted.old")
    models.add("new", str(fleet["new"]), "fleet_adopted.new")
    if j.alias:
        models.add("alias", j.alias, "alias_resolved.alias")
    _tiers(d, j)
    _caches(d, j)
    _fleet(d, fleet)
    d.table("health").add(
        "detection_delay_s",
        detection_delay_s,
        "assumed (--detection-delay): the journal shows when a regression was seen, not when it began",
    )
    d.table("cost", "not journaled: the format's defaults").add("request_cost", 0.01).add("cached_discount", 0.9)
    _events(d, j, detection_delay_s)
    _recorded(d, j, source)
    return d


def _capacity(j: Journaled) -> tuple[float, float, float, str]:
    """(per-replica rps, cold capacity factor, warm hit rate, note) from the old tier's metrics samples:
    capacity / ready = P x (c + (1 - c) x hit / warm) below the warm rate, a line in the hit rate."""
    warm = round(j.max_hit, 3) if j.max_hit > 0 else 0.8
    line = j.capacity.line()
    if line is not None:
        a, b = line
        per = a + b * warm
        if per > 0 and 0 <= a / per <= 1:
            note = (
                f"least-squares line through {j.capacity.n} metrics samples of old_capacity / old_ready against "
                f"old_hit (intercept {a:.3f}, slope {b:.3f}): per_replica_rps = intercept + slope x warm"
            )
            return per, a / per, warm, note
    if j.warm_n:
        return j.warm_sum / j.warm_n, 0.5, warm, "old_capacity / old_ready with a warm cache (cold factor: default)"
    if j.capacity.n:
        per = j.capacity.sy / j.capacity.n
        return per, 0.5, warm, "mean old_capacity / old_ready (one cache state seen: a lower bound)"
    return 20.0, 0.5, warm, "no metrics record: the format's example value"


def _startup(track: TierTrack) -> tuple[float, float, str] | None:
    if not track.startups:
        return None
    lo, hi = min(track.startups), max(track.startups)
    return (
        round((lo + hi) / 2, 1),
        round((hi - lo) / 2, 1),
        f"{len(track.startups)} replica(s) ready {lo:g}-{hi:g} s after the scale request (tier_changed after "
        "actuation): the middle and half the spread",
    )


def _tiers(d: Draft, j: Journaled) -> None:
    per, cold, warm, note = _capacity(j)
    old_startup = _startup(j.tiers["old"])
    for name in ("old", "new"):
        track = j.tiers[name]
        t = d.table(f"tiers.{name}")
        if track.start is None:
            t.add("replicas", 1, f"no tier_changed record for the {name} tier: assumed")
        else:
            t.add("replicas", track.start, "first tier_changed.ready")
        if name == "old":
            t.add("per_replica_rps", round(per, 3), note)
            t.add(
                "cold_capacity_factor", round(min(1.0, max(0.0, cold)), 4), "the same fit: intercept / per_replica_rps"
            )
        else:
            t.add(
                "per_replica_rps", round(per, 3), "assumed as the old tier's: only the old tier's capacity is journaled"
            )
            t.add("cold_capacity_factor", round(min(1.0, max(0.0, cold)), 4), "assumed as the old tier's")
        t.add("warm_hit_rate", max(warm, 0.001), "the highest hit rate any namespace reached (metrics.namespaces)")
        startup = _startup(track) or old_startup
        if startup is None:
            t.add("startup_s", 90.0, "no ramp observed: the format's default")
        else:
            mid, jitter, how = startup
            src = how if _startup(track) else f"as the old tier: {how}"
            t.add("startup_s", mid, src).add("startup_jitter_s", jitter, "half the spread above")


def _caches(d: Draft, j: Journaled) -> None:
    fleet = j.fleet or {}
    warm = round(j.max_hit, 3) if j.max_hit > 0 else 0.8
    warming = j.warming.estimate(warm)
    for name in ("old", "new"):
        revision = str(fleet.get(name, ""))
        hits = j.first_hits or {}
        hit = next((v for k, v in hits.items() if revision and revision in k), None)
        if hit is None:
            continue
        t = d.table(f"caches.{name}")
        t.add("hit_rate", round(min(1.0, max(0.0, hit)), 4), "first metrics sample of its namespace")
        if warming is not None:
            w, how = warming
            t.add("warm_requests", round(max(1.0, w), 1), how if name == "old" else "assumed as the old cache's")
        else:
            t.add("warm_requests", 20000.0, "no warming run long enough to fit: the format's default")
        t.add("ttl_s", 1800.0, "idle decay is not journaled: the format's default")


def _fleet(d: Draft, fleet: dict[str, Any]) -> None:
    shares: dict[str, Any] = fleet.get("shares") or {}
    rps: dict[str, Any] = fleet.get("rps") or {}
    cohorts: dict[str, Any] = fleet.get("cohorts") or {}
    groups: dict[str, list[str]] = {}
    for tenant in shares:
        groups.setdefault(str(cohorts.get(tenant, "default")), []).append(tenant)
    first = True
    for cohort, members in groups.items():
        if _generated(cohort, members, shares, rps):
            t = d.table("cohorts", "a generated cohort: the same rate and share for each (fleet_adopted)", array=True)
            t.add("name", cohort).add("tenants", len(members))
            t.add("rps", float(rps.get(members[0], 0.0))).add("share", float(shares[members[0]]))
            continue
        for tenant in members:
            note = "rate and starting share from fleet_adopted" if first else ""
            first = False
            t = d.table("tenants", note, array=True).add("name", str(tenant)).add("cohort", cohort)
            t.add("rps", float(rps.get(tenant, 0.0))).add("share", float(shares[tenant]))


def _generated(cohort: str, members: list[str], shares: dict[str, Any], rps: dict[str, Any]) -> bool:
    """A cohort whose tenants are exactly COHORT-0001 … with one rate and share is written as [[cohorts]]."""
    if len(members) < 2 or set(members) != {f"{cohort}-{i:04d}" for i in range(1, len(members) + 1)}:
        return False
    return len({(float(rps.get(m, 0.0)), float(shares[m])) for m in members}) == 1


def _events(d: Draft, j: Journaled, delay: float) -> None:
    for seen, previous, current in j.alias_moves:
        if not is_pinned(current):
            continue
        at = max(0.0, seen - ALIAS_POLL_S / 2)
        t = d.table(
            "events",
            f"alias_moved at T+{seen:g} ({previous} -> {current}); the alias is polled every "
            f"{ALIAS_POLL_S:g} s: placed mid-way",
            array=True,
        )
        t.add("at_s", at).add("kind", "alias_rotate").add("to", current)
    cohorts = _cohort_members(j.fleet or {})
    for seen, kind, tenants in j.onsets:
        at = max(0.0, seen - delay)
        how = "began" if kind == "regression_start" else "stopped"
        note = f"health_changed at T+{seen:g}: {len(tenants)} tenant(s) {how} regressing; minus the detection delay"
        t = d.table("events", note, array=True).add("at_s", at).add("kind", kind)
        whole = next((c for c, m in cohorts.items() if m == set(tenants) and len(m) > 1), None)
        if whole is not None:
            t.add("cohort", whole)
        else:
            t.add("tenants", tenants)
        if kind == "regression_start":
            sev = [j.severity[x] for x in tenants if x in j.severity]
            if sev:
                t.add("severity", round(sum(sev) / len(sev), 4), "mean first severity in metrics.harm")
            else:
                t.add("severity", 0.5, "no severity journaled: the format's default")
    for when, count in j.tiers["old"].crashes:
        t = d.table("events", f"tier_changed at T+{when:g}: ready fell by {count} with desired unchanged", array=True)
        t.add("at_s", when).add("kind", "replica_crash").add("tier", "old").add("count", count)


def _cohort_members(fleet: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for tenant, cohort in (fleet.get("cohorts") or {}).items():
        out.setdefault(str(cohort), set()).add(str(tenant))
    return out


def _recorded(d: Draft, j: Journaled, source: str) -> None:
    r = d.table("recorded", "what actually happened: `cockpit drill --compare` replays it as 'as it happened'")
    r.add("source", f"journal {source}")
    if j.declared_at is not None:
        r.add("declared_at_s", j.declared_at, "incident_declared")
    if j.scope:
        r.add("scope", j.scope, "the rollback's scope (rollback_checkpoint)")
    for at, shares, scale in j.steps:
        s = d.table("recorded.steps", array=True).add("at_s", at)
        if scale is not None:
            s.add("scale_old", scale, "actuation_ack of the autoscaler")
        else:
            s.add("shares", shares, "actuation_ack: shares the router confirmed")
