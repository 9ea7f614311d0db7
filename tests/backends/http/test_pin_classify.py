"""The provider decides what is pinned: Anthropic and OpenAI-compatible providers classify real model ids
against loopback servers speaking their documented APIs; `cockpit lint`, `cockpit pin` and loading
cockpit.toml use the answer, and the documented offline rule when the API cannot be reached."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit_backends.http.providers import AnthropicProvider, OpenAICompatibleProvider

from ..provider_apis import ANTHROPIC_KEY, OPENAI_KEY, AnthropicAPI, OpenAIAPI, anthropic_models, classify, serve
from .conftest import run_cli, write_config

ANTHROPIC_PINNED = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-1-20250805"]
ANTHROPIC_ALIASES = {"claude-opus-latest": "claude-opus-4-1-20250805", "claude-sonnet-4-0": "claude-sonnet-4-20250514"}


@pytest.fixture
def anthropic_api():
    with serve(AnthropicAPI, models=anthropic_models()) as server:
        yield server


@pytest.fixture
def openai_api():
    listing = [
        {"id": "gpt-4o", "object": "model", "owned_by": "system"},
        {"id": "gpt-4o-2024-08-06", "object": "model", "owned_by": "system"},
        {"id": "gpt-4o-2024-05-13", "object": "model", "owned_by": "system"},
        {"id": "llama-prod", "object": "model", "owned_by": "vllm", "root": "meta-llama/Llama-3.1-8B@rev-0e9e39f"},
        {"id": "house-model", "object": "model", "owned_by": "vllm"},
    ]
    listing.append({"id": "o3", "object": "model", "owned_by": "system"})
    answers = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-2024-08-06": "gpt-4o-2024-08-06", "house-model": "house-model"}
    answers["o3"] = "o3-2025-04-16"
    with serve(OpenAIAPI, listing=listing, answers=answers, reasoning={"o3"}) as server:
        yield server


def test_anthropic_current_ids_are_snapshots_and_aliases_resolve(anthropic_api, context, monkeypatch):
    monkeypatch.setenv("PINS_ANTHROPIC_KEY", ANTHROPIC_KEY)
    opts = {"base_url": anthropic_api.url, "api_key_env": "PINS_ANTHROPIC_KEY"}
    for ref in ANTHROPIC_PINNED:
        c = classify(AnthropicProvider(opts, context), ref)
        assert (c.kind, c.offline) == ("snapshot", ""), c
    for ref, target in ANTHROPIC_ALIASES.items():
        c = classify(AnthropicProvider(opts, context), ref)
        assert (c.kind, c.resolves_to, c.offline) == ("alias", target, ""), c
    # the API was asked each time, with the documented headers
    assert [p for _, p, _ in anthropic_api.seen][-1] == "/v1/models/claude-sonnet-4-0"
    assert anthropic_api.seen[-1][2]["anthropic-version"] == "2023-06-01"
    # an id the API does not know is unknown (a 404 is an answer), never pinned
    c = classify(AnthropicProvider(opts, context), "claude-opus-9-9")
    assert c.kind == "unknown" and "404" in c.reason and not c.offline


def test_anthropic_offline_uses_the_documented_rule_and_says_so(context, monkeypatch):
    monkeypatch.setenv("PINS_ANTHROPIC_KEY", ANTHROPIC_KEY)
    opts = {"base_url": "http://127.0.0.1:9", "api_key_env": "PINS_ANTHROPIC_KEY", "retries": 0}
    c = classify(AnthropicProvider(opts, context), "claude-opus-4-6")
    assert c.kind == "snapshot" and "could not connect" in c.offline
    c = classify(AnthropicProvider(opts, context), "claude-opus-latest")
    assert c.kind == "alias" and c.resolves_to == "" and c.offline
    c = classify(AnthropicProvider(opts, context), "claude-sonnet-4-5")
    assert c.kind == "alias" and "4.6" in c.reason


def test_openai_alias_resolved_by_a_one_token_probe(openai_api, context, monkeypatch):
    monkeypatch.setenv("PINS_OPENAI_KEY", OPENAI_KEY)
    opts = {"base_url": openai_api.url, "api_key_env": "PINS_OPENAI_KEY"}
    c = classify(OpenAICompatibleProvider(opts, context), "gpt-4o")
    assert (c.kind, c.resolves_to) == ("alias", "gpt-4o-2024-08-06"), c
    method, path, headers = openai_api.seen[-1]
    assert (method, path, headers["authorization"]) == ("POST", "/v1/chat/completions", f"Bearer {OPENAI_KEY}")
    c = classify(OpenAICompatibleProvider(opts, context), "gpt-4o-2024-08-06")
    assert c.kind == "snapshot"
    # a reasoning model refuses max_tokens (400): the probe asks again with max_completion_tokens
    c = classify(OpenAICompatibleProvider(opts, context), "o3")
    assert (c.kind, c.resolves_to) == ("alias", "o3-2025-04-16"), c
    assert [p for _, p, _ in openai_api.seen[-2:]] == ["/v1/chat/completions"] * 2
    c = classify(OpenAICompatibleProvider(opts, context), "llama-prod")
    assert (c.kind, c.resolves_to) == ("alias", "meta-llama/Llama-3.1-8B@rev-0e9e39f")
    c = classify(OpenAICompatibleProvider(opts, context), "house-model")  # answers as itself, undocumented
    assert c.kind == "unknown" and "nothing documents it as fixed" in c.reason
    c = classify(OpenAICompatibleProvider(opts, context), "gpt-5")
    assert c.kind == "unknown" and "not in GET /v1/models" in c.reason
    # resolve(): the listing cannot say what gpt-4o is; the probe can
    p = OpenAICompatibleProvider(opts, context)
    assert asyncio.run(p.resolve("gpt-4o")) == "gpt-4o-2024-08-06"


def anthropic_config(tmp_path: Path, base_url: str, pins: dict[str, str], old: str = "claude-opus-4-6") -> Path:
    path = write_config(
        tmp_path / "cockpit.toml",
        {"provider": "anthropic"},
        {"anthropic": {"base_url": base_url, "api_key_env": "PINS_ANTHROPIC_KEY", "retries": 0}},
    )
    text = path.read_text().replace('old = "claude-opus-4-20250514"', f'old = "{old}"')
    path.write_text(text + "\n[pins]\n" + "".join(f'{k} = "{v}"\n' for k, v in pins.items()))
    return path


def test_lint_accepts_current_ids_and_flags_aliases_with_where(tmp_path, anthropic_api):
    pins = {f"p{i}": ref for i, ref in enumerate([*ANTHROPIC_PINNED, *ANTHROPIC_ALIASES])}
    cfg = anthropic_config(tmp_path, anthropic_api.url, pins)
    r = run_cli("--config", str(cfg), "lint", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY})
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    for ref in ANTHROPIC_PINNED:
        assert f"'{ref}'" not in out
    lines = out.splitlines()
    for i, (ref, target) in enumerate(ANTHROPIC_ALIASES.items(), start=len(ANTHROPIC_PINNED)):
        line = next(x for x in lines if f"pins.p{i} = '{ref}'" in x)
        assert line.startswith(f"{cfg}:") and "is an alias, not a pinned revision" in line
        assert line.endswith(f"it resolves to {target} now"), line
    assert "2 reference(s) not confirmed" in out and ANTHROPIC_KEY not in out + r.stderr


def test_lint_offline_says_so_and_still_flags_documented_aliases(tmp_path):
    cfg = anthropic_config(tmp_path, "http://127.0.0.1:9", {"a": "claude-opus-4-6", "b": "claude-opus-latest"})
    r = run_cli("--config", str(cfg), "lint", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY})
    assert r.returncode == 1
    assert "pins.a = 'claude-opus-4-6' is a pinned revision" in r.stdout and "offline: " in r.stdout
    assert "pins.b = 'claude-opus-latest' is an alias" in r.stdout
    assert "provider anthropic offline (" in r.stdout and ANTHROPIC_KEY not in r.stdout


def test_pin_locks_the_current_id_and_the_alias_target(tmp_path, anthropic_api):
    cfg = anthropic_config(tmp_path, anthropic_api.url, {"opus": "claude-opus-4-6", "fast": "claude-sonnet-4-0"})
    r = run_cli("--config", str(cfg), "pin", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY})
    assert r.returncode == 0, r.stdout + r.stderr
    lock = tomllib.loads((tmp_path / "cockpit.lock").read_text())["pins"]
    assert lock["opus"]["revision"] == "claude-opus-4-6" and lock["opus"]["alias"] == ""
    assert lock["fast"]["revision"] == "claude-sonnet-4-20250514" and lock["fast"]["alias"] == "claude-sonnet-4-0"
    r = run_cli("--config", str(cfg), "pin", "--set", "opus=claude-opus-4-6", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY})
    assert r.returncode == 0, r.stderr
    r = run_cli(
        "--config", str(cfg), "pin", "--set", "opus=claude-opus-latest", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY}
    )
    assert r.returncode == 2 and "--set opus: 'claude-opus-latest' is an alias" in r.stderr, r.stderr


def test_loading_the_config_takes_current_ids_and_refuses_documented_aliases(tmp_path):
    cfg = anthropic_config(tmp_path, "http://127.0.0.1:9", {}, old="claude-opus-4-6")
    assert load_config(cfg).file.models.old == "claude-opus-4-6"  # no exit 2 for a real model id
    cfg = anthropic_config(tmp_path, "http://127.0.0.1:9", {}, old="claude-sonnet-4-5")
    with pytest.raises(
        ConfigError,
        match=r"models\.old: 'claude-sonnet-4-5' is an alias, not a pinned revision .*"
        r"by the anthropic provider's documented offline rule",
    ):
        load_config(cfg)
    r = run_cli("--config", str(cfg), "plan")
    assert r.returncode == 2 and "models.old: 'claude-sonnet-4-5' is an alias" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_plugins_check_classifies_the_configured_models(tmp_path, anthropic_api):
    cfg = anthropic_config(tmp_path, anthropic_api.url, {})
    r = run_cli(
        "--config", str(cfg), "plugins", "check", "anthropic", "--write", env={"PINS_ANTHROPIC_KEY": ANTHROPIC_KEY}
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "models.old claude-opus-4-6: snapshot" in r.stdout
    assert "models.alias claude-opus-latest: alias -> claude-opus-4-1-20250805" in r.stdout


def test_lint_and_pin_resolve_gpt_4o_through_the_probe(tmp_path, openai_api):
    path = write_config(
        tmp_path / "cockpit.toml",
        {"provider": "openai-compatible"},
        {"openai-compatible": {"base_url": openai_api.url, "api_key_env": "PINS_OPENAI_KEY", "retries": 0}},
    )
    text = path.read_text().replace('old = "claude-opus-4-20250514"', 'old = "gpt-4o-2024-08-06"')
    text = text.replace('new = "claude-opus-4-1-20250805"', 'new = "gpt-4o-2024-05-13"')
    path.write_text(text + '\n[pins]\nchat = "gpt-4o"\nbatch = "gpt-4o-2024-08-06"\n')
    env = {"PINS_OPENAI_KEY": OPENAI_KEY}
    r = run_cli("--config", str(path), "lint", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    flagged = [line for line in r.stdout.splitlines() if " = '" in line]
    assert len(flagged) == 1 and "pins.chat = 'gpt-4o' is an alias, not a pinned revision" in flagged[0], r.stdout
    assert flagged[0].endswith("it resolves to gpt-4o-2024-08-06 now")
    r = run_cli("--config", str(path), "pin", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    lock = tomllib.loads((tmp_path / "cockpit.lock").read_text())["pins"]
    assert (lock["chat"]["revision"], lock["chat"]["alias"]) == ("gpt-4o-2024-08-06", "gpt-4o")
    assert OPENAI_KEY not in r.stdout + r.stderr
