"""One request to a running engine, answered, and the connection closed: how `cockpit plan` asks the
engine that is running the fleet instead of building a second view of it.

Synchronous and light on purpose (a socket and the standard library's json; no event loop, no msgspec,
no configuration loaded): a one-shot command pays for what it asks and nothing else. It says hello as
an observer that wants no snapshots (``"frames": false``), so the engine sends it the welcome and the
reply, never a 10,000-tenant frame, and refuses it any command or control. Every wait is bounded by
``timeout_s`` and every line by ``LINE_LIMIT``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from cockpit.engine.address import PROTOCOL_VERSION, REQUEST_LIMIT, Address
from cockpit.errors import CockpitError, EngineUnreachable, abbreviate

if TYPE_CHECKING:
    import ssl

LINE_LIMIT = 64 * 1024 * 1024  # a reply (a 100,000-tenant plan is a few MB); a longer line is refused


class NoEngine(EngineUnreachable):
    """Nothing listens at the address (as opposed to an engine that refused or went away)."""


class EngineRefused(CockpitError):
    """The engine answered the request with a refusal; `kind` is its error's class name, `welcome` what it
    said of itself when it let us in."""

    def __init__(self, message: str, kind: str, welcome: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.welcome = welcome or {}


class Answer(NamedTuple):
    address: Address
    welcome: dict[str, Any]  # role, who is in control, the engine's configuration and its path
    result: Any


def credentials(token_file: str | None, environ: Any) -> tuple[str | None, ssl.SSLContext | None]:
    """What a client attaches with: the token in `token_file` (--token-file, else $COCKPIT_TOKEN_FILE) and
    a mutual-TLS context from $COCKPIT_TLS_CERT, _KEY and _CA. The authentication module (ssl, hmac) is
    imported only when one of them is set."""
    from cockpit.errors import ConfigError

    token = tls = None
    if token_file or environ.get("COCKPIT_TOKEN_FILE"):
        from cockpit.engine.auth import read_client_token

        try:
            token = read_client_token(token_file or environ["COCKPIT_TOKEN_FILE"])
        except ConfigError as exc:
            raise ConfigError(str(exc) if token_file else f"$COCKPIT_TOKEN_FILE: {exc}") from None
    if any(environ.get(f"COCKPIT_TLS_{k}") for k in ("CERT", "KEY", "CA")):
        from cockpit.engine.auth import client_tls_from_env

        tls = client_tls_from_env(environ)
    return token, tls


def connect(address: Address, timeout_s: float, tls: ssl.SSLContext | None = None) -> socket.socket:
    """A connected socket: NoEngine when nothing accepts the connection, EngineUnreachable when something
    does but the TLS handshake fails. Over a Unix socket there is no TLS (as for a screen: the file's
    permissions and the peer's credentials say who it is)."""
    try:
        if address.path:
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(timeout_s)
            try:
                sock.connect(address.path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
    except OSError as exc:
        raise NoEngine(f"no engine answers at {address}: {exc.strerror or exc}") from None
    if tls is None or address.path:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=address.host or None)
    except (OSError, ValueError) as exc:  # ssl.SSLError and a handshake timeout are OSErrors
        sock.close()
        raise EngineUnreachable(f"the engine at {address} refused TLS: {exc}") from None


def ask(
    address: Address,
    op: str,
    *,
    operator: str,
    token: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout_s: float = 10.0,
    accept: Callable[[dict[str, Any]], bool] | None = None,
    **fields: Any,
) -> Answer | None:
    """Send `op` with `fields` and return the engine's answer. `accept` sees the welcome first: when it
    says no (the engine runs another configuration), nothing is asked and None is returned.

    Raises NoEngine (nothing listens), EngineUnreachable (the hello was refused, the connection closed,
    or the answer took longer than `timeout_s` in all: a slow drip of bytes does not extend it) or
    EngineRefused (the engine refused the request itself, e.g. nothing to roll back)."""
    deadline = time.monotonic() + timeout_s
    sock = connect(address, timeout_s, tls)
    try:
        stream = _Lines(sock, address, deadline)
        hello: dict[str, Any] = {
            "op": "hello",
            "version": PROTOCOL_VERSION,
            "operator": operator,
            "observer": True,
            "frames": False,
        }
        if token:
            hello["token"] = token
        _send(sock, hello)
        welcome = stream.next()
        if welcome.get("t") != "welcome":
            why = welcome.get("error") or f"it answered {abbreviate(welcome, 80)} to the hello"
            raise EngineUnreachable(f"the engine at {address} refused to attach: {why}")
        if accept is not None and not accept(welcome):
            return None
        request = json.dumps({"op": op, "id": 1, **fields}, separators=(",", ":")).encode() + b"\n"
        if len(request) > REQUEST_LIMIT:  # what an engine reads from an observer in one line
            raise EngineRefused(
                f"the request is {len(request):,} bytes, more than an engine reads from an observer in one "
                f"({REQUEST_LIMIT:,}): name fewer tenants, or use --scope",
                "TooLong",
                welcome,
            )
        sock.sendall(request)
        while True:
            message = stream.next()
            if message.get("t") == "reply" and message.get("id") == 1:
                break
        if not message.get("ok"):
            error = message.get("error") or "it refused without saying why"
            raise EngineRefused(str(error), str(message.get("kind") or "Error"), welcome)
        return Answer(address, welcome, message.get("result"))
    except TimeoutError:
        raise EngineUnreachable(f"the engine at {address} did not answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise EngineUnreachable(f"the engine at {address} went away: {exc.strerror or exc}") from None
    finally:
        sock.close()


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


class _Lines:
    """The engine's messages, one JSON object a line, read against one deadline for the whole answer."""

    def __init__(self, sock: socket.socket, address: Address, deadline: float) -> None:
        self.sock, self.address, self.deadline = sock, address, deadline
        self.buffer = bytearray()

    def next(self) -> dict[str, Any]:
        """The next message (a status line about who is in control is one too)."""
        scanned = 0
        while (end := self.buffer.find(b"\n", scanned)) < 0:
            scanned = len(self.buffer)
            if scanned > LINE_LIMIT:
                raise EngineUnreachable(f"the engine at {self.address} sent a line longer than {LINE_LIMIT:,} bytes")
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EngineUnreachable(f"the engine at {self.address} closed the connection before answering")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            raise EngineUnreachable(f"the engine at {self.address} sent a line that is not JSON") from None
        if not isinstance(message, dict):
            raise EngineUnreachable(f"the engine at {self.address} sent {type(message).__name__}, not a message")
        return message
