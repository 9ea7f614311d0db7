"""Where an engine listens (parsed from the command line) and which attach protocol it speaks. Kept apart
from the protocol's machinery (asyncio, msgspec) so a one-shot client such as `cockpit plan` can reach an
engine without loading it."""

from __future__ import annotations

from typing import NamedTuple

from cockpit.errors import CockpitError

PROTOCOL_VERSION = 2  # the hello's "version": an engine refuses a screen that speaks another
DEFAULT_LISTEN = "127.0.0.1:7781"  # where `cockpit engine` listens, and where a screen looks for one
# What the engine reads in one line: 64 KB from a connection before its hello and from an observer (a
# `--read-only` screen, `cockpit plan`); 4 MB from an operator who may take control, whose arm or plan may
# name a whole scope (100,000 tenants of ~35-character names). Operators can actuate the fleet: the
# memory a larger request costs the engine is theirs to spend, one such request at a time.
REQUEST_LIMIT = 64 * 1024
CLIENT_REQUEST_LIMIT = 4 * 1024 * 1024


class Address(NamedTuple):
    """Where an engine listens: TCP host and port, or a Unix socket path."""

    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"


def parse_address(text: str, flag: str = "--listen") -> Address:
    """`host:port`, `[v6]:port`, `:port`, `unix:/path/sock` or a path containing '/'. Raises CockpitError."""
    expected = f"{flag} {text!r}: expected HOST:PORT (port 1-65535) or unix:/path/to.sock"
    if text.startswith("unix:") or "/" in text:
        path = text.removeprefix("unix:")
        if not path:
            raise CockpitError(expected)
        return Address(path=path)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CockpitError(expected)
    if host.startswith("[") and host.endswith("]"):  # an IPv6 literal, as in a URL
        host = host[1:-1]
    return Address(host=host or "127.0.0.1", port=int(port))
