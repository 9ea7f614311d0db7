"""The append-only journal: every command, actuation and state-changing observation, in SQLite.

WAL mode, one transaction per tick: a SIGKILL loses at most the tick in flight, never a committed
entry. Actuations are written as an *intent* before the backend is called and an *ack* after the
read-back confirms it, so a restart can tell what was done from what was only meant.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cockpit.engine.encoding import ENCODER
from cockpit.errors import CockpitError, ConfigError

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

# Every record carries `hash` = sha256(previous record's hash | seq | ts | wall | kind | actor | data),
# a checksum and a chain at once (as etcd's WAL does): a flipped byte, an edited, removed or reordered
# record breaks it at that record. Records written before the chain existed (no hash) are accepted only
# before the first hashed one.
GENESIS = "cockpit-journal-v1"


class JournalCorrupt(ConfigError):
    """A record fails its checksum or the chain: the engine does not resume from it."""


class JournalBusy(ConfigError):
    """Another engine holds this journal."""


def abbreviate_kind(kind: Any) -> str:
    text = str(kind)
    return text if len(text) <= 40 and text.isprintable() else repr(text[:40])


class JournalUnavailable(CockpitError):
    """The journal cannot be written now (disk full, I/O error): nothing that needs it may happen."""


def record_hash(prev: str, seq: int, ts: float, wall: float, kind: str, actor: str, data: str) -> str:
    text = f"{prev}|{seq}|{float(ts)!r}|{float(wall)!r}|{kind}|{actor}|{data}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _corrupt(path: str, seq: Any, why: str) -> JournalCorrupt:
    return JournalCorrupt(
        f"journal {path}: record {seq} {why}; the journal was damaged or edited, so the engine will not resume "
        f"from it (run `cockpit journal verify {path}`; restore a backup or move the file aside)"
    )


def encode_data(data: dict[str, Any]) -> str:
    """An entry's data as compact JSON. msgspec encodes in C: a stage of 25,000 tenants is journaled in
    milliseconds. Non-finite floats are written as null (a journal holds no NaN)."""
    return ENCODER.encode(data).decode()


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


WAL_CHECKPOINT_S = 5.0  # how often the WAL is folded into the database, off the control loop


class _Checkpointer(threading.Thread):
    """Runs a PASSIVE WAL checkpoint every few seconds on its own connection: it never blocks the engine's
    writes (a passive checkpoint copies what no reader still needs and gives up on the rest)."""

    def __init__(self, path: str) -> None:
        super().__init__(name=f"wal-checkpoint {path}", daemon=True)
        self.path = path
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not self._stop_event.wait(WAL_CHECKPOINT_S):
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2.0)


class Journal(Transactions):
    def __init__(self, path: Path | str, *, durable: bool = True, verify: bool = True, read_only: bool = False) -> None:
        """`read_only`: replay only; the file is opened read-only and `append` records nothing (a
        read-only screen changes nothing anywhere). A missing file then reads as an empty journal."""
        self.path = str(path)
        self.read_only = read_only
        try:
            if read_only and self.path != ":memory:" and Path(self.path).exists():
                uri = Path(self.path).resolve().as_uri() + "?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            elif read_only:
                self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                self.db.executescript(SCHEMA)
                self.db.execute("ALTER TABLE events ADD COLUMN hash TEXT")
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"{self.path}: cannot open it as a cockpit journal ({exc})") from None
        try:
            if read_only:
                self.db.execute("SELECT seq, ts, wall, kind, actor, data, hash FROM events LIMIT 1").fetchall()
            else:
                self._prepare(durable)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"{self.path}: cannot open it as a cockpit journal ({exc})") from None
        self._in_tx = False
        self._lock_file: Any = None
        self._head, self._seq = GENESIS, 0
        if verify:
            self._head, self._seq, _ = self.verify()
        else:
            row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            if row is not None:
                self._seq, self._head = int(row[0]), row[1] or GENESIS
        self._committed = (self._head, self._seq)
        self._checkpointer: _Checkpointer | None = None
        if not read_only and self.path != ":memory:":
            self._checkpointer = _Checkpointer(self.path)
            self._checkpointer.start()

    def _prepare(self, durable: bool) -> None:
        # synchronous first: a new file's switch to WAL is then written as this journal's other commits
        # are (not durable: no fsync; the TUI drill's journal opened in 13-28 ms of waiting, now 2-6)
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.db.execute("PRAGMA journal_mode=WAL")
        # The WAL is folded into the database by a thread of its own (_Checkpointer), never inside a
        # tick's COMMIT: an automatic checkpoint there cost a stage tick 40-50 ms of writes.
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
        if "hash" not in columns:
            self.db.execute("ALTER TABLE events ADD COLUMN hash TEXT")

    def verify(self) -> tuple[str, int, int]:
        """Check every record's checksum and the chain; (head hash, last seq, records). Raises
        JournalCorrupt naming the first record that fails."""
        head, last, n = GENESIS, 0, 0
        chained = False
        try:
            rows = self.db.execute("SELECT seq, ts, wall, kind, actor, data, hash FROM events ORDER BY seq")
            for seq, ts, wall, kind, actor, data, h in rows:
                n += 1
                if not isinstance(seq, int) or seq <= last:
                    raise _corrupt(self.path, seq, f"is out of order (after {last})")
                if h is None:
                    if chained:
                        raise _corrupt(self.path, seq, "has no checksum")
                else:
                    chained = True
                    try:
                        want = record_hash(head, seq, ts, wall, kind, actor, data)
                    except (TypeError, ValueError):
                        want = ""
                    if h != want:
                        raise _corrupt(self.path, seq, f"({abbreviate_kind(kind)}) fails its checksum")
                    head = h
                try:
                    json.loads(data)
                except (TypeError, ValueError):
                    raise _corrupt(self.path, seq, "holds data that is not JSON") from None
                last = seq
            # the indexes the engine reads by kind must agree with the records (a flip there hides an ack)
            problems = [row[0] for row in self.db.execute("PRAGMA integrity_check(5)")]
        except sqlite3.Error as exc:
            raise _corrupt(self.path, f"after {last}", f"cannot be read ({exc})") from None
        if problems != ["ok"]:
            raise JournalCorrupt(
                f"journal {self.path}: the file fails SQLite's integrity check ({abbreviate_kind(problems[0])}); "
                f"the engine will not resume from it (run `cockpit journal verify {self.path}`; restore a backup)"
            )
        return head, last, n

    def claim(self, holder: str) -> None:
        """One engine per journal: an exclusive lock on `<journal>.lock`, released when the process ends
        (however it ends). Raises JournalBusy naming the holder (pid, host, since)."""
        if self.path == ":memory:" or self._lock_file is not None:
            return
        import fcntl
        import os
        import socket

        lock_path = Path(self.path + ".lock")
        f = open(lock_path, "a+")  # noqa: SIM115 - held for the life of the engine
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            held = f.read().strip() or "another process"
            f.close()
            raise JournalBusy(
                f"journal {self.path} is in use by another engine ({held}): attach to it with `cockpit --attach`, "
                "or stop it first"
            ) from None
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} as {holder} since {since}\n")
        f.flush()
        self._lock_file = f

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()  # the kernel drops the flock with the descriptor
            self._lock_file = None

    # Writing ------------------------------------------------------------------------------------
    def begin(self) -> None:
        if self.read_only:
            return
        if not self._in_tx:
            try:
                self.db.execute("BEGIN")
            except sqlite3.Error as exc:
                raise JournalUnavailable(f"journal {self.path}: cannot write ({exc})") from None
            self._in_tx = True

    def commit(self) -> None:
        """A COMMIT that fails (disk full, I/O error) rolls the transaction back, so the next one starts
        clean ("no transaction is active" never follows), and raises JournalUnavailable."""
        if self._in_tx:
            self._in_tx = False
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise JournalUnavailable(f"journal {self.path}: cannot write ({exc})") from None
            self._committed = (self._head, self._seq)

    def _rollback(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._head, self._seq = self._committed

    def append(self, kind: str, data: dict[str, Any], ts: float, actor: str = "", wall: float | None = None) -> int:
        if self.read_only:
            return 0  # a read-only replay records nothing
        wall = time.time() if wall is None else wall
        text = encode_data(data)
        seq = self._seq + 1
        h = record_hash(self._head, seq, ts, wall, kind, actor, text)
        try:
            self.db.execute(
                "INSERT INTO events (seq, ts, wall, kind, actor, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, wall, kind, actor, text, h),
            )
        except sqlite3.Error as exc:
            if self._in_tx:
                self._in_tx = False
                self._rollback()
            raise JournalUnavailable(f"journal {self.path}: cannot write ({exc})") from None
        if not self._in_tx:
            self._committed = (h, seq)
        self._head, self._seq = h, seq
        return seq

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

    def last_seq(self) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0])
