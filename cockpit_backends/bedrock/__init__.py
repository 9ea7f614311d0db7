"""The ``bedrock`` backend: Amazon Bedrock as a provider (model ids, inference profiles, ARNs).

Options (``[plugins.bedrock]``): region (default us-east-1), endpoint_url (default
``https://bedrock.<region>.amazonaws.com``), profile and credentials_file (else the AWS default chain),
timeout_s, retries. Needs the AWS SDK: ``pip install 'cockpit[bedrock]'``. This module imports neither
boto3 nor its role module: the factory does, when the backend is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"


def _provider(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.bedrock.provider import BedrockProvider

    return BedrockProvider(options, context)


def _rule(ref: str) -> Any:
    from cockpit_backends.http.pin_rules import bedrock_rule

    return bedrock_rule(ref)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="bedrock",
            roles=frozenset({"provider"}),
            factory=_provider,
            description="classify and resolve Bedrock model ids, inference profiles and ARNs (boto3)",
            version=__version__,
            contract_version=2,
            pin_rule=_rule,
        )
    ]
