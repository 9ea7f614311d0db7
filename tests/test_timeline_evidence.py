"""Timeline and evidence answer from the journal of a drill where the alias rotates underneath a pinned
configuration before a regression."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from cockpit import timeline as tl
from cockpit.engine.drill import run_drill
from cockpit.engine.journal import Journal
from cockpit.evidence import report


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    path = tmp_path_factory.mktemp("tl") / "journal.db"
    card = asyncio.run(run_drill("alias-rotation", "cockpit", journal=path))
    assert card.restored
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cockpit.cli", *args], capture_output=True, text=True, timeout=60)


def test_fleet_at_answers_what_served_each_tenant(journal):
    j = Journal(journal, durable=False)
    try:
        declared = j.last("incident_declared").ts
        finished = j.last("rollback_finished").ts
        before, after = tl.fleet_at(j, declared - 1), tl.fleet_at(j, finished + 1)
    finally:
        j.close()
    regressing = {"acme", "globex", "initech", "umbrella"}
    assert all(before.shares[t] == 1.0 for t in regressing)
    assert all(after.shares[t] == 0.0 for t in regressing)
    assert before.incident is None and after.incident["id"] == "INC-1"
    assert after.shares["tyrell"] == before.shares["tyrell"] == 0.5  # out of scope: untouched
    assert after.alias["revision"] == "claude-opus-4-5-20251101"


def test_timeline_shows_the_rotation_before_the_regression(journal):
    r = cli("timeline", "--journal", str(journal), "--since", "T+0")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    rotated = out.index("ALIAS ROTATED: claude-opus-latest")
    regressing = out.index("health: 4 tenant(s) regressing")
    declared = out.index("INCIDENT INC-1 declared")
    assert rotated < regressing <= declared


def test_timeline_at_a_time_prints_the_serving_revision_per_tenant(journal):
    r = cli("timeline", "--journal", str(journal), "--at", "T+620", "--tenant", "acme")
    assert r.returncode == 0, r.stderr
    assert "acme            enterprise  claude-opus-4-1-20250805" in r.stdout  # on new, before the incident
    assert "incident: none" in r.stdout
    r = cli("timeline", "--journal", str(journal), "--at", "T+3000", "--tenant", "acme")
    assert "acme            enterprise  claude-opus-4-20250514" in r.stdout  # rolled back to old
    r = cli("timeline", "--journal", str(journal), "--at", "13:00")
    assert r.returncode == 2 and "expected T+SECONDS" in r.stderr


def test_evidence_report_holds_the_window(journal, tmp_path):
    out = tmp_path / "report.md"
    r = cli("evidence", "INC-1", "--journal", str(journal), "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.startswith("# Evidence: INC-1")
    assert "ALIAS ROTATED" in text
    assert "| acme | enterprise | 100% → 0% |" in text
    assert "| autopilot@drill | arm | rollback armed for 4 tenant(s), auto mode |" in text
    assert "cache hit rate" in text and "ready replicas" in text
    j = Journal(journal, durable=False)
    try:
        assert report(j, "INC-1") == text
    finally:
        j.close()
    r = cli("evidence", "INC-9", "--journal", str(journal), "--out", str(out))
    assert r.returncode == 2 and "'INC-9' is not in the journal" in r.stderr


def test_metrics_samples_name_the_sample_that_carries_an_unchanged_health_reading(journal):
    """A health reading already journaled is referenced (`harm_as`), not written again every 10 s; the
    evidence averages severities over every sample as if each carried it."""
    from cockpit.evidence import _harm_sums

    j = Journal(journal, durable=False)
    try:
        metrics = list(j.entries(kinds=("metrics",)))
        by_seq = {m.seq: m for m in metrics}
        referenced = [m for m in metrics if "harm_as" in m.data]
        assert referenced, "an unchanged reading is referenced"
        assert all("harm" in by_seq[m.data["harm_as"]].data for m in referenced)
        assert all(by_seq[m.data["harm_as"]].seq < m.seq for m in referenced)
        expanded: dict[str, float] = {}
        for m in metrics:
            harm = m.data.get("harm") or by_seq.get(m.data.get("harm_as", -1), m).data.get("harm") or {}
            for name, h in harm.items():
                expanded[name] = expanded.get(name, 0.0) + h
        assert _harm_sums(j, metrics) == expanded
        late = [m for m in metrics if m.seq > referenced[0].data["harm_as"]]  # a window after the sample
        assert _harm_sums(j, late) == _harm_sums(
            j, [by_seq[m.data["harm_as"]] if "harm_as" in m.data else m for m in late]
        )
    finally:
        j.close()
