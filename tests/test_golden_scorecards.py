"""Behaviour pinned: every bundled scenario's `cockpit drill S --compare --json` must equal the stored
scorecards (tests/data/scorecards/S.json, written by the command on the code before the engine split).
A change that moves any figure, however slightly, fails here and must be argued for: regenerate with
`cockpit drill S --compare --json > tests/data/scorecards/S.json` and say why in the commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit_backends.mock.scenario import builtin_names

STORED = Path(__file__).parent / "data" / "scorecards"


def test_every_bundled_scenario_has_stored_scorecards() -> None:
    assert sorted(p.stem for p in STORED.glob("*.json")) == sorted(builtin_names())


@pytest.mark.parametrize("scenario", sorted(builtin_names()))
def test_drill_compare_json_is_unchanged(scenario: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", scenario, "--compare", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads((STORED / f"{scenario}.json").read_text())
