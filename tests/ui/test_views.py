"""The views issue 3 asks for, read off the screen and checked against the engine and the simulator."""

from __future__ import annotations

import asyncio

from cockpit.ui import view
from cockpit.ui.table import TenantTable


def _text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def test_trends_plan_eta_and_hit_columns_mid_rollback(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 75)
            plan = _text(app, "#plan")
            assert plan.startswith("plan if armed now (4 tenants") and "done ≈" in plan
            await drill.engine.command("arm", scope="regressing", mode="auto")
            await drill.run_ticks(app, 40)
            await pilot.pause()
            rb = drill.engine.rollback
            plan = _text(app, "#plan")
            assert f"✔{rb.stage}" in plan and ("▶" in plan or "⏸" in plan)
            assert "ETA" in _text(app, "#capacity")
            trends = _text(app, "#trends")
            assert "util" in trends and "old hit" in trends and "wrong " in trends  # a drill: counted, no ≈
            sim = drill.session.simulator.scorecard(drill.engine.incident.declared_at, sorted(rb.scope))
            assert 0 < app.history[-1].wrong <= sim["wrong_answers"]  # the count at the last tick
            assert app.history[-1].now == drill.engine.snapshot.now
            assert len(app.history) == 115
            # hit o·n: the tier namespaces' rates, "—" for a tier carrying none of the tenant's traffic.
            old_hit, new_hit = view.tier_hits(drill.engine.snapshot, "old", "new")
            table = app.query_one("#tenants", TenantTable)
            rows = {r[0]: r for r in table.visible_rows()}
            assert rows["umbrella"][-1] == f"—·{view.pct(new_hit)}"  # all on new
            assert rows["tyrell"][-1] == f"{view.pct(old_hit)}·{view.pct(new_hit)}"  # split 50/50
            assert "hit o·n = tier cache" in _text(app, "#tablebar")

    asyncio.run(go())


def test_filter_narrows_the_table_and_only_visible_rows_are_formatted(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 75)
            table = app.query_one("#tenants", TenantTable)
            assert list(table.order[:4]) == sorted(
                view.regressing(drill.engine.snapshot, 0.2), key=list(table.order).index
            )
            assert len(table._cache) <= table.size.height
            await pilot.press("slash", "g", "r", "o")
            await pilot.pause()
            assert list(table.order) == ["hooli", "pied-piper", "stark", "wayne"]  # the growth cohort
            assert _text(app, "#tablebar").startswith("4 of 12 tenants match")
            await pilot.press("backspace", "backspace", "backspace", "r", "e", "g", "r")
            await pilot.pause()
            assert len(table.order) == 4 and all(table.row(t)[6].startswith("✗ REGR") for t in table.order)
            await pilot.press("escape", "down", "down")
            await pilot.pause()
            assert table.cursor == 2

    asyncio.run(go())


def test_capacity_eta() -> None:
    s = [view.Sample(float(t), 0.5, 6, 6 if t < 10 else 23, 0.2, 0.0) for t in range(0, 40)]
    assert view.capacity_eta(s, 23, 120.0) == "  ETA 91s"  # asked at t=10, 120 s start-up, now t=39
    assert view.capacity_eta(s[:5], 23, 120.0) == "  ETA 120s after s"
    done = [*s, view.Sample(200.0, 0.5, 23, 23, 0.2, 0.0)]
    assert view.capacity_eta(done, 23, 120.0) == "  ✔ ready"
