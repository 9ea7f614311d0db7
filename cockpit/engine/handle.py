"""The one interface a screen needs from an engine, whether it runs in this process or elsewhere.

`Engine` (in-process) and `RemoteEngine` (attached over a socket) both implement `EngineHandle`, so the
TUI never asks which one it has. Everything here is either a plain attribute or a coroutine; nothing
blocks the screen's event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cockpit.config import Config
from cockpit.domain.planner import Plan
from cockpit.engine.clock import Clock
from cockpit.engine.journal import Entry
from cockpit.engine.snapshot import Snapshot
from cockpit.hookspecs import PluginAction


@dataclass(frozen=True, slots=True)
class Control:
    """Who holds an attached engine: where it listens, its role (leader, standby, …) and the operator
    in control (None: nobody yet)."""

    address: str
    role: str
    controller: str | None


@runtime_checkable
class EngineHandle(Protocol):
    operator: str

    @property
    def config(self) -> Config:
        """The engine's configuration (an attached screen receives it when it attaches)."""
        ...

    @property
    def clock(self) -> Clock:
        """The engine's clock, as seen from the screen."""
        ...

    @property
    def read_only(self) -> bool:
        """True when this handle must not change anything (a read-only screen, or not in control)."""
        ...

    @property
    def can_take_control(self) -> bool:
        """True where several operators share the engine and this screen may take control (attached, and
        not started with --read-only)."""
        ...

    @property
    def attached(self) -> bool:
        """True for a screen on an engine that runs elsewhere (`cockpit engine`), shared with others."""
        ...

    @property
    def snapshot(self) -> Snapshot | None:
        """The latest picture, or None before the first tick. In-process, a command's effect is in it
        as soon as `command()` returns."""
        ...

    @property
    def actions(self) -> Mapping[str, PluginAction]:
        """Plugin actions by id (keys a plugin adds)."""
        ...

    async def tick(self) -> Snapshot:
        """In-process: run one tick. Attached: wait for the next pushed snapshot."""
        ...

    async def command(self, name: str, *, operator: str | None = None, **args: Any) -> str:
        """Run one command from `cockpit.engine.commands.COMMANDS`; returns one sentence."""
        ...

    async def plan(self, scope: str | Iterable[str] = "regressing") -> Plan:
        """The dry run of arming now (the one planner, in the domain)."""
        ...

    def control(self) -> Control | None:
        """Attached: who holds the engine. In-process: None (this screen is the operator)."""
        ...

    async def take_control(self, confirm: bool = False) -> str:
        """Attached screens: ask for control. In-process engines have it already."""
        ...

    async def journal_entries(self, kinds: tuple[str, ...] = (), since_seq: int = 0, limit: int = 5000) -> list[Entry]:
        """Journal entries after `since_seq` (oldest first), at most `limit`."""
        ...

    async def close(self) -> None:
        """Release what the handle holds (connections; the in-process engine's journal stays open)."""
        ...
