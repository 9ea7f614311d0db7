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


def _answers(result: object) -> Callable[[socket.socket], None]:
    """An engine that welcomes, reads the request, and replies ok with `result` (whatever it is)."""

    def behave(conn: socket.socket) -> None:
        conn.sendall(WELCOME)
        conn.makefile("rb").readline()
        conn.sendall(json.dumps({"t": "reply", "id": 1, "ok": True, "result": result}).encode() + b"\n")

    return behave


GOOD = {
    "scope": ["acme"],
    "traffic_to_move_rps": 2.5,
    "prescale_to": 4,
    "stages": [{"number": 1, "eta_s": 0.0, "tenants": ["acme"], "moved_rps": 2.5, "old_utilisation_after": None}],
    "finishes": True,
    "eta_s": 1.0,
    "unknown": {},
}


@pytest.mark.parametrize(
    ("result", "said"),
    [
        (None, "NoneType, not an object"),
        ([1, 2], "list, not an object"),
        ({k: v for k, v in GOOD.items() if k != "prescale_to"}, "prescale_to is missing"),
        ({**GOOD, "traffic_to_move_rps": "2.5"}, "traffic_to_move_rps is str"),
        ({**GOOD, "stages": [{"number": 1}]}, "stages[0].eta_s is missing"),
        ({**GOOD, "stages": [7]}, "stages[0] is int"),
        ({**GOOD, "scope": ["acme", 3]}, "scope holds a name that is not a string"),
        ({**GOOD, "unknown": {"acme": 1}}, "unknown is not a map of tenant to reason"),
    ],
)
def test_a_plan_this_cockpit_cannot_read_is_one_sentence_and_exit_2(serve, capsys, result, said):
    from cockpit.cli import main

    address = serve(_answers(result))
    assert main(["plan", "--attach", str(address)]) == 2
    err = capsys.readouterr().err
    assert err == f"cockpit: the engine at {address} sent a plan this cockpit cannot read: {said}\n"


def test_a_plan_it_can_read_prints_with_the_engine_named(serve, capsys):
    from cockpit.cli import main

    address = serve(_answers(GOOD))
    assert main(["plan", "--attach", str(address)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"engine: {address} (leader; config /x/cockpit.toml)"
    assert "  stage   1  T+    0 s       2.5 rps  old tier inf%  acme" in out  # no old capacity at all


def test_nesting_deeper_than_the_parser_goes_is_a_sentence(serve):
    address = serve(lambda conn: conn.sendall(b"[" * 200_000 + b"\n"))
    with pytest.raises(EngineUnreachable, match="sent a line that is not JSON"):
        ask(address, "plan", operator="me@here")


def test_a_tls_handshake_that_fails_is_an_engine_refusing_not_nothing_listening(serve):
    import ssl

    address = serve(lambda conn: conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    with pytest.raises(EngineUnreachable, match=f"the engine at {address} refused TLS") as refused:
        ask(address, "plan", operator="me@here", tls=ssl.create_default_context())
    assert type(refused.value) is EngineUnreachable  # not NoEngine: something answers there


def test_over_a_unix_socket_there_is_no_tls(tmp_path):
    import ssl

    path = str(tmp_path / "e.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen()
    heard: list[dict] = []

    def run() -> None:
        conn, _ = srv.accept()
        with conn:
            heard.append(json.loads(conn.makefile("rb").readline()))  # plain JSON: no TLS record
            conn.sendall(json.dumps({"t": "error", "error": "not attached: test"}).encode() + b"\n")

    threading.Thread(target=run, daemon=True).start()
    with pytest.raises(EngineUnreachable, match="refused to attach: not attached: test"):
        ask(Address(path=path), "plan", operator="me@here", tls=ssl.create_default_context())
    srv.close()
    assert heard[0]["op"] == "hello" and heard[0]["observer"] is True and heard[0]["frames"] is False


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["plan", "--attach", "127.0.0.1:1", "--local"], "--attach and --local: choose one"),
        (["plan", "--attach", ""], "--attach '': expected HOST:PORT"),
        (["plan", "--attach", "unix:"], "--attach 'unix:': expected HOST:PORT"),
    ],
)
def test_contradictory_or_empty_attach_flags_are_refused(capsys, argv, said):
    from cockpit.cli import main

    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"cockpit: {said}")


def test_addresses_as_written_on_a_command_line():
    from cockpit.engine.address import parse_address

    assert parse_address("[::1]:7781") == Address(host="::1", port=7781)
    assert parse_address(":7781") == Address(host="127.0.0.1", port=7781)
    assert parse_address("unix:/run/cockpit.sock") == Address(path="/run/cockpit.sock")
    assert str(parse_address("/tmp/e.sock")) == "unix:/tmp/e.sock"
