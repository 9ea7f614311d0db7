"""Every test runs with the user's directories pointed at a temporary folder, so nothing a test runs
(`main([...])` in-process, or the CLI as a subprocess, which inherits the environment) reads the real
~/.config/cockpit or writes the real ~/.local/state/cockpit (its cockpit.log, journal and world)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

# What cockpit.paths reads through platformdirs (user_config_path, user_state_path), and the cache/data
# folders a dependency might use; $COCKPIT_STATE_DIR is left to the tests that set it on purpose.
XDG = ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")


@pytest.fixture(autouse=True, scope="session")
def _user_dirs_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("xdg")
    saved = {k: os.environ.get(k) for k in (*XDG, "COCKPIT_CONFIG")}
    for k in XDG:
        os.environ[k] = str(home / k.removeprefix("XDG_").removesuffix("_HOME").lower())
    os.environ.pop("COCKPIT_CONFIG", None)  # the developer's own configuration never leaks into a test
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _cockpit_logging_restored() -> Iterator[None]:
    """`main()` configures the `cockpit` logger (cockpit.logs.setup: a file handler for the TUI, stderr
    otherwise, propagation off): after each test its handlers are closed and the logger is as before."""
    logger = logging.getLogger("cockpit")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for h in list(logger.handlers):
        if h not in handlers:
            logger.removeHandler(h)
            h.close()
    for h in handlers:
        if h not in logger.handlers:
            logger.addHandler(h)
    logger.setLevel(level)
    logger.propagate = propagate
