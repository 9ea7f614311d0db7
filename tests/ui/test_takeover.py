"""Two operators on one `cockpit engine` (a real subprocess): the one who loses control is told on their
own screen, the one who takes it gets the engine's answer, and both screens show the engine's figures."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.engine.loop import ReadOnlyError
from cockpit.engine.remote import RemoteEngine
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens import ConfirmScreen
from tests.ops.conftest import engines, free_port, with_tokens, write_drill_config  # noqa: F401 - fixture

ALICE, BOB = "alice@laptop", "bob@desk"


def _engine(tmp_path, engines):  # noqa: F811
    """A `cockpit engine` on a demo drill whose token file names ALICE and BOB, led and listening."""
    cfg = write_drill_config(tmp_path, "journal.db", speed=20, regression_at=20)
    tokens = with_tokens(cfg)
    engine = engines(cfg, f"127.0.0.1:{free_port()}")
    engine.wait_for("leader")
    return engine, tokens


def test_takeover_is_announced_to_the_operator_who_lost_control(tmp_path, engines) -> None:  # noqa: F811
    engine, tokens = _engine(tmp_path, engines)

    async def go() -> None:
        alice = await RemoteEngine.connect(engine.listen, ALICE, token=tokens[ALICE])
        bob = await RemoteEngine.connect(engine.listen, BOB, token=tokens[BOB])
        await alice.first_snapshot()
        await bob.first_snapshot()
        app = CockpitApp(alice, auto_tick=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.step()
            await pilot.press("c")  # nobody holds control: alice takes it without a question
            for _ in range(50):
                await app.step()
                if alice.controller == ALICE:
                    break
            assert alice.controller == ALICE and not alice.read_only
            answer = await bob.take_control(confirm=True)
            assert BOB in answer or "control" in answer  # the taker is told by the engine's answer
            for _ in range(50):
                await app.step()
                await pilot.pause()
                if alice.controller == BOB:
                    break
            notes = [n.message for n in app._notifications]
            assert any(f"{BOB} took control: this screen is read-only now" in n for n in notes), notes
            assert "c takes control" in str(app.main.query_one("#next").render()).replace("\u00a0", " ")
            await pilot.press("d")  # not in control: the key says why instead of doing nothing
            await pilot.pause()
            said = [n.message for n in app._notifications][-1]
            assert said == f"declare: refused: {BOB} is in control; c takes control", said
        # Both screens read the engine's figures: the same count in the same engine tick.
        for _ in range(40):
            snap_a, snap_b = await asyncio.gather(alice.tick(), bob.tick())
            if snap_a.tick == snap_b.tick and snap_a.wrong_answers:
                break
        assert snap_a.tick == snap_b.tick and snap_a.wrong_answers
        assert snap_a.wrong_answers == snap_b.wrong_answers and snap_a.onset_at == snap_b.onset_at
        await alice.close()
        await bob.close()

    asyncio.run(go())


def test_a_read_only_screen_attached_neither_takes_control_nor_acts(tmp_path, engines) -> None:  # noqa: F811
    """`cockpit --read-only` on a shared engine (the review found it took control and released the incident):
    the screen offers no control and sends nothing, and the engine, told in the hello, refuses this
    connection's takeover and commands even from a client that ignored it."""
    engine, tokens = _engine(tmp_path, engines)

    async def go() -> None:
        bob = await RemoteEngine.connect(engine.listen, BOB, token=tokens[BOB], observer=True)
        await bob.first_snapshot()
        assert bob.read_only and not bob.can_take_control and bob.attached
        app = CockpitApp(bob, auto_tick=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.step()
            assert "--read-only" in str(app.main.query_one("#next").render())
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("d")
            await pilot.pause()
            notes = [n.message for n in app._notifications]
            assert any("read-only" in n for n in notes) and notes[-1].startswith("declare: refused"), notes
            assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: refused at the key
        assert bob.controller is None  # c took nothing
        # a client that ignores its own --read-only: the engine holds it to what it said in the hello
        bob.observer = False
        for op in (bob.take_control(confirm=True), bob.command("declare", reason="observer")):
            with pytest.raises(ReadOnlyError, match="attached read-only"):
                await op
        snap = await bob.tick()
        assert snap.incident is None and bob.controller is None  # nothing declared, nobody in control
        await bob.close()

    asyncio.run(go())


def test_a_refusal_is_answered_on_an_engine_without_the_redis_client(tmp_path, engines, monkeypatch) -> None:  # noqa: F811
    """`pip install cockpit` has no redis client: the engine's answer to a refused request must not depend on
    it (it imported the Redis journal's error to look at the refusal, failed, and never answered)."""
    blocker = tmp_path / "no-redis"
    (blocker / "redis").mkdir(parents=True)
    (blocker / "redis" / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'redis\'", name="redis")\n'
    )
    monkeypatch.setenv("PYTHONPATH", str(blocker))
    engine, tokens = _engine(tmp_path, engines)

    async def go() -> None:
        bob = await RemoteEngine.connect(engine.listen, BOB, token=tokens[BOB])
        await bob.first_snapshot()
        with pytest.raises(ReadOnlyError, match="nobody is in control"):
            await asyncio.wait_for(bob.command("declare", reason="not in control"), 10)
        await bob.close()

    asyncio.run(go())
    assert "Traceback" not in engine.output() and "No module named" not in engine.output(), engine.output()
