"""On a Unix socket the engine takes the operator's user from the kernel (SO_PEERCRED), not from what the
client declares: nobody acts under someone else's name."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import tempfile
from pathlib import Path

from cockpit.engine.remote import RemoteEngine
from tests.ops.conftest import write_drill_config


def test_declared_user_is_replaced_by_the_verified_one(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=10.0)
    sock = Path(tempfile.mkdtemp(prefix="ck-", dir="/tmp")) / "engine.sock"
    engines(cfg, f"unix:{sock}").wait_for("listening on")

    async def go():
        r = await RemoteEngine.connect(f"unix:{sock}", "mallory@evil")
        try:
            await r.first_snapshot()
            msg = await r.take_control()
            return msg
        finally:
            await r.close()

    msg = asyncio.run(go())
    me = pwd.getpwuid(os.getuid()).pw_name
    assert msg == f"{me}@{socket.gethostname()} took control"
    assert "mallory" not in msg
