"""The ``vertex`` backend: Google Cloud Vertex AI as a provider (Gemini, Claude on Vertex), over REST.

Options (``[plugins.vertex]``): region (default us-central1), project (for the one-token probe),
base_url (default ``https://<region>-aiplatform.googleapis.com``), api_key_env or api_key_file (an OAuth
access token; else Application Default Credentials through google-auth: ``pip install 'cockpit[vertex]'``),
timeout_s, retries, backoff_s. This module imports no role module: the factory does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"


def _provider(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.vertex.provider import VertexProvider

    return VertexProvider(options, context)


def _rule(ref: str) -> Any:
    from cockpit_backends.http.pin_rules import vertex_rule

    return vertex_rule(ref)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="vertex",
            roles=frozenset({"provider"}),
            factory=_provider,
            description="classify and resolve Vertex AI publisher models (Gemini, Claude on Vertex) over REST",
            version=__version__,
            contract_version=2,
            pin_rule=_rule,
        )
    ]
