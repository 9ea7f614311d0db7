"""Several operators attached to one `cockpit engine` over the attach protocol: every screen is read-only
until its operator takes control, taking it from someone needs confirmation, the server refuses the
others' commands, and the journal keeps who did what in order. Commands never interleave with a stage."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.engine.loop import CommandError, ReadOnlyError
from cockpit.engine.remote import RemoteEngine

from .conftest import TOKENS, free_port, with_tokens, write_drill_config


async def _until_regressing(remote: RemoteEngine, timeout: float = 30.0) -> None:
    threshold = remote.config.file.incident.regression_threshold
    async with asyncio.timeout(timeout):
        while not any(h >= threshold for h in (await remote.tick()).harm.values()):
            pass


async def _as(who: str, engine) -> RemoteEngine:
    """Over TCP the token names the operator; the declared name is only what the screen believes."""
    return await RemoteEngine.connect(engine.listen, who, token=TOKENS[who])


async def _journal(remote: RemoteEngine, *kinds: str):
    return await remote.journal_entries(kinds=kinds, limit=100_000)


@pytest.fixture
def engine(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=20, regression_at=20)
    with_tokens(cfg)
    e = engines(cfg, f"127.0.0.1:{free_port()}")
    e.wait_for("leader")
    return e


def test_two_operators_order_identity_and_read_only(engine):
    async def scenario():
        alice = await _as("alice@laptop", engine)
        bob = await _as("bob@desk", engine)
        await alice.first_snapshot()
        await bob.first_snapshot()
        assert alice.read_only and bob.read_only  # nobody is in control on attach
        with pytest.raises(ReadOnlyError):
            await alice.command("declare", reason="before taking control")
        assert await alice.take_control() == "alice@laptop took control"
        with pytest.raises(CommandError, match="needs confirmation"):
            await bob.take_control()
        await alice.tick()
        assert not alice.read_only and bob.read_only
        await alice.command("declare", reason="enterprise cohort regressing")
        with pytest.raises(ReadOnlyError):
            await bob.command("release", confirm=True)  # refused by the server, not only by bob's screen
        await _until_regressing(alice)
        await alice.command("arm", scope="regressing", mode="manual")
        await alice.command("advance")
        assert "took control from alice@laptop" in await bob.take_control(confirm=True)
        with pytest.raises(ReadOnlyError):
            await alice.command("advance")
        await bob.command("advance")
        await bob.command("pause")
        await bob.tick()
        assert alice.read_only and not bob.read_only and bob.snapshot.rollback["paused"]

        commands = [(e.actor, e.data["command"]) for e in await _journal(bob, "command")]
        assert commands == [
            ("alice@laptop", "take-control"),
            ("alice@laptop", "declare"),
            ("alice@laptop", "arm"),
            ("alice@laptop", "advance"),
            ("bob@desk", "take-control"),
            ("bob@desk", "advance"),
            ("bob@desk", "pause"),
        ]
        handover = next(e.data for e in await _journal(bob, "command") if e.actor == "bob@desk")
        assert (handover["from"], handover["to"], handover["args"]["confirm"]) == ("alice@laptop", "bob@desk", True)
        refused = [(e.actor, e.data["command"]) for e in await _journal(bob, "command_refused")]
        assert refused == [("alice@laptop", "declare"), ("bob@desk", "release"), ("alice@laptop", "advance")]
        declared = await _journal(bob, "incident_declared")
        assert declared[0].actor == "alice@laptop"
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_two_operators_pressing_keys_at_once_never_interleave_a_stage(engine):
    """Alice fires advances while Bob takes control and fires his own: each command runs whole, between
    ticks; none lands between an actuation's intent and its ack; nothing of Alice's runs after the handover."""

    async def scenario():
        alice = await _as("alice@laptop", engine)
        bob = await _as("bob@desk", engine)
        await alice.take_control()
        await alice.command("declare", reason="drill")
        await _until_regressing(alice)
        await alice.command("arm", scope="regressing", mode="manual")

        async def press(remote: RemoteEngine, name: str, **args):
            try:
                return await remote.command(name, **args)
            except ReadOnlyError as exc:
                return exc

        async def alice_keys():
            presses = []
            for _ in range(40):  # a key every 10 ms, none awaited before the next
                presses.append(asyncio.ensure_future(press(alice, "advance")))
                await asyncio.sleep(0.01)
            return await asyncio.gather(*presses)

        async def bob_keys():
            await asyncio.sleep(0.1)
            await bob.take_control(confirm=True)
            return await asyncio.gather(*(press(bob, "advance") for _ in range(5)), press(bob, "mode", mode="auto"))

        from_alice, _ = await asyncio.gather(alice_keys(), bob_keys())
        refused = [r for r in from_alice if isinstance(r, ReadOnlyError)]
        assert 0 < len(refused) < 40, "the handover happened mid-burst"
        async with asyncio.timeout(60):
            while not (await bob.tick()).rollback["done"]:
                pass

        entries = await _journal(bob)
        handover = next(e.seq for e in entries if e.kind == "command" and e.actor == "bob@desk")
        assert not [e for e in entries if e.kind == "command" and e.actor == "alice@laptop" and e.seq > handover]
        open_intents: set[str] = set()
        for e in entries:
            if e.kind == "actuation":
                open_intents.add(e.data["id"])
            elif e.kind == "actuation_ack":
                open_intents.discard(e.data["id"])
            elif e.kind == "command":
                assert not open_intents, f"command {e.data['command']} ran inside actuation {open_intents}"
        stages = [e.data["stage"] for e in entries if e.kind == "stage_applied"]
        assert stages == list(range(1, stages[-1] + 1)), stages
        assert bob.snapshot.rollback["stage"] == stages[-1]
        await alice.close()
        await bob.close()

    asyncio.run(scenario())
