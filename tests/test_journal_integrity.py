"""A journal that cannot lie (issue 10, defects 4 and 7): every record carries a checksum chained to the
previous one; a flipped byte is found and named, the engine refuses to resume from it, `cockpit journal
verify` reports it; an intent superseded by a later confirmed one is never re-applied; a journal that
cannot be written (disk full) stops actuation, raises an alarm on the snapshot, keeps the engine up, and a
failed COMMIT does not poison later ones; one engine per journal."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.journal import Journal, JournalBusy, JournalCorrupt, JournalUnavailable
from cockpit.engine.session import open_drill


def _drill_journal(path: Path, ticks: int = 900) -> None:
    """A real drill's journal: declare, arm, stages applied and acked."""

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=path, clock=clock)
        e = s.engine
        try:
            clock.set(640)
            await e.tick()
            await e.command("arm", scope="regressing")
            for _ in range(ticks):
                clock.advance(1)
                await e.tick()
                if e.rollback.done:
                    break
        finally:
            s.close()

    asyncio.run(go())


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture(scope="module")
def drilled(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("journal") / "j.db"
    _drill_journal(path)
    return path


def _flip(src: Path, dst: Path, needle: bytes, nth: int = 0, to: bytes | None = None) -> None:
    raw = bytearray(src.read_bytes())
    at = -1
    for _ in range(nth + 1):
        at = raw.index(needle, at + 1)
    raw[at : at + 1] = to if to is not None else bytes([raw[at] ^ 0x04])
    dst.write_bytes(bytes(raw))


def test_a_clean_journal_verifies(drilled, tmp_path):
    out = _cli("journal", "verify", str(drilled), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chain intact" in out.stdout


def test_the_ack_flip_of_the_issue_is_named_and_the_engine_refuses_to_resume(drilled, tmp_path):
    bad = tmp_path / "bad.db"
    _flip(drilled, bad, b'"id":"act-3"', to=b'"')  # keep length: rewrite the first byte only
    _flip(bad, bad, b'"act-3"', to=b'"')
    raw = bad.read_bytes()
    at = raw.index(b"act-3")
    bad.write_bytes(raw[:at] + b"e" + raw[at + 1 :])  # ack act-3 -> ect-3, as in the issue
    with pytest.raises(JournalCorrupt, match=r"record \d+ \(actuation(_ack)?\) fails its checksum"):
        Journal(bad)
    out = _cli("journal", "verify", str(bad), cwd=tmp_path)
    assert out.returncode == 1 and "fails its checksum" in out.stdout, out.stdout + out.stderr
    # the engine refuses to resume from it: one sentence, exit 2, no traceback
    drill = _cli("drill", "classic", "--journal", str(bad), "--json", cwd=tmp_path)
    assert drill.returncode == 2 and "will not resume" in drill.stderr, drill.stderr[-2000:]
    assert "Traceback" not in drill.stderr


@pytest.mark.parametrize(
    "needle, nth",
    [
        (b"stage_applied", 0),
        (b"actuation_ack", 2),
        (b"checkpoint", 5),
        (b'"verified":true', 1),
        (b"incident", 0),
        (b"rollback_", 0),
        (b'"shares":{', 3),
        (b"autopilot", 0),
        (b"0.", 40),
        (b"engine_started", 0),
        (b"fleet_adopted", 0),
        (b'"scope":', 0),
    ],
)
def test_every_flipped_record_byte_is_detected_never_a_traceback(drilled, tmp_path, needle, nth):
    bad = tmp_path / "bad.db"
    try:
        _flip(drilled, bad, needle, nth)
    except ValueError:
        pytest.fail(f"{needle!r} #{nth} not in the journal: the test's needle is stale")
    with pytest.raises(JournalCorrupt) as err:
        Journal(bad)
    assert "record" in str(err.value) and "will not resume" in str(err.value)
    out = _cli("journal", "verify", str(bad), cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_a_truncated_journal_file_is_reported_not_a_traceback(drilled, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(drilled.read_bytes()[: drilled.stat().st_size // 2])
    out = _cli("journal", "verify", str(bad), cwd=tmp_path)
    assert out.returncode in (1, 2) and "Traceback" not in out.stdout + out.stderr
    assert "record" in out.stdout + out.stderr or "cannot open" in out.stderr


def test_an_intent_superseded_by_a_later_confirmed_one_is_not_reapplied(drilled, tmp_path):
    """The journal is rewritten (a valid chain) without the ack of an early intent: on resume that intent
    is not pending, because a later actuation was confirmed after it."""
    src = Journal(drilled, read_only=True)
    entries = list(src.entries())
    src.close()
    intents = [e for e in entries if e.kind == "actuation" and e.data.get("stage")]
    assert len(intents) >= 3
    dropped = intents[1].data["id"]
    copy = Journal(tmp_path / "copy.db")
    for e in entries:
        if e.kind == "actuation_ack" and e.data["id"] == dropped:
            continue
        copy.append(e.kind, e.data, e.ts, e.actor, e.wall)
    copy.close()
    s = open_drill("classic", journal=tmp_path / "copy.db", clock=SimClock())
    try:
        assert dropped not in [i["id"] for i in s.engine.actuator.pending]
        resumed = s.engine.journal.last("engine_resumed")
        assert resumed is not None and resumed.data["pending_actuations"] == []
    finally:
        s.close()


def test_disk_full_stops_actuation_raises_an_alarm_keeps_the_engine_up_and_recovers(tmp_path):
    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock)
        e = s.engine
        try:
            clock.set(640)
            await e.tick()
            await e.command("arm", scope="regressing")
            db = e.journal.db
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
            applied = e.journal.count("stage_applied")
            stage = e.rollback.stage
            calls = []
            apply = e.backends.router.apply_shares

            async def counting(shares, request_id):
                calls.append((request_id, e.journal_alarm))
                return await apply(shares, request_id)

            e.backends.router.apply_shares = counting
            alarms = []
            for _ in range(120):
                clock.advance(1)
                snap = await e.tick()  # never raises
                alarms.append(snap.alerts[0] if snap.alerts else "")
            assert [c for c in calls if c[1]] == [], "actuated while the journal could not record an intent"
            # the alarm is on the snapshot of every tick whose journal write failed (a small write may
            # still fit in a page's free space, and the alarm then clears: it follows the last write)
            assert "JOURNAL ALARM" in alarms[0] and "full" in alarms[0], alarms[:3]
            assert sum("JOURNAL ALARM" in a for a in alarms) >= 10
            assert e.journal.count("stage_applied") == applied and e.rollback.stage >= stage
            db.execute("PRAGMA max_page_count = 1073741823")  # space returns
            acks = e.journal.count("actuation_ack")
            for _ in range(900):
                clock.advance(1)
                snap = await e.tick()
                if e.rollback.done:
                    break
            assert e.journal_alarm is None and not any("JOURNAL" in a for a in snap.alerts)
            assert e.rollback.done and calls
            # what was planned meanwhile is actuated once the journal can record it (with the old tier's
            # over-requested replicas ready by then, the last stages may all be planned during the outage
            # and go out together as one actuation, not a stage of its own): acknowledged after the space
            # returned, and the scope is off the new revision
            assert e.journal.count("actuation_ack") > acks
            shares = (await e.backends.router.read_traffic()).shares
            assert all(shares[t] == 0.0 for t in e.rollback.scope)
        finally:
            s.close()
        j = Journal(tmp_path / "j.db")  # what was written verifies, and every call had a durable intent first
        intents = {x.data["id"] for x in j.entries(kinds=("actuation",))}
        j.close()
        assert {c[0] for c in calls} <= intents

    asyncio.run(go())


def test_a_failed_commit_does_not_poison_later_commits(tmp_path):
    j = Journal(tmp_path / "j.db")
    j.append("x", {"a": 1}, 0.0)
    pages = j.db.execute("PRAGMA page_count").fetchone()[0]
    j.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JournalUnavailable, match="full"), j.transaction():
        for i in range(2000):
            j.append("y", {"blob": "z" * 500, "i": i}, 1.0)
    j.db.execute("PRAGMA max_page_count = 1073741823")
    with j.transaction():
        j.append("z", {"after": True}, 2.0)
    assert [e.kind for e in j.entries()] == ["x", "z"]
    j.close()
    Journal(tmp_path / "j.db").close()


def test_one_engine_per_journal_the_second_is_told_who_holds_it(tmp_path):
    s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock())
    try:
        with pytest.raises(JournalBusy, match=r"in use by another engine \(pid \d+ on .+ since \d{4}-"):
            open_drill("classic", journal=tmp_path / "j.db", clock=SimClock())
        # a read-only replay of the same journal is allowed and writes nothing
        ro = Journal(tmp_path / "j.db", read_only=True)
        before = ro.count()
        ro.append("x", {}, 0.0)
        assert ro.count() == before
        ro.close()
    finally:
        s.close()
    s2 = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock())  # released with the first
    s2.close()
    with sqlite3.connect(tmp_path / "j.db") as db:
        assert db.execute("SELECT COUNT(*) FROM events WHERE kind = 'engine_started'").fetchone()[0] == 2
