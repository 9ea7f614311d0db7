"""The plugins' freezes re-asserted while an incident is open, never blocking a tick.

Every ``[freeze] reassert_s`` of engine time after the declare, the ``cockpit_freeze_reassert`` hook is
started in worker threads (``PluginHost.event``, bounded by ``backend_timeout_s``) as a task of its own;
the tick that finds it finished journals what each plugin froze again (``freeze_reasserted`` with the
plugin and what it names) and any failure (``plugin_error``). Only one round runs at a time, and a
round never delays the tick that started it. The hook gets the incident as it was declared (its
``freeze`` manifest included), read back from the journal, so it survives a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from cockpit.domain.incident import Incident

log = logging.getLogger("cockpit.engine")

HOOK = "cockpit_freeze_reassert"
KEPT = 50  # names kept per journal entry


class FreezeWatch:
    def __init__(
        self,
        host: Any,
        journal: Any,
        backends: Any,
        context: Any,
        every_s: float,
        deadline_s: float,
        incident: Callable[[], Incident | None],
    ) -> None:
        self.host, self.journal, self.backends, self.context = host, journal, backends, context
        self.every_s, self.deadline_s, self.incident = every_s, deadline_s, incident
        self.task: asyncio.Task[tuple[list[tuple[str, Any]], list[Any]]] | None = None
        self.due: float | None = None
        self.rounds = 0

    def poll(self, now: float) -> None:
        """Called once a tick: collect a finished round, start the next when one is due."""
        if self.task is not None and self.task.done():
            self._collect(now)
        incident = self.incident()
        if self.every_s <= 0 or incident is None or not incident.open:
            self.due = None
            return
        if self.due is None:  # the declare itself froze: the first check is one period after it
            self.due = max(now, incident.declared_at + self.every_s)
        if now >= self.due and self.task is None:
            self.due = now + self.every_s
            self.rounds += 1
            self.task = asyncio.ensure_future(self._round(self._payload(incident)))

    def _payload(self, incident: Incident) -> dict[str, Any]:
        declared = self.journal.last("incident_declared")
        if declared is not None and declared.data.get("id") == incident.id:
            return dict(declared.data)
        return incident.to_dict()

    async def _round(self, payload: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[Any]]:
        results: list[tuple[str, Any]] = []
        failures = await self.host.event(HOOK, self.deadline_s, results=results, incident=payload, context=self.context)
        return list(results), failures

    def _collect(self, now: float) -> None:
        assert self.task is not None
        task, self.task = self.task, None
        try:
            results, failures = task.result()
        except Exception as exc:  # the host isolates plugins; this is the host itself failing
            log.warning("freeze re-assert round failed: %s", exc)
            return
        for f in failures:
            self.backends.plugin_error(f, now)
        for plugin, names in results:
            if not isinstance(names, list | tuple) or not names:
                continue
            shown = [str(n)[:200] for n in names[:KEPT]]
            log.warning("freeze re-asserted by %s on %d thing(s) that read back unfrozen", plugin, len(names))
            self.journal.append(
                "freeze_reasserted", {"plugin": plugin, "frozen_again": shown, "count": len(names)}, now
            )

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
