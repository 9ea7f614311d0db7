"""A Redis outage does not kill the HA pair (issue 10, defect 6): Redis is frozen (SIGSTOP) for 8 s, then
killed (SIGKILL) for 4 s and restarted from its append-only file, in the middle of a rollback. Both
engines stay up (the leader steps down and retries with backoff), exactly one leads afterwards, the
rollback finishes, and no actuation is acked twice.

The issue asks for a 60 s outage; CI runs a shorter one (8 s frozen + 4 s down) to stay lean: the code
path is the same (the lease of 1.5 s lapses many times over in either)."""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import redis

from cockpit.engine.journal_redis import RedisJournal
from cockpit.engine.remote import RemoteEngine

from .conftest import free_port, write_drill_config

LEASE_TTL_S = 1.5
FROZEN_S = 8.0
DOWN_S = 4.0


class RedisProc:
    """A private redis-server with appendfsync always, that the test can freeze, kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cockpit-redis-outage-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis_proc():
    r = RedisProc()
    yield r
    r.close()


def _entries(url, kinds=()):
    j = RedisJournal(url, verify=False)
    try:
        return list(j.entries(kinds=kinds))
    finally:
        j.close()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _roles(*engines) -> list[str]:
    async def one(e):
        r = await RemoteEngine.connect(e.listen, "probe@ops", timeout_s=5)
        try:
            return r.role
        finally:
            await r.close()

    async def all_():
        return [await one(e) for e in engines]

    return asyncio.run(all_())


def test_the_ha_pair_survives_redis_frozen_then_killed_and_restarted(tmp_path, redis_proc, engines):
    url = f"redis://127.0.0.1:{redis_proc.port}/0?stream=ops"
    cfg = write_drill_config(tmp_path, url, speed=10, regression_at=20)
    args = ("--autopilot", "--lease-ttl", str(LEASE_TTL_S))
    a = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="a")
    a.wait_for("leader, epoch 1")
    b = engines(cfg, f"127.0.0.1:{free_port()}", *args, name="b")
    b.wait_for("standby")
    _wait(lambda: len(_entries(url, ("stage_applied",))) >= 1, 60, "a first stage")

    redis_proc.signal(signal.SIGSTOP)  # frozen: every call hangs
    time.sleep(FROZEN_S)
    redis_proc.signal(signal.SIGCONT)
    time.sleep(1.0)
    redis_proc.kill()  # gone: every call is refused
    time.sleep(DOWN_S)
    redis_proc.start()  # back, from its append-only file

    _wait(lambda: _entries(url, ("drill_scorecard",)), 90, "the rollback to finish after the outage")
    assert a.proc.poll() is None, a.output()[-3000:]
    assert b.proc.poll() is None, b.output()[-3000:]
    time.sleep(LEASE_TTL_S)
    roles = _roles(a, b)
    assert sorted(roles) == ["leader", "standby"], roles

    entries = _entries(url)
    by_kind = collections.defaultdict(list)
    for e in entries:
        by_kind[e.kind].append(e)
    intents = [e.data["id"] for e in by_kind["actuation"]]
    assert len(intents) == len(set(intents))
    acks = collections.Counter(e.data["id"] for e in by_kind["actuation_ack"])
    assert set(acks.values()) == {1}, [k for k, v in acks.items() if v > 1]
    stages = [e.data["stage"] for e in by_kind["stage_applied"]]
    assert stages == list(range(1, stages[-1] + 1)), stages
    epochs = [e.data["epoch"] for e in by_kind["engine_resumed"]]
    assert epochs and min(epochs) >= 2, "a new leader took over after the outage"
    logs = a.output() + b.output()
    assert "Traceback" not in logs, logs[-4000:]
    # and the journal the survivors wrote still verifies end to end
    RedisJournal(url).close()
