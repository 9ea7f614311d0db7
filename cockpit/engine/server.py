"""Attach: an engine serves its live state to screens and takes their commands over a local socket.

Protocol: newline-delimited JSON, one object a line, over TCP ("host:port") or a Unix socket
("unix:/path" or a path). The client says hello with its operator identity (user@host); the server
answers "welcome" (role, who is in control, the configuration) and the current snapshot at once, then a
"snapshot" after every tick (none to a client whose hello says "frames": false, a one-shot request
such as `cockpit plan`). Requests carry an id and get one "reply" with the same id:

    {"op": "command", "id": 3, "name": "arm", "args": {"scope": "regressing"}}
    {"op": "take-control", "id": 4, "confirm": true}      # confirm needed to take it from someone
    {"op": "release-control", "id": 5}
    {"op": "plan", "id": 6, "scope": "regressing"}        # "note": true adds the overflow tier's line
    {"op": "journal", "id": 7, "kinds": ["command"], "since_seq": 0, "limit": 5000}

Every screen is read-only until its operator takes control; the server refuses commands from anyone
else (the client's own check is only a courtesy). Mutations are serialised twice: a server lock makes
"who is in control" and "run the command" one step, and the engine's own lock keeps a command from
interleaving with a tick, so two operators never produce an interleaved stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import msgspec

from cockpit.config import Config
from cockpit.engine.auth import PROTOCOL_VERSION, Access, RefusalLimiter, abbreviate
from cockpit.engine.control import CONTROL, ControlDesk, controller_from
from cockpit.engine.loop import Engine, Snapshot
from cockpit.engine.wire import (  # noqa: F401 - the protocol's names, re-exported for clients
    CLIENT_REQUEST_LIMIT,
    ENCODER,
    HELLO_DEADLINE_S,
    IN_FLIGHT_MAX,
    LINE_LIMIT,
    PENDING_GRACE_S,
    PENDING_MAX,
    QUEUED_MAX,
    REQUEST_LIMIT,
    SLOW_READER_S,
    Address,
    _Client,
    _enc_hook,
    encode,
    parse_address,
)
from cockpit.errors import CockpitError, FencedError

log = logging.getLogger("cockpit.engine.server")


class EngineServer(ControlDesk):
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
        self._large = asyncio.Lock()  # an operator's request over REQUEST_LIMIT is decoded one at a time
        self._server: asyncio.AbstractServer | None = None
        self.address: Address | None = None
        self.journal_reader: Any = None  # a standby reads the shared journal through this
        self._tasks: set[asyncio.Task[None]] = set()
        self.access = Access.from_config(config)
        self.refusals = RefusalLimiter()
        # connections yet to say hello, oldest first
        self._pending: dict[_Client, tuple[asyncio.WriteTransport, float]] = {}

    # Lifecycle ------------------------------------------------------------------------------------
    async def start(self, address: Address) -> Address:
        if address.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address.path)
            Path(address.path).parent.mkdir(parents=True, exist_ok=True)
            self._server = await asyncio.start_unix_server(self._serve, path=address.path, limit=REQUEST_LIMIT)
            self.address = address
        else:
            self.access.check_bind(address.host, str(address))
            try:
                self._server = await asyncio.start_server(
                    self._serve,
                    address.host,
                    address.port,
                    limit=REQUEST_LIMIT,
                    reuse_address=True,
                    ssl=self.access.tls,
                    ssl_handshake_timeout=HELLO_DEADLINE_S if self.access.tls else None,
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
        self.controller = controller_from(engine.journal)
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
        if not any(c.frames for c in self.clients):  # none attached, or only one-shot requests (no frames)
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
        if len(self.clients) >= self.access.max_connections:
            with contextlib.suppress(Exception):
                writer.transport.abort()  # over the cap: no buffer, no file descriptor kept
            return
        if len(self._pending) >= PENDING_MAX:
            # Silent connections are evicted oldest first, once they had time to say hello: a pile of
            # idle ones cannot lock out a screen that says hello at once (the on-call's own).
            oldest = next(iter(self._pending))
            transport, since = self._pending[oldest]
            if time.monotonic() - since < PENDING_GRACE_S:
                with contextlib.suppress(Exception):
                    writer.transport.abort()
                return
            del self._pending[oldest]
            transport.abort()
        client = _Client(writer)
        self._pending[client] = (cast(asyncio.WriteTransport, writer.transport), time.monotonic())
        pump = asyncio.create_task(client.pump())
        try:
            try:
                async with asyncio.timeout(HELLO_DEADLINE_S):
                    line = await reader.readline()
            except TimeoutError:
                return
            hello = msgspec.json.decode(line) if line else None
            refusal = self._hello_refusal(hello, writer, client)
            if refusal:
                client.send(encode({"t": "error", "error": refusal}))
                return
            self._pending.pop(client, None)
            self.clients.add(client)
            await self._attached(client, reader)
        except (ConnectionError, asyncio.IncompleteReadError, msgspec.DecodeError, OSError):
            pass
        except ValueError:  # a line over the reader's limit (REQUEST_LIMIT, or CLIENT_REQUEST_LIMIT for an operator)
            limit = reader._limit  # type: ignore[attr-defined]
            log.warning("dropping %s: a line longer than %d bytes", client.operator or "a connection", limit)
        except Exception as exc:  # one line, never a traceback per connection
            log.warning(
                "connection %s closed: %s: %s", client.operator or "?", type(exc).__name__, abbreviate(exc, 200)
            )
        finally:
            self._pending.pop(client, None)
            self.clients.discard(client)
            await asyncio.sleep(0)
            client.closed = True
            client.wake.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pump, 2)
            with contextlib.suppress(Exception):
                writer.close()

    def _hello_refusal(self, hello: Any, writer: asyncio.StreamWriter, client: _Client) -> str:
        """Why this hello is refused (one sentence), or "" when the client is in: its identity verified."""
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            return "expected a hello first"
        version = hello.get("version")
        if version != PROTOCOL_VERSION:
            return (
                f"this engine speaks attach protocol {PROTOCOL_VERSION}, the client "
                f"{abbreviate(version, 16) if version is not None else 'an older one'}: run the same cockpit version"
            )
        try:
            client.operator = self.access.identify(writer.get_extra_info("socket"), writer, hello)
        except PermissionError as exc:
            return f"not attached: {exc}"
        if not self.access.may_observe(client.operator):
            return f"not attached: {abbreviate(client.operator)} is not among this engine's [server] observers"
        client.observer = hello.get("observer") is True
        client.frames = hello.get("frames") is not False
        return ""

    def _welcome(self, client: _Client) -> dict[str, Any]:
        cfg = self.config
        return {
            "t": "welcome",
            "operator": client.operator,
            "role": self.role,
            "controller": self.controller,
            "epoch": self.epoch,
            "config_path": str(cfg.path),
            "config": screen_config(cfg),
            "clock": cfg.file.cockpit.clock,
            "speed": cfg.file.cockpit.speed,
        }

    async def _attached(self, client: _Client, reader: asyncio.StreamReader) -> None:
        """A client past its hello: the welcome and the current state, then its requests until it goes."""
        if not client.observer and self.access.may_control(client.operator):
            # An operator's request may name a whole scope (arm, plan): a longer line is allowed. asyncio has
            # no public setter for a StreamReader's limit; `_limit` is what readline() checks.
            reader._limit = CLIENT_REQUEST_LIMIT  # type: ignore[attr-defined]
        client.send(encode(self._welcome(client)))
        if self.frame is None and self._snap is not None and client.frames:
            self.frame = encode(self._frame(self._snap))
        if self.frame is not None and client.frames:
            client.send(self.frame)  # the current state at once, before the next tick
        while not client.closed:
            await client.slots.acquire()  # back-pressure: a flood waits in the client's own socket
            line = await reader.readline()
            if not line:
                break
            if len(line) > REQUEST_LIMIT:  # an operator's large request: one at a time, engine-wide
                async with self._large:
                    await self._answer_line(client, line)
                client.slots.release()
                continue
            task = asyncio.create_task(self._answer_line(client, line))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _t: client.slots.release())

    async def _answer_line(self, client: _Client, line: bytes) -> None:
        """A request line decoded and answered (a malformed one is answered as such)."""
        try:
            req = msgspec.json.decode(line)
        except msgspec.DecodeError:
            client.send(encode({"t": "reply", "id": None, "ok": False, "error": "malformed request"}))
            return
        await self._answer(client, req)

    async def _answer(self, client: _Client, req: Any) -> None:
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            result = await self._handle(client, req)
            reply = {"t": "reply", "id": rid, "ok": True, "result": result}
        except CockpitError as exc:
            reply = {"t": "reply", "id": rid, "ok": False, "error": str(exc), "kind": type(exc).__name__}
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
            plan = msgspec.to_builtins(engine.plan_now(req.get("scope", "regressing")), enc_hook=_enc_hook)
            if req.get("note") is True:  # `cockpit plan` prints what the engine's [overflow] tier would do
                plan["overflow_note"] = engine.overflow.plan_note()
            return plan
        if client.observer and (op in CONTROL or op == "command"):  # it said --read-only: held to it here too
            raise ReadOnlyError("this screen attached read-only (--read-only): it neither takes control nor acts")
        if op in CONTROL:
            return await self._control(client, op, req.get("confirm") is True)  # a real boolean, not truthiness
        if op == "command":
            name = req.get("name")
            args = req.get("args") or {}
            if not isinstance(name, str) or not isinstance(args, dict):
                raise CockpitError("malformed command: name must be a string and args an object")
            async with self._mutate:
                engine = self._engine()
                if self.controller != client.operator:
                    held = f"{self.controller} is in control" if self.controller else "nobody is in control"
                    await self._journal_refusal(engine, client.operator, name, held)
                    raise ReadOnlyError(f"read-only: {held}; take control first to run {abbreviate(name)!r}")
                args = {k: v for k, v in args.items() if k not in ("operator", "name")}  # identity is ours
                return await engine.command(name, operator=client.operator, **args)
        raise CockpitError(f"unknown request {op!r}")

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


def screen_config(cfg: Config) -> dict[str, Any]:
    """The configuration a screen needs to draw, without secrets: plugin options and [server] stay on
    the engine, and URL credentials in the journal reference are redacted."""
    from cockpit.redact import redact_url

    raw = msgspec.to_builtins(cfg.file)
    raw["plugins"] = {name: {} for name in raw.get("plugins", {})}
    raw.pop("server", None)
    raw["cockpit"]["journal"] = redact_url(raw["cockpit"]["journal"])
    return raw
