"""A real HAProxy (the package's shipped haproxy.cfg, unchanged) in front of two tier servers.

Every process a test starts is stopped at its teardown; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from cockpit_backends.haproxy import config_path
from cockpit_backends.haproxy.router import WEIGHT_SCALE
from tests.binaries import require

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(ok, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


def _connects(family: int, address: object) -> bool:
    with socket.socket(family) as s:
        try:
            s.connect(address)
        except OSError:
            return False
    return True


class Tiers:
    """Two HTTP servers answering "old" and "new": the model tiers behind HAProxy."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        for name in ("old", "new"):
            p = subprocess.Popen(
                [sys.executable, str(HERE / "tier_server.py"), name], stdout=subprocess.PIPE, text=True
            )
            self.procs[name] = p
            self.ports[name] = int(p.stdout.readline())

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
            p.wait(5)


class HAProxy:
    """One haproxy process on the shipped config; `kill()` and `start()` again for fault tests."""

    def __init__(self, tiers: Tiers, seed: Mapping[str, float], *, tcp_socket: bool = False) -> None:
        # unix socket paths are limited to 108 bytes: keep them out of pytest's long tmp paths
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-hx-", dir="/tmp"))
        self.map_path = self.dir / "tenants.map"
        self.map_path.write_text("".join(f"{t} {round(s * WEIGHT_SCALE)}\n" for t, s in seed.items()))
        self.port = free_port()
        if tcp_socket:
            self.socket = f"127.0.0.1:{free_port()}"
            sock_cfg = f"ipv4@{self.socket}"
        else:
            self.socket = str(self.dir / "admin.sock")
            sock_cfg = self.socket
        self.env = {
            **os.environ,
            "COCKPIT_HAPROXY_SOCKET": sock_cfg,
            "COCKPIT_HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "COCKPIT_HAPROXY_MAP": str(self.map_path),
            "COCKPIT_OLD_SERVER": f"127.0.0.1:{tiers.ports['old']}",
            "COCKPIT_NEW_SERVER": f"127.0.0.1:{tiers.ports['new']}",
        }
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def options(self) -> dict[str, object]:
        return {"socket": self.socket, "map": str(self.map_path), "timeout_s": 5.0}

    def start(self) -> None:
        assert self.proc is None
        if not self.socket.startswith("127.") and os.path.exists(self.socket):
            os.unlink(self.socket)
        self.log = open(self.dir / "haproxy.log", "w")  # noqa: SIM115 - closed in kill()
        binary = require("haproxy")
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(config_path())], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        if self.socket.startswith("127."):
            host, port = self.socket.split(":")
            sock_ok = lambda: _connects(socket.AF_INET, (host, int(port)))  # noqa: E731
        else:
            sock_ok = lambda: _connects(socket.AF_UNIX, self.socket)  # noqa: E731

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.dir / 'haproxy.log').read_text()}")
            return sock_ok() and _connects(socket.AF_INET, ("127.0.0.1", self.port))

        _wait_for(up, "haproxy")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None
            self.log.close()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure_split(port: int, per_tenant: Mapping[str, int]) -> dict[str, float]:
    """Send real requests with X-Tenant headers through HAProxy; the fraction each tenant got from "new".

    Two threads with a keep-alive httpx client each (about 1,500 requests a second on loopback)."""
    work = [t for t, n in per_tenant.items() for _ in range(n)]

    def send(tenants: list[str]) -> Counter:
        got: Counter = Counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for tenant in tenants:
                r = client.get("/v1/messages", headers={"X-Tenant": tenant})
                r.raise_for_status()
                assert r.text in ("old", "new"), r.text
                got[(tenant, r.text)] += 1
        return got

    with ThreadPoolExecutor(2) as pool:
        total = sum(pool.map(send, [work[0::2], work[1::2]]), Counter())
    return {t: total[(t, "new")] / n for t, n in per_tenant.items()}


def tolerance(share: float, n: int) -> float:
    """Five standard deviations of a binomial proportion: a true share fails this with p < 1e-6;
    0 and 1 are exact (rand() never crosses them)."""
    return 5.0 * (share * (1.0 - share) / n) ** 0.5


@pytest.fixture(scope="session")
def tiers() -> Iterator[Tiers]:
    t = Tiers()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
def make_haproxy(tiers: Tiers) -> Iterator:
    started: list[HAProxy] = []

    def make(seed: Mapping[str, float], **kw) -> HAProxy:
        h = HAProxy(tiers, seed, **kw)
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


def classic_seed() -> dict[str, float]:
    """The classic scenario's tenants at their starting shares: what the real router holds when the
    drill's simulated fleet starts."""
    from cockpit_backends.mock.scenario import load_scenario

    _, sc = load_scenario("classic")
    return {t.name: t.share for t in sc.tenants}
