"""The attach protocol on the wire: limits, encoding, addresses and one connected client's outbound
queue. Newline-delimited JSON; every buffer and queue is bounded (see the constants)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from cockpit.engine.address import CLIENT_REQUEST_LIMIT as CLIENT_REQUEST_LIMIT  # an operator's, past the hello
from cockpit.engine.address import REQUEST_LIMIT as REQUEST_LIMIT  # before the hello, and an observer's
from cockpit.engine.address import Address as Address  # re-exported: the protocol's names
from cockpit.engine.address import parse_address as parse_address
from cockpit.engine.encoding import ENCODER
from cockpit.engine.encoding import plain as _enc_hook  # noqa: F401 - server.py encodes plans with it

log = logging.getLogger("cockpit.engine.server")

LINE_LIMIT = 256 * 1024 * 1024  # what a screen reads: a 10,000-tenant snapshot is a few MB; never cut a frame
HELLO_DEADLINE_S = 5.0  # a connection that has not said hello by then is closed
PENDING_MAX = 64  # connections that have not said hello yet, at once (64 KB buffer each at most)
PENDING_GRACE_S = 0.5  # a connection this young is not evicted for a newer one
IN_FLIGHT_MAX = 8  # requests one client may have in flight: past it the engine stops reading from it
QUEUED_MAX = 256  # replies queued for one client that does not read them: past it the client is dropped
SLOW_READER_S = 30.0  # a client whose socket takes longer than this to drain is dropped


def encode(message: dict[str, Any]) -> bytes:
    return ENCODER.encode(message) + b"\n"


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    operator: str = ""
    observer: bool = False  # attached with --read-only: it neither takes control nor sends commands
    frames: bool = True  # False: a one-shot client (`cockpit plan`) asked for no snapshots, only replies
    replies: list[bytes] = field(default_factory=list)
    frame: bytes | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(IN_FLIGHT_MAX))

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.replies) >= QUEUED_MAX:
            self.drop("it does not read its replies")
            return
        self.replies.append(data)
        self.wake.set()

    def send_frame(self, data: bytes) -> None:
        if not self.frames:
            return
        self.frame = data  # a slow screen skips to the newest snapshot instead of queueing old ones
        self.wake.set()

    def drop(self, why: str) -> None:
        """Bounded memory: a client that does not keep up is disconnected, not buffered for."""
        if not self.closed:
            log.warning("dropping screen %s: %s", self.operator or "(no hello)", why)
        self.closed = True
        self.replies.clear()
        self.frame = None
        self.wake.set()
        with contextlib.suppress(Exception):
            self.writer.transport.abort()

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
                try:
                    await asyncio.wait_for(self.writer.drain(), SLOW_READER_S)
                except TimeoutError:
                    self.drop(f"its socket did not drain within {SLOW_READER_S:g} s")
        except (ConnectionError, RuntimeError, OSError):
            self.closed = True
