"""Fixtures for the operations tests: a real redis-server on a free port, `cockpit engine` processes,
and a drill configuration on the mock simulator whose world two engines share through a state file."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis

from tests.binaries import require

SCENARIOS = Path(__file__).resolve().parents[2] / "cockpit_backends" / "mock" / "scenarios"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server():
    """A private redis-server (never the machine's 6379); yields its port."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="cockpit-redis-")
    proc = subprocess.Popen(
        [
            require("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    client.close()
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)


def write_drill_config(
    tmp: Path, journal: str, *, speed: float = 20.0, regression_at: int = 30, scenario: str = "classic"
) -> Path:
    """A cockpit.toml on the simulator: `scenario` with its regression moved early so tests are short."""
    text = (SCENARIOS / f"{scenario}.toml").read_text()
    text = re.sub(r"(?m)^at_s = \d+", f"at_s = {regression_at}", text)
    text = re.sub(r"(?m)^detection_delay_s = \d+", "detection_delay_s = 5", text)
    (tmp / "scenario.toml").write_text(text)
    models = re.search(r'(?ms)^\[models\]\nold = "([^"]+)"\nnew = "([^"]+)"\nalias = "([^"]+)"', text)
    assert models
    cfg = tmp / "cockpit.toml"
    cfg.write_text(
        f"""
[models]
old = "{models[1]}"
new = "{models[2]}"
alias = "{models[3]}"

[cockpit]
journal = "{journal}"
clock = "simulated"
speed = {speed}
tick_s = 1

[tiers]
cold_capacity_factor = 0.5
warm_hit_rate = 0.8
startup_estimate_s = 135

[plugins.mock]
scenario = "scenario.toml"
state_file = "world.json"
"""
    )
    return cfg


TOKENS = {"alice@laptop": "alice-token-0123456789abcdef", "bob@desk": "bob-token-0123456789abcdef0"}


def with_tokens(cfg: Path, tokens: dict[str, str] | None = None, **server: object) -> dict[str, str]:
    """Give the engine of `cfg` a token file (operator -> token) and more [server] settings; over TCP a
    screen then is the operator its token names, whatever it declares."""
    tokens = tokens or TOKENS
    (cfg.parent / "tokens").write_text("".join(f"{who} {tok}\n" for who, tok in tokens.items()))
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in server.items())
    cfg.write_text(cfg.read_text() + f'\n[server]\ntokens_file = "tokens"\n{extra}')
    return tokens


class EngineProc:
    """One `cockpit engine` subprocess; its stdout lines are kept in a file for the test to read."""

    def __init__(self, config: Path, listen: str, *extra: str, name: str = "engine") -> None:
        self.log = config.parent / f"{name}.log"
        self.listen = listen
        cmd = [sys.executable, "-m", "cockpit.cli_engine", "engine", "--config", str(config), "--listen", listen]
        self.proc = subprocess.Popen(
            [*cmd, *extra],
            stdout=open(self.log, "wb"),  # noqa: SIM115 - the child owns it
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError(f"engine exited ({self.proc.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output()}")
            time.sleep(0.02)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def engines():
    """Start engines with `engines(config, listen, *args)`; every one is stopped at the end."""
    started: list[EngineProc] = []

    def start(config: Path, listen: str, *extra: str, name: str = "engine") -> EngineProc:
        e = EngineProc(config, listen, *extra, name=name)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()
