"""The actuation lease: exactly one engine moves traffic, the others stand by.

A lease is a Redis key set with NX and a time-to-live, holding a random token; the holder extends it by
a compare-and-extend script well before it lapses. Every acquisition INCRs a fencing epoch in the same
script, and the Redis journal refuses actuation-bearing writes from any other epoch, so a leader that
was paused past its lease (GC, a stalled VM, a partition) cannot actuate after a standby took over.
"""

from __future__ import annotations

import os
import secrets
import socket
import time

import redis.asyncio as aredis

from cockpit.engine.journal_redis import FencedError

SAFETY = 0.8  # trust a lease for this share of its time: calls take time, and a pause is not noticed at once

# KEYS: lease, epoch. ARGV: token, ttl_ms. Returns the new epoch, or 0 when the lease is held.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# KEYS: lease. ARGV: token, ttl_ms. 1 when extended, 0 when the lease is no longer ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


SAFETY = 0.8  # trust a lease for this share of its time: clocks drift, calls take time


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"


class Lease:
    """One engine's handle on the lease of the stream `stream` (keys `<stream>:lease`, `<stream>:epoch`)."""

    def __init__(self, client: aredis.Redis, stream: str, ttl_ms: int = 3000, token: str | None = None) -> None:
        self.db = client
        self.key = f"{stream}:lease"
        self.epoch_key = f"{stream}:epoch"
        self.ttl_ms = int(ttl_ms)
        self.token = token or holder_id()
        self.epoch: int | None = None
        self.valid_until = 0.0  # monotonic: past this, act as if the lease were lost (safety margin kept)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def try_acquire(self) -> int | None:
        """The new fencing epoch when this call took the lease, else None."""
        asked = time.monotonic()
        epoch = int(await self._acquire(keys=[self.key, self.epoch_key], args=[self.token, self.ttl_ms]))
        self.epoch = epoch or None
        if self.epoch:
            self.valid_until = asked + self.ttl_ms / 1000 * SAFETY
        return self.epoch

    async def renew(self) -> bool:
        """Extend the lease; False when it lapsed or another engine holds it (we are no longer leader)."""
        asked = time.monotonic()
        ok = int(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))
        if not ok:
            self.epoch = None
            self.valid_until = 0.0
        else:
            self.valid_until = asked + self.ttl_ms / 1000 * SAFETY
        return bool(ok)

    def check(self) -> None:
        """Called right before every backend write: a leader whose lease may have lapsed (it was paused,
        or could not renew) does not touch the fleet, even with its intent already journaled."""
        if self.epoch is None or time.monotonic() > self.valid_until:
            raise FencedError(f"lease {self.key}: not renewed within its time; not actuating")

    async def release(self) -> None:
        """Give the lease up at once (clean shutdown), so a standby need not wait for it to lapse."""
        await self._release(keys=[self.key], args=[self.token])
        self.epoch = None

    async def holder(self) -> str | None:
        value = await self.db.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
