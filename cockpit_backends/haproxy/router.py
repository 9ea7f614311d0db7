"""The router role on HAProxy: each tenant's share on the new revision is one entry of a map.

The map holds, per tenant (the ``X-Tenant`` request header), its share in parts per billion
(``WEIGHT_SCALE``); the shipped haproxy.cfg sends a request to the ``new`` backend when
``rand(1000000000)`` falls below that weight, and to ``old`` otherwise (tenants absent from the map
get 0: old). Parts per billion keep a read-back within 5e-10 of any share asked for, far inside the
engine's tolerance, so a confirmed share never looks like drift.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit_backends.haproxy.runtime import (
    Address,
    RuntimeAPIError,
    Session,
    parse_map,
    parse_table_rates,
    payload_chunks,
)

WEIGHT_SCALE = 1_000_000_000
# Above this many changed tenants, a batch goes in as one new map version (prepare / add / commit):
# every tenant switches at the same instant and HAProxy parses one payload instead of N commands.
ATOMIC_BATCH = 200
MAX_KEY = 256
_FORBIDDEN = set(";\\#\"'")


@dataclass(frozen=True, slots=True)
class RouterOptions:
    socket: Address
    map: str
    timeout_s: float = 5.0
    rates_table: str = ""


def weight(share: float) -> int:
    return round(share * WEIGHT_SCALE)


def share_of(value: str) -> float | None:
    """A map value as the share HAProxy serves (weights outside the scale saturate), None if unusable."""
    try:
        w = int(value)
    except ValueError:
        return None
    return min(max(w, 0), WEIGHT_SCALE) / WEIGHT_SCALE


def key_problem(tenant: str) -> str | None:
    """Why a tenant name cannot be a map key on the Runtime API command line (None if it can)."""
    if not tenant or len(tenant) > MAX_KEY:
        return f"tenant name must be 1 to {MAX_KEY} characters to be a HAProxy map key"
    if any(c.isspace() or ord(c) < 32 or c in _FORBIDDEN for c in tenant):
        return "tenant name has whitespace, a control character or one of ; \\ # \" ' (not a HAProxy map key)"
    return None


class HAProxyRouter:
    """`TrafficRouter` over the Runtime API. Every call opens one interactive session, so a dead or
    restarted HAProxy is noticed on the next call and never leaves a half-open connection behind."""

    def __init__(self, options: RouterOptions, tenants: Sequence[str] = (), atomic_batch: int = ATOMIC_BATCH) -> None:
        self.o = options
        self.tenants = tuple(tenants)
        self.atomic_batch = atomic_batch  # benchmarks force one path or the other

    # Reading -------------------------------------------------------------------------------------
    async def read_traffic(self) -> TrafficReading:
        async with self._deadline("read the map"), Session(self.o.socket) as s:
            cmds = [f"show map {self.o.map}"]
            if self.o.rates_table:
                cmds.append(f"show table {self.o.rates_table}")
            answers = await s.run(cmds)
        entries = self._entries(answers[0])
        shares = dict.fromkeys(self.tenants, 0.0)  # absent from the map: HAProxy's default, old
        for key, value in entries.items():
            share = share_of(value)
            if share is not None:
                shares[key] = share
        rps: dict[str, float] = {}
        if self.o.rates_table:
            rps = self._rates(answers[1], shares)
        return TrafficReading(shares=shares, rps=rps)

    def _rates(self, answer: str, shares: Mapping[str, float]) -> dict[str, float]:
        if answer.startswith("No such table"):
            raise RuntimeAPIError(
                f"HAProxy has no stick table {self.o.rates_table!r}: fix plugins.haproxy.rates_table or haproxy.cfg"
            )
        measured = parse_table_rates(answer)
        rps = dict.fromkeys(shares, 0.0)  # a tenant without an entry sent nothing in the table's period
        rps.update(measured)
        return rps

    def _entries(self, answer: str) -> dict[str, str]:
        if answer.startswith("Unknown map identifier"):
            raise RuntimeAPIError(
                f"HAProxy has no map {self.o.map!r}: set plugins.haproxy.map to the map file path as haproxy.cfg "
                "names it (or its #<id> from 'show map')"
            )
        if answer.startswith("Permission denied"):
            raise RuntimeAPIError(f"the stats socket at {self.o.socket} must be declared with 'level admin'")
        entries: dict[str, str] = {}
        for key, value in parse_map(answer):
            entries.setdefault(key, value)  # the first entry of a key is the one HAProxy matches
        return entries

    # Writing -------------------------------------------------------------------------------------
    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        """Set the shares, then read the map back in the same session: only what `show map` shows
        counts as applied. Setting absolute values makes a repeated request id harmless."""
        failed: dict[str, str] = {}
        wanted: dict[str, int] = {}
        for tenant, share in shares.items():
            problem = key_problem(tenant)
            if problem is None and not (isinstance(share, (int, float)) and math.isfinite(share) and 0 <= share <= 1):
                problem = f"share {share!r} is not a number between 0 and 1"
            if problem is not None:
                failed[tenant] = problem
            else:
                wanted[tenant] = weight(share)
        if not wanted:
            return ApplyResult(applied={}, failed=failed)
        async with self._deadline(f"apply {len(wanted)} shares"), Session(self.o.socket) as s:
            m = self.o.map
            current = self._entries((await s.run([f"show map {m}"]))[0])
            changes = {t: w for t, w in wanted.items() if current.get(t) != str(w)}
            errors = await self._write(s, current, changes)
            back = self._entries((await s.run([f"show map {m}"]))[0])
        applied: dict[str, float] = {}
        for tenant, w in wanted.items():
            seen = back.get(tenant)
            if seen == str(w):
                applied[tenant] = w / WEIGHT_SCALE
            else:
                why = errors.get(tenant) or "not confirmed by 'show map'"
                failed[tenant] = f"{why} (map reads {seen if seen is not None else 'no entry'})"
        return ApplyResult(applied=applied, failed=failed)

    async def _write(self, s: Session, current: Mapping[str, str], changes: Mapping[str, int]) -> dict[str, str]:
        """Send the changes; return HAProxy's error text per tenant for the commands it refused."""
        if not changes:
            return {}
        m = self.o.map
        if len(changes) <= self.atomic_batch:
            tenants = list(changes)
            cmds = [f"{'set' if t in current else 'add'} map {m} {t} {changes[t]}" for t in tenants]
            answers = await s.run(cmds)
            return {t: a.splitlines()[0] for t, a in zip(tenants, answers, strict=True) if a.strip()}
        # One new version of the whole map: entries the cockpit does not own are carried over.
        (prepared,) = await s.run([f"prepare map {m}"])
        version = prepared.rsplit(":", 1)[-1].strip()
        if not prepared.startswith("New version created") or not version.isdigit():
            return dict.fromkeys(changes, f"prepare map failed: {prepared.splitlines()[0] if prepared else '?'}")
        merged = dict(current)
        merged.update({t: str(w) for t, w in changes.items()})
        lines = [f"{k} {v}" for k, v in merged.items()]
        cmds = [f"add map @{version} {m} <<\n" + "\n".join(chunk) + "\n\n" for chunk in payload_chunks(lines)]
        answers = await s.run(cmds)
        refused = next((a for a in answers if a.strip()), None)
        if refused is not None:
            # The new version is never committed: the live map stays exactly as it was.
            return dict.fromkeys(changes, f"add map refused: {refused.splitlines()[0]}")
        (committed,) = await s.run([f"commit map @{version} {m}"])
        if committed.strip():
            return dict.fromkeys(changes, f"commit map failed: {committed.splitlines()[0]}")
        return {}

    def _deadline(self, what: str) -> _Deadline:
        return _Deadline(
            self.o.timeout_s, f"the HAProxy runtime API at {self.o.socket} did not {what} within {self.o.timeout_s:g} s"
        )


class _Deadline:
    """`asyncio.timeout` that says which HAProxy and what it was doing when the time ran out."""

    def __init__(self, seconds: float, message: str) -> None:
        self._cm = asyncio.timeout(seconds)
        self._message = message

    async def __aenter__(self) -> None:
        await self._cm.__aenter__()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._cm.__aexit__(et, e, tb)  # asyncio.Timeout never swallows an exception (returns None)
        except TimeoutError:
            raise RuntimeAPIError(self._message) from None
