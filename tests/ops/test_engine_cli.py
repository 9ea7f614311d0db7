"""`cockpit engine` errors a user can cause: one sentence, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

from .conftest import free_port, write_drill_config


def _run(*args, cwd=None):
    cmd = [sys.executable, "-m", "cockpit.cli_engine", "engine", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_missing_config(tmp_path):
    r = _run("--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2
    assert "nope.toml" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_listen_address(tmp_path):
    cfg = write_drill_config(tmp_path, "journal.db")
    r = _run("--config", str(cfg), "--listen", "localhost")
    assert r.returncode == 2 and "--listen 'localhost'" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_redis_journal(tmp_path):
    cfg = write_drill_config(tmp_path, f"redis://127.0.0.1:{free_port()}/0?stream=x")
    r = _run("--config", str(cfg), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode == 2, r.stderr
    assert "cannot reach Redis" in r.stderr and "Traceback" not in r.stderr


def test_address_in_use(tmp_path):
    import socket

    cfg = write_drill_config(tmp_path, "journal.db")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _run("--config", str(cfg), "--listen", f"127.0.0.1:{s.getsockname()[1]}")
    assert r.returncode == 2 and "cannot listen on" in r.stderr and "Traceback" not in r.stderr
