"""`cockpit plan` asks the running `cockpit engine` (a real one, in a subprocess) for its plan: the engine's
fleet and state, one request as an observer that takes no snapshots; a dry run here only when no engine
runs that configuration. What it cannot reach or is refused is one sentence and exit 2."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.engine.address import PROTOCOL_VERSION
from tests.ops.conftest import TOKENS, free_port, with_tokens, write_drill_config


def run_plan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "plan", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


@pytest.fixture
def engine(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=20, regression_at=1)
    e = engines(cfg, f"127.0.0.1:{free_port()}")
    e.wait_for("leader")
    e.config = cfg
    return e


def test_the_engines_plan_from_anywhere_with_its_config_named(engine, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # no cockpit.toml here: a dry run would plan the embedded demo
    elsewhere.mkdir()
    out = run_plan("--attach", engine.listen, "--scope", "all", "--json", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    scenario = (tmp_path / "scenario.toml").read_text()
    assert plan["scope"] and all(f'name = "{t}"' in scenario for t in plan["scope"])  # the engine's fleet
    assert plan["stages"] and plan["prescale_to"] >= 1 and "overflow_note" not in plan
    text = run_plan("--attach", engine.listen, "--scope", "all", cwd=elsewhere)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"engine: {engine.listen} (leader; config {engine.config})"
    assert lines[1].startswith(f"scope: {len(plan['scope'])} tenant(s): ")
    assert any(line.startswith("  stage   1  T+") for line in lines)


def test_the_default_engine_is_asked_only_for_the_config_found_here(engine, tmp_path, monkeypatch, capsys):
    """An engine on the default address plans for `cockpit plan` when it runs the configuration the
    command would plan from (--config, $COCKPIT_CONFIG, ./cockpit.toml; any, for the embedded default);
    for another file, or told --local, the plan is a dry run here (the first line says which)."""
    monkeypatch.setattr("cockpit.engine.address.DEFAULT_LISTEN", engine.listen)
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "cockpit.toml").write_text(engine.config.read_text().replace("journal.db", "other.db"))
    (other / "scenario.toml").write_text((tmp_path / "scenario.toml").read_text())
    empty = tmp_path / "empty"  # no cockpit.toml: the embedded default, whose engine may be any
    empty.mkdir()
    ours, theirs = f"engine: {engine.listen} (leader; config {engine.config})", f"config: {other / 'cockpit.toml'}"
    cases = [  # (where it runs, $COCKPIT_CONFIG, arguments, first line)
        (tmp_path, None, [], ours),  # ./cockpit.toml is the engine's
        (other, None, [], theirs),  # ./cockpit.toml is another
        (empty, None, [], ours),
        (empty, None, ["--config", str(engine.config)], ours),
        (empty, None, ["--config", str(other / "cockpit.toml")], theirs),
        (empty, str(other / "cockpit.toml"), [], theirs),
        (empty, None, ["--config", str(engine.config), "--local"], f"config: {engine.config}"),
    ]
    for cwd, env, args, first in cases:
        monkeypatch.chdir(cwd)
        if env:
            monkeypatch.setenv("COCKPIT_CONFIG", env)
        assert main([*args[:2], "plan", *args[2:], "--scope", "all"]) == 0, (cwd, env, args)
        assert capsys.readouterr().out.splitlines()[0].startswith(first), (cwd, env, args)
        monkeypatch.delenv("COCKPIT_CONFIG", raising=False)


def test_an_engine_that_is_not_there_or_refuses(engine, tmp_path):
    nobody = f"127.0.0.1:{free_port()}"
    out = run_plan("--attach", nobody, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip().startswith(f"cockpit: no engine answers at {nobody}")
    assert "Traceback" not in out.stderr
    out = run_plan("--attach", engine.listen, "--tenants", "no-such-tenant", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    said = f"cockpit: the engine at {engine.listen} cannot plan: unknown tenant 'no-such-tenant' in the rollback scope"
    assert out.stderr.strip() == said  # its own refusal: no hint to plan here instead


def test_over_tcp_the_plan_needs_a_token_and_takes_no_snapshots(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=20, regression_at=1)
    with_tokens(cfg)
    e = engines(cfg, f"127.0.0.1:{free_port()}")
    e.wait_for("leader")
    out = run_plan("--attach", e.listen, cwd=tmp_path)
    assert out.returncode == 2 and "refused to attach" in out.stderr and "token" in out.stderr
    (tmp_path / "alice.token").write_text(TOKENS["alice@laptop"] + "\n")
    out = run_plan("--attach", e.listen, "--token-file", "alice.token", "--scope", "all", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # The one-shot hello: an observer that wants no frames gets its welcome and its reply, nothing else.
    host, port = e.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        hello = {"op": "hello", "version": PROTOCOL_VERSION, "operator": "x", "token": TOKENS["alice@laptop"]}
        s.sendall(json.dumps({**hello, "observer": True, "frames": False}).encode() + b"\n")
        s.sendall(json.dumps({"op": "plan", "id": 1, "scope": "all"}).encode() + b"\n")
        s.sendall(json.dumps({"op": "command", "id": 2, "name": "declare", "args": {}}).encode() + b"\n")
        stream = s.makefile("rb")
        got = [json.loads(stream.readline()) for _ in range(3)]
        s.settimeout(1.5)  # two ticks at least: a screen would have had a snapshot by now
        with pytest.raises(TimeoutError):
            stream.readline()
    assert [m["t"] for m in got] == ["welcome", "reply", "reply"]
    replies = {m["id"]: m for m in got[1:]}
    assert replies[1]["ok"] and replies[1]["result"]["scope"]
    assert not replies[2]["ok"] and replies[2]["kind"] == "ReadOnlyError"  # an observer's command is refused


def test_nothing_to_roll_back_is_said_by_the_engine_too(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=1, regression_at=3000)
    e = engines(cfg, f"127.0.0.1:{free_port()}")
    e.wait_for("leader")
    out = run_plan("--attach", e.listen, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"engine: {e.listen} (leader; config {cfg})",
        "nothing to roll back: no tenant in scope is regressing (--scope all plans every tenant)",
    ]


def test_a_default_engine_that_refuses_is_said_never_silently_planned_around(tmp_path, engines, monkeypatch, capsys):
    """With no configuration here, the engine on the default address is the fleet's: its refusal is the
    answer (exit 2, how to plan here instead). With one here, the plan is made from it, and the refusal
    is said on stderr."""
    cfg = write_drill_config(tmp_path, "journal.db", speed=20, regression_at=1)
    with_tokens(cfg)
    e = engines(cfg, f"127.0.0.1:{free_port()}")
    e.wait_for("leader")
    monkeypatch.setattr("cockpit.engine.address.DEFAULT_LISTEN", e.listen)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("COCKPIT_TOKEN_FILE", raising=False)
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    assert main(["plan", "--scope", "all"]) == 2
    err = capsys.readouterr().err
    assert "refused to attach" in err and "`cockpit plan --local` plans here instead" in err
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--scope", "all"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"config: {cfg}") and "refused to attach" in err and f"planned here from {cfg}" in err
    (tmp_path / "alice.token").write_text(TOKENS["alice@laptop"] + "\n")
    monkeypatch.setenv("COCKPIT_TOKEN_FILE", str(tmp_path / "alice.token"))
    assert main(["plan", "--scope", "all"]) == 0
    assert capsys.readouterr().out.startswith(f"engine: {e.listen}")
    monkeypatch.setenv("COCKPIT_TOKEN_FILE", str(tmp_path / "gone.token"))
    assert main(["plan", "--scope", "all"]) == 2
    assert capsys.readouterr().err.startswith("cockpit: $COCKPIT_TOKEN_FILE: --token-file")


def test_a_scope_of_thousands_of_names_reaches_the_engine_from_an_operator(tmp_path, engines):
    """An operator's arm of 6,000 tenants chosen by name (~80 KB, over the 64 KB a connection before its
    hello, or an observer, gets) reaches the engine, as a screen's scope picker sends it on a large
    fleet; a plan line names the armed scope "armed"; `cockpit plan --tenants` of as many names (an
    observer) is told to name fewer, and the engine is not left holding a connection."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from _fleet import write_fleet
    from bench_scale import PLAN_CONFIG

    from cockpit.engine.remote import RemoteEngine

    write_fleet(tmp_path / "fleet.toml", 10_000)
    (tmp_path / "cockpit.toml").write_text(PLAN_CONFIG)
    e = engines(tmp_path / "cockpit.toml", f"unix:{tmp_path / 'e.sock'}")
    e.wait_for("leader", timeout=60)
    names = [f"{cohort}-{i:04d}" for cohort in ("enterprise", "growth", "pro") for i in range(1, 2001)]

    async def screens() -> None:
        operator = await RemoteEngine.connect(e.listen, "ana@desk")
        observer = await RemoteEngine.connect(e.listen, "bo@desk", observer=True)
        try:
            await operator.take_control()
            said = await operator.command("arm", scope=names, mode="manual")
            assert "6,000" in said or "6000" in said, said
            assert list((await operator.plan(names)).scope) == sorted(names)
            assert list((await observer.plan("armed")).scope) == sorted(names)  # the read-only screen's plan line
            assert operator.connected and observer.connected
        finally:
            await operator.close()
            await observer.close()

    asyncio.run(screens())
    out = run_plan("--attach", e.listen, "--tenants", ",".join(names), "--json", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "more than an engine reads from an observer in one (65,536): name fewer tenants" in out.stderr
    # An observer's line over 64 KB, and an operator's over 4 MB, close the connection (bounded reads).
    for observer, size in ((True, 80_000), (False, 4 * 1024 * 1024 + 10)):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(tmp_path / "e.sock"))
            hello = {"op": "hello", "version": PROTOCOL_VERSION, "operator": "cy@desk", "observer": observer}
            s.sendall(json.dumps({**hello, "frames": False}).encode() + b"\n")
            stream = s.makefile("rb")
            assert json.loads(stream.readline())["t"] == "welcome"
            s.sendall(b'{"op": "plan", "id": 1, "scope": "' + b"x" * size + b'"}\n')
            assert stream.readline() == b""  # closed, nothing answered
    assert "a line longer than 65536 bytes" in e.output() and "a line longer than 4194304 bytes" in e.output()
