"""Logging: the headless engine logs through the standard library to stderr, as text or one JSON
object a line, with secrets redacted; status lines are log records, not prints."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from cockpit.logs import setup


def test_json_lines_carry_level_logger_and_redacted_message(capsys) -> None:
    setup("info", "json")
    logging.getLogger("cockpit.engine").warning("cannot reach redis://ops:hunter2@db.internal:6379/0")
    err = capsys.readouterr().err.strip().splitlines()
    doc = json.loads(err[-1])
    assert doc["level"] == "warning" and doc["logger"] == "cockpit.engine"
    assert "hunter2" not in doc["msg"] and "db.internal" in doc["msg"]


def test_levels_filter(capsys) -> None:
    setup("error", "text")
    log = logging.getLogger("cockpit.engine")
    log.warning("quiet")
    log.error("loud")
    err = capsys.readouterr().err
    assert "loud" in err and "quiet" not in err


def test_headless_engine_status_lines_are_json_on_stderr(tmp_path: Path) -> None:
    sock = tmp_path / "engine.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "engine", "--listen", f"unix:{sock}", "--log-format", "json"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COCKPIT_STATE_DIR": str(tmp_path / "state")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert sock.exists(), proc.stderr.read() if proc.poll() is not None else "no socket"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert out == ""  # nothing on stdout: status goes to the log
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records, err
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert any("listening" in r["msg"] or "leader" in r["msg"] for r in records), records
