"""`cockpit plugins check` and a drill with the router role handed to the http backend, in subprocesses,
against real servers on loopback."""

from __future__ import annotations

import json

from cockpit_backends.http.reference_server import RouterState
from cockpit_backends.mock.scenario import load_scenario
from cockpit_backends.mock.world import World

from .conftest import NEW, SECRET_KEY, run_cli, start_router, write_config


def test_plugins_lists_the_http_entry_point_without_error():
    out = run_cli("plugins")
    assert out.returncode == 0, out.stderr
    assert any(line.split()[0] == "http" and "cockpit_backends.http" in line for line in out.stdout.splitlines())


def test_plugins_check_http_write_passes(router_server, tmp_path):
    cfg = write_config(tmp_path / "cockpit.toml", {"router": "http"}, {"http": {"base_url": router_server.url}})
    out = run_cli("--config", str(cfg), "plugins", "check", "http", "--write")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS  router     read_traffic: 10 tenants" in out.stdout
    assert "PASS  router     apply_shares (moved " in out.stdout and "PASS  router     restore: " in out.stdout
    assert "0 failed" in out.stdout
    assert router_server.state.applies == 2 and router_server.state.replays == 1  # the move, then its undo


def test_plugins_check_http_fails_when_the_router_is_unreachable(tmp_path):
    bad = write_config(tmp_path / "bad.toml", {"router": "http"}, {"http": {"base_url": "http://127.0.0.1:9"}})
    out = run_cli("--config", str(bad), "plugins", "check", "http", "--write")
    assert out.returncode == 1
    assert "FAIL  router     read_traffic" in out.stdout and "could not connect" in out.stdout


def test_plugins_check_providers_pass(provider_server, tmp_path):
    cfg = write_config(
        tmp_path / "cockpit.toml",
        {"provider": "anthropic"},
        {
            "anthropic": {"base_url": provider_server.url, "api_key_env": "TEST_PROVIDER_KEY"},
            "openai-compatible": {"base_url": provider_server.url, "api_key_env": "TEST_PROVIDER_KEY"},
        },
    )
    env = {"TEST_PROVIDER_KEY": SECRET_KEY}
    out = run_cli("--config", str(cfg), "plugins", "check", "anthropic", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"PASS  provider   resolve: claude-opus-latest -> {NEW}" in out.stdout
    # The same alias is not served by the OpenAI-compatible listing: a FAIL, one sentence, no key.
    provider_server.faults.extend([500] * 3)
    out = run_cli("--config", str(cfg), "plugins", "check", "openai-compatible", env=env)
    assert out.returncode == 1
    assert "FAIL  provider   resolve" in out.stdout and "answered 500" in out.stdout
    assert SECRET_KEY not in out.stdout + out.stderr


def test_drill_classic_with_the_http_router_restores_with_nothing_dropped(tmp_path):
    """The simulator provides traffic and tiers; every share change goes through the real HTTP router
    (seeded with the classic scenario's vector) and is confirmed by read-back."""
    _, sc = load_scenario("classic", tmp_path)
    world = World(sc)
    rs = start_router(RouterState(dict(world.share), {}, dict(world.cohort)))
    try:
        cfg = write_config(tmp_path / "cockpit.toml", {}, {"http": {"base_url": rs.url, "timeout_s": 2.0}})
        out = run_cli("--config", str(cfg), "drill", "classic", "--backend", "router=http", "--json", cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        card = json.loads(out.stdout)
        assert card["restored"] is True
        assert card["dropped_requests"] == 0
        assert card["stages"] >= 1
        # the rollback really went through the HTTP router: the scope is at 0 % new there
        assert all(rs.state.shares[t] == 0.0 for t in card["scope"])
        assert rs.state.applies >= card["stages"]
    finally:
        rs.server.shutdown()
        rs.server.server_close()
