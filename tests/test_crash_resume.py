"""SIGKILL the engine in the middle of a drill's rollback, start it again: it resumes at the same stage,
and the journal holds every acknowledged actuation exactly once."""

from __future__ import annotations

import collections
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
            return [json.loads(d) for (d,) in con.execute("SELECT data FROM events WHERE kind=? ORDER BY seq", (kind,))]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_sigkill_mid_rollback_resumes_at_the_same_stage(tmp_path):
    journal = tmp_path / "journal.db"
    state = tmp_path / "world.json"
    cmd = [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--journal", str(journal)]
    cmd += ["--state-file", str(state), "--json"]
    first = subprocess.Popen([*cmd, "--speed", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_after = None
    while time.monotonic() < deadline:
        stages = _rows(journal, "stage_applied")
        if len(stages) >= 3 and not _rows(journal, "rollback_finished"):
            os.kill(first.pid, signal.SIGKILL)
            killed_after = stages[-1]["stage"]
            break
        if first.poll() is not None:
            break
        time.sleep(0.02)
    first.wait(timeout=30)
    assert killed_after is not None, "the drill finished before it could be killed mid-rollback"
    assert first.returncode == -signal.SIGKILL

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["restored"] and card["dropped_requests"] == 0

    resumed = _rows(journal, "engine_resumed")
    assert len(resumed) == 1
    # it resumes at the stage it had reached (an intent written just before the kill counts as reached)
    assert resumed[0]["stage"] in (killed_after, killed_after + 1)

    intents = [a["id"] for a in _rows(journal, "actuation")]
    acks = collections.Counter(a["id"] for a in _rows(journal, "actuation_ack"))
    assert len(intents) == len(set(intents))
    assert all(acks[i] == 1 for i in intents), {i: acks[i] for i in intents if acks[i] != 1}
    assert set(acks) == set(intents)
    stage_numbers = [s["stage"] for s in _rows(journal, "stage_applied")]
    assert stage_numbers == sorted(set(stage_numbers)), "a stage was applied twice or out of order"
    assert stage_numbers == list(range(1, stage_numbers[-1] + 1))
