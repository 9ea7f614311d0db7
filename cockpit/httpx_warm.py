"""httpx's lazily imported transport modules, imported before the event loop needs them.

httpx defers importing httpcore, h11 and anyio's asyncio backend to the first request. Made inside the
engine's loop, that import stalls a tick for 0.1-0.3 s (more on a loaded machine), and the plugin contract
check rightly reports a blocked event loop. The plugin host warms them when it creates a backend that
uses httpx (its own or a third party's), and the shipped backends call :func:`httpx_ready` themselves, so
a first request only does I/O."""

from __future__ import annotations

import contextlib
import importlib
import sys
from types import ModuleType

_WARM = ("httpcore", "h11", "anyio", "anyio._backends._asyncio", "anyio.streams.tls")


def warm() -> None:
    """Import what httpx's first async request would (nothing when already imported)."""
    for name in _WARM:
        if name not in sys.modules:
            with contextlib.suppress(ImportError):  # another layout: the first request imports what it needs
                importlib.import_module(name)


def httpx_ready() -> ModuleType:
    """The httpx module, with the modules its first async request needs already imported."""
    import httpx

    warm()
    return httpx


def warm_if_used() -> None:
    """Warm httpx's transport when something has imported httpx (a backend just created)."""
    if "httpx" in sys.modules:
        warm()
