"""Who may mutate through an engine server: one operator in control at a time, handed over by a journaled
take-control / release-control, replayed from the journal after a restart or takeover; refusals
journaled in bounded size and rate (EngineServer takes these from `ControlDesk`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from cockpit.engine.auth import Access, RefusalLimiter, abbreviate

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine
    from cockpit.engine.wire import _Client

CONTROL = ("take-control", "release-control")


class ControlDesk:
    """The control half of `EngineServer`: it owns these attributes and `_broadcast_status`."""

    engine: Engine | None
    role: str
    controller: str | None
    access: Access
    refusals: RefusalLimiter
    _mutate: asyncio.Lock

    def _broadcast_status(self, reason: str = "") -> None:
        raise NotImplementedError

    def _engine(self) -> Engine:
        if self.engine is None or self.role != "leader":
            from cockpit.engine.loop import ReadOnlyError

            raise ReadOnlyError(f"this engine is a {self.role}: it does not actuate (attach to the leader)")
        return self.engine

    async def _journal_refusal(self, engine: Engine, who: str, name: str, why: str) -> None:
        """Refusals are journaled in bounded size and at a bounded rate per operator (a flood of them
        must neither grow the journal nor starve the tick of the engine lock)."""
        if not self.refusals.allow(who):
            return
        data: dict[str, Any] = {"command": abbreviate(name), "reason": abbreviate(why, 200)}
        suppressed = self.refusals.suppressed.pop(who, 0)
        if suppressed:
            data["suppressed_since_last"] = suppressed
        # a journal that cannot take it must not fail the reply
        async with engine.lock:
            with contextlib.suppress(Exception), engine.journal.transaction():
                engine.journal.append("command_refused", data, engine.clock.now(), who)

    async def _control(self, client: _Client, op: str, confirm: bool) -> str:
        from cockpit.engine.loop import CommandError

        async with self._mutate:
            engine = self._engine()
            me, held = client.operator, self.controller
            if op == "take-control":
                if not self.access.may_control(me):
                    raise CommandError(f"{abbreviate(me)} is not among this engine's [server] controllers")
                if held == me:
                    return f"{me} is already in control"
                if held is not None and not confirm:
                    raise CommandError(f"{held} is in control: taking it from them needs confirmation (confirm=True)")
                result = f"{me} took control" + (f" from {held}" if held else "")
                new = me
            else:
                if held != me:
                    raise CommandError(f"{me} is not in control ({held or 'nobody'} is)")
                result, new = f"{me} released control", None
            async with engine.lock:
                now = engine.clock.now()
                engine.journal.begin()
                try:
                    engine.journal.append(
                        "command",
                        {"command": op, "args": {"confirm": confirm}, "from": held, "to": new, "result": result},
                        now,
                        me,
                    )
                finally:
                    engine.journal.commit()
            self.controller = new
            self._broadcast_status()
            return result


def controller_from(journal: Any) -> str | None:
    """Who holds control, replayed from the journal (so it survives a restart or a takeover)."""
    holder = None
    for e in journal.entries(kinds=("command",)):
        if e.data.get("command") in CONTROL:
            holder = e.data.get("to")
    return holder
