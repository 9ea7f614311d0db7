"""Binaries the tests start themselves (tmux, redis-server, haproxy, prometheus).

`scripts/test-deps` installs them (the README's test command runs it). A test that needs one that is
missing fails with one line naming the binary and how to install it. On a developer's laptop
COCKPIT_TESTS_SKIP_MISSING=1 turns that failure into a skip; never in CI (CI=true), where a missing
binary is a gap, not a pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PACKAGES = {"tmux": "tmux", "redis-server": "redis-server", "haproxy": "haproxy", "prometheus": "prometheus"}
OPT_OUT = "COCKPIT_TESTS_SKIP_MISSING"
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")  # haproxy lives here, often off a normal user's PATH


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def find(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def missing_message(name: str) -> str:
    package = PACKAGES.get(name, name)
    return (
        f"{name} is required by this test and is not installed: run scripts/test-deps as root "
        f"(or: sudo apt-get install {package})"
    )


def require(name: str) -> str:
    """The path of binary `name`, or fail (skip with COCKPIT_TESTS_SKIP_MISSING=1 outside CI) in one line."""
    path = find(name)
    if path:
        return path
    message = missing_message(name)
    if os.environ.get(OPT_OUT) == "1" and not in_ci():
        pytest.skip(message)
    pytest.fail(message, pytrace=False)
