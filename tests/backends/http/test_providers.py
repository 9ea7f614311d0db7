"""The provider backends against a loopback server speaking the Anthropic and OpenAI-compatible shapes.
The API key must never appear in an error, a repr or a log line, even when the server echoes it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cockpit.errors import BackendError, ConfigError
from cockpit.hookspecs import ModelProvider
from cockpit_backends.http.providers import AnthropicProvider, OpenAICompatibleProvider

from .conftest import NEW, SECRET_KEY


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("TEST_PROVIDER_KEY", SECRET_KEY)
    return "TEST_PROVIDER_KEY"


def anthropic(server, context, **opts):
    return AnthropicProvider(
        {"base_url": server.url, "api_key_env": "TEST_PROVIDER_KEY", "backoff_s": 0.01, **opts}, context
    )


def test_anthropic_resolves_an_alias_to_the_pinned_id(provider_server, context, key_env):
    p = anthropic(provider_server, context)
    assert isinstance(p, ModelProvider)
    assert run(p.resolve("claude-opus-latest")) == NEW
    path, headers = provider_server.seen[-1]
    assert path == "/v1/models/claude-opus-latest"
    assert headers["x-api-key"] == SECRET_KEY
    assert headers["anthropic-version"] == "2023-06-01"


def test_anthropic_reports_when_the_resolution_changes(provider_server, context, key_env):
    p = anthropic(provider_server, context)
    assert run(p.resolve("claude-opus-latest")) == NEW
    provider_server.aliases["claude-opus-latest"] = "claude-opus-4-5-20251101"
    assert run(p.resolve("claude-opus-latest")) == "claude-opus-4-5-20251101"
    assert p.moves == [("claude-opus-latest", NEW, "claude-opus-4-5-20251101")]


def test_anthropic_key_from_a_file(provider_server, context, tmp_path):
    (tmp_path / "key.txt").write_text(SECRET_KEY + "\n")
    p = AnthropicProvider({"base_url": provider_server.url, "api_key_file": "key.txt"}, context)
    assert run(p.resolve("claude-opus-latest")) == NEW


def test_anthropic_unknown_alias_is_one_sentence(provider_server, context, key_env):
    with pytest.raises(BackendError, match=r"404: model: no-such-model"):
        run(anthropic(provider_server, context).resolve("no-such-model"))


@pytest.mark.parametrize("status", [401, 500, 400])
def test_the_key_never_reaches_an_error_or_a_log_even_when_the_server_echoes_it(
    provider_server, context, key_env, status, caplog
):
    provider_server.faults.extend([status] * 5)
    p = anthropic(provider_server, context, retries=2)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendError) as err:
        run(p.resolve("claude-opus-latest"))
    text = str(err.value)
    assert str(status) in text
    assert SECRET_KEY not in text
    assert SECRET_KEY not in repr(err.value) and SECRET_KEY not in repr(p) and SECRET_KEY not in repr(vars(p))
    assert SECRET_KEY not in caplog.text
    if status != 401:  # the echoed body is kept, scrubbed, so the on-call still learns what the server said
        assert "bad request with key ***" in text
    # The server really did receive the key (so the test could have failed).
    assert provider_server.seen[-1][1]["x-api-key"] == SECRET_KEY


def test_a_transient_503_is_retried(provider_server, context, key_env):
    provider_server.faults.append(503)
    assert run(anthropic(provider_server, context, retries=1).resolve("claude-opus-latest")) == NEW
    assert len(provider_server.seen) == 2


def test_missing_key_is_a_config_error_naming_the_variable(context, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"plugins\.anthropic\.api_key_env: environment variable ANTHROPIC_API_KEY"):
        AnthropicProvider({}, context)
    with pytest.raises(ConfigError, match=r"api_key_file: cannot read"):
        AnthropicProvider({"api_key_file": "missing.txt"}, context)
    with pytest.raises(ConfigError, match="either api_key_env or api_key_file"):
        AnthropicProvider({"api_key_env": "X", "api_key_file": "y"}, context)


def openai(server, context, **opts):
    return OpenAICompatibleProvider({"base_url": server.url, "api_key_env": "TEST_PROVIDER_KEY", **opts}, context)


def test_openai_compatible_pinned_id_resolves_to_itself(provider_server, context, key_env):
    p = openai(provider_server, context)
    assert run(p.resolve("llama-3.1-8b-2024-07-23")) == "llama-3.1-8b-2024-07-23"
    assert provider_server.seen[-1][0] == "/v1/models"
    assert provider_server.seen[-1][1]["authorization"] == f"Bearer {SECRET_KEY}"


def test_openai_compatible_served_name_resolves_through_root(provider_server, context, key_env):
    p = openai(provider_server, context)
    assert run(p.resolve("llama-prod")) == "meta-llama/Llama-3.1-8B@rev-0e9e39f"
    provider_server.listing[0]["root"] = "meta-llama/Llama-3.1-8B@rev-77aa001"
    assert run(p.resolve("llama-prod")) == "meta-llama/Llama-3.1-8B@rev-77aa001"
    assert p.moves == [("llama-prod", "meta-llama/Llama-3.1-8B@rev-0e9e39f", "meta-llama/Llama-3.1-8B@rev-77aa001")]


def test_openai_compatible_refuses_to_guess(provider_server, context, key_env):
    p = openai(provider_server, context)
    with pytest.raises(BackendError, match="neither its id nor its root"):
        run(p.resolve("floating"))
    with pytest.raises(BackendError, match="not in GET /v1/models"):
        run(p.resolve("gpt-5"))


def test_openai_compatible_without_a_key(provider_server, context):
    provider_server.server.key = None
    p = OpenAICompatibleProvider({"base_url": provider_server.url}, context)
    assert run(p.resolve("llama-prod")).endswith("@rev-0e9e39f")
    assert "authorization" not in provider_server.seen[-1][1]
