"""The example plugin (examples/inhouse-router) installed for real, as its own distribution, and found
through the `cockpit.backends` entry-point group; and its own test suite run as a platform team would."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, run_cli, write_config

EXAMPLE = REPO / "examples" / "inhouse-router"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("acme-site")
    # Build from a copy, as a platform team's CI would from its checkout: the repo stays clean.
    source = tmp_path_factory.mktemp("acme-src") / "inhouse-router"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert list(target.glob("acme_router_cockpit-0.1.0.dist-info"))
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def director(installed: Path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(installed)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acme_router.fake_director", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "fake director did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_installed_example_is_listed_through_the_entry_point_group(installed):
    out = run_cli("plugins", env={"PYTHONPATH": str(installed)})
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("acme-router "))
    assert "acme-router-cockpit 0.1.0" in line and "(acme_router)" in line
    # and it is not there without the install (so the assertion above can fail)
    assert "acme-router" not in run_cli("plugins").stdout


def test_plugins_show_prints_the_typed_options_and_their_json_schema(installed):
    env = {"PYTHONPATH": str(installed)}
    out = run_cli("plugins", "show", "acme-router", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [
        "acme-router 0.1.0 (plugin contract 2): roles router",
        "  ACME traffic director (canary percent per tenant)",
        "  capabilities: any share, creates tenants, measures rates",
        "  options [plugins.acme-router]:",
        "    base_url     str matching '^https?://'  required",
        "    timeout_s    float > 0                  default 2.0",
        "    concurrency  int >= 1 <= 256            default 32",
    ]
    schema = json.loads(run_cli("plugins", "show", "acme-router", "--json-schema", env=env).stdout)
    options = schema["$defs"]["AcmeOptions"]
    assert options["required"] == ["base_url"] and options["additionalProperties"] is False


def test_plugins_check_acme_router_write_passes_against_its_server(installed, director, tmp_path):
    cfg = write_config(tmp_path / "cockpit.toml", {"router": "acme-router"}, {"acme-router": {"base_url": director}})
    env = {"PYTHONPATH": str(installed)}
    out = run_cli("--config", str(cfg), "plugins", "check", "acme-router", "--write", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "acme-router 0.1.0: roles router" in out.stdout
    assert "PASS  router     read_traffic: 3 tenants" in out.stdout
    assert "PASS  router     apply_shares (moved " in out.stdout and "PASS  router     restore: " in out.stdout


def test_the_example_s_own_tests_pass():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " passed" in out.stdout and "failed" not in out.stdout
