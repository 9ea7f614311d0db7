"""A screen's handle on an engine running elsewhere (`cockpit engine`), with the surface the TUI uses.

`RemoteEngine` looks like an `Engine` to a screen: `snapshot`, `await tick()` (the next snapshot the
server pushes), `await command(...)`, `read_only`, `config`, `clock.now()`, `rollback` and `incident`
(views of the snapshot), and `journal.entries(...)` over a local mirror that each tick() tops up with one
request. Differences from a local Engine: `plan()` is a coroutine (it is a request), and `read_only` is
True until this operator takes control (`await take_control(confirm=...)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from cockpit.config import Config, ConfigFile, build_config, default_operator
from cockpit.domain.incident import Incident
from cockpit.domain.planner import Plan
from cockpit.engine.auth import PROTOCOL_VERSION
from cockpit.engine.handle import Control
from cockpit.engine.journal import Entry
from cockpit.engine.loop import CommandError, ReadOnlyError, Snapshot
from cockpit.engine.mirror import JOURNAL_MIRROR_MAX as JOURNAL_MIRROR_MAX  # the mirror: cockpit.engine.mirror
from cockpit.engine.mirror import RemoteClock, RemoteJournal, RemoteRollback
from cockpit.engine.server import LINE_LIMIT, Address, encode, parse_address
from cockpit.errors import CockpitError, EngineUnreachable, FencedError
from cockpit.hookspecs import PluginAction


class _Busy(EngineUnreachable):
    """The engine closed the connection before answering the hello (it sheds connections under a flood)."""


class RemoteEngine:
    def __init__(
        self,
        address: str,
        operator: str | None = None,
        *,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        observer: bool = False,
    ) -> None:
        self.address_text = address
        # --read-only: this screen watches; it offers no control and sends no command (the engine, told in
        # the hello, refuses them from this connection as well)
        self.observer = observer
        self.can_take_control = not observer
        self.attached = True
        self.token = token  # over TCP to an engine with a token file: names this operator
        self.tls = tls  # mutual TLS: a context holding this operator's certificate
        self.address: Address = parse_address(address, "--attach")
        self.operator = operator or default_operator()
        self.snapshot: Snapshot | None = None
        self.role = "unknown"
        self.controller: str | None = None
        self.epoch: int | None = None
        self._config: Config | None = None
        self.clock = RemoteClock(1.0)
        self.journal = RemoteJournal(self)
        self.statuses: list[dict[str, Any]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._new_snapshot = asyncio.Event()
        self._first_snapshot = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnect = True  # a screen reattaches when its engine goes away (see tick())
        self._attempts = 0

    @property
    def config(self) -> Config:
        """The engine's configuration, received with the welcome."""
        if self._config is None:
            raise EngineUnreachable(f"not attached to the engine at {self.address} yet")
        return self._config

    @property
    def actions(self) -> Mapping[str, PluginAction]:
        """Plugin actions run where the engine runs; an attached screen offers none of its own."""
        return {}

    def control(self) -> Control:
        return Control(str(self.address), self.role, self.controller)

    # Connecting ------------------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        address: str,
        operator: str | None = None,
        timeout_s: float = 5.0,
        *,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        observer: bool = False,
    ) -> RemoteEngine:
        remote = cls(address, operator, token=token, tls=tls, observer=observer)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await remote._open(max(0.1, deadline - time.monotonic()))
                return remote
            except _Busy:
                # the engine shed this connection before hello (it is protecting itself from a flood of
                # silent ones): try again until the timeout, as a person pressing enter again would
                if time.monotonic() >= deadline:
                    raise EngineUnreachable(f"the engine at {remote.address} is busy: no room to attach") from None
                await asyncio.sleep(0.2)

    async def _open(self, timeout_s: float) -> None:
        a = self.address
        try:
            async with asyncio.timeout(timeout_s):
                if a.path:
                    self._reader, self._writer = await asyncio.open_unix_connection(a.path, limit=LINE_LIMIT)
                else:
                    self._reader, self._writer = await asyncio.open_connection(
                        a.host, a.port, limit=LINE_LIMIT, ssl=self.tls, server_hostname=a.host if self.tls else None
                    )
                hello: dict[str, Any] = {"op": "hello", "version": PROTOCOL_VERSION, "operator": self.operator}
                if self.token:
                    hello["token"] = self.token
                if self.observer:
                    hello["observer"] = True
                self._writer.write(encode(hello))
                await self._writer.drain()
                line = await self._reader.readline()
                welcome = msgspec.json.decode(line) if line else {"error": "it closed the connection"}
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
            raise _Busy from None
        except (OSError, TimeoutError, msgspec.DecodeError) as exc:
            raise EngineUnreachable(f"no engine answers at {self.address}: {exc}") from None
        if welcome == {"error": "it closed the connection"}:
            raise _Busy
        if not isinstance(welcome, dict) or welcome.get("t") != "welcome":
            welcome = welcome if isinstance(welcome, dict) else {}
            raise EngineUnreachable(f"the engine at {self.address} refused to attach: {welcome.get('error')}")
        self.operator = str(welcome.get("operator") or self.operator)  # who the engine verified we are
        self._status(welcome)
        raw = msgspec.convert(welcome["config"], ConfigFile)
        self._config = build_config(Path(welcome["config_path"]), raw)
        simulated = welcome.get("clock") == "simulated"
        self.clock = RemoteClock(float(welcome.get("speed") or 1.0) if simulated else 1.0, real=not simulated)
        self._task = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.reconnect = False
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    @property
    def connected(self) -> bool:
        return not self._closed.is_set()

    # The engine surface ------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.observer or self.role != "leader" or self.controller != self.operator

    @property
    def rollback(self) -> RemoteRollback:
        return RemoteRollback(self.snapshot.rollback if self.snapshot else {})

    @property
    def incident(self) -> Incident | None:
        return self.snapshot.incident if self.snapshot else None

    async def first_snapshot(self, timeout_s: float = 10.0) -> Snapshot:
        async with asyncio.timeout(timeout_s):
            await self._first_snapshot.wait()
        assert self.snapshot is not None
        return self.snapshot

    async def tick(self) -> Snapshot:
        """The next snapshot the engine pushes after this call (`snapshot` holds the latest at any time).

        When the engine goes away (stopped, restarted, failed over) a screen does not die with it: this
        returns the last snapshot marked "disconnected, reconnecting" (read-only, the reason on its alert
        line) while it tries again with backoff, and carries on once an engine answers at the address."""
        if self._closed.is_set():
            if self.snapshot is None or not self.reconnect:
                raise EngineUnreachable(f"the engine at {self.address} went away")
            if not await self._reconnect():
                return self._disconnected()
        self._new_snapshot.clear()
        closed = asyncio.ensure_future(self._closed.wait())
        fresh = asyncio.ensure_future(self._new_snapshot.wait())
        try:
            await asyncio.wait({closed, fresh}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            fresh.cancel()
        if not self._new_snapshot.is_set():
            if self.snapshot is None or not self.reconnect:
                raise EngineUnreachable(f"the engine at {self.address} went away")
            return self._disconnected()
        self._new_snapshot.clear()
        with contextlib.suppress(CockpitError):
            await self.refresh_journal()
        assert self.snapshot is not None
        return self.snapshot

    def _disconnected(self) -> Snapshot:
        assert self.snapshot is not None
        self.role = "disconnected, reconnecting"  # what the control line shows
        why = f"disconnected from the engine at {self.address}: reconnecting"
        alerts = [why, *[a for a in self.snapshot.alerts if not a.startswith("disconnected from")]]
        self.snapshot = dataclasses.replace(self.snapshot, read_only=True, hold=why, alerts=alerts)
        return self.snapshot

    async def _reconnect(self) -> bool:
        """One attempt (after a backoff of up to 5 s); True when attached again."""
        delay = min(5.0, 0.5 * 2 ** min(self._attempts, 4))
        self._attempts += 1
        await asyncio.sleep(delay)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._closed = asyncio.Event()
        self._first_snapshot = asyncio.Event()
        self._new_snapshot = asyncio.Event()
        try:
            await self._open(5.0)
            await self.first_snapshot(5.0)
        except (CockpitError, TimeoutError, OSError):
            self._closed.set()
            return False
        self._attempts = 0
        return True

    async def command(self, name: str, *, operator: str | None = None, **args: Any) -> str:
        if operator is not None and operator != self.operator:
            raise CommandError(f"this screen is attached as {self.operator}, not {operator}")
        if self.observer:
            raise ReadOnlyError(f"{name}: this screen is read-only (--read-only): it sends no commands")
        return await self.request("command", name=name, args=args)

    async def take_control(self, confirm: bool = False) -> str:
        if self.observer:
            raise ReadOnlyError("this screen is read-only (--read-only): it takes no control")
        return await self.request("take-control", confirm=confirm)

    async def plan(self, scope: Any = "regressing") -> Plan:
        raw = await self.request("plan", scope=sorted(scope) if isinstance(scope, (set, frozenset)) else scope)
        return msgspec.convert(raw, Plan)

    async def refresh_journal(self, limit: int = 5000) -> int:
        rows = await self.request("journal", since_seq=self.journal.last_seq, limit=limit)
        self.journal.extend(rows)
        return len(rows)

    async def journal_entries(self, kinds: tuple[str, ...] = (), since_seq: int = 0, limit: int = 5000) -> list[Entry]:
        rows = await self.request("journal", kinds=list(kinds), since_seq=since_seq, limit=limit)
        return [Entry(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

    # Wire --------------------------------------------------------------------------------------------
    async def request(self, op: str, **fields: Any) -> Any:
        if self._writer is None or self._closed.is_set():
            raise EngineUnreachable(f"not attached to the engine at {self.address}")
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._writer.write(encode({"op": op, "id": rid, **fields}))
        await self._writer.drain()
        return await fut

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = msgspec.json.decode(line)
                t = msg.get("t")
                if t == "snapshot":
                    self._status(msg)
                    snap = msgspec.convert(msg["snapshot"], Snapshot)
                    self.snapshot = dataclasses.replace(snap, read_only=self.read_only)
                    self.clock.observe(snap.now)
                    self._new_snapshot.set()
                    self._first_snapshot.set()
                elif t == "status":
                    self._status(msg)
                    self.statuses.append(msg)
                    if self.snapshot is not None:
                        self.snapshot = dataclasses.replace(self.snapshot, read_only=self.read_only)
                elif t == "reply":
                    fut = self._pending.pop(msg.get("id"), None)
                    if fut is not None and not fut.done():
                        if msg.get("ok"):
                            fut.set_result(msg.get("result"))
                        else:
                            fut.set_exception(_error(msg))
        except (OSError, asyncio.IncompleteReadError, ValueError, msgspec.DecodeError):
            pass
        finally:
            self._closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(EngineUnreachable(f"the engine at {self.address} went away"))
            self._pending.clear()

    def _status(self, msg: dict[str, Any]) -> None:
        self.role = msg.get("role", self.role)
        self.controller = msg.get("controller")
        self.epoch = msg.get("epoch")


def _error(msg: dict[str, Any]) -> CockpitError:
    kind = msg.get("kind")
    text = msg.get("error", "the engine refused the request")
    if kind == "ReadOnlyError":
        return ReadOnlyError(text)
    if kind == "FencedError":
        return FencedError(text)
    if kind == "CommandError":
        return CommandError(text)
    return CockpitError(text)
