"""The one-shot client `cockpit plan` uses (cockpit.engine.ask) against engines that misbehave, served
by a real socket in a thread: every case ends in one sentence within the deadline, whatever the bytes."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cockpit.engine import ask as ask_module
from cockpit.engine.address import Address
from cockpit.engine.ask import EngineRefused, NoEngine, ask
from cockpit.errors import EngineUnreachable

WELCOME = json.dumps({"t": "welcome", "role": "leader", "config_path": "/x/cockpit.toml"}).encode() + b"\n"


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], Address]]:
    """Serve one connection with `behave(conn)` on a free loopback port; returns its address."""
    servers: list[socket.socket] = []

    def start(behave: Callable[[socket.socket], None]) -> Address:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def run() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.makefile("rb").readline()  # the hello
                with contextlib.suppress(OSError):
                    behave(conn)

        threading.Thread(target=run, daemon=True).start()
        return Address(host="127.0.0.1", port=srv.getsockname()[1])

    yield start
    for srv in servers:
        srv.close()


def test_nothing_listening_is_no_engine():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(NoEngine, match=f"no engine answers at 127.0.0.1:{port}"):
            ask(Address("127.0.0.1", port), "plan", operator="me@here")


def test_a_drip_of_bytes_does_not_extend_the_deadline(serve):
    def drip(conn: socket.socket) -> None:
        for _ in range(100):
            conn.sendall(b" ")
            time.sleep(0.1)

    address = serve(drip)
    started = time.monotonic()
    with pytest.raises(EngineUnreachable, match="did not answer within 1 s"):
        ask(address, "plan", operator="me@here", timeout_s=1.0)
    assert time.monotonic() - started < 2.0


def test_a_line_over_the_limit_is_refused_not_buffered(serve, monkeypatch):
    monkeypatch.setattr(ask_module, "LINE_LIMIT", 64 * 1024)
    address = serve(lambda conn: conn.sendall(b"x" * (256 * 1024)))
    with pytest.raises(EngineUnreachable, match="a line longer than 65,536 bytes"):
        ask(address, "plan", operator="me@here")


@pytest.mark.parametrize(
    ("sent", "said"),
    [
        (b"", "closed the connection before answering"),
        (b"not json\n", "sent a line that is not JSON"),
        (b"[1, 2]\n", "sent list, not a message"),
        (json.dumps({"t": "error", "error": "not attached: unknown token"}).encode() + b"\n", "unknown token"),
    ],
)
def test_odd_answers_are_one_sentence(serve, sent, said):
    address = serve(lambda conn: conn.sendall(sent))
    with pytest.raises(EngineUnreachable, match=said):
        ask(address, "plan", operator="me@here")


def test_the_reply_is_found_among_other_messages_and_refusals_keep_their_kind(serve):
    status = json.dumps({"t": "status", "controller": "ana@desk"}).encode() + b"\n"
    reply = {"t": "reply", "id": 1, "ok": True, "result": {"scope": ["acme"]}}
    address = serve(lambda conn: conn.sendall(WELCOME + status + json.dumps(reply).encode() + b"\n"))
    answer = ask(address, "plan", operator="me@here", scope="all")
    assert answer is not None and answer.result == {"scope": ["acme"]} and answer.welcome["role"] == "leader"
    refusal = {"t": "reply", "id": 1, "ok": False, "error": "nothing to roll back", "kind": "CommandError"}
    address = serve(lambda conn: conn.sendall(WELCOME + json.dumps(refusal).encode() + b"\n"))
    with pytest.raises(EngineRefused, match="nothing to roll back") as refused:
        ask(address, "plan", operator="me@here")
    assert refused.value.kind == "CommandError"
    address = serve(lambda conn: conn.sendall(WELCOME))
    assert ask(address, "plan", operator="me@here", accept=lambda welcome: False) is None  # another config


def test_an_engine_that_goes_away_mid_reply(serve):
    def half(conn: socket.socket) -> None:
        conn.sendall(WELCOME)
        conn.makefile("rb").readline()  # the request
        conn.sendall(b'{"t": "reply", "id": 1, "ok": tr')

    with pytest.raises(EngineUnreachable, match="closed the connection before answering"):
        ask(serve(half), "plan", operator="me@here")
