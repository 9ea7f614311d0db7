"""The kubernetes backend: autoscaler (Deployment scale + a floor on the replicas' owner: HPA, KEDA
ScaledObject or KServe InferenceService), router (weights on Gateway API HTTPRoutes, Envoy AI Gateway
AIGatewayRoutes, Istio VirtualServices or any resource through path expressions) and freeze hooks
(suspend CronJobs, pause Argo Rollouts, suspend Flux, deny Argo CD syncs while an incident is open; see
freeze.py).

This module is imported at every cockpit start-up, so it must stay light: it never imports the
``kubernetes`` client, nor even its own option parser. Those (and the role modules) are imported by
the factory, only when a role is actually configured. The client is synchronous: every call runs in a thread.

Options (``[plugins.kubernetes]``; docs/backends/kubernetes.md has a full example):
    kubeconfig         path to a kubeconfig (relative to cockpit.toml); or in_cluster = true;
                       neither: the client's default ($KUBECONFIG, ~/.kube/config)
    context            kubeconfig context (default: its current-context)
    namespace          default namespace for everything below ("default")
    request_timeout_s  per API call (5)
    conflict_retries   re-reads after a 409 Conflict on an HTTPRoute write (5)
    [tiers.NAME]       deployment, one of hpa / scaled_object / inference_service (optional: the
                       owner of the replicas, floors.py), per_replica_rps (or the Deployment's
                       cockpit.dev/per-replica-rps annotation, which wins), namespace
    [route]            kind (httproute, aigatewayroute, virtualservice, custom), names or selector (a
                       label selector: one list call), tenant_header ("x-tenant"), old_backend,
                       new_backend (destination names in each tenant's rule), weight_total, namespace;
                       path overrides api, plural, rules, tenant, backends, backend_name, weight
                       (route_options.py, paths.py)
    [freeze]           cronjob_selector (the rollout CronJobs), [[targets]] (kind, selector: CronJob, Rollout,
                       Kustomization, HelmRelease, ImageUpdateAutomation or any kind by api_version,
                       plural, field), [argocd] (AppProjects given a deny sync window), timeout_s
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl

if TYPE_CHECKING:
    from cockpit_backends.kubernetes.options import Options

__version__ = "0.1.0"

NAME = "kubernetes"
ROLES = frozenset({"autoscaler", "router"})


class _Handle:
    """One engine's connection: its options, its ApiClient (built on first use) and its freezer.

    Kept in the engine's ``context.shared`` (under "kubernetes"): the factory puts it there, the freeze
    hooks find it through their ``context``, and the engine closes it (``aclose``) when it closes."""

    def __init__(self, raw: Mapping[str, Any], opts: Options) -> None:
        import concurrent.futures

        self.raw = dict(raw)
        self.opts = opts
        self._api: Any = None
        self._freezer: Any = None
        self._reasserting: Any = None  # the last re-assert's future
        # one worker: a release never overtakes the declare before it
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="k8s-freeze")

    def api(self) -> Any:
        if self._api is None:
            from cockpit_backends.kubernetes.api import new_client

            self._api = new_client(self.opts)
        return self._api

    def freezer(self) -> Any:
        if self._freezer is None:
            from cockpit_backends.kubernetes.freeze import Freezer

            assert self.opts.freeze is not None
            self._freezer = Freezer(self.api(), self.opts.freeze, self.opts.request_timeout_s)
        return self._freezer

    def run_freeze(self, action: str, incident: Mapping[str, Any]) -> list[str]:
        """Run on the worker thread and wait at most freeze.timeout_s: a hook runs on the control
        loop, so a hung API server must not stall it (the work still finishes, in order)."""
        assert self.opts.freeze is not None
        import concurrent.futures

        fn = getattr(self.freezer(), action)
        if action == "reassert" and self._reasserting is not None and not self._reasserting.done():
            # a hung API server: never queue round after round behind it
            raise TimeoutError(f"{self.freezer().describe(action)} still running from the previous round")
        future = self._worker.submit(fn, dict(incident))
        if action == "reassert":
            self._reasserting = future
        try:
            return future.result(timeout=self.opts.freeze.timeout_s)
        except concurrent.futures.TimeoutError:
            what = self.freezer().describe(action)
            limit = self.opts.freeze.timeout_s
            raise TimeoutError(f"{what} not finished after {limit:g} s; it goes on in the background") from None

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        if self._api is not None:
            self._api.close()
            self._api = None

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self.close)  # waits for a freeze still under way


def _handle(options: Mapping[str, Any], context: BackendContext) -> _Handle:
    h: _Handle | None = context.shared.get(NAME)
    if h is not None and h.raw == dict(options):
        return h
    if h is not None:
        h.close()
    from cockpit_backends.kubernetes.options import parse  # only when configured: start-up stays light

    h = context.shared[NAME] = _Handle(options, parse(options, context.config_dir))
    return h


def forget(context: BackendContext) -> None:
    """Drop (and close) the connection of the engine `context` belongs to, now rather than when it closes."""
    h = context.shared.pop(NAME, None)
    if h is not None:
        h.close()


def _factory(role: str, options: Mapping[str, Any], context: BackendContext) -> Any:
    from cockpit_backends.kubernetes.options import P

    h = _handle(options, context)
    opts = h.opts
    if role == "autoscaler":
        for tier in sorted(set(context.tiers.values()) or {"old", "new"}):
            if tier not in opts.tiers:
                raise ConfigError(f"{P}.tiers.{tier}: map the cockpit's tier {tier!r} to a Deployment (deployment = …)")
        from cockpit_backends.kubernetes.autoscaler import KubernetesAutoscaler

        return KubernetesAutoscaler(h.api(), opts)
    if role == "router":
        if opts.route is None:
            raise ConfigError(
                f"{P}.route: name the routes (or a selector) and the old/new backends to serve the router role"
            )
        from cockpit_backends.kubernetes.router import KubernetesRouter

        return KubernetesRouter(h.api(), opts)
    raise ConfigError(f"{P}: the kubernetes backend does not serve the {role!r} role")


@hookimpl
def cockpit_configure(plugins: Mapping[str, Mapping[str, Any]], context: BackendContext) -> None:
    """A kubernetes table with [freeze] freezes even when the backend serves no role: its connection is
    made here (options checked now, the client only on the first freeze)."""
    options = plugins.get(NAME)
    if options is not None and "freeze" in options:
        _handle(options, context)


@hookimpl
def cockpit_incident_declared(incident: Mapping[str, Any], context: BackendContext) -> None:
    """Suspend the rollout CronJobs, when this engine's kubernetes backend has [freeze]."""
    h = context.shared.get(NAME)
    if h is not None and h.opts.freeze is not None:
        h.run_freeze("freeze", incident)


@hookimpl
def cockpit_incident_released(incident: Mapping[str, Any], context: BackendContext) -> None:
    """Put back what the declare froze (and only that), each object to its prior value."""
    h = context.shared.get(NAME)
    if h is not None and h.opts.freeze is not None:
        h.run_freeze("thaw", incident)


@hookimpl
def cockpit_freeze_reassert(incident: Mapping[str, Any], context: BackendContext) -> list[str]:
    """While the incident is open: freeze again whatever reads back unfrozen; what was frozen again."""
    h = context.shared.get(NAME)
    if h is not None and h.opts.freeze is not None:
        return h.run_freeze("reassert", incident)
    return []


@hookimpl
def cockpit_freeze_check(name: str, context: BackendContext) -> list[tuple[str, bool, str]] | None:
    """`cockpit plugins check kubernetes`: list each freeze target and read each AppProject (read-only)."""
    h = context.shared.get(NAME)
    if name != NAME or h is None or h.opts.freeze is None:
        return None
    return list(h.freezer().check())


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="kubernetes",
            roles=ROLES,
            factory=_factory,
            description="Deployment scale + floor on HPA/KEDA/KServe (autoscaler), HTTPRoute/AIGatewayRoute/"
            "VirtualService weights (router), "
            "freeze on incident (CronJobs, Argo Rollouts, Flux, Argo CD sync windows)",
            version=__version__,
        )
    ]
