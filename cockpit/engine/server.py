"""Attach: an engine serves its live state to screens and takes their commands over a local socket.

Protocol: newline-delimited JSON, one object a line, over TCP ("host:port") or a Unix socket
("unix:/path" or a path). The client says hello with its operator identity (user@host); the server
answers "welcome" (role, who is in control, the configuration) and the current snapshot at once, then a
"snapshot" after every tick. Requests carry an id and get one "reply" with the same id:

    {"op": "command", "id": 3, "name": "arm", "args": {"scope": "regressing"}}
    {"op": "take-control", "id": 4, "confirm": true}      # confirm needed to take it from someone
    {"op": "release-control", "id": 5}
    {"op": "plan", "id": 6, "scope": "regressing"}
    {"op": "journal", "id": 7, "kinds": ["command"], "since_seq": 0, "limit": 5000}

Every screen is read-only until its operator takes control; the server refuses commands from anyone
else (the client's own check is only a courtesy). Mutations are serialised twice: a server lock makes
"who is in control" and "run the command" one step, and the engine's own lock keeps a command from
interleaving with a tick, so two operators never produce an interleaved stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from cockpit.config import Config
from cockpit.engine.loop import Engine, Snapshot
from cockpit.errors import CockpitError

LINE_LIMIT = 256 * 1024 * 1024  # a 10,000-tenant snapshot is a few MB; never cut a frame
CONTROL = ("take-control", "release-control")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, (types.MappingProxyType, Mapping)):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode(message: dict[str, Any]) -> bytes:
    return ENCODER.encode(message) + b"\n"


@dataclass(frozen=True)
class Address:
    """Where an engine listens: TCP host and port, or a Unix socket path."""

    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"


def verified_operator(writer: asyncio.StreamWriter, declared: str) -> str:
    """On a Unix socket the kernel says which user connected (SO_PEERCRED): that user replaces the user
    part the client declared, so an operator cannot act under someone else's name. Over TCP the declared
    identity stands (listen on loopback and reach it over SSH)."""
    import socket as _socket

    sock = writer.get_extra_info("socket")
    if sock is None or sock.family != _socket.AF_UNIX or not hasattr(_socket, "SO_PEERCRED"):
        return declared
    import pwd
    import struct

    try:
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        user = pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return declared
    host = declared.partition("@")[2] or _socket.gethostname()
    return f"{user}@{host}"


def parse_address(text: str, flag: str = "--listen") -> Address:
    """`host:port`, `:port`, `unix:/path/sock` or a path containing '/'. Raises CockpitError."""
    if text.startswith("unix:"):
        return Address(path=text.removeprefix("unix:"))
    if "/" in text:
        return Address(path=text)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CockpitError(f"{flag} {text!r}: expected HOST:PORT (port 1-65535) or unix:/path/to.sock")
    return Address(host=host or "127.0.0.1", port=int(port))


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    operator: str = ""
    replies: list[bytes] = field(default_factory=list)
    frame: bytes | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def send(self, data: bytes) -> None:
        self.replies.append(data)
        self.wake.set()

    def send_frame(self, data: bytes) -> None:
        self.frame = data  # a slow screen skips to the newest snapshot instead of queueing old ones
        self.wake.set()

    async def pump(self) -> None:
        try:
            while not self.closed:
                await self.wake.wait()
                self.wake.clear()
                # The pending snapshot first: a status or reply queued after it is never older than it,
                # so the last word on role and control a screen reads is always the newest.
                if self.frame is not None:
                    frame, self.frame = self.frame, None
                    self.writer.write(frame)
                while self.replies:
                    self.writer.write(self.replies.pop(0))
                await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.closed = True


class EngineServer:
    """Serves one engine at a time (a standby has none until it takes over) to every attached screen."""

    def __init__(self, config: Config, *, on_fenced: Callable[[BaseException], None] | None = None) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.role = "starting"
        self.epoch: int | None = None
        self.controller: str | None = None
        self.clients: set[_Client] = set()
        self.frame: bytes | None = None
        self._snap: Snapshot | None = None
        self.on_fenced = on_fenced
        self._mutate = asyncio.Lock()
        self._server: asyncio.AbstractServer | None = None
        self.address: Address | None = None
        self.journal_reader: Any = None  # a standby reads the shared journal through this
        self._tasks: set[asyncio.Task[None]] = set()

    # Lifecycle ------------------------------------------------------------------------------------
    async def start(self, address: Address) -> Address:
        if address.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address.path)
            Path(address.path).parent.mkdir(parents=True, exist_ok=True)
            self._server = await asyncio.start_unix_server(self._serve, path=address.path, limit=LINE_LIMIT)
            self.address = address
        else:
            try:
                self._server = await asyncio.start_server(
                    self._serve, address.host, address.port, limit=LINE_LIMIT, reuse_address=True
                )
            except OSError as exc:
                raise CockpitError(f"cannot listen on {address}: {exc.strerror or exc}") from None
            port = self._server.sockets[0].getsockname()[1]
            self.address = Address(host=address.host, port=port)
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for c in list(self.clients):
            c.closed = True
            c.wake.set()
            with contextlib.suppress(Exception):
                c.writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self.address is not None and self.address.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address.path)

    def attach(self, engine: Engine, role: str, epoch: int | None = None) -> None:
        """Serve `engine` (a new leader's, after a takeover): who was in control comes from the journal."""
        self.engine = engine
        self.role = role
        self.epoch = epoch
        self.controller = _controller_from(engine.journal)
        if engine.snapshot is not None:
            self.publish(engine.snapshot)
        else:
            self._broadcast_status()

    def demote(self, reason: str) -> None:
        """Stop serving commands (lease lost or fenced); screens keep the last snapshot, read-only."""
        self.engine = None
        self.role = "standby"
        self.epoch = None
        self._broadcast_status(reason)

    def standby(self) -> None:
        self.role = "standby"
        self._broadcast_status()

    def publish(self, snap: Snapshot) -> None:
        """Encoding a 10,000-tenant snapshot costs megabytes: only when a screen is attached."""
        self._snap = snap
        self.frame = None
        if not self.clients:
            return
        self.frame = encode(self._frame(snap))
        for c in self.clients:
            c.send_frame(self.frame)

    def _frame(self, snap: Snapshot) -> dict[str, Any]:
        return {
            "t": "snapshot",
            "role": self.role,
            "controller": self.controller,
            "epoch": self.epoch,
            "snapshot": snap,
        }

    def _status(self, reason: str = "") -> dict[str, Any]:
        return {"t": "status", "role": self.role, "controller": self.controller, "epoch": self.epoch, "reason": reason}

    def _broadcast_status(self, reason: str = "") -> None:
        msg = encode(self._status(reason))
        for c in self.clients:
            c.send(msg)

    # One connection ---------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        pump = asyncio.create_task(client.pump())
        try:
            hello = msgspec.json.decode(await reader.readline()) if not reader.at_eof() else None
            if not isinstance(hello, dict) or hello.get("op") != "hello" or not hello.get("operator"):
                client.send(encode({"t": "error", "error": "expected a hello with the operator's user@host first"}))
                return
            client.operator = verified_operator(writer, str(hello["operator"]))
            self.clients.add(client)
            client.send(encode(self._welcome(client)))
            if self.frame is None and self._snap is not None:
                self.frame = encode(self._frame(self._snap))
            if self.frame is not None:
                client.send(self.frame)  # the current state at once, before the next tick
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    req = msgspec.json.decode(line)
                except msgspec.DecodeError:
                    client.send(encode({"t": "reply", "id": None, "ok": False, "error": "malformed request"}))
                    continue
                task = asyncio.create_task(self._answer(client, req))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, msgspec.DecodeError):
            pass
        finally:
            self.clients.discard(client)
            await asyncio.sleep(0)
            client.closed = True
            client.wake.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pump, 2)
            with contextlib.suppress(Exception):
                writer.close()

    def _welcome(self, client: _Client) -> dict[str, Any]:
        cfg = self.config
        return {
            "t": "welcome",
            "operator": client.operator,
            "role": self.role,
            "controller": self.controller,
            "epoch": self.epoch,
            "config_path": str(cfg.path),
            "config": msgspec.to_builtins(cfg.file),
            "clock": cfg.file.cockpit.clock,
            "speed": cfg.file.cockpit.speed,
        }

    async def _answer(self, client: _Client, req: Any) -> None:
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            result = await self._handle(client, req)
            reply = {"t": "reply", "id": rid, "ok": True, "result": result}
        except CockpitError as exc:
            reply = {"t": "reply", "id": rid, "ok": False, "error": str(exc), "kind": type(exc).__name__}
            from cockpit.engine.journal_redis import FencedError

            if isinstance(exc, FencedError) and self.on_fenced is not None:
                self.on_fenced(exc)
        except Exception as exc:  # a bug must not take the engine down with it
            reply = {"t": "reply", "id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": "Error"}
        client.send(encode(reply))

    async def _handle(self, client: _Client, req: Any) -> Any:
        from cockpit.engine.loop import ReadOnlyError

        if not isinstance(req, dict):
            raise CockpitError("malformed request")
        op = req.get("op")
        if op == "status":
            return self._status()
        if op == "journal":
            return self._journal(req)
        if op == "plan":
            engine = self._engine()
            return msgspec.to_builtins(engine.plan(req.get("scope", "regressing")), enc_hook=_enc_hook)
        if op in CONTROL:
            return await self._control(client, op, bool(req.get("confirm")))
        if op == "command":
            name = str(req.get("name", ""))
            args = req.get("args") or {}
            async with self._mutate:
                engine = self._engine()
                if self.controller != client.operator:
                    held = f"{self.controller} is in control" if self.controller else "nobody is in control"
                    await self._journal_refusal(engine, client.operator, name, held)
                    raise ReadOnlyError(f"read-only: {held}; take control first to run {name!r}")
                args = {k: v for k, v in args.items() if k not in ("operator", "name")}  # identity is ours
                return await engine.command(name, operator=client.operator, **args)
        raise CockpitError(f"unknown request {op!r}")

    def _engine(self) -> Engine:
        if self.engine is None or self.role != "leader":
            from cockpit.engine.loop import ReadOnlyError

            raise ReadOnlyError(f"this engine is a {self.role}: it does not actuate (attach to the leader)")
        return self.engine

    async def _journal_refusal(self, engine: Engine, who: str, name: str, why: str) -> None:
        async with engine.lock:
            engine.journal.begin()
            try:
                engine.journal.append("command_refused", {"command": name, "reason": why}, engine.clock.now(), who)
            finally:
                engine.journal.commit()

    async def _control(self, client: _Client, op: str, confirm: bool) -> str:
        from cockpit.engine.loop import CommandError

        async with self._mutate:
            engine = self._engine()
            me, held = client.operator, self.controller
            if op == "take-control":
                if held == me:
                    return f"{me} is already in control"
                if held is not None and not confirm:
                    raise CommandError(f"{held} is in control: taking it from them needs confirmation (confirm=True)")
                result = f"{me} took control" + (f" from {held}" if held else "")
                new = me
            else:
                if held != me:
                    raise CommandError(f"{me} is not in control ({held or 'nobody'} is)")
                result, new = f"{me} released control", None
            async with engine.lock:
                now = engine.clock.now()
                engine.journal.begin()
                try:
                    engine.journal.append(
                        "command",
                        {"command": op, "args": {"confirm": confirm}, "from": held, "to": new, "result": result},
                        now,
                        me,
                    )
                finally:
                    engine.journal.commit()
            self.controller = new
            self._broadcast_status()
            return result

    def _journal(self, req: dict[str, Any]) -> list[list[Any]]:
        journal = self.engine.journal if self.engine is not None else self.journal_reader
        if journal is None:
            return []
        kinds = tuple(req.get("kinds") or ())
        limit = int(req.get("limit") or 5000)
        out: list[list[Any]] = []
        for e in journal.entries(kinds=kinds, since_seq=int(req.get("since_seq") or 0)):
            out.append([e.seq, e.ts, e.wall, e.kind, e.actor, e.data])
            if len(out) >= limit:
                break
        return out


def _controller_from(journal: Any) -> str | None:
    """Who holds control, replayed from the journal (so it survives a restart or a takeover)."""
    holder = None
    for e in journal.entries(kinds=("command",)):
        if e.data.get("command") in CONTROL:
            holder = e.data.get("to")
    return holder
