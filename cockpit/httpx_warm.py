"""httpx's lazily imported transport modules, imported before the event loop needs them.

httpx defers importing httpcore, h11 and anyio's asyncio backend to the first request. Made inside the
engine's loop, that import stalls a tick for 0.1-0.3 s (more on a loaded machine), and the plugin contract
check rightly reports a blocked event loop. The plugin host warms them when it creates a backend that
uses httpx (its own or a third party's), and the shipped backends call :func:`httpx_ready` themselves, so
a first request only does I/O."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

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


def json_client(
    timeout_s: float, *, bearer: str | None = None, headers: Mapping[str, str] | None = None, **options: Any
) -> Any:
    """The ``httpx.AsyncClient`` the shipped backends build: it asks for JSON (plus `headers`), sends
    `bearer` as a Bearer token when there is one, and times out after `timeout_s`; `options` go to the
    client as they are (base_url, limits, verify)."""
    httpx = httpx_ready()
    sent = {"accept": "application/json", **(headers or {})}
    if bearer:
        sent["authorization"] = f"Bearer {bearer}"
    return httpx.AsyncClient(headers=sent, timeout=httpx.Timeout(timeout_s), **options)


class LoopClient:
    """One ``httpx.AsyncClient`` per event loop: a client belongs to the loop that made it, so `get()`
    builds a new one with `make()` when called from another loop (a drill, a test, `plugins check`), and
    `aclose()` closes the current one. The backends on httpx share this instead of each keeping a client
    and its loop by hand."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._loop: Any = None

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = self._make(), loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
