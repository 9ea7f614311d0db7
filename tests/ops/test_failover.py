"""Two real `cockpit engine` processes, one real Redis, one simulated fleet (a shared state file):
SIGKILL the leader during the rollback; the standby takes over within the lease time and finishes it,
and the shared journal shows every stage applied once and every actuation acked once, by its epoch."""

from __future__ import annotations

import collections
import time

import pytest
import redis

from cockpit.engine.journal_redis import FencedError, RedisJournal

from .conftest import free_port, write_drill_config

LEASE_TTL_S = 1.5


def _entries(url, kinds=()):
    j = RedisJournal(url)
    try:
        return list(j.entries(kinds=kinds))
    finally:
        j.close()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_standby_takes_over_a_killed_leader_mid_rollback(tmp_path, redis_server, engines):
    url = f"redis://127.0.0.1:{redis_server}/0?stream=ops"
    cfg = write_drill_config(tmp_path, url, speed=20)
    args = ("--autopilot", "--lease-ttl", str(LEASE_TTL_S))
    a = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="a")
    a.wait_for("leader, epoch 1")
    b = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="b")
    b.wait_for("standby")

    # kill the leader once three stages are applied and the rollback is still running
    _wait(lambda: len(_entries(url, ("stage_applied",))) >= 3, 60, "three stages")
    assert not _entries(url, ("rollback_finished",))
    a.kill()
    killed_at = time.monotonic()
    b.wait_for("leader, epoch 2", timeout=LEASE_TTL_S + 2)
    took_over_s = time.monotonic() - killed_at
    assert took_over_s <= LEASE_TTL_S + 1.0, took_over_s
    _wait(lambda: _entries(url, ("drill_scorecard",)), 60, "the rollback to finish")

    entries = _entries(url)
    by_kind = collections.defaultdict(list)
    for e in entries:
        by_kind[e.kind].append(e)
    # the standby resumed from the shared journal (one engine_resumed, written under epoch 2)
    assert [e.data["epoch"] for e in by_kind["engine_resumed"]] == [2]
    stages = [e.data["stage"] for e in by_kind["stage_applied"]]
    assert stages == list(range(1, stages[-1] + 1)), stages
    assert stages[-1] >= 4
    assert {e.data["epoch"] for e in by_kind["stage_applied"]} == {1, 2}, "both leaders applied stages"
    intents = [e.data["id"] for e in by_kind["actuation"]]
    assert len(intents) == len(set(intents))
    acks = collections.Counter(e.data["id"] for e in by_kind["actuation_ack"])
    assert set(acks) == set(intents) and set(acks.values()) == {1}, acks
    # every fenced record carries the epoch current when it was written: 1 before the takeover, 2 after
    takeover = by_kind["engine_resumed"][0].seq
    for kind in ("actuation", "actuation_ack", "checkpoint", "command"):
        for e in by_kind[kind]:
            assert e.data["epoch"] == (1 if e.seq < takeover else 2), (kind, e.seq, e.data["epoch"])
    assert by_kind["drill_scorecard"][-1].data["restored_at_s"] is not None
    assert by_kind["drill_scorecard"][-1].data["dropped_requests"] == 0


def test_an_append_with_a_stale_epoch_is_refused_and_writes_nothing(redis_server):
    url = f"redis://127.0.0.1:{redis_server}/0?stream=fence"
    r = redis.Redis(port=redis_server, decode_responses=True)
    r.set("fence:lease", "new-leader")
    r.set("fence:epoch", 7)
    stale = RedisJournal(url, epoch=6, token="old-leader")
    current = RedisJournal(url, epoch=7, token="new-leader")
    lapsed = RedisJournal(url, epoch=7, token="old-leader")  # right epoch, but its lease is gone
    before = r.xlen("fence")
    for kind in ("actuation", "actuation_ack", "checkpoint", "command"):
        with pytest.raises(FencedError):
            stale.append(kind, {"id": "act-1"}, 1.0)
        with pytest.raises(FencedError):
            lapsed.append(kind, {"id": "act-1"}, 1.0)
    # a whole tick is refused at commit, observations included: nothing of it is written
    stale.begin()
    stale.append("metrics", {"x": 1}, 1.0)
    stale.append("actuation", {"id": "act-2"}, 1.0)
    with pytest.raises(FencedError):
        stale.commit()
    assert r.xlen("fence") == before == 0
    assert r.get("fence:seq") is None
    # observations outside a fenced batch are not actuations: a standby may not write them either way,
    # but the journal does not need to fence them
    seq = current.append("actuation", {"id": "act-3"}, 2.0)
    assert seq == 1
    assert [(e.kind, e.data) for e in current.entries()] == [("actuation", {"id": "act-3", "epoch": 7})]
    for j in (stale, current, lapsed):
        j.close()
    r.close()


def test_a_paused_leader_wakes_up_fenced_and_demotes_itself(tmp_path, redis_server, engines):
    """SIGSTOP the leader past its lease (a GC pause, a stalled VM): the standby takes over; when the old
    leader resumes, its writes carry a stale epoch, are refused, and it steps down to standby."""
    import os
    import signal

    url = f"redis://127.0.0.1:{redis_server}/0?stream=ops"
    cfg = write_drill_config(tmp_path, url, speed=20)
    args = ("--autopilot", "--lease-ttl", str(LEASE_TTL_S))
    a = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="a")
    a.wait_for("leader, epoch 1")
    b = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="b")
    b.wait_for("standby")
    _wait(lambda: len(_entries(url, ("stage_applied",))) >= 2, 60, "two stages")
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        b.wait_for("leader, epoch 2", timeout=LEASE_TTL_S + 2)
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    a.wait_for("demoted to standby", timeout=10)
    _wait(lambda: _entries(url, ("drill_scorecard",)), 60, "the rollback to finish")
    entries = _entries(url)
    takeover = next(e.seq for e in entries if e.kind == "engine_resumed")
    late = [e for e in entries if e.seq > takeover and e.data.get("epoch") == 1]
    assert not late, f"the stale leader wrote after the takeover: {late[:3]}"
    stages = [e.data["stage"] for e in entries if e.kind == "stage_applied"]
    assert stages == list(range(1, stages[-1] + 1)), stages
    acks = collections.Counter(e.data["id"] for e in entries if e.kind == "actuation_ack")
    assert set(acks.values()) == {1}, acks
    assert a.proc.poll() is None, "a demoted engine keeps running as a standby"
