"""SIGKILL a calendar-release drill after the on-call released the incident, start it again: the on-call's
events are given once each (the release is not repeated), and the calendar still never promotes the
regressing tenant."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time


def _rows(db, kind):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT ts, data FROM events WHERE kind=? ORDER BY seq", (kind,))
            return [(ts, json.loads(d)) for ts, d in rows]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_sigkill_after_the_release_gives_each_oncall_event_once(tmp_path):
    journal = tmp_path / "journal.db"
    state = tmp_path / "world.json"
    cmd = [sys.executable, "-m", "cockpit", "drill", "calendar-release", "--journal", str(journal)]
    cmd += ["--state-file", str(state), "--json"]
    first = subprocess.Popen([*cmd, "--speed", "200"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline:
        given = _rows(journal, "drill_oncall")
        if given and given[-1][1]["kind"] == "incident_release":
            os.kill(first.pid, signal.SIGKILL)
            killed_at = given[-1][0]
            break
        if first.poll() is not None:
            break
        time.sleep(0.02)
    first.wait(timeout=30)
    assert killed_at == 1200.0, "the drill was not killed between the release and the re-approval"
    assert first.returncode == -signal.SIGKILL

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert len(_rows(journal, "engine_resumed")) == 1
    given = [(ts, d["kind"]) for ts, d in _rows(journal, "drill_oncall")]
    assert given == [(1200.0, "incident_release"), (1600.0, "release_ceilings"), (2000.0, "release_ceilings")]
    assert len(_rows(journal, "incident_released")) == 1
    promoted = {t for _, d in _rows(journal, "rollout_step") for t in d["tenants"]}
    assert "beta-0001" not in promoted and "beta-0002" in promoted
    assert card["final_ceilings"] == {"beta-0001": 0.0}
    assert card["calendar"]["held"] == {"beta-0001": "regressing (severity 0.60 ≥ 0.2)"}
