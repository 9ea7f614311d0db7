"""Screens attached to a detached engine, as operators use them: the real `cockpit` in tmux.

An operator attaches read-only, takes control, declares and arms by keys; the terminal is killed in the
middle of the rollback (tmux kill-session); the engine finishes on its own; a new `cockpit` attaches and
shows the scorecard at once. The journal holds every command with the operator's identity."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid

from cockpit.config import default_operator
from tests.binaries import require
from tests.ops.conftest import free_port, with_tokens, write_drill_config


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_screen(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        s = screen(session)
        if text in s:
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not on screen within {timeout} s:\n{s}")
        time.sleep(0.1)


def rows(db, kind):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [(actor, json.loads(d)) for actor, d in con.execute(
            "SELECT actor, data FROM events WHERE kind=? ORDER BY seq", (kind,))]  # fmt: skip
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def wait_journal(db, kind, timeout=60.0, present=True):
    deadline = time.monotonic() + timeout
    while bool(rows(db, kind)) != present:
        assert time.monotonic() < deadline, f"no {kind} in the journal within {timeout} s"
        time.sleep(0.1)


def test_attach_take_control_kill_the_terminal_and_reattach(tmp_path, engines):
    require("tmux")
    cfg = write_drill_config(tmp_path, "journal.db", speed=10.0, regression_at=20, scenario="demo")
    listen = f"127.0.0.1:{free_port()}"
    engine = engines(cfg, listen)
    engine.wait_for("listening on")
    db = tmp_path / "journal.db"
    first, second = f"cockpit-a-{uuid.uuid4().hex[:6]}", f"cockpit-b-{uuid.uuid4().hex[:6]}"
    cmd = f"{sys.executable} -m cockpit.cli --config {cfg} --attach {listen}"
    tmux("new-session", "-d", "-s", first, "-x", "100", "-y", "30", cmd)
    try:
        s = wait_screen(first, "control: nobody")
        assert f"attached to {listen} (leader)" in s
        assert "READ-ONLY" in s
        tmux("send-keys", "-t", first, "d")  # refused: not in control
        time.sleep(0.5)
        assert "Declare an incident?" not in screen(first)
        tmux("send-keys", "-t", first, "c")
        wait_screen(first, "(you)")
        wait_screen(first, "REGR", timeout=30)
        tmux("send-keys", "-t", first, "d")
        wait_screen(first, "Declare an incident?")
        tmux("send-keys", "-t", first, "y")
        wait_screen(first, "FROZEN")
        tmux("send-keys", "-t", first, "a")
        wait_screen(first, "Arm the rollback?")
        tmux("send-keys", "-t", first, "y")
        wait_journal(db, "stage_applied")
        assert not rows(db, "rollback_finished"), "the rollback finished before the terminal could be killed"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", first], capture_output=True)
    # the screen is gone; the engine carries on and finishes the rollback by itself
    wait_journal(db, "rollback_finished", timeout=90)
    wait_journal(db, "drill_scorecard", timeout=30)
    tmux("new-session", "-d", "-s", second, "-x", "100", "-y", "30", cmd)
    try:
        s = wait_screen(second, "scorecard", timeout=20)
        assert "time to restore" in s and "restored" in s, s  # the engine's scorecard, formatted (issue 14)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", second], capture_output=True)
    me = default_operator()
    commands = [(actor, d["command"]) for actor, d in rows(db, "command")]
    assert (me, "declare") in commands and (me, "arm") in commands
    assert commands.index((me, "declare")) < commands.index((me, "arm"))
    assert engine.proc.poll() is None  # still serving


def test_two_screens_order_identity_and_read_only(tmp_path, engines):
    """Two operators' screens on one engine: commands from both land in order with their identities;
    the one not in control cannot actuate; taking control from the other asks first."""
    cfg = write_drill_config(tmp_path, "journal.db", speed=10.0, regression_at=20, scenario="demo")
    # over TCP the engine knows each operator by their token, not by what their screen declares
    tokens = with_tokens(
        cfg, {"alice@laptop": "alice-token-0123456789abcd", "bob@bastion": "bob-token-0123456789abcdef"}
    )
    for who, token in tokens.items():
        (tmp_path / f"{who}.token").write_text(token + "\n")
    listen = f"127.0.0.1:{free_port()}"
    engines(cfg, listen).wait_for("listening on")
    db = tmp_path / "journal.db"
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    base = f"{sys.executable} -m cockpit.cli --config {cfg} --attach {listen} --token-file {tmp_path}"
    tmux("new-session", "-d", "-s", alice, "-x", "110", "-y", "30", f"{base}/alice@laptop.token")
    tmux("new-session", "-d", "-s", bob, "-x", "110", "-y", "30", f"{base}/bob@bastion.token")
    try:
        wait_screen(alice, "control: nobody")
        wait_screen(bob, "control: nobody")
        tmux("send-keys", "-t", alice, "c")
        wait_screen(alice, "control: alice@laptop (you)")
        wait_screen(bob, "control: alice@laptop")
        wait_screen(alice, "REGR", timeout=30)
        tmux("send-keys", "-t", alice, "d")
        wait_screen(alice, "Declare an incident?")
        tmux("send-keys", "-t", alice, "y")
        wait_screen(bob, "FROZEN")  # state flows to every screen
        tmux("send-keys", "-t", bob, "a")  # bob is read-only: the key is refused by the app
        time.sleep(0.5)
        assert "Arm the rollback?" not in screen(bob)
        tmux("send-keys", "-t", bob, "c")
        wait_screen(bob, "Take control?")  # alice holds it: bob must confirm
        tmux("send-keys", "-t", bob, "y")
        wait_screen(bob, "control: bob@bastion (you)")
        wait_screen(alice, "control: bob@bastion")
        tmux("send-keys", "-t", bob, "a")
        wait_screen(bob, "Arm the rollback?")
        tmux("send-keys", "-t", bob, "y")
        wait_journal(db, "stage_applied")
        tmux("send-keys", "-t", alice, "h")  # alice lost control: her hold is refused
        time.sleep(0.5)
    finally:
        for s in (alice, bob):
            subprocess.run(["tmux", "kill-session", "-t", s], capture_output=True)
    commands = [(actor, d["command"]) for actor, d in rows(db, "command")]
    assert commands == [
        ("alice@laptop", "take-control"),
        ("alice@laptop", "declare"),
        ("bob@bastion", "take-control"),
        ("bob@bastion", "arm"),
    ]
    handover = [d for actor, d in rows(db, "command") if d["command"] == "take-control"][1]
    assert handover["from"] == "alice@laptop" and handover["to"] == "bob@bastion"
    assert not [d for actor, d in rows(db, "command") if d["command"] == "pause"]
