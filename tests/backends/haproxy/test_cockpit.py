"""The haproxy backend inside the cockpit: `plugins check --write`, a classic drill with the real HAProxy
holding the shares, and HAProxy killed in the middle of a rollback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from cockpit.domain.composer import compose
from cockpit.domain.rollout import RolloutScheduler
from cockpit.engine.clock import SimClock
from cockpit.engine.journal import Journal
from cockpit.engine.session import open_drill
from cockpit.engine.state import read_checkpoint
from cockpit_backends.haproxy.router import WEIGHT_SCALE

from .conftest import classic_seed, free_port
from .test_router import raw_map

OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"


def write_config(path: Path, socket: str, map_path: str) -> None:
    path.write_text(
        f"""
[cockpit]
journal = "journal.db"
clock = "simulated"

[models]
old = "{OLD}"
new = "{NEW}"

[backends]
router = "haproxy"
autoscaler = "mock"
cache = "mock"
provider = "mock"
health = "mock"

[plugins.mock]
scenario = "classic"

[plugins.haproxy]
socket = "{socket}"
map = "{map_path}"
timeout_s = 5
"""
    )


def cockpit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=240
    )


def test_plugins_check_write_passes_against_a_real_haproxy(make_haproxy, tmp_path) -> None:
    h = make_haproxy(classic_seed())
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, h.socket, str(h.map_path))
    out = cockpit("--config", str(cfg), "plugins", "check", "haproxy", "--write", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any("PASS  router     read_traffic: 12 tenants" in line for line in lines), out.stdout
    assert any("PASS  router     apply_shares" in line and "confirmed by read-back" in line for line in lines)
    assert "FAIL" not in out.stdout
    # the write check re-applied what HAProxy served: the map is unchanged
    assert asyncio.run(raw_map(h)) == {t: str(round(s * WEIGHT_SCALE)) for t, s in classic_seed().items()}


def test_plugins_check_fails_in_one_sentence_when_haproxy_is_down(tmp_path) -> None:
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, f"127.0.0.1:{free_port()}", "/etc/haproxy/tenants.map")
    out = cockpit("--config", str(cfg), "plugins", "check", "haproxy", cwd=tmp_path)
    assert out.returncode == 1
    assert (
        "FAIL  router     read_traffic: RuntimeAPIError: cannot connect to the HAProxy runtime API at 127.0.0.1:"
        in (out.stdout)
    )
    assert "Traceback" not in out.stdout + out.stderr


def effective_from_journal(path: Path) -> dict[str, float]:
    """The engine's effective vector (min of rollout target and rollback ceiling) at its last checkpoint."""
    j = Journal(path)
    try:
        cp = read_checkpoint(j)
        assert cp is not None
    finally:
        j.close()
    targets = RolloutScheduler.restore(cp["rollout"]).targets
    return compose(targets, cp["rollback"]["ceilings"])


def test_classic_drill_restores_with_the_real_haproxy_holding_the_shares(make_haproxy, tmp_path) -> None:
    h = make_haproxy(classic_seed())
    cfg = tmp_path / "cockpit.toml"
    write_config(cfg, h.socket, str(h.map_path))
    journal = tmp_path / "drill.db"
    out = cockpit(
        "--config", str(cfg), "drill", "classic", "--backend", "router=haproxy", "--journal", str(journal), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    card = json.loads(out.stdout)
    assert card["restored"] is True
    assert card["dropped_requests"] == 0
    assert card["disturbed_tenants"] == []
    effective = effective_from_journal(journal)
    enterprise = {"acme", "globex", "initech", "umbrella"}
    assert {t for t, s in effective.items() if s == 0.0} >= enterprise  # rolled back
    final = asyncio.run(raw_map(h))
    assert final == {t: str(round(s * WEIGHT_SCALE)) for t, s in effective.items()}
    j = Journal(journal)
    try:
        acks = [e.data for e in j.entries(kinds=("actuation_ack",))]
        stages = j.count("stage_applied")
    finally:
        j.close()
    assert acks and all(a["verified"] for a in acks if "confirmed" in a)
    assert stages >= 2  # a staged drain, through HAProxy


class KillBeforeWrite:
    """The real router, with HAProxy killed between the engine's read and its write (once)."""

    def __init__(self, inner, haproxy) -> None:
        self.inner = inner
        self.haproxy = haproxy
        self.killed = False

    async def read_traffic(self):
        return await self.inner.read_traffic()

    async def apply_shares(self, shares, request_id):
        if not self.killed:
            self.killed = True
            self.haproxy.kill()
        return await self.inner.apply_shares(shares, request_id)


def test_haproxy_killed_mid_rollback_holds_degrades_then_recovers(make_haproxy, tmp_path) -> None:
    h = make_haproxy(classic_seed())
    clock = SimClock(0.0)
    s = open_drill(
        "classic",
        journal=tmp_path / "journal.db",
        clock=clock,
        backends={"router": "haproxy"},
        plugin_options={"haproxy": {**h.options, "timeout_s": 1}},
    )
    e = s.engine
    j = e.journal
    try:

        async def run():
            await e.tick()
            e.backends.router = KillBeforeWrite(e.backends.router, h)
            await e.command("arm", scope=["acme", "globex", "initech", "umbrella"], mode="auto")
            clock.advance(1)
            snap = await e.tick()  # stage 1 planned; HAProxy dies before the write reaches it
            assert h.proc is None, "the stage must have tried to write"
            assert "router" in snap.degraded and "haproxy" in snap.degraded["router"]
            ack = j.last("actuation_ack").data
            assert ack["verified"] is False and ack["confirmed"] == 0
            assert "cannot connect to the HAProxy runtime API" in snap.degraded["router"]
            assert j.count("stage_applied") == 0
            actuations = j.count("actuation")
            for _ in range(5):  # down: the engine holds and does not actuate blind
                clock.advance(1)
                snap = await e.tick()
                assert snap.hold == "router unreachable: holding"
                assert "router" in snap.degraded
            assert j.count("actuation") == actuations
            assert j.count("stage_applied") == 0
            h.start()  # back, serving the map file's shares: the engine re-applies its vector
            for _ in range(10):
                clock.advance(1)
                snap = await e.tick()
                if not snap.degraded and j.last("actuation_ack").data["verified"]:
                    break
            return snap

        snap = asyncio.run(run())
        assert snap.degraded == {}
        assert j.count("backend_recovered") >= 1
        # the stage HAProxy died under is re-applied as part of the engine's vector (the next stage may
        # wait for capacity: the crash reserve holds the six ready replicas' budget), and confirmed
        assert j.last("actuation_ack").data["verified"] is True
        final = asyncio.run(raw_map(h))
        assert final == {t: str(round(v * WEIGHT_SCALE)) for t, v in snap.effective.items()}
        assert snap.effective["acme"] < 1.0  # the stage did land once HAProxy was back
        # exactly one write went unconfirmed (the one HAProxy died under), and it confirmed nothing
        unverified = [a.data for a in j.entries(kinds=("actuation_ack",)) if not a.data["verified"]]
        assert len(unverified) == 1 and unverified[0]["confirmed"] == 0
    finally:
        s.close()
