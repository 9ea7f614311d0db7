"""Releasing the incident says what happens to the calendar and to rolled-back tenants; R re-approves them
(confirmed), and the engine refuses tenants still regressing, said on the screen (issue 13)."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.engine.commands import CommandError
from cockpit.ui.screens import ConfirmScreen


def _dialog_body(app) -> str:
    assert isinstance(app.screen, ConfirmScreen)
    return str(app.screen.query_one("#dialog-body").render())


def test_release_dialog_says_rolled_back_tenants_stay_and_r_refuses_regressing_ones(drill) -> None:
    async def go() -> None:
        app = drill.app(scenario=None)
        async with app.run_test(size=(120, 40)) as pilot:
            e = drill.engine
            await drill.run_ticks(app, 75)  # the demo's enterprise cohort is visible as regressing by now
            await pilot.press("d", "y")
            await pilot.pause()
            await pilot.press("a", "y")
            await pilot.pause()
            for _ in range(600):
                if e.rollback.done:
                    break
                await drill.run_ticks(app, 1)
            assert e.rollback.done
            rolled_back = len(e.rollback.ceilings)
            assert rolled_back == 4
            await pilot.press("R")  # refused while the incident is open: said at once, no confirmation first
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            notes = [n.message for n in app._notifications]
            assert "re-approval waits for the release: INC-1 is open (D releases it)" in notes, notes
            await pilot.press("D")
            await pilot.pause()
            body = _dialog_body(app)
            assert "never promotes a tenant that is regressing or whose health is unknown" in body
            assert f"{rolled_back} rolled-back tenant(s) stay at their ceilings until re-approved (R)" in body
            await pilot.press("y")
            await pilot.pause()
            assert e.incident is not None and not e.incident.open
            await pilot.press("R")  # all four still regress: nothing to confirm, and the screen says why
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            notes = [n.message for n in app._notifications]
            assert "nothing to re-approve: none of the rolled-back tenants is healthy" in notes, notes
            assert len(e.rollback.ceilings) == rolled_back  # still regressing: nobody handed back
            # the engine refuses them too, whoever asks (the command, not the key)
            with pytest.raises(CommandError, match="4 tenant"):
                await e.command("reapprove", scope="all", confirm=True)
            failed = e.journal.last("command_failed")
            assert failed is not None and failed.data["command"] == "reapprove"

    asyncio.run(go())
