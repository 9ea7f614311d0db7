"""Who is on the other end of an attach connection, and what they may do.

Identity is never what a client declares:
- on a Unix socket the kernel says which user connected (SO_PEERCRED);
- over loopback TCP on Linux the kernel's socket table says which user owns the client's socket;
- over any TCP, when the configuration names a token file, the token a screen presents names its
  operator (and a connection without a valid token is refused);
- over TCP with mutual TLS, the client certificate's common name is the operator.
A TCP listener on a non-loopback address without a token file or mutual TLS refuses to start.

Authorisation is two lists of `user@host` patterns in `[server]`: who may attach (observers) and who
may take control (controllers).
"""

from __future__ import annotations

import fnmatch
import hmac
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.engine.address import PROTOCOL_VERSION as PROTOCOL_VERSION  # the protocol's names, here too
from cockpit.errors import ConfigError

MIN_TOKEN_CHARS = 16


def abbreviate(text: Any, limit: int = 64) -> str:
    """A value as it may appear in a sentence, a journal entry or a log line: short and printable."""
    s = str(text)
    s = "".join(c if c.isprintable() else "?" for c in s[: limit + 1])
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _resolve(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def load_tokens(path: Path) -> dict[str, str]:
    """`OPERATOR TOKEN` per line (# comments); returns token -> operator. Raises ConfigError."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"[server] tokens_file {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    tokens: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or "@" not in parts[0]:
            raise ConfigError(f"{path}:{n}: expected 'user@host TOKEN'")
        operator, token = parts
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{path}:{n}: the token of {abbreviate(operator)} is shorter than {MIN_TOKEN_CHARS} characters"
            )
        tokens[token] = operator
    if not tokens:
        raise ConfigError(f"[server] tokens_file {str(path)!r}: names no operator")
    return tokens


def read_client_token(path: str) -> str:
    """The token a screen presents, from a file holding it on its first line."""
    try:
        token = Path(path).read_text().strip().splitlines()[0].strip()
    except (OSError, IndexError):
        raise ConfigError(f"--token-file {path!r}: cannot read a token from it") from None
    return token


def client_tls_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """A screen's side of mutual TLS: its certificate (CN = the operator) and the CA of the engine's."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS client certificate {cert!r}: cannot load it ({exc})") from None
    return ctx


def client_tls_from_env(environ: Any) -> ssl.SSLContext | None:
    """$COCKPIT_TLS_CERT, $COCKPIT_TLS_KEY and $COCKPIT_TLS_CA, when set, attach over mutual TLS."""
    cert, key, ca = (environ.get(f"COCKPIT_TLS_{k}", "") for k in ("CERT", "KEY", "CA"))
    if not (cert or key or ca):
        return None
    if not (cert and key and ca):
        raise ConfigError("mutual TLS needs all of $COCKPIT_TLS_CERT, $COCKPIT_TLS_KEY and $COCKPIT_TLS_CA")
    return client_tls_context(cert, key, ca)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Access:
    """The engine's listener policy, built once from `[server]`."""

    tokens: dict[str, str] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    observers: tuple[str, ...] = ("*",)
    controllers: tuple[str, ...] = ("*",)
    max_connections: int = 64

    @classmethod
    def from_config(cls, config: Any) -> Access:
        s = config.file.server
        base = config.dir
        tokens = load_tokens(_resolve(base, s.tokens_file)) if s.tokens_file else {}
        tls = None
        if s.tls_cert or s.tls_key or s.tls_client_ca:
            if not (s.tls_cert and s.tls_key and s.tls_client_ca):
                raise ConfigError(f"{config.path}: [server] mutual TLS needs tls_cert, tls_key and tls_client_ca")
            try:
                tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                tls.load_cert_chain(_resolve(base, s.tls_cert), _resolve(base, s.tls_key))
                tls.load_verify_locations(_resolve(base, s.tls_client_ca))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"{config.path}: [server] tls: cannot load the certificates ({exc})") from None
            tls.verify_mode = ssl.CERT_REQUIRED
        return cls(tokens, tls, tuple(s.observers), tuple(s.controllers), s.max_connections)

    @property
    def authenticates_tcp(self) -> bool:
        return bool(self.tokens) or self.tls is not None

    def check_bind(self, host: str, listen_text: str) -> None:
        if not self.authenticates_tcp and not is_loopback(host):
            raise ConfigError(
                f"--listen {listen_text}: a non-loopback address needs authentication; set [server] tokens_file "
                "or tls_cert/tls_key/tls_client_ca, or listen on a Unix socket"
            )

    def identify(self, sock: Any, writer: Any, hello: dict[str, Any]) -> str:
        """The verified operator of this connection; raises PermissionError with the reason."""
        if sock is not None and sock.family == socket.AF_UNIX:
            user = peercred_user(sock)
            if user is None:
                raise PermissionError("cannot verify the connecting user on this socket")
            return f"{user}@{socket.gethostname()}"
        if self.tls is not None:
            cert = writer.get_extra_info("peercert") or {}
            cn = next((v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"), None)
            if not cn:
                raise PermissionError("the client certificate names no operator (CN)")
            return str(cn)
        if self.tokens:
            token = hello.get("token")
            if not isinstance(token, str) or not token:
                raise PermissionError("this engine needs a token (--token-file)")
            for known, operator in self.tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return operator
            raise PermissionError("unknown token")
        user = loopback_peer_user(sock)
        if user is None:
            raise PermissionError("cannot verify who is connecting over TCP: configure [server] tokens_file")
        return f"{user}@{socket.gethostname()}"

    def may_observe(self, operator: str) -> bool:
        return any(fnmatch.fnmatchcase(operator, p) for p in self.observers)

    def may_control(self, operator: str) -> bool:
        return any(fnmatch.fnmatchcase(operator, p) for p in self.controllers)


def peercred_user(sock: Any) -> str | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    import pwd
    import struct

    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return None


def _proc_addr(family: int, ip: str, port: int) -> str:
    raw = socket.inet_pton(family, ip)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return f"{words.hex().upper()}:{port:04X}"


def loopback_peer_user(sock: Any) -> str | None:
    """The owner of the client end of a loopback TCP connection, from the kernel's socket table (Linux):
    the same fact SO_PEERCRED gives on a Unix socket. None when it cannot be established."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        peer, local = sock.getpeername(), sock.getsockname()
        if not ipaddress.ip_address(peer[0]).is_loopback:
            return None
        want = (_proc_addr(sock.family, peer[0], peer[1]), _proc_addr(sock.family, local[0], local[1]))
        table = "/proc/net/tcp" if sock.family == socket.AF_INET else "/proc/net/tcp6"
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if (parts[1], parts[2]) == want:
                    import pwd

                    return pwd.getpwuid(int(parts[7])).pw_name
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    return None


class RefusalLimiter:
    """A token bucket per operator: refused commands are journaled at most `rate` a second (burst
    `burst`); the ones dropped are counted into the next entry written."""

    def __init__(self, rate: float = 1.0, burst: float = 5.0) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self.suppressed: dict[str, int] = {}

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        tokens, at = self._buckets.get(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if len(self._buckets) > 10_000:  # bounded: forget the quiet ones
            self._buckets.clear()
        if tokens >= 1.0:
            self._buckets[who] = (tokens - 1.0, now)
            return True
        self._buckets[who] = (tokens, now)
        self.suppressed[who] = self.suppressed.get(who, 0) + 1
        return False
