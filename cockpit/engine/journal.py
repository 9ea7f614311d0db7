"""The append-only journal: every command, actuation and state-changing observation, in SQLite.

WAL mode, one transaction per tick: a SIGKILL loses at most the tick in flight, never a committed
entry. Actuations are written as an *intent* before the backend is called and an *ack* after the
read-back confirms it, so a restart can tell what was done from what was only meant.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cockpit.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    ts    REAL NOT NULL,      -- the engine clock (simulated seconds in a drill)
    wall  REAL NOT NULL,      -- wall-clock time it was written
    kind  TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    data  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    ts: float
    wall: float
    kind: str
    actor: str
    data: dict[str, Any]


class JournalLike(Protocol):
    """What the engine needs of a journal (SQLite here, Redis Streams in journal_redis)."""

    path: str

    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def flush(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...
    def append(self, kind: str, data: dict[str, Any], ts: float, actor: str = "", wall: float | None = None) -> int: ...
    def entries(self, *, kinds: tuple[str, ...] = (), since_seq: int = 0) -> Iterator[Entry]: ...
    def last(self, kind: str) -> Entry | None: ...
    def count(self, kind: str | None = None) -> int: ...


class Transactions:
    """The begin/commit bracket every journal shares: `transaction()` and `flush()` over the
    journal's own `begin()` / `commit()` and its `_in_tx` flag."""

    _in_tx: bool

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Appends inside are written together: a crash loses the block in flight, never half of it.
        Nested use joins the outer transaction."""
        if self._in_tx:
            yield
            return
        self.begin()
        try:
            yield
        finally:
            self.commit()

    def flush(self) -> None:
        """Make what is appended so far durable now and carry on in a new transaction (an intent is
        flushed before the backend call it announces)."""
        self.commit()
        self.begin()


class Journal(Transactions):
    def __init__(self, path: Path | str, *, durable: bool = True) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"{self.path}: cannot open it as a cockpit journal ({exc})") from None
        self._in_tx = False

    def close(self) -> None:
        self.db.close()

    # Writing ------------------------------------------------------------------------------------
    def begin(self) -> None:
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False

    def append(self, kind: str, data: dict[str, Any], ts: float, actor: str = "", wall: float | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO events (ts, wall, kind, actor, data) VALUES (?, ?, ?, ?, ?)",
            (ts, time.time() if wall is None else wall, kind, actor, json.dumps(data, separators=(",", ":"))),
        )
        return int(cur.lastrowid)

    # Reading ------------------------------------------------------------------------------------
    def entries(self, *, kinds: tuple[str, ...] = (), since_seq: int = 0) -> Iterator[Entry]:
        sql = "SELECT seq, ts, wall, kind, actor, data FROM events WHERE seq > ?"
        args: list[Any] = [since_seq]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY seq"
        for seq, ts, wall, kind, actor, data in self.db.execute(sql, args):
            yield Entry(seq, ts, wall, kind, actor, json.loads(data))

    def last(self, kind: str) -> Entry | None:
        row = self.db.execute(
            "SELECT seq, ts, wall, kind, actor, data FROM events WHERE kind = ? ORDER BY seq DESC LIMIT 1",
            (kind,),
        ).fetchone()
        if row is None:
            return None
        seq, ts, wall, k, actor, data = row
        return Entry(seq, ts, wall, k, actor, json.loads(data))

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0])
