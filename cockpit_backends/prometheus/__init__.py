"""Real health signals: Prometheus checks written in configuration, and scores served as JSON over HTTP.

Two backends from one ``cockpit_backends`` hook, both serving the ``health`` role:

``prometheus``  per-tenant checks (a PromQL vector query by tenant and revision label, a baseline, a
                minimum-sample query, a direction, thresholds per cohort, consecutive breaches, a
                documented mapping to severity), plus ``rates()`` for routers that cannot measure them
                and ``warmth()`` (cache hit rate per namespace) from metrics. Shipped templates cover
                LiteLLM, vLLM, Envoy AI Gateway and a plain HTTP RED set. docs/backends/prometheus.md.
``http-json``   a score per tenant read from a JSON document (an eval harness's export): a URL
                template, a field path per tenant, a direction and a threshold (like Argo's web provider).

This module is imported at every cockpit start-up, so it imports neither httpx nor its role modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

__version__ = "0.1.0"


def _prometheus(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.prometheus.health import PrometheusHealth

    return PrometheusHealth(options, context)


def _http_json(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.prometheus.http_json import HttpJsonHealth

    return HttpJsonHealth(options, context)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="prometheus",
            roles=frozenset({"health"}),
            factory=_prometheus,
            description="health checks, request rates and cache warmth from Prometheus queries in configuration",
            version=__version__,
        ),
        BackendSpec(
            name="http-json",
            roles=frozenset({"health"}),
            factory=_http_json,
            description="per-tenant scores from a JSON document over HTTP (eval harness exports)",
            version=__version__,
        ),
    ]
