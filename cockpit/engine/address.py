"""Where an engine listens (parsed from the command line) and which attach protocol it speaks. Kept apart
from the protocol's machinery (asyncio, msgspec) so a one-shot client such as `cockpit plan` can reach an
engine without loading it."""

from __future__ import annotations

from typing import NamedTuple

from cockpit.errors import CockpitError

PROTOCOL_VERSION = 2  # the hello's "version": an engine refuses a screen that speaks another
DEFAULT_LISTEN = "127.0.0.1:7781"  # where `cockpit engine` listens, and where a screen looks for one


class Address(NamedTuple):
    """Where an engine listens: TCP host and port, or a Unix socket path."""

    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"


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
