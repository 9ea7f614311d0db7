"""A screen killed in the middle of a rollback leaves the engine finishing it; a new screen that attaches
gets the current (finished) state at once, and the scorecard from the journal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

from cockpit.engine.remote import RemoteEngine

from .conftest import free_port, with_tokens, write_drill_config

CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from cockpit.engine.remote import RemoteEngine

    async def main(address):
        remote = await RemoteEngine.connect(address, "dave@ssh-session", token=sys.argv[2])
        await remote.take_control()
        await remote.command("declare", reason="regression on the enterprise cohort")
        threshold = remote.config.file.incident.regression_threshold
        while not any(h >= threshold for h in (await remote.tick()).harm.values()):
            pass
        print(await remote.command("arm", scope="regressing", mode="auto"), flush=True)
        while True:
            snap = await remote.tick()
            print("stage", snap.rollback["stage"], flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_a_killed_screen_leaves_the_rollback_running_and_a_new_one_sees_the_end(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=15, regression_at=20)
    tokens = with_tokens(
        cfg, {"dave@ssh-session": "dave-token-0123456789abcdef", "carol@phone": "carol-token-0123456789ab"}
    )
    engine = engines(cfg, f"127.0.0.1:{free_port()}")
    engine.wait_for("leader")
    script = tmp_path / "screen.py"
    script.write_text(CLIENT)
    screen = subprocess.Popen(
        [sys.executable, str(script), engine.listen, tokens["dave@ssh-session"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = screen.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if line.startswith("stage 2"):
                break
        os.kill(screen.pid, signal.SIGKILL)  # the SSH session drops mid-rollback
        screen.wait(timeout=10)
    finally:
        if screen.poll() is None:
            screen.kill()
            screen.wait()
        screen.stdout.close()
    assert any("rollback armed" in line for line in lines), lines

    async def reattach():
        # the engine carries on alone; wait for it to finish, then attach as a new screen
        deadline = time.monotonic() + 90
        while "rollback finished" not in engine.output():
            assert time.monotonic() < deadline, engine.output()
            await asyncio.sleep(0.1)
        started = time.monotonic()
        carol = await RemoteEngine.connect(engine.listen, "carol@phone", token=tokens["carol@phone"])
        snap = await carol.first_snapshot()
        attach_s = time.monotonic() - started
        assert snap.rollback["done"] and snap.rollback["stage"] >= 3
        assert all(snap.ceilings[t] == 0.0 for t in snap.rollback["scope"])
        assert carol.read_only and carol.controller == "dave@ssh-session"  # control stays with dave
        card = (await carol.journal_entries(kinds=("drill_scorecard",)))[-1].data
        assert card["restored_at_s"] is not None and card["dropped_requests"] == 0
        await carol.close()
        return attach_s

    attach_s = asyncio.run(reattach())
    assert attach_s < 1.0, attach_s
    assert engine.proc.poll() is None
