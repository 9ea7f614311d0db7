"""A drill engine on a manual SimClock, so every test sees the same world at the same simulated time."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp

OPERATOR = "tester@ui"


class Drill:
    def __init__(self, tmp: Path, read_only: bool = False) -> None:
        self.clock = SimClock(0.0)
        self.session = open_drill(
            "demo", journal=tmp / "journal.db", clock=self.clock, operator=OPERATOR, read_only=read_only
        )
        self.engine = self.session.engine
        self.tick_s = self.session.info["tick_s"]

    def app(self, **kw) -> CockpitApp:
        kw.setdefault("scenario", "demo")
        return CockpitApp(self.engine, operator=OPERATOR, auto_tick=False, drill=self.session, **kw)

    async def run_ticks(self, app: CockpitApp, n: int) -> None:
        for _ in range(n):
            await app.step()
            self.clock.advance(self.tick_s)


@pytest.fixture
def drill(tmp_path: Path):
    d = Drill(tmp_path)
    yield d
    d.session.close()


@pytest.fixture
def ro_drill(tmp_path: Path):
    d = Drill(tmp_path, read_only=True)
    yield d
    d.session.close()
