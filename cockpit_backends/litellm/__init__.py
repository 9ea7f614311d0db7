"""The litellm backend: the router role on a LiteLLM proxy, through per-team model aliases.

A tenant is a LiteLLM team (named by its ``team_alias``, or its ``team_id``); its share on the new
revision is where its alias points on the proxy's share ladder (router.py, ladder.py;
docs/backends/litellm.md). Imported at every cockpit start-up: the factory imports httpx and the role.

Options (``[plugins.litellm]``, validated by the host, contract 2):
    base_url        the proxy, e.g. "http://litellm:4000" (required)
    master_key_env  environment variable holding the proxy's master key ("LITELLM_MASTER_KEY")
    alias           the model name teams call ([models] alias when unset)
    old_model       litellm_params.model of the old revision ([models] old when unset)
    new_model       ... of the new revision ([models] new when unset)
    tenant_field    "team_alias" (default) or "team_id": which team field names a tenant
    timeout_s, retries, backoff_s, concurrency (team writes in flight at once)
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import msgspec

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, BackendSpec, Capabilities, hookimpl

__version__ = "0.1.0"


class LiteLLMOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[plugins.litellm]``: see the module docstring."""

    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    master_key_env: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "LITELLM_MASTER_KEY"
    alias: str = ""
    old_model: str = ""
    new_model: str = ""
    tenant_field: Literal["team_alias", "team_id"] = "team_alias"
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 5.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.05
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8


_FROM_MODELS = {"alias": "[models] alias", "old_model": "[models] old", "new_model": "[models] new"}


def _required(value: str, option: str, fallback: str, what: str) -> str:
    if value or fallback:
        return value or fallback
    raise ConfigError(f"plugins.litellm.{option}: required ({what}); set it, or {_FROM_MODELS[option]} in cockpit.toml")


def _router(role: str, options: LiteLLMOptions, context: BackendContext) -> Any:
    from cockpit_backends.http._common import Secret
    from cockpit_backends.litellm.router import LiteLLMRouter

    key = os.environ.get(options.master_key_env, "").strip()
    if not key:
        raise ConfigError(
            f"plugins.litellm.master_key_env: environment variable {options.master_key_env} is not set; "
            "export the proxy's master key in it"
        )
    models = context.models
    return LiteLLMRouter(
        base_url=options.base_url,
        key=Secret(key),
        alias=_required(options.alias, "alias", models.alias, "the model name the teams call"),
        old=_required(options.old_model, "old_model", models.old, "the old revision's litellm_params.model"),
        new=_required(options.new_model, "new_model", models.new, "the new revision's litellm_params.model"),
        tenant_field=options.tenant_field,
        timeout_s=options.timeout_s,
        retries=options.retries,
        backoff_s=options.backoff_s,
        concurrency=options.concurrency,
    )


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="litellm",
            roles=frozenset({"router"}),
            factory=_router,
            description="LiteLLM proxy: per-team model aliases on a share ladder of weighted model groups",
            version=__version__,
            contract_version=2,
            # whole-percent ladder groups; apply_shares creates a missing team; the proxy counts no rates here
            capabilities=Capabilities(share_step=0.01, creates_tenants=True, measures_rates=False),
            options=LiteLLMOptions,
        )
    ]
