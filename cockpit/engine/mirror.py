"""What a screen attached to a remote engine keeps here: the engine's clock run forward from the last
snapshot, a read-only view of its rollback, and a local mirror of its journal (cockpit.engine.remote)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cockpit.engine.commands import ReadOnlyError
from cockpit.engine.journal import Entry

if TYPE_CHECKING:
    from cockpit.engine.remote import RemoteEngine

JOURNAL_MIRROR_MAX = 200_000  # entries kept locally for the timeline; older ones are dropped


class RemoteClock:
    """The engine's clock as seen from here: the last snapshot's time, run forward at the engine's speed."""

    def __init__(self, speed: float, real: bool = False) -> None:
        self.speed = speed
        self.real = real  # the engine runs on wall-clock time
        self._at = 0.0
        self._wall = time.monotonic()

    def observe(self, now: float) -> None:
        self._at, self._wall = now, time.monotonic()

    def now(self) -> float:
        return self._at + (time.monotonic() - self._wall) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


class RemoteRollback:
    """Read-only view of the engine's rollback scheduler, from the snapshot."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def snapshot(self) -> dict[str, Any]:
        return {k: v for k, v in self._state.items() if k != "hold"}

    @property
    def last_hold(self) -> str | None:
        return self._state.get("hold")

    @property
    def scope(self) -> frozenset[str]:
        return frozenset(self._state.get("scope", ()))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._state[name]
        except KeyError:
            raise AttributeError(name) from None


class RemoteJournal:
    """A local mirror of the engine's journal, read synchronously like a Journal."""

    def __init__(self, remote: RemoteEngine) -> None:
        self.remote = remote
        self.path = remote.address_text
        self._entries: list[Entry] = []

    @property
    def last_seq(self) -> int:
        return self._entries[-1].seq if self._entries else 0

    def extend(self, rows: list[list[Any]]) -> None:
        self._entries.extend(Entry(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows if int(r[0]) > self.last_seq)
        if len(self._entries) > JOURNAL_MIRROR_MAX:
            del self._entries[: len(self._entries) - JOURNAL_MIRROR_MAX]

    def entries(self, *, kinds: tuple[str, ...] = (), since_seq: int = 0) -> Iterator[Entry]:
        for e in list(self._entries):
            if e.seq > since_seq and (not kinds or e.kind in kinds):
                yield e

    def last(self, kind: str) -> Entry | None:
        return next((e for e in reversed(self._entries) if e.kind == kind), None)

    def count(self, kind: str | None = None) -> int:
        return sum(1 for e in self._entries if kind is None or e.kind == kind)

    def begin(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass

    def append(self, *_: Any, **__: Any) -> int:
        raise ReadOnlyError("an attached screen does not write the journal: the engine does")
