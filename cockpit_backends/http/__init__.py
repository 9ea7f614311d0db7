"""HTTP backends: a generic router contract for in-house routers, and provider model APIs.

Three backends from one ``cockpit_backends`` hook:

``http``               router role: the REST contract in ``router-openapi.yaml`` (GET the vector, POST a
                       batch of per-tenant shares with an Idempotency-Key, read back). Options:
                       base_url, timeout_s, retries, backoff_s, token_env, batch_size.
``anthropic``          provider role: the Anthropic models API (``GET /v1/models/{id}``). Options:
                       base_url, api_key_env (default ANTHROPIC_API_KEY) or api_key_file,
                       anthropic_version, timeout_s, retries, backoff_s.
``openai-compatible``  provider role: an OpenAI-shaped ``GET /v1/models`` (vLLM, LiteLLM). Options:
                       base_url, api_key_env or api_key_file (optional), timeout_s, retries, backoff_s.

This module is imported at every cockpit start-up, so it imports neither httpx nor its role modules:
the factories do, when a backend is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"


def openapi_document() -> str:
    """The router contract (OpenAPI 3.1, YAML), shipped as package data."""
    from importlib import resources  # here: every start loads this plugin, few ask for its contract

    return resources.files(__name__).joinpath("router-openapi.yaml").read_text(encoding="utf-8")


def _router(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.http.router import HttpRouter

    return HttpRouter(options, context)


def _anthropic(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.http.providers import AnthropicProvider

    return AnthropicProvider(options, context)


def _openai(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.http.providers import OpenAICompatibleProvider

    return OpenAICompatibleProvider(options, context)


def _anthropic_rule(ref: str) -> Any:
    from cockpit_backends.http.pin_rules import anthropic_rule

    return anthropic_rule(ref)


def _openai_rule(ref: str) -> Any:
    from cockpit_backends.http.pin_rules import openai_rule

    return openai_rule(ref)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="http",
            roles=frozenset({"router"}),
            factory=_router,
            description="in-house router over the documented REST contract (router-openapi.yaml)",
            version=__version__,
        ),
        BackendSpec(
            name="anthropic",
            roles=frozenset({"provider"}),
            factory=_anthropic,
            description="resolve aliases through the Anthropic models API",
            version=__version__,
            pin_rule=_anthropic_rule,
        ),
        BackendSpec(
            name="openai-compatible",
            roles=frozenset({"provider"}),
            factory=_openai,
            description="resolve aliases through an OpenAI-compatible /v1/models (vLLM, LiteLLM)",
            version=__version__,
            pin_rule=_openai_rule,
        ),
    ]
