"""End to end: the real `cockpit` command in tmux, driven by send-keys, read back with capture-pane."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.binaries import require

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = Path(sys.executable).with_name("cockpit")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _wait_for(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")


def _next_step(session: str) -> str:
    """The next-step line (it starts with ▶), read back from the real terminal."""
    screen = _tmux("capture-pane", "-p", "-t", session).replace("\u00a0", " ")  # a key is bound to its verb
    return next((line.strip() for line in screen.splitlines() if line.strip().startswith("▶")), "")


def _wait_next(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = _next_step(session)
        if text in line:
            return line
        time.sleep(0.2)
    raise AssertionError(f"the next-step line never said {text!r}; last: {line!r}")


def test_drill_in_tmux_completes_the_rollback() -> None:
    """The next-step line, read through a whole drill, always says what to press, and pressing it works."""
    require("tmux")
    assert COCKPIT.exists(), f"the cockpit entry point is not installed next to {sys.executable}"
    session = f"cockpit-e2e-{uuid.uuid4().hex[:8]}"
    cmd = f"{COCKPIT} --config {ROOT / 'cockpit' / 'data' / 'cockpit.toml'} --drill demo --speed 20"
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd)
    try:
        _wait_for(session, "NORMAL")
        assert "all healthy" in _wait_next(session, "all healthy")
        _wait_for(session, "REGRESSING")  # the enterprise cohort regresses ~45 simulated seconds in
        _wait_next(session, "d declares, then a arms")
        _tmux("send-keys", "-t", session, "d")
        _wait_for(session, "Declare an incident?")
        _tmux("send-keys", "-t", session, "y")
        _wait_for(session, "FROZEN")
        _wait_next(session, "a arms the rollback")
        _tmux("send-keys", "-t", session, "a")
        _wait_for(session, "Arm the rollback?")
        _tmux("send-keys", "-t", session, "y")
        _wait_next(session, "h holds")
        screen = _wait_for(session, "Drill finished: scorecard", timeout=90)
        assert "you (TUI)" in screen
        screen = _wait_for(session, "fixed-stages", timeout=30)
        assert "restored" in screen and "declared after onset" in screen
        _tmux("send-keys", "-t", session, "Escape")
        screen = " ".join(_wait_for(session, "DONE").split())  # the panel wraps at 80 columns
        assert "restored 160/160 rps" in screen and "4/4 tenants at 0 %" in screen, screen
        _wait_next(session, "restored: D releases the incident · y copies the summary")
        _tmux("send-keys", "-t", session, "D")
        _wait_for(session, "Release the incident?")
        _tmux("send-keys", "-t", session, "y")
        _wait_next(session, "restored and released")
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode != 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("cockpit did not exit on q after the rollback finished")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
