"""The actuation protocol: intent → apply → read-back → ack → reconcile.

Every change to the fleet is journaled as an *intent* (and made durable) before the backend is called,
and acknowledged only after a read-back confirms it, with what was confirmed and what was not. After a
crash, intents without an ack are reconciled against what the router reports: confirmed ones are acked,
the others applied again under the same request id (idempotent). Each intent gets exactly one ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import le, sub
from typing import Any

from cockpit.config import Config
from cockpit.domain.rollback import RollbackScheduler, Stage
from cockpit.engine.backends import Backends
from cockpit.engine.journal import JournalLike
from cockpit.engine.observed import Observed
from cockpit.hookspecs import TrafficReading
from cockpit.plugins import PluginHost

SHARE_TOLERANCE = 1e-6
SCALE_RETRY_S = 15.0  # re-ask an autoscaler that has not taken our floor at most this often
FAILED_KEPT = 50  # failed tenants named in one ack (the count is always exact)

log = logging.getLogger("cockpit.engine")


def confirmed_shares(wanted: Mapping[str, float], seen: Mapping[str, float]) -> dict[str, float]:
    """The wanted shares the router reports back (within tolerance): only these count as applied.
    Compared in C, a tenant at a time in `wanted`'s order."""
    names = list(wanted)
    values = list(wanted.values())
    close = map(le, map(abs, map(sub, map(seen.get, names, repeat(-1.0)), values)), repeat(SHARE_TOLERANCE))
    return dict(compress(zip(names, values, strict=True), close))


@dataclass
class Actuator:
    config: Config
    backends: Backends
    journal: JournalLike
    host: PluginHost
    observed: Observed
    rollback: Callable[[], RollbackScheduler]  # the engine's current scheduler (it can be replaced)
    checkpoint: Callable[[], None]  # writes the engine's state; called with every intent
    actuations: int = 0
    request_prefix: str = ""  # e.g. "e3-": the fencing epoch in every request id sent to a backend
    # Called right before every backend write; raises (e.g. FencedError) when this engine must not act.
    guard: Callable[[], None] | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)  # intents found without an ack
    last_scale: tuple[int, float] | None = None

    def _intent(self, data: dict[str, Any], now: float) -> str:
        """Journal an intent with the state it belongs to and make both durable before acting."""
        self.actuations += 1
        act_id = f"{self.request_prefix}act-{self.actuations}"
        self.journal.append("actuation", {"id": act_id, **data}, now)
        self.checkpoint()
        self.journal.flush()  # durable before the world changes
        return act_id

    def _check_guard(self) -> None:
        if self.guard is not None:
            self.guard()

    def intent(self, data: dict[str, Any], now: float) -> str:
        """Journal an intent for a write another part makes (the overflow placement): same ids, same
        durability; an intent of a role other than "router" left without an ack is superseded on resume."""
        return self._intent(data, now)

    def check_guard(self) -> None:
        self._check_guard()

    def forget_scale_request(self) -> None:
        self.last_scale = None

    # The autoscaler ------------------------------------------------------------------------------
    async def prescale(self, replicas: int, now: float, required: int | None = None) -> bool | None:
        """Raise the old tier's floor; True when the read-back confirms it (None: asked recently). With
        `required`, a read-back of at least that many confirms it (the rest of `replicas` is the policy's
        over-request: an autoscaler that caps it at its maximum has given what the rollback needs)."""
        last = self.last_scale
        if last is not None and last[0] == replicas and now - last[1] < SCALE_RETRY_S:
            return None  # asked for this already: give the autoscaler time before asking again
        self.last_scale = (replicas, now)
        b = self.backends
        old_tier = self.config.file.tiers.old
        act_id = self._intent({"role": "autoscaler", "scale_to": replicas}, now)
        self._check_guard()
        ok = await b.done("autoscaler", b.autoscaler.scale_tier(old_tier, replicas, act_id))
        call_error = None if ok else b.degraded.get("autoscaler")
        back = await b.call("autoscaler", b.autoscaler.read_tier(old_tier), clears=False)
        verified = ok and back is not None and back.desired >= min(replicas, required or replicas)
        if back is not None:
            self.observed.old = back
        if verified:
            b.recover("autoscaler", write=True)
        else:
            why = call_error or f"desired {back.desired if back else '?'} after asking for {replicas}"
            b.write_failed("autoscaler", f"{b.names['autoscaler']}: pre-scale not confirmed ({why})")
        self.journal.append(
            "actuation_ack", {"id": act_id, "verified": verified, "desired": back.desired if back else None}, now
        )
        if not verified:
            self.rollback().scale_requested = 0  # ask again next tick
        return verified

    # The router ----------------------------------------------------------------------------------
    async def actuate(self, diff: dict[str, float], stage: Stage | None, now: float) -> bool:
        """Write the intent (and the committed state) first, then call the router, then read back."""
        intent = {"role": "router", "shares": diff, "stage": stage.to_dict() if stage else None}
        act_id = self._intent(intent, now)
        return await self._apply({"id": act_id, **intent}, now, staged=stage)

    async def _apply(
        self, intent: dict[str, Any], now: float, recovered: bool = False, staged: Stage | None = None
    ) -> bool:
        """`staged`: the Stage the intent was written from (else it is read back from the intent)."""
        b = self.backends
        diff: dict[str, float] = intent["shares"]
        self._check_guard()
        result = await b.call("router", b.router.apply_shares(diff, intent["id"]))
        call_error = None if result is not None else b.degraded.get("router")
        back = await b.call("router", b.router.read_traffic(), clears=False)
        if back is not None:
            back = self._merge(self.observed.taken(back))
            self.observed.traffic = back
        confirmed = confirmed_shares(diff, back.shares) if back is not None else {}
        failed = (
            {}
            if len(confirmed) == len(diff)
            else {
                t: (result.failed.get(t, "not confirmed by read-back") if result else "router call failed")
                for t in diff
                if t not in confirmed
            }
        )
        if confirmed:
            for f in self.host.shares_applied(confirmed, intent["id"], self.backends.context):
                b.plugin_error(f, now)
        self.ack_router(intent["id"], confirmed, failed, recovered, now)
        if failed:
            why = f" ({call_error})" if call_error else ""
            b.write_failed("router", f"{b.names['router']}: {len(failed)} of {len(diff)} shares not applied{why}")
        else:
            b.recover("router", write=True)
        stage = intent.get("stage")
        if stage and not failed:
            self.stage_confirmed(staged if staged is not None else Stage.from_dict(stage), now)
        elif stage:
            self.journal.append("stage_incomplete", {"stage": stage["number"], "failed_count": len(failed)}, now)
        return not failed

    def _merge(self, back: TrafficReading) -> TrafficReading:
        """A read-back without rates or cohorts keeps the ones last observed."""
        last = self.observed.traffic
        rps = back.rps or (last.rps if last else {})
        return TrafficReading(back.shares, rps, back.cohorts or (last.cohorts if last else {}))

    def ack_router(
        self, act_id: str, confirmed: dict[str, float], failed: dict[str, str], recovered: bool, now: float
    ) -> None:
        """The one shape of a router actuation's ack: what the read-back confirmed, and what it did not."""
        self.journal.append(
            "actuation_ack",
            {
                "id": act_id,
                "verified": not failed,
                "confirmed": len(confirmed),
                "shares": confirmed,
                "failed": dict(list(failed.items())[:FAILED_KEPT]),
                "failed_count": len(failed),
                "recovered": recovered,
            },
            now,
        )

    def stage_confirmed(self, stage: Stage, now: float) -> None:
        self.journal.append(
            "stage_applied",
            {"stage": stage.number, "tenants": len(stage.ceilings), "moved_rps": stage.moved_rps},
            now,
        )
        for f in self.host.stage_applied(stage.to_dict(), self.backends.context):
            self.backends.plugin_error(f, now)

    # After a restart -----------------------------------------------------------------------------
    async def reconcile(self, traffic: TrafficReading, now: float) -> None:
        """Intents written before a crash without an ack: confirm them from what the router reports, or
        apply them again (same request id: idempotent). Each gets exactly one ack."""
        for intent in self.pending:
            if intent.get("role") != "router":
                self.journal.append(
                    "actuation_ack",
                    {
                        "id": intent["id"],
                        "verified": False,
                        "recovered": True,
                        "note": "superseded: re-planned after restart",
                    },
                    now,
                )
                continue
            diff = intent["shares"]
            if len(confirmed_shares(diff, traffic.shares)) == len(diff):
                self.ack_router(intent["id"], diff, {}, True, now)
                if intent.get("stage"):
                    self.stage_confirmed(Stage.from_dict(intent["stage"]), now)
            else:
                log.info("re-applying intent %s found without an ack", intent["id"])
                await self._apply(intent, now, recovered=True)
        self.pending = []
