"""The connection to the API server: one ApiClient per configured backend, and one-sentence errors.

This module imports the official kubernetes client at its top: it is imported only by role code,
when a role is actually configured (never at cockpit start-up).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from cockpit.errors import ConfigError
from cockpit_backends.kubernetes.options import Options, P

MERGE_PATCH = "application/merge-patch+json"


class KubernetesError(Exception):
    """One sentence naming the call and the API server's answer; never the credentials."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_client(opts: Options) -> client.ApiClient:
    try:
        if opts.in_cluster:
            conf = client.Configuration()
            config.load_incluster_config(client_configuration=conf)
            return client.ApiClient(conf)
        return config.new_client_from_config(config_file=opts.kubeconfig, context=opts.context, persist_config=False)
    except ConfigException as exc:
        where = "in_cluster" if opts.in_cluster else "kubeconfig"
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"{P}.{where}: the Kubernetes client cannot load it ({first})") from None


def _server_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    msg = body.get("message", "") if isinstance(body, dict) else ""
    return str(msg)[:200]


def translate(what: str, exc: BaseException) -> KubernetesError:
    if isinstance(exc, ApiException):
        msg = _server_message(exc)
        text = f"{what}: {exc.status} {exc.reason or ''}".rstrip()
        return KubernetesError(text + (f" ({msg})" if msg else ""), exc.status)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        reason = getattr(exc, "reason", None)
        kind = type(reason).__name__ if reason is not None else type(exc).__name__
        return KubernetesError(f"{what}: cannot reach the Kubernetes API server ({kind})")
    return KubernetesError(f"{what}: {type(exc).__name__}")


def call_sync(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One client call, answered as the API server's JSON (a dict), not as the client's models:
    they validate strictly and cost time, and every field read here is read from the JSON anyway."""
    try:
        response = fn(*args, _preload_content=False, **kwargs)
        data = response.data
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate(what, exc) from None
    try:
        out = json.loads(data)
    except ValueError:
        raise KubernetesError(f"{what}: the API server answered with something that is not JSON") from None
    if not isinstance(out, dict):
        raise KubernetesError(f"{what}: the API server answered with a {type(out).__name__}, not an object")
    return out


async def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """`call_sync` in a thread: the official client is synchronous."""
    return await asyncio.to_thread(call_sync, what, fn, *args, **kwargs)
