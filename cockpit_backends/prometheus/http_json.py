"""The ``http-json`` health backend: scores that live outside a metrics store (an eval harness's export),
read from JSON over HTTP, like Argo Rollouts' ``web`` metric provider.

Options (``[plugins.http-json]``):

``url``             the document's URL. With ``${tenant}`` in it, one GET per tenant (tenants from the
                    ``tenants`` option, else the fleet the engine knows); without, one GET per tick.
``field``           a dotted path to the tenant's score, with ``${tenant}`` where the tenant's key is:
                    ``tenants.${tenant}.score``; list items by index (``results.0.score``).
``baseline_field``  optional: a dotted path to the tenant's baseline score (e.g. the old revision's);
                    without it the threshold is absolute.
``direction``       "lower_is_worse" (default: scores) or "higher_is_worse".
``threshold``       the degradation (baseline given) or the bound (no baseline) beyond which a tenant breaches.
``scale``, ``severity_floor``, ``consecutive``  as for the prometheus backend (severity = floor +
                    (1 − floor) × min(1, degradation / scale), after `consecutive` breaches in a row).
``timeout_s``, ``token_env``, ``tenants``.

A missing field, null, a non-number or a failed request makes that tenant unknown with the reason.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping
from string import Template
from typing import Any

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, SignalReading
from cockpit.httpx_warm import LoopClient, json_client
from cockpit_backends.httpx_ready import httpx_ready

OPTIONS = (
    "url",
    "field",
    "baseline_field",
    "direction",
    "threshold",
    "scale",
    "severity_floor",
    "consecutive",
    "timeout_s",
    "token_env",
    "tenants",
)
MAX_CONCURRENT = 16


def _num(where: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ConfigError(f"{where}: expected a number from {lo:g} to {hi:g}, got {v!r}")
    return float(v)


class _Missing(Exception):
    pass


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, Mapping) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _Missing(p)
    return cur


def _where(root: str, options: Mapping[str, Any]) -> tuple[str, list[str], list[str]]:
    """The url, the field path and the baseline field path."""
    url = options.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{root}.url: expected an http:// or https:// URL (may hold ${{tenant}}), got {url!r}")
    field = options.get("field")
    if not isinstance(field, str) or not field:
        raise ConfigError(f"{root}.field: required; a dotted path such as 'tenants.${{tenant}}.score'")
    parts = field.split(".")
    if "${tenant}" not in url and "${tenant}" not in parts:
        raise ConfigError(f"{root}.field: put ${{tenant}} in the path (or in url) so each tenant has its own score")
    bf = options.get("baseline_field", "")
    if not isinstance(bf, str):
        raise ConfigError(f"{root}.baseline_field: expected a dotted path, got {bf!r}")
    return url, parts, bf.split(".") if bf else []


def _judgement(root: str, options: Mapping[str, Any]) -> tuple[str, float, float, float, int]:
    """direction, threshold, scale, severity_floor and consecutive."""
    direction = options.get("direction", "lower_is_worse")
    if direction not in ("higher_is_worse", "lower_is_worse"):
        raise ConfigError(f"{root}.direction: expected 'higher_is_worse' or 'lower_is_worse', got {direction!r}")
    if "threshold" not in options:
        raise ConfigError(f"{root}.threshold: required; the degradation (or bound) beyond which a tenant breaches")
    threshold = _num(f"{root}.threshold", options["threshold"], -1e12, 1e12)
    scale = _num(f"{root}.scale", options.get("scale", 1.0), 1e-12, 1e12)
    floor = _num(f"{root}.severity_floor", options.get("severity_floor", 0.5), 1e-12, 1.0)
    c = options.get("consecutive", 1)
    if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 1000:
        raise ConfigError(f"{root}.consecutive: expected a whole number from 1 to 1000, got {c!r}")
    return direction, threshold, scale, floor, c


def _token(root: str, token_env: Any) -> str:
    if not token_env:
        return ""
    token = os.environ.get(str(token_env), "").strip()
    if not token:
        raise ConfigError(f"{root}.token_env: environment variable {token_env} is not set; export it")
    return token


class HttpJsonHealth:
    """``HealthSignals`` over a JSON document. Options: see the module docstring and docs/backends/prometheus.md."""

    def __init__(self, options: Mapping[str, Any], context: BackendContext, backend: str = "http-json") -> None:
        root = f"plugins.{backend}"
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"{root}: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
        self.url, self.field, self.baseline_field = _where(root, options)
        self.per_tenant = "${tenant}" in self.url
        self.direction, self.threshold, self.scale, self.floor, self.consecutive = _judgement(root, options)
        self.timeout_s = _num(f"{root}.timeout_s", options.get("timeout_s", 2.0), 0.05, 60)
        tenants = options.get("tenants", list(context.tenants))
        if not isinstance(tenants, list) or not all(isinstance(t, str) and t for t in tenants):
            raise ConfigError(f"{root}.tenants: expected a list of tenant names, got {tenants!r}")
        if self.per_tenant and not tenants:
            raise ConfigError(f"{root}.tenants: url holds ${{tenant}}, so list the tenants to ask about")
        self.tenants = tuple(tenants)
        self._token = _token(root, options.get("token_env", ""))
        self._breaches: dict[str, int] = {}
        self._clients = LoopClient(self._new_client)
        httpx_ready()  # its first request imports nothing inside the event loop

    def __repr__(self) -> str:
        return f"HttpJsonHealth({self.url!r})"

    def _new_client(self) -> Any:
        return json_client(self.timeout_s, bearer=self._token or None)

    def _http(self) -> Any:
        return self._clients.get()

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def _get(self, url: str) -> Any:
        import httpx

        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._http().get(url)
        except (TimeoutError, httpx.TimeoutException):
            raise _Failed(f"GET {url} did not answer within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise _Failed(f"GET {url} could not connect ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise _Failed(f"GET {url} answered {resp.status_code}")
        try:
            return resp.json()
        except ValueError:
            raise _Failed(f"GET {url} did not answer JSON") from None

    def _score(self, doc: Any, tenant: str, path: list[str]) -> tuple[float | None, str]:
        parts = [Template(p).safe_substitute(tenant=tenant) for p in path]
        try:
            v = _walk(doc, parts)
        except _Missing as exc:
            return None, f"field {'.'.join(parts)} missing (no {exc.args[0]!r})"
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None, f"field {'.'.join(parts)} is {type(v).__name__ if v is not None else 'null'}, not a number"
        if not math.isfinite(v):
            return None, f"field {'.'.join(parts)} is {v}"
        return float(v), ""

    async def regressions(self) -> SignalReading:
        docs: dict[str, Any] = {}
        failed: dict[str, str] = {}
        if self.per_tenant:
            sem = asyncio.Semaphore(MAX_CONCURRENT)

            async def one(t: str) -> None:
                async with sem:
                    try:
                        docs[t] = await self._get(Template(self.url).safe_substitute(tenant=t))
                    except _Failed as exc:
                        failed[t] = f"query failed: {exc}"

            await asyncio.gather(*(one(t) for t in self.tenants))
            tenants = list(self.tenants)
        else:
            try:
                doc = await self._get(self.url)
            except _Failed as exc:
                return SignalReading({}, {}, f"query failed: {exc}")
            tenants = list(dict.fromkeys([*self.tenants, *self._discover(doc)]))
            docs = dict.fromkeys(tenants, doc)
        values: dict[str, float] = {}
        unknown: dict[str, str] = dict(failed)
        for t in tenants:
            if t in failed:
                continue
            score, why = self._score(docs[t], t, self.field)
            if score is None:
                unknown[t] = why
                continue
            if self.baseline_field:
                base, why = self._score(docs[t], t, self.baseline_field)
                if base is None:
                    unknown[t] = f"no baseline: {why}"
                    continue
                d = (score - base) if self.direction == "higher_is_worse" else (base - score)
                breach = d > self.threshold
            else:
                d = (score - self.threshold) if self.direction == "higher_is_worse" else (self.threshold - score)
                breach = d > 0
            n = self._breaches[t] = self._breaches.get(t, 0) + 1 if breach else 0
            sev = 0.0
            if breach and n >= self.consecutive:
                sev = self.floor + (1.0 - self.floor) * min(1.0, d / self.scale)
            values[t] = sev
        return SignalReading(values, unknown, "no entry for this tenant in the document")

    def _discover(self, doc: Any) -> list[str]:
        """Tenants named by the document: the keys of the object where ${tenant} sits in `field`."""
        if "${tenant}" not in self.field:
            return []
        prefix = self.field[: self.field.index("${tenant}")]
        try:
            obj = _walk(doc, prefix)
        except _Missing:
            return []
        return [str(k) for k in obj] if isinstance(obj, Mapping) else []


class _Failed(Exception):
    pass
