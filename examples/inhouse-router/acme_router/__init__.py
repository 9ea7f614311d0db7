"""cockpit backend for ACME's in-house traffic director: the router role.

The cockpit imports this module at start-up (entry point ``acme-router`` in the ``cockpit.backends``
group), so it stays light: httpx and the role class are imported by the factory, only when a
configuration names ``acme-router``.

Configuration (cockpit.toml)::

    [backends]
    router = "acme-router"

    [plugins.acme-router]
    base_url = "http://director.internal:7000"
    timeout_s = 2.0        # optional
    concurrency = 32       # optional: the director takes one tenant per request
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from cockpit.hookspecs import BackendContext, BackendSpec, Capabilities, hookimpl

__version__ = "0.1.0"


class AcmeOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.acme-router]``: validated by the cockpit's plugin host before the factory runs, so a
    wrong table is one sentence naming the file, the table and the option."""

    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]  # the director, e.g. "http://director:7000"
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0  # per request, seconds
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=256)] = 32  # PUTs in flight (one tenant each)


def _factory(role: str, options: AcmeOptions, context: BackendContext) -> Any:
    from acme_router.router import AcmeRouter  # heavy imports happen here, not at start-up

    return AcmeRouter(options)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="acme-router",
            roles=frozenset({"router"}),
            factory=_factory,
            description="ACME traffic director (canary percent per tenant)",
            version=__version__,
            contract_version=2,
            options=AcmeOptions,
            # the director stores percent to 4 decimals: any share; it serves rates; it adds tenants on PUT
            capabilities=Capabilities(share_step=0.0, creates_tenants=True, measures_rates=True),
        )
    ]


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any]) -> None:
    """Event hooks are optional. A real plugin might pause the director's own canary automation here;
    it must return quickly (it runs on the control loop)."""
