"""The LaunchDarkly and Unleash flag freezers through a real engine, against local servers that answer
only the documented calls: declare turns the frozen flags off (prior values written first), drift is
turned off again while the incident is open, release turns back on only what was on, a restarted
cockpit still restores from its state file, and errors are one sentence without the token."""

from __future__ import annotations

import asyncio
import json

import pytest

import cockpit_backends.flags as flags_plugin
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from tests.backends.flags.fakes import SEMANTIC, LaunchDarklyFake, UnleashFake

LD_TOKEN = "api-0123456789abcdef-ld"
UNLEASH_TOKEN = "user:0123456789abcdef-unleash"


@pytest.fixture
def ld(monkeypatch):
    fake = LaunchDarklyFake(
        LD_TOKEN,
        flags={
            "new-prompt": {"production": True, "staging": True},
            "beta-tools": {"production": False, "staging": True},
        },
    )
    fake.serve()
    monkeypatch.setenv("LD_TOKEN", LD_TOKEN)
    yield fake
    fake.close()


@pytest.fixture
def unleash(monkeypatch):
    fake = UnleashFake(UNLEASH_TOKEN, project="models", flags={"new-prompt": {"production": True, "staging": False}})
    fake.serve()
    monkeypatch.setenv("UNLEASH_TOKEN", UNLEASH_TOKEN)
    yield fake
    fake.close()


def _options(ld, unleash, tmp_path) -> dict:
    return {
        "launchdarkly": {
            "url": ld.url,
            "token_env": "LD_TOKEN",
            "environment": "production",
            "flags": ["new-prompt", "beta-tools"],
        },
        "unleash": {
            "url": unleash.url,
            "token_env": "UNLEASH_TOKEN",
            "project": "models",
            "environment": "production",
            "flags": ["new-prompt"],
        },
    }


def _drill(tmp_path, options):
    clock = SimClock()
    s = open_drill("classic", journal=tmp_path / "j.db", clock=clock, config_dir=tmp_path, plugin_options=options)
    return s, clock


def test_declare_turns_flags_off_drift_is_turned_off_again_release_restores_only_what_was_on(ld, unleash, tmp_path):
    s, clock = _drill(tmp_path, _options(ld, unleash, tmp_path))
    e = s.engine

    async def go():
        await e.tick()
        await e.command("declare", reason="new prompt regresses")
        declared = (ld.on("new-prompt"), ld.on("beta-tools"), unleash.on("new-prompt"))
        state = json.loads((tmp_path / ".cockpit-launchdarkly-freeze.json").read_text())
        ld.set("new-prompt", True)  # someone turns it back on during the incident
        clock.advance(31)
        await e.tick()
        await asyncio.wait_for(asyncio.shield(e.housekeeping.freeze_watch.task), 20)
        clock.advance(1)
        await e.tick()
        reasserted = [x.data for x in e.journal.entries(kinds=("freeze_reasserted",))]
        await e.command("release", confirm=True)
        return declared, state, reasserted, list(e.journal.entries(kinds=("plugin_error",)))

    try:
        declared, state, reasserted, errors = asyncio.run(go())
    finally:
        s.close()
    assert declared == (False, False, False)
    assert state == {"incident": "INC-1", "prior": {"new-prompt": True, "beta-tools": False}}
    assert reasserted == [
        {"plugin": "launchdarkly", "frozen_again": ["LaunchDarkly flag new-prompt off in production"], "count": 1}
    ]
    # released: on again where it was on; beta-tools (off before) stays off; staging never touched
    assert (ld.on("new-prompt"), ld.on("beta-tools"), ld.on("new-prompt", "staging")) == (True, False, True)
    assert unleash.on("new-prompt") and not unleash.on("new-prompt", "staging")
    assert not (tmp_path / ".cockpit-launchdarkly-freeze.json").exists()
    assert errors == []
    # the documented calls, and only those
    patches = [r for r in ld.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == ["/api/v2/flags/default/new-prompt"] * 3  # off, off again, on
    assert [r.body["instructions"] for r in patches] == [[{"kind": "turnFlagOff"}]] * 2 + [[{"kind": "turnFlagOn"}]]
    assert all(r.headers["content-type"] == SEMANTIC and r.body["environmentKey"] == "production" for r in patches)
    assert all(r.headers["authorization"] == LD_TOKEN for r in ld.requests)
    assert all(r.query == {"env": "production"} for r in ld.requests if r.method == "GET")
    base = "/api/admin/projects/models/features/new-prompt/environments/production"
    assert unleash.writes() == [("POST", f"{base}/off"), ("POST", f"{base}/on")]
    assert all(r.headers["authorization"] == UNLEASH_TOKEN for r in unleash.requests)


def test_a_restarted_cockpit_restores_from_the_state_file_and_default_flags_come_from_the_freeze_manifest(ld, tmp_path):
    opts = {"url": ld.url, "token_env": "LD_TOKEN", "environment": "production"}  # no flags: [freeze] flags
    incident = {"id": "INC-7", "freeze": {"flags": ["new-prompt", "beta-tools"]}}
    first = BackendContext(clock=None, config_dir=str(tmp_path))
    flags_plugin.launchdarkly.cockpit_configure(plugins={"launchdarkly": opts}, context=first)
    flags_plugin.launchdarkly.cockpit_incident_declared(incident=incident, context=first)
    assert not ld.on("new-prompt")
    again = BackendContext(clock=None, config_dir=str(tmp_path))  # a new process: nothing in memory
    flags_plugin.launchdarkly.cockpit_configure(plugins={"launchdarkly": opts}, context=again)
    flags_plugin.launchdarkly.cockpit_incident_released(incident={"id": "INC-7"}, context=again)
    assert ld.on("new-prompt") and not ld.on("beta-tools")


def test_a_refused_token_is_one_sentence_journaled_without_the_token(ld, unleash, tmp_path, monkeypatch):
    monkeypatch.setenv("LD_TOKEN", "wrong-token-value-123")
    s, _ = _drill(tmp_path, _options(ld, unleash, tmp_path))
    e = s.engine

    async def go():
        await e.tick()
        await e.command("declare", reason="x")
        return [x.data["error"] for x in e.journal.entries(kinds=("plugin_error",))]

    try:
        errors = asyncio.run(go())
    finally:
        s.close()
    assert len(errors) == 1
    assert errors[0].startswith(
        "FlagError: LaunchDarkly: read flag new-prompt: 401 Unauthorized (Invalid access token) (and 1 more)"
    )
    assert "wrong-token-value-123" not in errors[0]
    assert not unleash.on("new-prompt")  # the other service still froze
    assert ld.on("new-prompt")


def test_an_unknown_flag_is_named(ld, tmp_path):
    opts = {"url": ld.url, "token_env": "LD_TOKEN", "environment": "production", "flags": ["no-such-flag"]}
    ctx = BackendContext(clock=None, config_dir=str(tmp_path))
    flags_plugin.launchdarkly.cockpit_configure(plugins={"launchdarkly": opts}, context=ctx)
    with pytest.raises(Exception, match=r"^LaunchDarkly: read flag no-such-flag: 404 Not Found \(Unknown resource\)$"):
        flags_plugin.launchdarkly.cockpit_incident_declared(incident={"id": "INC-1"}, context=ctx)


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (
            {"token_env": "LD_TOKEN", "environment": "production", "colour": 1},
            "plugins.launchdarkly.colour: unknown option",
        ),
        (
            {"token_env": "NOT_SET_ANYWHERE", "environment": "production"},
            "plugins.launchdarkly.token_env: the environment variable NOT_SET_ANYWHERE is not set",
        ),
        ({"token_env": "LD_TOKEN"}, "plugins.launchdarkly.environment: expected a non-empty string"),
        (
            {"token_env": "LD_TOKEN", "environment": "production", "flags": "x"},
            "plugins.launchdarkly.flags: expected a list",
        ),
        (
            {"token_env": "LD_TOKEN", "environment": "production", "url": "ftp://x"},
            "plugins.launchdarkly.url: expected an http(s) URL",
        ),
    ],
)
def test_bad_options_refuse_to_start(ld, tmp_path, opts, message):
    with pytest.raises(ConfigError) as err:
        _drill(tmp_path, {"launchdarkly": opts})
    assert str(err.value).startswith(message), str(err.value)


def test_plugins_check_reads_each_frozen_flag_and_changes_nothing(ld, tmp_path):
    import subprocess
    import sys

    import tomli_w

    config = {
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"},
        "cockpit": {"journal": "journal.db"},
        "freeze": {"flags": ["new-prompt", "beta-tools", "gone-flag"]},
        "plugins": {
            "mock": {"scenario": "classic"},
            "launchdarkly": {"url": ld.url, "token_env": "LD_TOKEN", "environment": "production"},
        },
    }
    (tmp_path / "cockpit.toml").write_text(tomli_w.dumps(config))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit.cli",
            "--config",
            str(tmp_path / "cockpit.toml"),
            "plugins",
            "check",
            "launchdarkly",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert out.returncode == 1, out.stdout + out.stderr  # one flag does not exist
    assert lines == [
        "launchdarkly: freeze hooks",
        "PASS  freeze     LaunchDarkly flag new-prompt in production: on: a declare turns it off",
        "PASS  freeze     LaunchDarkly flag beta-tools in production: off: a declare leaves it off",
        "FAIL  freeze     LaunchDarkly flag gone-flag in production: "
        "LaunchDarkly: read flag gone-flag: 404 Not Found (Unknown resource)",
        "2 passed, 1 failed",
    ]
    assert ld.writes() == [] and ld.on("new-prompt")


def test_a_flag_a_release_could_not_restore_is_restored_by_the_next_release(ld, tmp_path):
    opts = {"url": ld.url, "token_env": "LD_TOKEN", "environment": "production", "flags": ["new-prompt"]}
    ctx = BackendContext(clock=None, config_dir=str(tmp_path))
    plugin = flags_plugin.launchdarkly
    plugin.cockpit_configure(plugins={"launchdarkly": opts}, context=ctx)
    plugin.cockpit_incident_declared(incident={"id": "INC-1"}, context=ctx)
    ld.close()  # the service is down when the incident is released
    with pytest.raises(Exception, match=r"^LaunchDarkly: read flag new-prompt: cannot reach"):
        plugin.cockpit_incident_released(incident={"id": "INC-1"}, context=ctx)
    assert not ld.on("new-prompt")
    ld.serve()  # back (on a new port)
    plugin.cockpit_configure(plugins={"launchdarkly": {**opts, "url": ld.url}}, context=ctx)
    plugin.cockpit_incident_declared(incident={"id": "INC-2"}, context=ctx)  # it reads off now
    plugin.cockpit_incident_released(incident={"id": "INC-2"}, context=ctx)
    assert ld.on("new-prompt")  # on, as it was before INC-1
    assert not (tmp_path / ".cockpit-launchdarkly-freeze.json").exists()
