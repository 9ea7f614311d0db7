"""An attached screen survives its engine's exit (issue 10, defect 13): when `cockpit engine` stops, the
screen's ticks carry on with the last state marked "disconnected, reconnecting" (read-only) instead of
raising, and it reattaches by itself when an engine answers at the address again."""

from __future__ import annotations

import asyncio
import time

from cockpit.engine.remote import RemoteEngine

from .conftest import free_port, write_drill_config


def test_a_screen_shows_reconnecting_and_reattaches_to_a_restarted_engine(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=10)
    listen = f"127.0.0.1:{free_port()}"
    first = engines(cfg, listen, name="first")
    first.wait_for("leader")

    async def go():
        remote = await RemoteEngine.connect(listen, "oncall@ops")
        await remote.first_snapshot()
        seen_before = (await remote.tick()).tick
        first.stop()  # Ctrl+C on `cockpit engine`
        started = time.monotonic()
        marked = []
        while time.monotonic() - started < 4:
            snap = await remote.tick()  # never raises
            marked.append(snap.hold or "")
        assert any("disconnected from the engine" in h and "reconnecting" in h for h in marked), marked
        assert remote.read_only and remote.role == "disconnected, reconnecting"
        second = engines(cfg, listen, name="second")
        second.wait_for("leader")
        async with asyncio.timeout(30):
            while remote.role != "leader" or "disconnected" in (remote.snapshot.hold or ""):
                await remote.tick()
        snap = await remote.tick()
        assert "disconnected" not in (snap.hold or "") and snap.tick >= 1
        await remote.close()
        return seen_before

    assert asyncio.run(go()) >= 1


def test_the_tui_shows_reconnecting_without_a_traceback_and_comes_back(tmp_path, engines):
    import subprocess
    import sys
    import uuid

    from tests.binaries import require
    from tests.ops.test_tui_attach import screen, tmux, wait_screen

    require("tmux")
    cfg = write_drill_config(tmp_path, "journal.db", speed=10, scenario="demo")
    listen = f"127.0.0.1:{free_port()}"
    first = engines(cfg, listen, name="first")
    first.wait_for("leader")
    session = f"reconnect-{uuid.uuid4().hex[:6]}"
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "110",
        "-y",
        "30",
        f"{sys.executable} -m cockpit.cli --config {cfg} --attach {listen}",
    )
    try:
        wait_screen(session, "control: nobody")
        first.stop()
        text = wait_screen(session, "reconnecting", timeout=15)
        assert "Traceback" not in text
        second = engines(cfg, listen, name="second")
        second.wait_for("leader")
        deadline = time.monotonic() + 30
        while "reconnecting" in screen(session) or "control: nobody" not in screen(session):
            assert time.monotonic() < deadline, screen(session)
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
