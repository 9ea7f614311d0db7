"""`cockpit plugin new NAME --role router`: the generated distribution installs for real, passes its own
tests as generated, and passes `plugins check --write` against its bundled fake gateway (a real HTTP
server in a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import run_cli, write_config


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("scaffold")
    out = run_cli("plugin", "new", "my-gw", "--role", "router", "--dir", str(where))
    assert out.returncode == 0, out.stdout + out.stderr
    source = where / "my-gw-cockpit"
    site = tmp_path_factory.mktemp("my-gw-site")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return source, site


def test_the_generated_plugin_passes_its_own_tests(generated):
    source, _ = generated
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 passed" in out.stdout


def test_the_generated_plugin_passes_plugins_check_write_against_its_fake(generated, tmp_path):
    _, site = generated
    env = {**os.environ, "PYTHONPATH": str(site)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = subprocess.Popen(
        [sys.executable, "-m", "my_gw_cockpit.fake", "--port", str(port)],
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
                assert fake.poll() is None and time.monotonic() < deadline, "the fake gateway did not start"
                time.sleep(0.05)
        cfg = write_config(
            tmp_path / "cockpit.toml", {"router": "my-gw"}, {"my-gw": {"base_url": f"http://127.0.0.1:{port}"}}
        )
        out = run_cli("--config", str(cfg), "plugins", "check", "my-gw", "--write", env={"PYTHONPATH": str(site)})
        assert out.returncode == 0, out.stdout + out.stderr
        assert "my-gw 0.1.0: roles router" in out.stdout
        assert "PASS  router     apply_shares (moved acme, cyberdyne by 0.01 and back)" in out.stdout
        assert out.stdout.splitlines()[-1] == "4 passed, 0 failed"
        assert "my-gw" in run_cli("plugins", env={"PYTHONPATH": str(site)}).stdout
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def test_a_bad_name_or_role_is_one_sentence(tmp_path):
    out = run_cli("plugin", "new", "My_GW", "--dir", str(tmp_path))
    assert out.returncode == 2 and "plugin name 'My_GW': lower-case letters, digits and '-'" in out.stderr
    out = run_cli("plugin", "new", "gw", "--role", "cache", "--dir", str(tmp_path))
    assert out.returncode == 2 and "--role cache: only router can be generated so far" in out.stderr
