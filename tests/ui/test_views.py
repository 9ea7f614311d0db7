"""The views issue 3 asks for, read off the screen and checked against the engine and the simulator."""

from __future__ import annotations

import asyncio

from cockpit.ui import view
from cockpit.ui.plantext import dur
from cockpit.ui.table import TenantTable


def _text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def test_trends_plan_eta_and_hit_columns_mid_rollback(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await drill.run_ticks(app, 75)
            plan = _text(app, "#plan")
            assert plan.startswith("plan if armed now (4 tenants") and "all done in " in plan
            await drill.engine.command("arm", scope="regressing", mode="auto")
            await drill.run_ticks(app, 40)
            await pilot.pause()
            rb = drill.engine.rollback
            plan = _text(app, "#plan")
            assert f"✔{rb.stage}" in plan and ("▶" in plan or "⏸" in plan)
            snap = drill.engine.snapshot
            assert f"ready in ≈{dur(snap.capacity_eta_s)}" in _text(app, "#capacity")  # the engine's ETA
            trends = _text(app, "#trends")
            assert "util" in trends and "old hit" in trends and "wrong " in trends  # a drill: counted, no ≈
            sim = drill.session.simulator.scorecard(drill.engine.incident.declared_at, sorted(rb.scope))
            assert 0 < app.main.history[-1].wrong == snap.wrong_answers <= sim["wrong_answers"]
            assert app.main.history[-1].now == drill.engine.snapshot.now
            assert len(app.main.history) == 115
            # hit o·n: the tier namespaces' rates, "—" for a tier carrying none of the tenant's traffic.
            old_hit, new_hit = view.tier_hits(drill.engine.snapshot, "old", "new")
            table = app.query_one("#tenants", TenantTable)
            rows = {t: table.row(t) for t in ("umbrella", "tyrell")}
            assert rows["umbrella"][-1] == f"—·{view.pct(new_hit)}"  # all on new
            assert rows["tyrell"][-1] == f"{view.pct(old_hit)}·{view.pct(new_hit)}"  # split 50/50
            assert "hit o·n = old·new cache" in _text(app, "#tablebar")

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
            assert _text(app, "#tablebar").startswith("tenants › /gro (4 of 12; esc clears)")
            await pilot.press("backspace", "backspace", "backspace", "r", "e", "g", "r")
            await pilot.pause()
            assert len(table.order) == 4 and all(table.row(t)[6].startswith("✗ REGR") for t in table.order)
            await pilot.press("escape", "down", "down")
            await pilot.pause()
            assert table.cursor == 2
            assert len(table.order) == 12 and app.main.filter_text == ""  # escape clears the filter too
            assert _text(app, "#tablebar").startswith("tenants (12)")

    asyncio.run(go())


def test_arm_confirmation_shows_the_planners_stages_and_etas(drill) -> None:
    """The confirmation is the domain planner's dry run of the same scope (via the engine handle): tenants,
    traffic, pre-scale target and each stage's ETA; it says when arming will also declare an incident."""

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(100, 40)) as pilot:
            await drill.run_ticks(app, 75)
            scope = view.regressing(drill.engine.snapshot, 0.2)
            plan = await drill.engine.plan(scope)
            assert plan.stages, "the demo's rollback takes stages"
            await pilot.press("a")
            await pilot.pause()
            body = _text(app.screen, "#dialog-body")
            assert f"Roll back {len(scope)} tenant(s): {', '.join(scope)}" in body
            assert f"Traffic to move to the old revision: {plan.traffic_to_move_rps:.0f} rps" in body
            assert f"Pre-scale the old tier to {plan.prescale_to} replicas first" in body
            for st in plan.stages[:5]:
                assert f"{st.number:>5}  {'in ' + dur(st.eta_s):<8}" in body
            assert f"all done in {dur(plan.eta_s)}" in body
            assert "arming also DECLARES one" in body
            assert app.screen.query_one("#dialog-title").render().plain == "Declare and arm the rollback?"
            await pilot.press("n")
            await pilot.pause()
            assert not drill.engine.rollback.armed
            await drill.engine.command("declare", reason="test")
            await pilot.press("a")
            await pilot.pause()
            body = _text(app.screen, "#dialog-body")
            assert "DECLARES" not in body and "Stage  starts" in body
            await pilot.press("y")
            await pilot.pause()
            assert drill.engine.rollback.armed and sorted(drill.engine.rollback.scope) == scope

    asyncio.run(go())


def test_one_planner_feeds_the_plan_line(drill) -> None:
    """The plan line is the engine's plan (not a second planner): same scope, same pre-scale target."""

    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(80, 24)):
            await drill.run_ticks(app, 75)
            plan = await drill.engine.plan("regressing")
            shown = app.main.planner.plan  # asked a few ticks ago (throttled): the same stages and target
            assert shown is not None and (shown.scope, shown.prescale_to) == (plan.scope, plan.prescale_to)
            assert [(s.number, s.eta_s, s.tenants) for s in shown.stages] == [
                (s.number, s.eta_s, s.tenants) for s in plan.stages
            ]
            line = _text(app, "#plan")
            assert f"({len(plan.scope)} tenants, pre-scale to {plan.prescale_to})" in line
            assert f"full failback needs {plan.prescale_to}" in _text(app, "#capacity")

    asyncio.run(go())
