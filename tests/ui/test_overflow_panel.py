"""The overflow tier on the screen: the capacity panel's second line, during a classic drill with it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from cockpit.engine.clock import SimClock
from cockpit.engine.drill import Autopilot
from cockpit.engine.session import open_drill
from cockpit.ui.app import CockpitApp


def test_the_capacity_panel_shows_the_overflow_load_and_cost(tmp_path: Path) -> None:
    clock = SimClock(0.0)
    session = open_drill("classic", journal=tmp_path / "j.db", clock=clock, operator="tester@ui", overflow=True)
    engine = session.engine

    async def run() -> str:
        pilot = Autopilot(engine)  # the scripted on-call declares and arms at 630 s
        while not engine.overflow.holding and clock.now() < 700:
            await engine.tick()
            await pilot.act()
            clock.advance(1.0)
        app = CockpitApp(engine, operator="tester@ui", auto_tick=False, drill=session, scenario="classic")
        async with app.run_test(size=(100, 30)):
            await app.step()
            return str(app.query_one("#capacity").render())

    try:
        text = asyncio.run(run())
    finally:
        session.close()
    line = text.splitlines()[-1]
    assert re.fullmatch(r"overflow \d+/200 rps · 3 tenants · hit \d+% · \$[\d,.]+/h", line), text
    load = float(line.split()[1].split("/")[0])
    assert load > 100  # the failback the old tier could not take yet, moved at once
