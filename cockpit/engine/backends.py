"""The engine's view of its backends: one object per role, called with a timeout, degraded on failure
and recovered on success, so a backend that errors or hangs never takes the control loop down.

A read that succeeds clears a read failure; only a confirmed write clears a write failure (a router
that answers reads but drops writes stays degraded until a write is verified by read-back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from cockpit.config import Config
from cockpit.domain.staging import RollbackPolicy
from cockpit.engine.clock import Clock
from cockpit.engine.journal import JournalLike
from cockpit.errors import PluginError
from cockpit.hookspecs import ROLES, BackendContext
from cockpit.plugins import PluginFailure, PluginHost, raised_at, refuse_unknown_tables, source_of

T = TypeVar("T")
log = logging.getLogger("cockpit.engine")

ALERTS_KEPT = 5  # plugin failures shown on screen


@dataclass
class Backends:
    """The configured backend per role, and their health as the engine has seen it."""

    names: dict[str, str]
    router: Any
    autoscaler: Any
    cache: Any
    provider: Any
    health: Any
    journal: JournalLike
    clock: Clock
    timeout_s: float
    degraded: dict[str, str] = field(default_factory=dict)
    write_failures: set[str] = field(default_factory=set)
    alerts: list[str] = field(default_factory=list)
    context: BackendContext = field(default_factory=lambda: BackendContext(None, "."))  # the engine's

    def objects(self) -> list[Any]:
        """The role objects, one per role (an object serving two roles appears twice)."""
        return [getattr(self, role) for role in ROLES]

    @classmethod
    def create(
        cls, config: Config, host: PluginHost, context: BackendContext, journal: JournalLike, clock: Clock
    ) -> Backends:
        refuse_unknown_tables(config, host)  # a misspelled [plugins.X] would leave a backend unconfigured
        objs: dict[str, Any] = {}
        names: dict[str, str] = {}
        for role in ROLES:
            name = config.backend_for(role)
            names[role] = name
            try:
                objs[role] = host.create(role, name, config.options_for(name), context)
            except PluginError as exc:
                raise PluginError(f"{config.path}: backends.{role}: {exc}") from None
        timeout_s = config.file.cockpit.backend_timeout_s
        return cls(names=names, journal=journal, clock=clock, timeout_s=timeout_s, context=context, **objs)

    async def call(self, role: str, what: Awaitable[T], *, clears: bool = True) -> T | None:
        """Call a backend with the configured timeout. A failure marks the role degraded (journaled
        once, shown on screen) and returns None; it never propagates into the loop."""
        name = self.names[role]
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await what
        except TimeoutError:
            self.degrade(role, f"{name}: timed out after {self.timeout_s:g} s")
            return None
        except Exception as exc:
            at = raised_at(exc, source_of(getattr(self, role, None)))  # the plugin's file and line
            self.degrade(role, f"{name}: {type(exc).__name__}: {exc}" + (f" (at {at})" if at else ""))
            return None
        if clears:
            self.recover(role)
        return result

    async def done(self, role: str, what: Awaitable[Any]) -> bool:
        """Like `call`, for backend calls whose success returns nothing: True once it completed."""

        async def completed() -> bool:
            await what
            return True

        return bool(await self.call(role, completed()))

    def recover(self, role: str, write: bool = False) -> None:
        if role in self.degraded and (write or role not in self.write_failures):
            del self.degraded[role]
            self.write_failures.discard(role)
            log.info("backend %s (%s) recovered", self.names[role], role)
            self.journal.append("backend_recovered", {"role": role, "backend": self.names[role]}, self.clock.now())

    def degrade(self, role: str, message: str) -> None:
        if self.degraded.get(role) != message:
            self.degraded[role] = message
            log.warning("backend %s degraded: %s", role, message)
            self.journal.append("backend_degraded", {"role": role, "error": message}, self.clock.now())

    def write_failed(self, role: str, message: str) -> None:
        """A write the read-back did not confirm: degraded until a later write is verified."""
        self.degrade(role, message)
        self.write_failures.add(role)

    def plugin_error(self, failure: PluginFailure, now: float) -> None:
        log.warning("plugin %s failed in %s: %s", failure.plugin, failure.where, failure.error)
        self.journal.append(
            "plugin_error", {"plugin": failure.plugin, "hook": failure.where, "error": failure.error}, now
        )
        self.alerts = [*self.alerts[-(ALERTS_KEPT - 1) :], f"{failure.plugin} ({failure.where}): {failure.error}"]


_closing: set[asyncio.Task[None]] = set()  # closings scheduled by a sync close() inside a running loop


def run_soon(closing: Coroutine[Any, Any, None]) -> None:
    """Run `closing` to the end now when no event loop runs in this thread, else schedule it on that loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(closing)
        return
    task = loop.create_task(closing)
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def settle_for(policy: RollbackPolicy, backends: Backends) -> RollbackPolicy:
    """The policy with its settle after a stage raised to how long the observations need to show it: a
    backend whose readings lag (a cache store's windowed hit rate) says so with `observation_lag_s`."""
    lag = max((float(getattr(o, "observation_lag_s", 0.0) or 0.0) for o in backends.objects()), default=0.0)
    if lag <= policy.min_stage_interval_s:
        return policy
    return replace(policy, min_stage_interval_s=lag)


def rollback_policy(config: Config, host: PluginHost) -> RollbackPolicy:
    """The configured rollback policy, its smallest move raised to the router's declared share step, so
    every ceiling the scheduler plans lands on the grid of shares the router can store."""
    step = host.capabilities(config.backend_for("router")).share_step
    if step <= config.rollback.min_move:
        return config.rollback
    return replace(config.rollback, min_move=step)
