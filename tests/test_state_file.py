"""A simulated-fleet state file is data, never code (issue 10, defect 11): a pickle that runs a shell
command on load is refused with one sentence and runs nothing; a saved world resumes identically."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

from cockpit_backends.mock.scenario import load_scenario
from cockpit_backends.mock.world import World


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_state_file_runs_nothing_and_is_refused_in_one_sentence(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps(_Evil(str(marker))))
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--state-file", str(evil), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert not marker.exists(), "loading the state file ran code"
    assert out.returncode == 2, out.stdout[-500:] + out.stderr
    assert "not a simulated-fleet state file" in out.stderr and "Traceback" not in out.stderr


def test_a_saved_world_resumes_exactly(tmp_path):
    _, sc = load_scenario("classic", tmp_path)
    a = World(sc)
    a.advance_to(900.0)
    a.save(tmp_path / "w.json")
    b = World.load(tmp_path / "w.json")
    assert b.to_state() == a.to_state()
    a.advance_to(1800.0)
    b.advance_to(1800.0)
    assert b.to_state() == a.to_state()
