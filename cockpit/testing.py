"""Contract checks for a plugin's own tests: the same findings `cockpit plugins check` prints.

A plugin author runs them in the plugin's pytest suite against a real (test) instance of the system the
plugin drives, e.g. a fake server on loopback::

    import asyncio
    from cockpit.testing import assert_passes, check_router

    def test_the_router_keeps_the_contract(director):
        router = AcmeRouter({"base_url": director.url})
        assert_passes(asyncio.run(check_router(router, write=True)))

``check_router(router, write=True)`` moves up to two tenants by one share step, requires every tenant
asked about to be in ``applied`` or ``failed``, reads the move back, repeats the request id, restores the
original shares, and times every call (a call that holds the event loop longer than ``BLOCK_BOUND_S``
fails). ``check_health`` checks severities (finite, 0..1, str tenant keys) and calls ``rates()`` and
``warmth()`` when present. ``check_spec`` goes through the plugin host exactly as the cockpit does
(typed options, contract version, capabilities, async methods), then runs every role's checks.

Each finding is a :class:`Check`; ``failures(findings)`` gives the failed ones as the lines the CLI
prints. Nothing here imports pytest or any test-only dependency.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Mapping
from typing import Any

from cockpit.contract import (
    BLOCK_BOUND_S,
    MAX_TENANT_RPS,
    SHARE_STEP,
    Check,
    Limits,
    check_backend,
    check_health,
    check_role,
    check_router,
)
from cockpit.hookspecs import ApplyResult, BackendContext, PinnedModels
from cockpit.plugins import PluginHost

__all__ = [
    "BLOCK_BOUND_S",
    "MAX_TENANT_RPS",
    "SHARE_STEP",
    "Check",
    "Faulty",
    "Limits",
    "assert_passes",
    "check_health",
    "check_role",
    "check_router",
    "check_spec",
    "context",
    "failures",
]


def context(
    *, old: str = "model-old-2025-01-01", new: str = "model-new-2025-06-01", alias: str = "", config_dir: str = "."
) -> BackendContext:
    """A BackendContext as the engine builds one (pinned models, tier names "old" and "new"), for tests."""
    return BackendContext(
        clock=None,
        config_dir=config_dir,
        tiers={"old": "old", "new": "new"},
        models=PinnedModels(old, new, alias),
        config_file="cockpit.toml",
    )


async def check_spec(
    plugin: object,
    backend: str,
    options: Mapping[str, Any],
    *,
    ctx: BackendContext | None = None,
    write: bool = False,
    alias: str = "",
    threshold: float = 0.2,
) -> list[Check]:
    """Register `plugin` (its module, or any object with the hooks) in a plugin host of its own and run
    the checks for every role `backend` claims: the findings of ``cockpit plugins check backend``."""
    host = PluginHost(entry_points=False, plugins=[(backend, plugin)])
    if backend not in host.backends():
        why = "; ".join(str(f) for f in host.failures) or "the plugin does not provide it"
        return [Check("-", "load", False, f"backend {backend!r} not loaded: {why}")]
    ctx = ctx or context(alias=alias)
    return await check_backend(host, backend, dict(options), ctx, alias=alias, write=write, threshold=threshold)


def failures(findings: list[Check]) -> list[str]:
    """The failed findings, as the lines `cockpit plugins check` prints."""
    return [f.line() for f in findings if not f.ok]


def assert_passes(findings: list[Check]) -> None:
    """Raise AssertionError listing every failed finding (one line each); pass silently otherwise."""
    failed = failures(findings)
    if failed:
        raise AssertionError("contract checks failed:\n" + "\n".join(failed))


class Faulty:
    """A role object with faults injected, to see what the engine and the checks make of them.

    Every async method of `inner` (or those named in `methods`) is passed through after `latency_s`
    (awaited, or with `blocking` a ``time.sleep`` that holds the event loop, as a synchronous client
    would), raising `error` when set. For a router, `lie` makes ``apply_shares`` claim every tenant
    without writing any, and `drop` leaves those tenants out of its result."""

    def __init__(
        self,
        inner: Any,
        *,
        latency_s: float = 0.0,
        blocking: bool = False,
        error: Exception | None = None,
        methods: frozenset[str] = frozenset(),
        lie: bool = False,
        drop: frozenset[str] = frozenset(),
    ) -> None:
        self.inner, self.latency_s, self.blocking, self.error = inner, latency_s, blocking, error
        self.methods, self.lie, self.drop = methods, lie, drop

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(target):
            return target

        async def faulty(*args: Any, **kwargs: Any) -> Any:
            await self._fault(name)
            if name == "apply_shares" and self.lie:
                return ApplyResult(applied=dict(args[0] if args else kwargs["shares"]))
            result = await target(*args, **kwargs)
            if name == "apply_shares" and self.drop and isinstance(result, ApplyResult):
                return ApplyResult(applied=self._keep(result.applied), failed=self._keep(result.failed))
            return result

        return faulty

    def _keep(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {t: v for t, v in values.items() if t not in self.drop}

    async def _fault(self, name: str) -> None:
        if self.methods and name not in self.methods:
            return
        if self.blocking:
            time.sleep(self.latency_s)
        elif self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.error is not None:
            raise self.error
