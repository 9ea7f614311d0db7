"""The built wheel works anywhere: installed (core only, no extras) into a fresh venv outside the checkout,
run from an unrelated directory with an empty home, it finds its themes, embedded default and scenarios
as package data, keeps its state under the user's state directory, and opens the screen.

One module-scoped fixture builds and installs once (a few seconds with pip's cache); every test then runs
the installed `cockpit` as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.binaries import require

ROOT = Path(__file__).resolve().parents[2]
MODELS = '[models]\nold = "claude-opus-4-20250514"\nnew = "claude-opus-4-1-20250805"\n'
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "cockpit", "cockpit_backends")

pytestmark = pytest.mark.packaging


XDG_VARS = ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")


class Installed:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.venv = base / "venv"
        self.bin = self.venv / "bin"
        self.home = base / "home"
        self.work = base / "work"  # an unrelated directory: no cockpit.toml, no checkout
        self.home.mkdir()
        self.work.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("XDG_", "COCKPIT_", "PYTHON", "VIRTUAL_ENV")) and k not in ("HOME", "PATH")
        }
        env |= {"HOME": str(self.home), "PATH": f"{self.bin}:/usr/bin:/bin:/usr/sbin:/sbin", "TERM": "xterm-256color"}
        return env | extra

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "cockpit"), *args],
            cwd=self.work,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "cockpit"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: the build leaves nothing (build/, egg-info) in the shared checkout
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("cockpit-*.whl")
    inst = Installed(base)
    made = subprocess.run([sys.executable, "-m", "venv", str(inst.venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(
            f"python -m venv failed ({made.stderr.strip()}): install python3-venv (scripts/test-deps does)",
            pytrace=False,
        )
    pip = subprocess.run(
        [str(inst.bin / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=inst.env(),
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return inst


def test_version_from_an_unrelated_directory(installed: Installed) -> None:
    r = installed.run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cockpit 0.1.0"
    # The installed copy, not the checkout: nothing of the repository is on the path.
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import cockpit, cockpit_backends.mock; print(cockpit.__file__)"],
        cwd=installed.work,
        env=installed.env(),
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(installed.venv)), where.stdout
    # The core stays light: no Kubernetes or Redis client without their extras.
    for module in ("kubernetes", "redis"):
        probe = subprocess.run([str(installed.bin / "python"), "-c", f"import {module}"], capture_output=True)
        assert probe.returncode != 0, f"{module} is installed by the core wheel"


def test_headless_drill_with_bundled_scenario(installed: Installed) -> None:
    r = installed.run("drill", "classic", "--json")
    assert r.returncode == 0, r.stderr
    card = json.loads(r.stdout)
    assert card["scenario"] == "classic" and card["strategy"] == "cockpit"
    assert card["restored"] is True


def test_embedded_default_and_discovery(installed: Installed) -> None:
    r = installed.run("lint")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("embedded default cockpit.toml: 2 model reference(s), all pinned")
    # Global options after the subcommand, and COCKPIT_CONFIG, name a real file.
    cfg = installed.work / "mine.toml"
    cfg.write_text(MODELS + '[plugins.mock]\nscenario = "demo"\n')
    r = installed.run("lint", "--config", str(cfg))
    assert r.returncode == 0 and r.stdout.startswith(f"{cfg}: 2 model reference(s)"), r.stdout + r.stderr
    r = installed.run("lint", COCKPIT_CONFIG=str(cfg))
    assert r.returncode == 0 and r.stdout.startswith(f"{cfg}:"), r.stdout + r.stderr
    r = installed.run("lint", "--config", str(installed.work / "typo.toml"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"cockpit: --config {installed.work / 'typo.toml'}: configuration file not found"


def test_missing_extra_names_it(installed: Installed) -> None:
    cfg = installed.work / "k8s.toml"
    cfg.write_text(
        MODELS + '[backends]\nautoscaler = "kubernetes"\n[plugins.kubernetes]\nin_cluster = true\n'
        '[plugins.kubernetes.tiers.old]\ndeployment = "model-old"\n'
        '[plugins.kubernetes.tiers.new]\ndeployment = "model-new"\n[plugins.mock]\nscenario = "demo"\n'
    )
    r = installed.run("plan", "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "pip install 'cockpit[kubernetes]'" in lines[0], lines[0]
    shared = installed.work / "shared.toml"
    shared.write_text('[cockpit]\njournal = "redis://127.0.0.1:1/0?stream=x"\n' + MODELS)
    r = installed.run("timeline", "--config", str(shared))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "pip install 'cockpit[redis]'" in r.stderr, r.stderr


def _default_engine_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 7781), timeout=0.3):
            return True
    except OSError:
        return False


def test_tui_on_the_embedded_default_in_tmux(installed: Installed) -> None:
    tmux = require("tmux")
    session = f"cockpit-wheel-{uuid.uuid4().hex[:8]}"
    # `cockpit` attaches to an engine on 127.0.0.1:7781 when one answers; on a shared machine another
    # test may run one there, so only then does this test ask for its own engine.
    args = " --local" if _default_engine_listening() else ""
    env = installed.env()
    exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items() if k in ("HOME", "PATH", "TERM"))
    # tmux's server passes on the environment it started with (the suite's XDG_* folders among it): unset
    unset = " ".join(f"-u {k}" for k in ("VIRTUAL_ENV", "COCKPIT_CONFIG", *XDG_VARS))
    cmd = f"cd {_quote(str(installed.work))} && env {unset} {exports} cockpit{args}; sleep 30"
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd], check=True)
    try:
        screen = _wait_for(tmux, session, "acme")
        for tenant in ("globex", "initech", "umbrella"):
            assert tenant in screen, screen
        subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
        screen = _wait_for(tmux, session, "cockpit: config: embedded default")
        assert str(installed.state) in screen.replace("\n", ""), screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    # The embedded default's journal and simulated world live in the user's state directory.
    assert (installed.state / "cockpit-journal.db").is_file()
    assert not list(installed.work.glob("cockpit-*")), list(installed.work.iterdir())


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _wait_for(tmux: str, session: str, text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = subprocess.run(
            [tmux, "capture-pane", "-p", "-J", "-t", session], capture_output=True, text=True
        ).stdout
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")
