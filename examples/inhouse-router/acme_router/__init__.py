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
from typing import Any

from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"


def _factory(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
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
        )
    ]


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any]) -> None:
    """Event hooks are optional. A real plugin might pause the director's own canary automation here;
    it must return quickly (it runs on the control loop)."""
