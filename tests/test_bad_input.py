"""Bad input gets one clear sentence naming the file and the field, exit code 2, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit.cli", *args], capture_output=True, text=True, timeout=60)


CASES = [
    # (argv, words the one sentence must contain)
    (["--config", str(DATA / "malformed.toml"), "plan"], ["malformed.toml", "not valid TOML"]),
    (
        ["--config", str(DATA / "alias_where_pin_required.toml"), "plan"],
        ["alias_where_pin_required.toml", "models.old", "'claude-opus-latest' is an alias"],
    ),
    (["--config", str(DATA / "unknown_plugin.toml"), "plan"], ["unknown backend 'no-such-router'", "router"]),
    (["--config", str(DATA / "unknown_field.toml"), "plan"], ["unknown_field.toml", "rollback", "head_room"]),
    (["--config", str(DATA / "missing.toml"), "plan"], ["missing.toml", "not found"]),
    (
        ["--config", str(DATA / "bad_mock_scenario_config.toml"), "plan"],
        ["negative_capacity_scenario.toml", "tiers.old.per_replica_rps", "> 0"],
    ),
    (
        ["drill", str(DATA / "negative_capacity_scenario.toml")],
        ["negative_capacity_scenario.toml", "tiers.old.per_replica_rps", "> 0"],
    ),
    (["drill", str(DATA / "malformed_scenario.toml")], ["malformed_scenario.toml", "scenario.duration_s"]),
    (
        ["drill", str(DATA / "unknown_tenant_event_scenario.toml")],
        ["unknown_tenant_event_scenario.toml", "events[0].tenants", "'nobody'"],
    ),
    (["drill", "no-such-scenario"], ["'no-such-scenario'", "bundled"]),
]


@pytest.mark.parametrize(("argv", "words"), CASES, ids=[c[0][1].rsplit("/", 1)[-1] for c in CASES])
def test_one_sentence_exit_2_no_traceback(argv, words):
    r = run(*argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_every_case_file_is_used():
    used = {Path(a).name for argv, _ in CASES for a in argv}
    files = {p.name for p in DATA.glob("*.toml")}
    # the negative-capacity scenario is used both directly and through a config that names it
    assert files <= used | {"negative_capacity_scenario.toml"}


def test_more_bad_arguments_are_one_sentence(tmp_path):
    not_a_journal = tmp_path / "notes.toml"
    not_a_journal.write_text("hello")
    cases = [
        (["timeline", "--journal", str(not_a_journal)], "cannot open it as a cockpit journal"),
        (["evidence", "INC-1", "--out", str(tmp_path / "r.md"), "--journal", str(not_a_journal)], "cockpit journal"),
        (["--attach", "127.0.0.1:99999"], "--attach '127.0.0.1:99999': expected HOST:PORT"),
        (["drill", "demo", "--speed", "-3"], "--speed -3: expected a positive number"),
        (["drill", "demo", "--backend", "cache"], "expected ROLE=NAME"),
        (["timeline", "--journal", str(not_a_journal), "--window", "-5"], "--window -5"),
    ]
    for argv, words in cases:
        r = run(*argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)
        assert words in r.stderr, (argv, r.stderr)
