"""A journal several engines share, on Redis Streams, with the same interface as the SQLite `Journal`.

Why Redis: it is what teams already run for coordination, and a stream gives an ordered, durable
(with AOF) log every engine and every screen can read. Keys, for a stream named S:

    S           the stream; entry id "<seq>-0", fields ts, wall, kind, actor, epoch, data (JSON)
    S:seq       the last seq handed out (INCR, so seq stays monotonic across writers and restarts)
    S:last      hash kind -> seq of its latest entry (last(kind) without a scan)
    S:count     hash kind -> number of entries (count(kind) without a scan)
    S:lease     the actuation lease (see cockpit.engine.lease); value: the holder's token
    S:epoch     the fencing epoch, INCR'd by every lease acquisition

Fencing: a batch holding an "actuation", "actuation_ack", "checkpoint" or "command" is appended by one
Lua script that first checks the writer's epoch is the current one and that the writer still holds the
lease; otherwise nothing of the batch is written and `FencedError` is raised. The engine writes each
intent (and commits) before it calls a backend, so a leader whose lease lapsed never reaches the backend.

Transactions: like the SQLite journal, appends between begin() and commit() are written together (one
script call, atomic), so a SIGKILL loses at most the tick in flight and never half a tick.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import redis

from cockpit.engine.journal import (
    GENESIS,
    Entry,
    Journal,
    JournalUnavailable,
    Transactions,
    _corrupt,
    abbreviate_kind,
    encode_data,
)
from cockpit.errors import ConfigError, FencedError
from cockpit.redact import redact_text, redact_url

FENCED_KINDS = frozenset(
    {"actuation", "actuation_ack", "checkpoint", "rollout_checkpoint", "rollback_checkpoint", "command"}
)
DEFAULT_STREAM = "cockpit:journal"
PAGE = 5000

# KEYS: stream, seq, last, count, epoch, lease, head
# ARGV: writer epoch ("" = none), token, fence ("1"/"0"), then 5 per entry: ts, wall, kind, actor, data
_APPEND = """
if ARGV[3] == '1' then
  local current = redis.call('GET', KEYS[5])
  if ARGV[1] == '' then
    if current then
      return redis.error_reply('FENCED this writer holds no lease epoch; the current epoch is ' .. current)
    end
  else
    if current ~= ARGV[1] then
      return redis.error_reply('FENCED stale epoch ' .. ARGV[1] .. ' (current ' .. tostring(current) .. ')')
    end
    if redis.call('GET', KEYS[6]) ~= ARGV[2] then
      return redis.error_reply('FENCED the lease of epoch ' .. ARGV[1] .. ' has lapsed')
    end
  end
end
local seqs = {}
local head = redis.call('GET', KEYS[7]) or 'cockpit-journal-v1'
local i = 4
while i + 4 <= #ARGV do
  local seq = redis.call('INCR', KEYS[2])
  head = redis.sha1hex(head .. '|' .. seq .. '|' .. ARGV[i] .. '|' .. ARGV[i+1] .. '|' .. ARGV[i+2] .. '|' ..
                       ARGV[i+3] .. '|' .. ARGV[1] .. '|' .. ARGV[i+4])
  redis.call('XADD', KEYS[1], seq .. '-0', 'ts', ARGV[i], 'wall', ARGV[i+1], 'kind', ARGV[i+2],
             'actor', ARGV[i+3], 'epoch', ARGV[1], 'data', ARGV[i+4], 'hash', head)
  redis.call('SET', KEYS[7], head)
  redis.call('HSET', KEYS[3], ARGV[i+2], seq)
  redis.call('HINCRBY', KEYS[4], ARGV[i+2], 1)
  seqs[#seqs + 1] = seq
  i = i + 5
end
return seqs
"""


class RedisUnreachable(ConfigError):
    """Redis does not answer: at start-up a one-sentence error, for a running engine a transient one."""


def parse_redis_url(url: str) -> tuple[str, str]:
    """`redis://host:port/db?stream=name` -> (connection URL without the stream, stream name)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"journal {redact_url(url)!r}: expected redis://host:port/db?stream=name")
    query = parse_qs(parts.query)
    stream = query.pop("stream", [DEFAULT_STREAM])[-1]
    if not stream:
        raise ConfigError(f"journal {redact_url(url)!r}: stream= must name a stream")
    rest = "&".join(f"{k}={v[-1]}" for k, v in query.items())
    conn = parts._replace(query=rest).geturl()
    return conn, stream


def open_journal(url_or_path: str | Path, *, durable: bool = True, **redis_options: Any) -> Journal | RedisJournal:
    """The journal a `[cockpit] journal` value names: a redis:// URL or a SQLite file path."""
    text = str(url_or_path)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisJournal(text, **redis_options)
    return Journal(text, durable=durable)


class RedisJournal(Transactions):
    def __init__(
        self,
        url: str,
        *,
        epoch: int | None = None,
        token: str = "",
        client: redis.Redis | None = None,
        connect_timeout_s: float = 2.0,
        socket_timeout_s: float = 10.0,
        verify: bool = True,
    ) -> None:
        conn, stream = parse_redis_url(url)
        self.url = url
        self.path = redact_url(url)  # what screens print as "the journal": never its password
        self.stream = stream
        self.keys = [
            stream,
            f"{stream}:seq",
            f"{stream}:last",
            f"{stream}:count",
            f"{stream}:epoch",
            f"{stream}:lease",
            f"{stream}:head",
        ]
        self.epoch = epoch
        self.token = token
        self.db = client or redis.Redis.from_url(
            conn, socket_connect_timeout=connect_timeout_s, socket_timeout=socket_timeout_s, decode_responses=True
        )
        try:
            self.db.ping()
        except redis.RedisError as exc:
            raise RedisUnreachable(
                f"journal {redact_url(url)!r}: cannot reach Redis ({redact_text(str(exc))})"
            ) from None
        self._append = self.db.register_script(_APPEND)
        self._buffer: list[tuple[float, float, str, str, str]] = []
        self._in_tx = False
        if verify:
            self.verify()

    def verify(self) -> tuple[str, int, int]:
        """Check every entry's hash chain (sha1, computed by the append script); (head, last seq,
        entries). Raises JournalCorrupt naming the first entry that fails."""
        head, last, n, chained = GENESIS, 0, 0, False
        start = "-"
        try:
            while True:
                page = self._xrange(start, "+", PAGE)
                for sid, f in page:
                    n += 1
                    seq = int(sid.split("-", 1)[0])
                    h = f.get("hash")
                    if h is None:
                        if chained:
                            raise _corrupt(self.path, seq, "has no checksum")
                    else:
                        chained = True
                        parts = [head, str(seq)] + [
                            f.get(k, "") for k in ("ts", "wall", "kind", "actor", "epoch", "data")
                        ]
                        if hashlib.sha1("|".join(parts).encode()).hexdigest() != h:
                            raise _corrupt(self.path, seq, f"({abbreviate_kind(f.get('kind'))}) fails its checksum")
                        head = h
                    try:
                        json.loads(f["data"])
                        float(f["ts"]), float(f["wall"])
                    except (KeyError, TypeError, ValueError):
                        raise _corrupt(self.path, seq, "is malformed") from None
                    last = seq
                if len(page) < PAGE:
                    break
                start = f"({page[-1][0]}"
        except redis.RedisError as exc:
            raise JournalUnavailable(f"journal {self.path}: cannot read ({redact_text(str(exc))})") from None
        return head, last, n

    def fence(self, epoch: int | None, token: str) -> None:
        """Write as the holder of lease `epoch` from now on (set by the engine that acquired it)."""
        self.epoch = epoch
        self.token = token

    def close(self) -> None:
        self._buffer.clear()
        self._in_tx = False
        self.db.close()

    # Writing ------------------------------------------------------------------------------------
    def begin(self) -> None:
        self._in_tx = True

    def commit(self) -> None:
        self._in_tx = False
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self._write(batch)

    def append(self, kind: str, data: dict[str, Any], ts: float, actor: str = "", wall: float | None = None) -> int:
        if self.epoch is not None:
            data = {**data, "epoch": self.epoch}
        row = (ts, time.time() if wall is None else wall, kind, actor, encode_data(data))
        if self._in_tx:
            self._buffer.append(row)
            # provisional: the seq the entry gets at commit while this engine is the only writer
            return self._last_seq() + len(self._buffer)
        return self._write([row])[0]

    def _write(self, rows: list[tuple[float, float, str, str, str]]) -> list[int]:
        fence = any(r[2] in FENCED_KINDS for r in rows)
        args: list[Any] = ["" if self.epoch is None else str(self.epoch), self.token, "1" if fence else "0"]
        for ts, wall, kind, actor, data in rows:
            args += [repr(float(ts)), repr(float(wall)), kind, actor, data]
        try:
            return [int(s) for s in self._append(keys=self.keys, args=args)]
        except redis.ResponseError as exc:
            if str(exc).startswith("FENCED"):
                raise FencedError(
                    f"journal {self.stream!r}: write refused: {str(exc).removeprefix('FENCED ')}"
                ) from None
            raise JournalUnavailable(f"journal {self.path}: cannot write ({redact_text(str(exc))})") from None
        except redis.RedisError as exc:
            raise JournalUnavailable(f"journal {self.path}: cannot write ({redact_text(str(exc))})") from None

    def last_seq(self) -> int:
        return self._last_seq()

    def _xrange(self, start: str, end: str, count: int) -> list[tuple[str, dict[str, str]]]:
        """A page of the stream (the client decodes responses: ids and fields are str)."""
        return cast(list[tuple[str, dict[str, str]]], self.db.xrange(self.stream, min=start, max=end, count=count))

    def _last_seq(self) -> int:
        return int(self.db.get(self.keys[1]) or 0)

    # Reading ------------------------------------------------------------------------------------
    def entries(self, *, kinds: tuple[str, ...] = (), since_seq: int = 0) -> Iterator[Entry]:
        start = f"{since_seq + 1}-0"
        wanted = set(kinds)
        while True:
            page = self._xrange(start, "+", PAGE)
            for sid, fields in page:
                if not wanted or fields["kind"] in wanted:
                    yield _entry(sid, fields)
            if len(page) < PAGE:
                break
            start = f"({page[-1][0]}"
        seq = self._last_seq()
        for i, (ts, wall, kind, actor, data) in enumerate(self._buffer, 1):
            if (not wanted or kind in wanted) and seq + i > since_seq:
                yield Entry(seq + i, ts, wall, kind, actor, json.loads(data))

    def last(self, kind: str) -> Entry | None:
        for i in range(len(self._buffer) - 1, -1, -1):
            ts, wall, k, actor, data = self._buffer[i]
            if k == kind:
                return Entry(self._last_seq() + i + 1, ts, wall, k, actor, json.loads(data))
        seq = cast(str | None, self.db.hget(self.keys[2], kind))
        if seq is None:
            return None
        page = self._xrange(f"{seq}-0", f"{seq}-0", 1)
        return _entry(*page[0]) if page else None

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.db.xlen(self.stream)) + len(self._buffer)
        pending = sum(1 for r in self._buffer if r[2] == kind)
        return int(self.db.hget(self.keys[3], kind) or 0) + pending


def _entry(sid: str, fields: dict[str, str]) -> Entry:
    return Entry(
        int(sid.split("-", 1)[0]),
        float(fields["ts"]),
        float(fields["wall"]),
        fields["kind"],
        fields.get("actor", ""),
        json.loads(fields["data"]),
    )
