"""The haproxy backend: the router role on a real HAProxy, through its Runtime API (stats socket).

Each tenant's share on the new revision is an entry of a map that the shipped ``haproxy.cfg`` reads
for every request (tenant from the ``X-Tenant`` header, share in parts per billion, split by
``rand()``). Shares are read with ``show map`` and changed with ``set map``/``add map`` pipelined on
one connection, or, for large batches, as one new map version (``prepare map``/``add map``/
``commit map``) that every tenant switches to at once; either way the map is read back before a
tenant is reported applied. See docs/backends/haproxy.md.

Options (``[plugins.haproxy]`` in cockpit.toml):
    socket       the stats socket: a unix socket path (relative to the config file) or host:port
    map          the map as HAProxy knows it: its file path exactly as haproxy.cfg names it, or #<id>
    timeout_s    seconds a whole Runtime API session may take (default 5)
    rates_table  optional: a stick table tracking http_req_rate per tenant ("tenant_rates" in the
                 shipped config); without it the router reports no rates and the engine takes them
                 from the health backend
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"

OPTIONS = ("socket", "map", "timeout_s", "rates_table")


def config_path() -> Path:
    """The HAProxy configuration this backend expects, shipped with the package."""
    from importlib.resources import files  # here: every start loads this plugin, few ask for the file

    return Path(str(files(__name__) / "haproxy.cfg"))


def parse_options(options: Mapping[str, Any], config_dir: str) -> Any:
    """The router's options, checked (the router modules load only when the backend is configured)."""
    from cockpit_backends.haproxy.router import RouterOptions
    from cockpit_backends.haproxy.runtime import Address

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"plugins.haproxy: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    sock = options.get("socket")
    address = Address.parse(sock, Path(config_dir)) if isinstance(sock, str) else None
    if address is None:
        raise ConfigError(
            "plugins.haproxy.socket: give the stats socket as a unix socket path or host:port, "
            'e.g. socket = "/run/haproxy/admin.sock"'
        )
    map_id = options.get("map")
    if not isinstance(map_id, str) or not map_id or any(c.isspace() for c in map_id):
        raise ConfigError(
            "plugins.haproxy.map: give the tenant map's file path exactly as haproxy.cfg names it (or #<id>)"
        )
    timeout = options.get("timeout_s", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout):
        timeout = -1
    if not 0 < timeout <= 300:
        raise ConfigError("plugins.haproxy.timeout_s: give a number of seconds between 0 and 300, e.g. 5")
    table = options.get("rates_table", "")
    if not isinstance(table, str) or any(c.isspace() for c in table):
        raise ConfigError('plugins.haproxy.rates_table: give a stick table name, e.g. "tenant_rates", or leave it out')
    return RouterOptions(socket=address, map=map_id, timeout_s=float(timeout), rates_table=table)


def _factory(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    if role != "router":
        raise ConfigError(f"backends.{role}: the haproxy backend serves only the router role")
    from cockpit_backends.haproxy.router import HAProxyRouter

    return HAProxyRouter(parse_options(options, context.config_dir), context.tenants)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="haproxy",
            roles=frozenset({"router"}),
            factory=_factory,
            description="per-tenant old/new split in a HAProxy map, driven over the Runtime API",
            version=__version__,
        )
    ]
