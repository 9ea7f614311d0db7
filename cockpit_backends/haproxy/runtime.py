"""A small client for HAProxy's Runtime API (the stats socket), on asyncio streams.

One `Session` is one connection in interactive mode (``prompt``): many commands are written down the
same connection and their answers read back in order, each answer ending with the ``"\\n> "`` prompt.
HAProxy runs a connection's commands one after another, so a whole batch costs one connection and one
round of pipelined writes instead of a connection per command.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROMPT = b"\n> "
READ_LIMIT = 1 << 26  # one `show map` of a large map arrives as a single answer
# HAProxy keeps a command and its payload in one buffer (tune.bufsize, 16 kB by default); a payload
# bigger than that resets the connection, so `add map ... <<` payloads are cut below this size.
PAYLOAD_BYTES = 8000

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})$")


class RuntimeAPIError(Exception):
    """The Runtime API could not be reached or answered something unusable (one sentence)."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where the stats socket listens: a unix socket path, or host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str, base: Path) -> Address | None:
        """A path (absolute, or relative to `base`) or ``host:port``; None if neither."""
        if not text or any(c.isspace() for c in text):
            return None
        if "/" not in text:
            m = _HOST_PORT.match(text)
            if m:
                port = int(m.group("port"))
                if not 0 < port < 65536:
                    return None
                return cls(host=m.group("v6") or m.group("host"), port=port)
        p = Path(text)
        return cls(path=str(p if p.is_absolute() else base / p))

    def __str__(self) -> str:
        return self.path if self.path is not None else f"{self.host}:{self.port}"


class Session:
    """One interactive connection to the Runtime API. Use as ``async with Session(address) as s``."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Session:
        try:
            if self.address.path is not None:
                self._reader, self._writer = await asyncio.open_unix_connection(self.address.path, limit=READ_LIMIT)
            else:
                self._reader, self._writer = await asyncio.open_connection(
                    self.address.host, self.address.port, limit=READ_LIMIT
                )
        except OSError as exc:
            raise RuntimeAPIError(
                f"cannot connect to the HAProxy runtime API at {self.address} ({exc.strerror or exc})"
            ) from None
        await self.run(["prompt"])  # interactive mode: the connection stays open between commands
        return self

    async def __aexit__(self, *exc: object) -> None:
        w = self._writer
        if w is None:
            return
        try:
            w.write(b"quit\n")
            w.close()
            await w.wait_closed()
        except OSError:
            pass

    async def run(self, commands: Sequence[str]) -> list[str]:
        """Send every command (pipelined) and return their answers, in order.

        A command may carry a payload (``... <<\\nline\\nline\\n``); its answer then starts with the
        ``"+ "`` continuation prompts, which are stripped.
        """
        assert self._reader is not None and self._writer is not None, "use `async with Session(...)`"
        reader, writer = self._reader, self._writer

        async def send() -> None:
            chunk: list[str] = []
            size = 0
            for cmd in commands:
                line = cmd if cmd.endswith("\n") else cmd + "\n"
                chunk.append(line)
                size += len(line)
                if size >= 1 << 16:
                    writer.write("".join(chunk).encode())
                    await writer.drain()
                    chunk, size = [], 0
            if chunk:
                writer.write("".join(chunk).encode())
                await writer.drain()

        async def receive() -> list[str]:
            out = []
            for _ in commands:
                raw = await reader.readuntil(PROMPT)
                text = raw[: -len(PROMPT)].decode(errors="replace")
                while text.startswith("+ "):
                    text = text[2:]
                out.append(text.strip("\n"))
            return out

        sender = asyncio.ensure_future(send())
        try:
            answers = await receive()
            await sender
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            raise RuntimeAPIError(
                f"the HAProxy runtime API at {self.address} closed the connection mid-batch ({type(exc).__name__})"
            ) from None
        except asyncio.LimitOverrunError:
            raise RuntimeAPIError(f"an answer from the HAProxy runtime API at {self.address} is too large") from None
        finally:
            if not sender.done():
                sender.cancel()
        return answers


def payload_chunks(lines: Sequence[str], limit: int = PAYLOAD_BYTES) -> list[list[str]]:
    """Cut payload lines into groups that each fit HAProxy's command buffer."""
    chunks: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for line in lines:
        n = len(line) + 1
        if cur and size + n > limit:
            chunks.append(cur)
            cur, size = [], 0
        cur.append(line)
        size += n
    if cur:
        chunks.append(cur)
    return chunks


def parse_map(answer: str) -> list[tuple[str, str]]:
    """`show map <map>` lines are ``<ref> <key> <value>``; keep the order (the first entry of a key
    is the one HAProxy matches)."""
    out = []
    for line in answer.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].startswith("0x"):
            out.append((parts[1], parts[2]))
    return out


_TABLE_RATE = re.compile(r"\bkey=(\S+).*?\bhttp_req_rate\((\d+)\)=(\d+)")


def parse_table_rates(answer: str) -> dict[str, float]:
    """`show table <name>` lines carry ``key=<tenant> ... http_req_rate(<period ms>)=<count>``."""
    out: dict[str, float] = {}
    for line in answer.splitlines():
        m = _TABLE_RATE.search(line)
        if m:
            period_s = int(m.group(2)) / 1000.0
            out[m.group(1)] = int(m.group(3)) / period_s if period_s > 0 else 0.0
    return out
