"""The timeline (t): the journal's operator-facing events, newest first, worded by the same formatter as
`cockpit evidence` (`cockpit.timeline.describe`), read through the engine handle and followed live: each
tick reads only the entries written since the last read."""

from __future__ import annotations

import textwrap
import time
from collections import deque

from cockpit.engine.handle import EngineHandle
from cockpit.engine.journal import Entry
from cockpit.errors import CockpitError
from cockpit.ui.view import stamp

SHOWN = 300  # the newest entries kept
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


class TimelineFeed:
    """The newest entries, topped up incrementally (a page at a time from the last seq read)."""

    def __init__(self, engine: EngineHandle, keep: int = SHOWN) -> None:
        self.engine = engine
        self.entries: deque[Entry] = deque(maxlen=keep)
        self.since = 0

    async def refresh(self) -> bool:
        """Read what was journaled since the last call; True if anything new arrived."""
        grew = False
        while True:
            try:
                page = await self.engine.journal_entries(kinds=KINDS, since_seq=self.since, limit=PAGE)
            except CockpitError:
                return grew
            self.entries.extend(page)
            grew = grew or bool(page)
            if page:
                self.since = page[-1].seq
            if len(page) < PAGE:
                return grew

    def lines(self, real_clock: bool, width: int = 100) -> list[str]:
        """Newest first; long descriptions wrap at word boundaries under their own column."""
        from cockpit.timeline import describe  # imported when the timeline is first shown, not at start-up

        out: list[str] = []
        earlier = 0  # tier readings folded under the newest of a run of them
        entries = list(reversed(self.entries))
        for i, e in enumerate(entries):
            if e.kind == "tier_changed" and i and entries[i - 1].kind == "tier_changed":
                earlier += 1  # a tier starting replicas changes every tick: one line for the run
                if i + 1 < len(entries) and entries[i + 1].kind == "tier_changed":
                    continue
                out.append(f"{'':>{len(stamp(e.ts, real_clock).strip())}}  … {earlier} earlier tier reading(s)")
                earlier = 0
                continue
            when = stamp(e.ts, real_clock).strip()
            head = f"{when}  "
            body = textwrap.wrap(describe(e), max(20, width - len(head))) or [""]
            out.append(head + body[0])
            out.extend(" " * len(head) + more for more in body[1:])
        return out

    def text(self, real_clock: bool, width: int = 100) -> str:
        lines = self.lines(real_clock, width)
        if real_clock and lines:  # the title says newest first and live
            lines.insert(0, f"(wall-clock, local time {time.strftime('%Z %z')})")
        return "\n".join(lines) or "(empty)"
