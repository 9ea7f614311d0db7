"""The timeline (t): the journal's operator-facing events, newest last, read through the engine handle."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from cockpit.engine.handle import EngineHandle
from cockpit.engine.journal import Entry
from cockpit.ui.view import stamp

SHOWN = 300  # the newest entries shown
PAGE = 5000  # entries asked for per request

KINDS = (
    "engine_started",
    "engine_resumed",
    "command",
    "incident_declared",
    "incident_released",
    "health_changed",
    "tier_changed",
    "stage_applied",
    "stage_incomplete",
    "rollback_finished",
    "alias_moved",
    "backend_degraded",
    "backend_recovered",
    "plugin_error",
)


async def newest_entries(engine: EngineHandle, kinds: tuple[str, ...] = KINDS, keep: int = SHOWN) -> list[Entry]:
    """The newest `keep` entries of these kinds, paging through the journal from the start."""
    kept: deque[Entry] = deque(maxlen=keep)
    since = 0
    while True:
        page = await engine.journal_entries(kinds=kinds, since_seq=since, limit=PAGE)
        kept.extend(page)
        if len(page) < PAGE:
            return list(kept)
        since = page[-1].seq


async def timeline_text(engine: EngineHandle, real_clock: bool) -> str:
    entries = await newest_entries(engine)
    lines = [f"{stamp(e.ts, real_clock)}  {e.kind:<20} {e.actor:<18} {brief(e.data)}" for e in entries]
    if real_clock and entries:
        lines.insert(0, f"(wall-clock, local time {time.strftime('%Z %z')})")
    return "\n".join(lines) or "(empty)"


def brief(data: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("config",))
    return text[:100]
