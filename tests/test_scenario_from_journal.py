"""`cockpit scenario from-journal` over the journals of real drills: the generated scenario loads with the
bundled scenarios' validation, its estimates recover the original scenario's physics, it drills end to
end, and `--compare` scores "as it happened" (the recorded changes replayed) next to the three strategies.

Tolerances: capacity, cold factor and warming within 5 % (the metrics samples are rounded to 4 digits);
start-up within 10 s (ready is seen at tick resolution and the spread is the seeded draws'); the
replayed history within 2 % of the drill it was recorded from (the same changes at the same times; only
the replicas' seeded start-up draws differ).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cockpit.engine.journal import Journal
from cockpit_backends.mock.scenario import load_scenario


def cockpit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """A real drill of the bundled classic scenario, its scorecard, and the scenario generated from it."""
    d = tmp_path_factory.mktemp("classic")
    out = cockpit("drill", "classic", "--journal", str(d / "journal.db"), "--json", cwd=d)
    assert out.returncode == 0, out.stderr
    gen = cockpit("scenario", "from-journal", str(d / "journal.db"), "--out", str(d / "incident.toml"), cwd=d)
    assert gen.returncode == 0, gen.stderr
    assert "wrote" in gen.stdout
    return d, json.loads(out.stdout), d / "incident.toml"


def test_generated_scenario_recovers_the_fleet_and_its_physics(classic: tuple[Path, dict, Path]) -> None:
    _d, _card, path = classic
    _p, sc = load_scenario(str(path))  # the bundled scenarios' loader and validation
    _p, truth = load_scenario("classic")
    assert {(t.name, t.cohort, t.rps, t.share) for t in sc.tenants} == {
        (t.name, t.cohort, t.rps, t.share) for t in truth.tenants
    }
    assert (sc.models.old, sc.models.new, sc.models.alias) == (truth.models.old, truth.models.new, truth.models.alias)
    assert (sc.tiers.old.replicas, sc.tiers.new.replicas) == (truth.tiers.old.replicas, truth.tiers.new.replicas)
    assert sc.tiers.old.per_replica_rps == pytest.approx(truth.tiers.old.per_replica_rps, rel=0.05)
    assert sc.tiers.old.cold_capacity_factor == pytest.approx(truth.tiers.old.cold_capacity_factor, rel=0.05)
    assert sc.tiers.old.warm_hit_rate == pytest.approx(truth.tiers.old.warm_hit_rate, abs=0.01)
    assert sc.tiers.old.startup_s == pytest.approx(truth.tiers.old.startup_s, abs=10)
    assert sc.tiers.old.startup_jitter_s == pytest.approx(truth.tiers.old.startup_jitter_s, abs=10)
    assert sc.caches.old is not None and truth.caches.old is not None
    assert sc.caches.old.warm_requests == pytest.approx(truth.caches.old.warm_requests, rel=0.05)
    [event] = sc.events
    assert (event.kind, event.at_s, event.cohort, event.severity) == ("regression_start", 600.0, "enterprise", 0.6)
    assert sc.recorded is not None and sc.recorded.declared_at_s == 630.0
    assert sc.recorded.scope == ["acme", "globex", "initech", "umbrella"]
    # the pre-scale: twice the 22 replicas the failback needs ([rollback] over_request = 2.0)
    assert [s.scale_old for s in sc.recorded.steps if s.scale_old is not None] == [44]


def test_every_estimate_is_commented_with_its_source(classic: tuple[Path, dict, Path]) -> None:
    text = classic[2].read_text()
    lines: dict[str, str] = {}  # the first line of each key: [tiers.old] before [tiers.new]
    for line in text.splitlines():
        if "=" in line and not line.startswith("["):
            lines.setdefault(line.split("=")[0].strip(), line)
    for key in ("per_replica_rps", "cold_capacity_factor", "startup_s", "warm_requests", "detection_delay_s"):
        assert "#" in lines[key], key
    assert "least-squares line through" in lines["per_replica_rps"]
    assert "after the scale request" in lines["startup_s"]
    assert "# health_changed at T+630" in text


def test_drill_compare_adds_as_it_happened(classic: tuple[Path, dict, Path]) -> None:
    d, original, path = classic
    out = cockpit("drill", str(path), "--compare", "--json", cwd=d)
    assert out.returncode == 0, out.stderr
    cards = json.loads(out.stdout)
    assert [c["strategy"] for c in cards] == ["cockpit", "abort", "fixed-stages", "as it happened"]
    assert {c["scenario"] for c in cards} == {"incident"}  # named after the file written
    happened = cards[3]
    assert happened["scope"] == original["scope"]
    assert happened["declared_at_s"] == original["declared_at_s"]
    assert happened["time_to_restore_s"] == pytest.approx(original["time_to_restore_s"], rel=0.02)
    assert happened["wrong_answers"] == pytest.approx(original["wrong_answers"], rel=0.02)
    assert happened["dropped_requests"] == original["dropped_requests"] == 0
    assert happened["stages"] == original["stages"]
    # the generated scenario's own cockpit run is the same incident: within 10 % of the original
    assert cards[0]["time_to_restore_s"] == pytest.approx(original["time_to_restore_s"], rel=0.1)
    assert cards[0]["wrong_answers"] == pytest.approx(original["wrong_answers"], rel=0.1)
    table = cockpit("drill", str(path), "--compare", cwd=d)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2].rstrip().endswith("| as it happened |")


def test_alias_rotation_is_recovered(tmp_path: Path) -> None:
    out = cockpit("drill", "alias-rotation", "--journal", str(tmp_path / "j.db"), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    gen = cockpit("scenario", "from-journal", str(tmp_path / "j.db"), "--out", str(tmp_path / "a.toml"), cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    _p, sc = load_scenario(str(tmp_path / "a.toml"))
    [rotate] = [e for e in sc.events if e.kind == "alias_rotate"]
    assert rotate.to == "claude-opus-4-5-20251101"
    assert 240.0 <= rotate.at_s <= 300.0  # truth: 300; noticed within one 60 s poll


def test_generated_cohorts_stay_cohorts(tmp_path: Path) -> None:
    out = cockpit("drill", "fleet-1000", "--journal", str(tmp_path / "j.db"), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    gen = cockpit("scenario", "from-journal", str(tmp_path / "j.db"), "--out", str(tmp_path / "f.toml"), cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    _p, sc = load_scenario(str(tmp_path / "f.toml"))
    _p, truth = load_scenario("fleet-1000")
    assert sorted((c.name, c.tenants, c.rps, c.share) for c in sc.cohorts) == sorted(
        (c.name, c.tenants, c.rps, c.share) for c in truth.cohorts
    )
    assert tomllib.loads((tmp_path / "f.toml").read_text())["recorded"]["steps"]


def test_bad_journals_are_one_sentence_exit_2(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    empty = Journal(str(tmp_path / "empty.db"))
    empty.append("engine_started", {"strategy": "cockpit"}, 0.0)
    empty.commit()
    empty.close()
    for journal, words in (
        ("missing.db", "no such file"),
        ("junk.db", "as a cockpit journal"),
        ("empty.db", "no fleet_adopted record"),
    ):
        out = cockpit(
            "scenario", "from-journal", str(tmp_path / journal), "--out", str(tmp_path / "x.toml"), cwd=tmp_path
        )
        assert out.returncode == 2, (journal, out.stderr)
        assert words in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "x.toml").exists()
