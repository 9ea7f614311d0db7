"""httpx, imported with what its first request would otherwise import inside the event loop.

httpx defers importing httpcore, h11 and anyio's asyncio backend to the first request. Made inside the
engine's loop, that import stalls every tick for 0.1-0.3 s (more on a loaded machine), which the plugin
contract check rightly reports as a blocked event loop. Backends call :func:`httpx_ready` when they are
created (outside the loop), so their first request only does I/O."""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType

_WARM = ("httpcore", "h11", "anyio", "anyio._backends._asyncio", "anyio.streams.tls")


def httpx_ready() -> ModuleType:
    """The httpx module, with the modules its first async request needs already imported."""
    import httpx

    for name in _WARM:
        with contextlib.suppress(ImportError):  # another layout: the first request imports what it needs
            importlib.import_module(name)
    return httpx
