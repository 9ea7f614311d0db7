"""The figures a screen used to count for itself, counted once by the engine: wrong answers served, the
old tier's ETA to the capacity asked for, the rollback's progress in rps, the incident's onset.

A screen that counted them itself disagreed with every other screen (a reattached screen started its own
count at 0, a restarted one too). The engine counts them, journals them every `JOURNAL_EVERY_S`
(`figures` entries) so a restarted or read-only engine carries on from the journal, and hands them to
every screen in the Snapshot.

In a drill the simulator knows the truth (wrong answers, onset, the restore's lower bound): the session
hands it to the engine as `truth`, and the figures say which they are (`wrong_truth`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import ge, is_, le, mul
from typing import TYPE_CHECKING, Any

from cockpit.domain.exact import KeptSum, changed_keys

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine

JOURNAL_EVERY_S = 10.0
EPS = 1e-9


@dataclass
class Progress:
    """The rollback's progress: rps of the scope still on new versus when it was armed."""

    scope_rps: float = 0.0  # the scope's traffic on new when armed (what there is to restore)
    on_new_rps: float = 0.0  # the scope's traffic on new now
    restored: int = 0  # tenants of the scope at 0 % new
    tenants: int = 0

    @property
    def restored_rps(self) -> float:
        return max(0.0, self.scope_rps - self.on_new_rps)

    @property
    def fraction(self) -> float:
        return 1.0 if self.scope_rps <= EPS else min(1.0, self.restored_rps / self.scope_rps)


@dataclass
class Figures:
    """The engine's running figures (one per engine)."""

    wrong: float = 0.0
    at: float | None = None  # the engine time `wrong` was last integrated to
    journaled_at: float = -math.inf
    onset: float | None = None  # first seen regressing since the last release
    asked: tuple[int, float] | None = None  # (replicas asked for, when the tier's desired first reached it)
    armed_at: float | None = None
    scope_rps: float = 0.0
    seen_ts: float = -math.inf  # the latest `figures` entry restored from
    # the per-tenant sums with the very readings they came from (see _wrong_rate, _progress)
    rate_memo: tuple[tuple[Any, ...], float] | None = None
    progress_memo: tuple[tuple[Any, ...], tuple[list[str], float, int]] | None = None
    # kept across readings, updated for the tenants a stage changed (exact.KeptSum)
    rate_weights: tuple[Any, ...] | None = None  # (harm, rps, threshold, regressing tenants, harm × rps)
    rate_sum: KeptSum = field(default_factory=KeptSum)
    progress_last: tuple[Any, ...] | None = None  # (scope, rps, shares, effective, tenants, restored)
    on_new: KeptSum = field(default_factory=KeptSum)

    def restore(self, data: Mapping[str, Any], ts: float) -> None:
        """From the latest `figures` journal entry (a restart, or a read-only engine replaying)."""
        self.wrong = float(data.get("wrong", 0.0) or 0.0)
        self.at = self.seen_ts = ts
        self.onset = data.get("onset")
        self.armed_at = data.get("armed_at")
        self.scope_rps = float(data.get("scope_rps", 0.0) or 0.0)

    def journal_data(self) -> dict[str, Any]:
        return {
            "wrong": round(self.wrong, 3),
            "onset": self.onset,
            "armed_at": self.armed_at,
            "scope_rps": self.scope_rps,
        }


def figures_of(engine: Engine) -> Figures:
    """The engine's figures, restored from its journal the first time they are asked for."""
    figs: Figures | None = getattr(engine, "_figures", None)
    if figs is None:
        figs = Figures()
        last = engine.journal.last("figures")
        if last is not None:
            figs.restore(last.data, last.ts)
        engine._figures = figs  # type: ignore[attr-defined]  # kept on the engine, not in loop.py
    elif engine.read_only:  # another engine writes the journal: follow its count
        last = engine.journal.last("figures")
        if last is not None and last.ts > figs.seen_ts:
            figs.restore(last.data, last.ts)
    return figs


def update(engine: Engine, now: float, effective: Mapping[str, float], needed: int | None) -> dict[str, Any]:
    """Bring the figures up to `now` and return what the Snapshot carries."""
    figs = figures_of(engine)
    _integrate(engine, figs, now, effective)
    incident = engine.incident
    out: dict[str, Any] = {"wrong_answers": figs.wrong, "wrong_truth": False, "onset_at": figs.onset}
    truth = getattr(engine, "truth", None)
    if truth is not None:
        rb = engine.rollback
        declared = incident.declared_at if incident else None
        scope = rb.sorted_scope()  # sorted once per scope, not every tick
        card = truth.scorecard(declared, scope)
        out["wrong_answers"] = float(card["wrong_answers"])
        out["wrong_truth"] = True
        # the simulator's onset, once the engine has seen a regression (or one is declared): before that the
        # screen would say "onset 12s ago" beside "all healthy", the answer given away ahead of the signal
        out["onset_at"] = card.get("onset_s") if figs.onset is not None or incident is not None else None
        if declared is not None and rb.armed:
            out["restore_bound_s"] = truth.lower_bound(declared, scope)
    out["capacity_eta_s"] = _capacity_eta(engine, figs, now, needed)
    out["progress"] = _progress(engine, figs, effective)
    if not engine.read_only and engine.journal_alarm is None and now - figs.journaled_at >= JOURNAL_EVERY_S:
        figs.journaled_at = now
        engine.journal.append("figures", figs.journal_data(), now)
    return out


def _integrate(engine: Engine, figs: Figures, now: float, effective: Mapping[str, float]) -> None:
    """Wrong answers estimated since the last tick (harm × rps × share on new of each regressing tenant),
    and the onset: the first tick anything regressed since the last release."""
    obs = engine.observed
    threshold = engine.config.file.incident.regression_threshold
    traffic = obs.traffic
    if traffic is not None:
        # worked out even when no time passed (a command's snapshot): memoised, and kept up to date with
        # the readings and effective vector, so the next tick's update starts from these
        rate = _wrong_rate(figs, obs.harm, traffic.rps, traffic.shares, effective, threshold)
        if figs.at is not None and now > figs.at:
            figs.wrong += (now - figs.at) * rate
    if figs.at is None or now > figs.at:
        figs.at = now
    regressing = any(map(le, repeat(threshold), obs.harm.values()))
    incident = engine.incident
    if figs.onset is None and regressing:
        figs.onset = now
    elif incident is not None and not incident.open and not regressing:
        figs.onset = None


def _wrong_rate(
    figs: Figures,
    harm: Mapping[str, float],
    rps: Mapping[str, float],
    shares: Mapping[str, float],
    effective: Mapping[str, float],
    threshold: float,
) -> float:
    """Σ harm × rps × share on new over the regressing tenants, correctly rounded (`math.fsum`), worked out
    again only when a reading is not the very object it was (readings are immutable once observed), and
    then, when only the effective vector changed (a stage), updated for the tenants it changed."""
    inputs = (harm, rps, shares, effective, threshold)
    if figs.rate_memo is not None and all(map(is_, figs.rate_memo[0], inputs)):
        return figs.rate_memo[1]
    w = figs.rate_weights
    if w is None or w[0] is not harm or w[1] is not rps or w[2] != threshold:
        above = list(map(le, repeat(threshold), harm.values()))
        names = list(compress(harm, above))
        weights = dict(
            zip(names, map(mul, compress(harm.values(), above), map(rps.get, names, repeat(0.0))), strict=True)
        )
        w = figs.rate_weights = (harm, rps, threshold, names, weights)
    names, weights = w[3], w[4]
    kept = figs.rate_sum

    def pick(moved: set[str]) -> list[str]:
        return list(filter(weights.__contains__, moved))

    if kept.over is weights and kept.values is not None and changed_keys(kept.values, effective) is not None:
        # the tenants of the effective vector last summed for these weights, every one of them in it
        rate = kept(weights, weights, effective, lambda: names, pick)
    elif None in map(effective.get, names):  # a tenant the effective vector lacks: its observed share
        figs.rate_sum = KeptSum()
        rate = math.fsum(map(mul, weights.values(), map(effective.get, names, map(shares.get, names, repeat(0.0)))))
    else:
        rate = kept(weights, weights, effective, lambda: names, pick, keep=True)
    figs.rate_memo = (inputs, rate)
    return rate


def _capacity_eta(engine: Engine, figs: Figures, now: float, needed: int | None) -> float | None:
    """Seconds until the old tier is ready at the replicas asked for, counted from when the engine saw the
    tier's desired count reach the ask: 0 when ready, negative when overdue, None when nothing is asked or
    the autoscaler has not taken the ask yet."""
    old = engine.observed.old
    if old is None or not needed:
        figs.asked = None
        return None
    if old.ready >= needed:
        return 0.0
    if old.desired < needed:
        figs.asked = None
        return None  # the autoscaler has not taken the ask yet
    if figs.asked is None or figs.asked[0] != needed:
        figs.asked = (needed, now)
    left = figs.asked[1] + engine.config.file.tiers.startup_estimate_s - now
    return left if left > 0 else -max(EPS, -left)  # negative: overdue by that much (0 means ready)


def _progress(engine: Engine, figs: Figures, effective: Mapping[str, float]) -> dict[str, Any]:
    rb, traffic = engine.rollback, engine.observed.traffic
    if not rb.armed or traffic is None:
        figs.armed_at = None
        return {}
    rps = traffic.rps
    inputs = (rb.scope, rps, traffic.shares, effective)
    if figs.progress_memo is not None and all(map(is_, figs.progress_memo[0], inputs)):
        scope, on_new, restored = figs.progress_memo[1]
    else:
        scope, on_new, restored = _on_new(rb, figs, rps, traffic.shares, effective)
        figs.progress_memo = (inputs, (scope, on_new, restored))
    if figs.armed_at != rb.armed_at:  # armed now: what was on new before this tick's stage moved it
        figs.armed_at = rb.armed_at
        figs.scope_rps = sum(map(mul, map(rps.get, scope, repeat(0.0)), map(traffic.shares.get, scope, repeat(0.0))))
    figs.scope_rps = max(figs.scope_rps, on_new)
    p = Progress(figs.scope_rps, on_new, restored, len(scope))
    return {
        "scope_rps": p.scope_rps,
        "restored_rps": p.restored_rps,
        "fraction": p.fraction,
        "restored": p.restored,
        "tenants": p.tenants,
    }


def _on_new(
    rb: Any, figs: Figures, rps: Mapping[str, float], shares: Mapping[str, float], effective: Mapping[str, float]
) -> tuple[list[str], float, int]:
    """The scope's tenants the router has, their traffic still on new (correctly rounded), and how many
    are at 0 %: summed afresh when the scope, the rates or the router's tenants changed, else updated
    for the tenants whose effective share changed (a stage)."""
    last = figs.progress_last
    if (
        last is not None
        and last[0] is rb.scope
        and last[1] is rps
        and (last[2] is shares or changed_keys(last[2], shares) is not None)
        and (moved := changed_keys(last[3], effective)) is not None
    ):
        scope, restored = last[4], last[5]
        names = list(filter(shares.__contains__, moved.intersection(rb.scope)))
        restored += sum(map(ge, repeat(EPS), map(effective.get, names, repeat(0.0)))) - sum(
            map(ge, repeat(EPS), map(last[3].get, names, repeat(0.0)))
        )
        on_new = figs.on_new(figs.on_new, rps, effective, lambda: scope, lambda _: names)
    else:
        scope, _ = rb.in_reading(rb.scope, shares, rps)
        restored = sum(map(ge, repeat(EPS), map(effective.get, scope, repeat(0.0))))
        figs.on_new = KeptSum()
        on_new = figs.on_new(figs.on_new, rps, effective, lambda: scope, list, keep=True)
    figs.progress_last = (rb.scope, rps, shares, effective, scope, restored)
    return scope, on_new, restored
