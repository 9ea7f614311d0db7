"""The Redis cache store: namespaces, per-namespace counters, freeze and thaw, fork, active pointers, GC.

Every operation reaches a namespace through keys the store maintains itself (a registry set, a
per-namespace index set, pointer hashes), never through SCAN or KEYS: a fork or a freeze costs the
namespace's size, not the keyspace's. The key schema is in docs/backends/redis.md.

Hit rates come from counters kept per namespace in time buckets of the engine's clock and are summed
over a sliding window (``window_s``, cut into ``buckets``): the rate of the last window, not a lifetime
average, so a cache that warms up (or cools down) shows it within one window. A namespace with no reads
in the window reports 0.0: nothing proves it warm.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cockpit.hookspecs import NamespaceReading
from cockpit_backends.redis import Options

BATCH = 500  # members per round trip when walking a namespace's index

# Atomic steps. Every key a script touches is passed in KEYS.
_UNREGISTER = """
-- KEYS: registry, active, previous, meta; ARGV: namespace. Unregister it unless active, previous or frozen.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[4], 'frozen') == '1' then return 0 end
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do if v == ARGV[1] then return 0 end end
for _, v in ipairs(redis.call('HVALS', KEYS[3])) do if v == ARGV[1] then return 0 end end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'state', 'deleting')
return 1
"""

_SET_FROZEN = """
-- KEYS: registry, meta; ARGV: namespace, '1' or '0'
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'frozen', ARGV[2])
return 1
"""

_PERSIST = """
-- KEYS: index, frozen-ttl hash, entry keys...; ARGV: members (same order as the entry keys)
-- Remember each entry's remaining TTL and drop its expiry; forget members whose entry is gone.
for i = 1, #ARGV do
  local k = KEYS[i + 2]
  local t = redis.call('PTTL', k)
  if t == -2 then
    redis.call('SREM', KEYS[1], ARGV[i])
  elseif t >= 0 then
    redis.call('HSETNX', KEYS[2], ARGV[i], t)
    redis.call('PERSIST', k)
  end
end
return #ARGV
"""

_REEXPIRE = """
-- KEYS: meta, frozen-ttl hash, entry keys...; ARGV: members, then their remaining TTLs (ms)
-- Thaw: give each entry back the TTL it had left when frozen. A re-frozen namespace is left alone.
if redis.call('HGET', KEYS[1], 'frozen') == '1' then return -1 end
local n = #ARGV / 2
for i = 1, n do
  local k = KEYS[i + 2]
  if redis.call('PTTL', k) == -1 then redis.call('PEXPIRE', k, math.max(1, tonumber(ARGV[n + i]))) end
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return n
"""

_PUT = """
-- KEYS: registry, meta, index, frozen-ttl hash, entry; ARGV: namespace, member, value, ttl ms
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('SADD', KEYS[3], ARGV[2])
if redis.call('HGET', KEYS[2], 'frozen') == '1' then
  redis.call('SET', KEYS[5], ARGV[3])
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
  return 0
end
redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[4])
return 1
"""

_USAGE = """
-- KEYS: registry, usage; ARGV: namespace, hits, misses, bucket
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'hits', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'misses', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'h:' .. ARGV[4], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'm:' .. ARGV[4], ARGV[3])
return 1
"""

_SET_ACTIVE = """
-- KEYS: registry, active, previous; ARGV: tier, namespace. Returns the namespace it replaced ('' if none).
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then return false end
local prev = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if prev and prev ~= ARGV[2] then redis.call('HSET', KEYS[3], ARGV[1], prev) end
return prev or ''
"""

_FLIP = """
-- KEYS: registry, active, previous; ARGV: tier. Swap the tier's active and previous pointers.
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local prev = redis.call('HGET', KEYS[3], ARGV[1])
if not prev or redis.call('SISMEMBER', KEYS[1], prev) == 0 then return false end
redis.call('HSET', KEYS[2], ARGV[1], prev)
if cur then redis.call('HSET', KEYS[3], ARGV[1], cur) else redis.call('HDEL', KEYS[3], ARGV[1]) end
return prev
"""

_INIT_TIER = """
-- KEYS: registry, active; ARGV: tier, namespace. Point the tier at it unless it already has a live pointer.
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur and redis.call('SISMEMBER', KEYS[1], cur) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisCacheStore:
    """The cache role over one Redis database. Safe to share between processes: every multi-key step
    that must not interleave runs as one script."""

    def __init__(self, options: Options, clock: Any = None) -> None:
        self.o = options
        self.clock = clock
        p = options.prefix
        self.k_registry = f"{p}namespaces"
        self.k_generation = f"{p}generation"
        self.k_active = f"{p}active"
        self.k_previous = f"{p}previous"
        self._redis: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, Any] = {}

    @property
    def observation_lag_s(self) -> float:
        """How long a hit rate read here takes to show a change of traffic: its sliding window. The
        rollback settles at least this long after a stage (cockpit.engine.backends.settle_for)."""
        return self.o.window_s

    # Keys ----------------------------------------------------------------------------------------
    def k_meta(self, ns: str) -> str:
        return f"{self.o.prefix}ns:{ns}"

    def k_index(self, ns: str) -> str:
        return f"{self.o.prefix}idx:{ns}"

    def k_frozen_ttl(self, ns: str) -> str:
        return f"{self.o.prefix}ttl:{ns}"

    def k_usage(self, ns: str) -> str:
        return f"{self.o.prefix}use:{ns}"

    def k_entry(self, ns: str, member: str) -> str:
        return f"{self.o.prefix}e:{ns}:{member}"

    # Connection ----------------------------------------------------------------------------------
    def _client(self) -> aioredis.Redis:
        """One client per event loop: drills and checks each run their own loop, and an asyncio
        connection cannot cross loops."""
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            self._redis = aioredis.from_url(
                self.o.url,
                socket_timeout=self.o.timeout_s,
                socket_connect_timeout=self.o.timeout_s,
                # one immediate retry: a pooled connection broken by a server restart reconnects, a
                # server that is down fails at once (the engine marks the role degraded and goes on)
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            self._loop = loop
            self._scripts = {
                name: self._redis.register_script(src)
                for name, src in (
                    ("unregister", _UNREGISTER),
                    ("set_frozen", _SET_FROZEN),
                    ("persist", _PERSIST),
                    ("reexpire", _REEXPIRE),
                    ("put", _PUT),
                    ("usage", _USAGE),
                    ("set_active", _SET_ACTIVE),
                    ("flip", _FLIP),
                    ("init_tier", _INIT_TIER),
                )
            }
        return self._redis

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[aioredis.Redis]:
        """Redis failures become one sentence naming the server (never its credentials)."""
        r = self._client()
        try:
            yield r
        except AuthenticationError:
            raise PermissionError(f"redis at {self.o.safe_url} refused the credentials in plugins.redis.url") from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ConnectionError(f"redis at {self.o.safe_url} is unreachable ({type(exc).__name__})") from None
        except RedisError as exc:
            raise RuntimeError(f"redis at {self.o.safe_url} answered an error: {exc}") from None

    async def close(self) -> None:
        if self._redis is not None and self._loop is asyncio.get_running_loop():
            await self._redis.aclose()
        self._redis = None
        self._loop = None

    # Time ----------------------------------------------------------------------------------------
    def _now(self) -> float:
        return float(self.clock.now()) if self.clock is not None else time.time()

    def _bucket(self) -> int:
        return math.floor(self._now() / (self.o.window_s / self.o.buckets))

    # The cache role ------------------------------------------------------------------------------
    async def namespaces(self) -> list[NamespaceReading]:
        async with self._errors() as r:
            names, active = await self._registry(r)
            if any(active.get(tier) not in names for tier, _ in self.o.tiers):
                await self._init_tiers(r, names, active)
                names, active = await self._registry(r)
            ordered = sorted(names)
            pipe = r.pipeline(transaction=False)
            for ns in ordered:
                pipe.hgetall(self.k_meta(ns))
                pipe.hgetall(self.k_usage(ns))
            rows = await pipe.execute()
            tier_of: dict[str, str] = {}
            for tier, ns in sorted(active.items()):
                tier_of.setdefault(ns, tier)
            out = []
            stale: dict[str, list[str]] = {}
            current = self._bucket()
            for i, ns in enumerate(ordered):
                meta = {_s(k): _s(v) for k, v in rows[2 * i].items()}
                usage = {_s(k): int(v) for k, v in rows[2 * i + 1].items()}
                if not meta or meta.get("state") == "deleting":
                    continue
                rate, old = self._window_rate(usage, current)
                if old:
                    stale[ns] = old
                out.append(
                    NamespaceReading(
                        name=ns,
                        tier=tier_of.get(ns, ""),
                        revision=meta.get("revision", ""),
                        generation=int(meta.get("generation", "0")),
                        hit_rate=rate,
                        frozen=meta.get("frozen") == "1",
                    )
                )
            if stale:
                pipe = r.pipeline(transaction=False)
                for ns, fields in stale.items():
                    pipe.hdel(self.k_usage(ns), *fields)
                await pipe.execute()
            return out

    def _window_rate(self, usage: dict[str, int], current: int) -> tuple[float, list[str]]:
        first = current - self.o.buckets + 1
        hits = misses = 0
        old = []
        for field, n in usage.items():
            kind, _, b = field.partition(":")
            if not b:
                continue  # lifetime totals
            bucket = int(b)
            if bucket < first:
                old.append(field)
            elif bucket <= current:
                if kind == "h":
                    hits += n
                else:
                    misses += n
        total = hits + misses
        return (hits / total if total > 0 else 0.0), old

    async def _registry(self, r: aioredis.Redis) -> tuple[set[str], dict[str, str]]:
        pipe = r.pipeline(transaction=False)
        pipe.smembers(self.k_registry)
        pipe.hgetall(self.k_active)
        members, active = await pipe.execute()
        return {_s(m) for m in members}, {_s(k): _s(v) for k, v in active.items()}

    async def _init_tiers(self, r: aioredis.Redis, names: set[str], active: dict[str, str]) -> None:
        """Give each configured tier an active namespace for its revision when it has none (a new
        store, or a server that came back empty)."""
        for tier, revision in self.o.tiers:
            if active.get(tier) in names:
                continue
            ns = await self._create(r, revision, parent="")
            if not await self._scripts["init_tier"](keys=[self.k_registry, self.k_active], args=[tier, ns], client=r):
                await self._purge(r, ns, unregister=True)  # another process got there first

    async def _create(self, r: aioredis.Redis, revision: str, parent: str) -> str:
        generation = int(await r.incr(self.k_generation))
        ns = f"{self.o.provider}:{revision}:g{generation}"
        pipe = r.pipeline(transaction=True)
        pipe.hset(
            self.k_meta(ns),
            mapping={
                "provider": self.o.provider,
                "revision": revision,
                "generation": generation,
                "parent": parent,
                "created_at": self._now(),
                "frozen": "0",
            },
        )
        pipe.sadd(self.k_registry, ns)
        await pipe.execute()
        return ns

    async def create(self, revision: str, *, tier: str | None = None) -> str:
        """A new, empty namespace for `revision` at the next generation; optionally made `tier`'s active one."""
        async with self._errors() as r:
            ns = await self._create(r, revision, parent="")
        if tier is not None:
            await self.set_active(tier, ns)
        return ns

    async def _meta(self, r: aioredis.Redis, ns: str) -> dict[str, str]:
        pipe = r.pipeline(transaction=False)
        pipe.sismember(self.k_registry, ns)
        pipe.hgetall(self.k_meta(ns))
        registered, meta = await pipe.execute()
        if not registered or not meta:
            raise KeyError(f"no cache namespace {ns!r}")
        return {_s(k): _s(v) for k, v in meta.items()}

    async def _members(self, r: aioredis.Redis, ns: str) -> AsyncIterator[list[str]]:
        """The namespace's own index, in batches (SSCAN of one set: never the keyspace)."""
        batch: list[str] = []
        async for m in r.sscan_iter(self.k_index(ns), count=BATCH):
            batch.append(_s(m))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def fork(self, source: str, revision: str) -> str:
        """A new namespace for `revision` at the next generation, holding a copy of `source`'s live
        entries (their remaining TTLs included). No pointer moves: `set_active` makes it serve."""
        async with self._errors() as r:
            meta = await self._meta(r, source)
            ns = await self._create(r, revision, parent=source)
            frozen = meta.get("frozen") == "1"
            async for batch in self._members(r, source):
                pipe = r.pipeline(transaction=False)
                for m in batch:
                    pipe.copy(self.k_entry(source, m), self.k_entry(ns, m))
                copied = await pipe.execute()
                live = [m for m, ok in zip(batch, copied, strict=True) if ok]
                gone = [m for m, ok in zip(batch, copied, strict=True) if not ok]
                pipe = r.pipeline(transaction=False)
                if live:
                    pipe.sadd(self.k_index(ns), *live)
                if gone:
                    pipe.srem(self.k_index(source), *gone)
                if frozen and live:  # the source's entries are persisted: the copies get their TTLs back
                    pipe.hmget(self.k_frozen_ttl(source), live)
                results = await pipe.execute()
                if frozen and live:
                    pipe = r.pipeline(transaction=False)
                    for m, ms in zip(live, results[-1], strict=True):
                        if ms is not None:  # an entry that never had a TTL keeps none
                            pipe.pexpire(self.k_entry(ns, m), max(1, int(ms)))
                    await pipe.execute()
            return ns

    async def freeze(self, namespace: str) -> None:
        """No GC and no expiry: the namespace is flagged (GC honours it, new entries are written without
        expiry) and each entry's remaining TTL is remembered and removed."""
        async with self._errors() as r:
            if not await self._scripts["set_frozen"](
                keys=[self.k_registry, self.k_meta(namespace)], args=[namespace, "1"], client=r
            ):
                raise KeyError(f"no cache namespace {namespace!r}")
            async for batch in self._members(r, namespace):
                keys = [self.k_index(namespace), self.k_frozen_ttl(namespace)]
                keys += [self.k_entry(namespace, m) for m in batch]
                await self._scripts["persist"](keys=keys, args=batch, client=r)

    async def thaw(self, namespace: str) -> None:
        """Expiry resumes: each entry gets back the TTL it had left when frozen."""
        async with self._errors() as r:
            if not await self._scripts["set_frozen"](
                keys=[self.k_registry, self.k_meta(namespace)], args=[namespace, "0"], client=r
            ):
                raise KeyError(f"no cache namespace {namespace!r}")
            pending: list[tuple[str, str]] = []
            async for m, ms in r.hscan_iter(self.k_frozen_ttl(namespace), count=BATCH):
                pending.append((_s(m), _s(ms)))
                if len(pending) >= BATCH:
                    await self._reexpire(r, namespace, pending)
                    pending = []
            if pending:
                await self._reexpire(r, namespace, pending)

    async def _reexpire(self, r: aioredis.Redis, ns: str, pairs: list[tuple[str, str]]) -> None:
        keys = [self.k_meta(ns), self.k_frozen_ttl(ns)] + [self.k_entry(ns, m) for m, _ in pairs]
        args = [m for m, _ in pairs] + [ms for _, ms in pairs]
        await self._scripts["reexpire"](keys=keys, args=args, client=r)

    async def record_usage(self, namespace: str, hits: int, misses: int) -> None:
        """Count cache reads served from `namespace` (this store's own counters, not INFO's)."""
        if hits < 0 or misses < 0:
            raise ValueError("hits and misses must not be negative")
        async with self._errors() as r:
            ok = await self._scripts["usage"](
                keys=[self.k_registry, self.k_usage(namespace)],
                args=[namespace, int(hits), int(misses), self._bucket()],
                client=r,
            )
        if not ok:
            raise KeyError(f"no cache namespace {namespace!r}")

    async def usage(self, namespace: str) -> tuple[int, int]:
        """Lifetime (hits, misses) of a namespace."""
        async with self._errors() as r:
            h, m = await r.hmget(self.k_usage(namespace), ["hits", "misses"])
        return int(h or 0), int(m or 0)

    # Entries -------------------------------------------------------------------------------------
    def _ttl_ms(self, ttl_s: float | None) -> int:
        return max(1, round((self.o.ttl_s if ttl_s is None else ttl_s) * 1000))

    async def put(self, namespace: str, key: str, value: bytes | str, ttl_s: float | None = None) -> None:
        """Store an entry (without expiry while the namespace is frozen: its TTL starts on thaw)."""
        async with self._errors() as r:
            done = await self._scripts["put"](
                keys=[
                    self.k_registry,
                    self.k_meta(namespace),
                    self.k_index(namespace),
                    self.k_frozen_ttl(namespace),
                    self.k_entry(namespace, key),
                ],
                args=[namespace, key, value, self._ttl_ms(ttl_s)],
                client=r,
            )
        if done == -1:
            raise KeyError(f"no cache namespace {namespace!r}")

    async def get(self, namespace: str, key: str) -> bytes | None:
        """Read an entry and count the hit or miss against the namespace."""
        async with self._errors() as r:
            # the client is made without decode_responses, so Redis answers bytes (or None), never str
            value = cast("bytes | None", await r.get(self.k_entry(namespace, key)))
        await self.record_usage(namespace, int(value is not None), int(value is None))
        return value

    async def entries(self, namespace: str) -> int:
        """Members of the namespace's index (entries that expired since the last walk included)."""
        async with self._errors() as r:
            return int(await r.scard(self.k_index(namespace)))

    # Active pointers -----------------------------------------------------------------------------
    async def active(self) -> dict[str, str]:
        """tier -> its active namespace (configured tiers get one first, as in `namespaces`)."""
        async with self._errors() as r:
            names, active = await self._registry(r)
            if any(active.get(tier) not in names for tier, _ in self.o.tiers):
                await self._init_tiers(r, names, active)
                names, active = await self._registry(r)
            return active

    async def set_active(self, tier: str, namespace: str) -> str:
        """Point `tier` at `namespace` (a model swap); the namespace it replaces is kept as the tier's
        previous one, the target of `flip`. Returns the replaced namespace ("" if none)."""
        async with self._errors() as r:
            prev = await self._scripts["set_active"](
                keys=[self.k_registry, self.k_active, self.k_previous], args=[tier, namespace], client=r
            )
        if prev is None:
            raise KeyError(f"no cache namespace {namespace!r}")
        return _s(prev)

    async def flip(self, tier: str) -> str:
        """What a rollback does to the cache: `tier` serves its previous namespace again (still warm,
        never migrated); the one it leaves becomes the previous. Returns the now active namespace."""
        async with self._errors() as r:
            now_active = await self._scripts["flip"](
                keys=[self.k_registry, self.k_active, self.k_previous], args=[tier], client=r
            )
        if now_active is None:
            raise KeyError(f"tier {tier!r} has no previous namespace to flip back to")
        return _s(now_active)

    # Garbage collection --------------------------------------------------------------------------
    async def gc(self) -> list[str]:
        """Delete every namespace that is neither active, nor a tier's previous (the rollback target),
        nor frozen. The check and the unregistering are one atomic step, so a namespace frozen or
        activated concurrently is spared. Returns the names collected."""
        collected = []
        async with self._errors() as r:
            for ns in sorted(_s(m) for m in await r.smembers(self.k_registry)):
                keys = [self.k_registry, self.k_active, self.k_previous, self.k_meta(ns)]
                if await self._scripts["unregister"](keys=keys, args=[ns], client=r):
                    await self._purge(r, ns, unregister=False)
                    collected.append(ns)
        return collected

    async def _purge(self, r: aioredis.Redis, ns: str, *, unregister: bool) -> None:
        if unregister:
            await r.srem(self.k_registry, ns)
        async for batch in self._members(r, ns):
            await r.unlink(*[self.k_entry(ns, m) for m in batch])
        await r.unlink(self.k_index(ns), self.k_frozen_ttl(ns), self.k_usage(ns), self.k_meta(ns))
