"""`[plugins.kubernetes.route]`: which resources hold the per-tenant weights, and where in them.

A *kind* names a preset (the resource's API and the paths, see paths.py); every path can be
overridden, and ``kind = "custom"`` takes them all from the options, so any resource whose rules
carry a tenant match and weighted destinations can serve as the router:

- ``httproute`` (default): HTTPRoute, gateway.networking.k8s.io/v1; rules ``spec.rules[]``; tenant
  ``matches[].headers[name={header}][type!=RegularExpression].value``; destinations ``backendRefs[]``
  named by ``name``, weighted by ``weight``;
- ``aigatewayroute``: Envoy AI Gateway's AIGatewayRoute, aigateway.envoyproxy.io/v1alpha1; as HTTPRoute;
- ``virtualservice``: Istio's VirtualService, networking.istio.io/v1; rules ``spec.http[]``; tenant
  ``match[].headers.{header}.exact``; destinations ``route[]`` named by ``destination.host``, weighted
  by ``weight`` (their weights add up to 100).

``{header}`` stands for ``tenant_header``. Never imports the kubernetes client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cockpit.errors import ConfigError
from cockpit_backends.kubernetes.paths import Path, PathError, parse

W = "plugins.kubernetes.route"
_PATHS = ("rules", "tenant", "backends", "backend_name", "weight")
_ROUTE = {"names", "selector", "namespace", "tenant_header", "old_backend", "new_backend", "weight_total"}
_ROUTE |= {"kind", "api", "plural", *_PATHS}


@dataclass(frozen=True, slots=True)
class Kind:
    """A preset: what the router reads and writes, and the words its messages use."""

    name: str  # as a sentence names it: "HTTPRoute"
    api: str  # group/version
    plural: str
    rules: str
    tenant: str
    backends: str
    backend_name: str
    weight: str
    weight_total: int  # the default sum of a tenant's two weights
    max_weight: int  # the largest weight the resource accepts
    ref: str  # what one destination is called: "backendRef"
    max_rules: int | None  # rules per object the API accepts (docs; not enforced here)


_GATEWAY_TENANT = "matches[].headers[name={header}][type!=RegularExpression].value"
KINDS: Mapping[str, Kind] = {
    "httproute": Kind(
        "HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes", "spec.rules[]", _GATEWAY_TENANT,
        "backendRefs[]", "name", "weight", 1_000_000, 1_000_000, "backendRef", 16,
    ),
    # Envoy AI Gateway: its controller generates HTTPRoutes from these and reverts edits made to them
    "aigatewayroute": Kind(
        "AIGatewayRoute", "aigateway.envoyproxy.io/v1alpha1", "aigatewayroutes", "spec.rules[]", _GATEWAY_TENANT,
        "backendRefs[]", "name", "weight", 1_000_000, 1_000_000, "backendRef", 15,
    ),
    # Istio: the weights of a rule's destinations must add up to 100
    "virtualservice": Kind(
        "VirtualService", "networking.istio.io/v1", "virtualservices", "spec.http[]", "match[].headers.{header}.exact",
        "route[]", "destination.host", "weight", 100, 100, "route destination", None,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RouteRef:
    names: tuple[str, ...]
    namespace: str
    tenant_header: str
    old_backend: str
    new_backend: str
    weight_total: int
    selector: str  # a label selector: all matching objects read with one list call ("" for names)
    kind: Kind
    rules: Path
    tenant: Path
    backends: Path
    backend_name: Path
    weight: Path

    @property
    def group(self) -> str:
        return self.kind.api.rsplit("/", 1)[0]

    @property
    def version(self) -> str:
        return self.kind.api.rsplit("/", 1)[1]


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty name")
    return value.strip()


def _kind(r: Mapping[str, Any]) -> Kind:
    name = r.get("kind", "httproute")
    if name == "custom":
        missing = [k for k in ("api", "plural", *_PATHS) if k not in r]
        if missing:
            raise ConfigError(f"{W}: kind = 'custom' needs {', '.join(missing)} (the preset kinds set them)")
        base = Kind("custom resource", "", "", "", "", "", "", "", 1_000_000, 1_000_000, "destination", None)
    elif name in KINDS:
        base = KINDS[name]
    else:
        raise ConfigError(f"{W}.kind: expected one of {', '.join([*KINDS, 'custom'])}, got {name!r}")
    api = _name(f"{W}.api", r.get("api", base.api))
    if api.count("/") != 1 or not all(api.split("/")):
        raise ConfigError(f"{W}.api: expected group/version, e.g. 'gateway.networking.k8s.io/v1', got {api!r}")
    over: dict[str, Any] = {k: _name(f"{W}.{k}", r[k]) for k in ("plural", *_PATHS) if k in r}
    return replace(base, api=api, **over)


def _path(key: str, text: str, header: str, *, plain: bool = False) -> Path:
    try:
        path = parse(text.replace("{header}", header))
    except PathError as exc:
        raise ConfigError(f"{W}.{key}: {exc}") from None
    if plain and not path.plain:
        raise ConfigError(f"{W}.{key}: must name one field (dots only, no '[]'), got {text!r}")
    return path


def _whole(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where}: expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def parse_route(raw: Any, namespace: str, unknown: Any) -> RouteRef:
    """The route table, validated; `unknown(where, table, known)` is options.py's unknown-key check."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{W}: expected a table, got {type(raw).__name__}")
    unknown(W, raw, _ROUTE)
    kind = _kind(raw)
    names = raw.get("names", [])
    names = [names] if isinstance(names, str) else names
    selector = raw.get("selector")
    if not isinstance(names, list) or not (names or selector):
        raise ConfigError(f"{W}.names: list the {kind.name} names that hold the per-tenant rules (or set selector)")
    if names and selector is not None:
        raise ConfigError(f"{W}: set names or selector, not both (a selector reads every labelled {kind.name})")
    old, new = _name(f"{W}.old_backend", raw.get("old_backend")), _name(f"{W}.new_backend", raw.get("new_backend"))
    if old == new:
        raise ConfigError(f"{W}: old_backend and new_backend must name different {kind.ref}s")
    header = _name(f"{W}.tenant_header", raw.get("tenant_header", "x-tenant")).lower()
    return RouteRef(
        names=tuple(_name(f"{W}.names", n) for n in names),
        namespace=_name(f"{W}.namespace", raw.get("namespace", namespace)),
        tenant_header=header,
        old_backend=old,
        new_backend=new,
        weight_total=_whole(f"{W}.weight_total", raw.get("weight_total", kind.weight_total), 1, kind.max_weight),
        selector="" if selector is None else _name(f"{W}.selector", selector),
        kind=kind,
        rules=_path("rules", kind.rules, header),
        tenant=_path("tenant", kind.tenant, header),
        backends=_path("backends", kind.backends, header),
        backend_name=_path("backend_name", kind.backend_name, header, plain=True),
        weight=_path("weight", kind.weight, header, plain=True),
    )
