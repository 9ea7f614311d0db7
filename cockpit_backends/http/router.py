"""The HTTP router: the cockpit's side of the REST contract in ``router-openapi.yaml``.

One batch request sets many tenants' shares; the router applies it idempotently per request id
(``Idempotency-Key``), so a retry after a timeout or a 5xx can never apply a batch twice or differently.
After every apply the client reads the vector back and reports as applied only the tenants whose
read-back matches: everything else is in ``ApplyResult.failed`` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cockpit.errors import BackendError
from cockpit.hookspecs import ApplyResult, BackendContext, TrafficReading
from cockpit.httpx_warm import LoopClient, json_client
from cockpit_backends.http._common import (
    Options,
    RequestFailed,
    Secret,
    error_detail,
    request_with_retries,
    scrub,
)
from cockpit_backends.httpx_ready import httpx_ready

ROUTER_OPTIONS = ("base_url", "timeout_s", "retries", "backoff_s", "token_env", "batch_size")
TOLERANCE = 1e-6


class HttpRouter:
    """``TrafficRouter`` over the REST contract. Options: see ``ROUTER_OPTIONS`` and docs/backends/http.md."""

    def __init__(self, options: Mapping[str, Any], context: BackendContext, backend: str = "http") -> None:
        o = Options(backend, options, ROUTER_OPTIONS)
        self.backend = backend
        self.base_url = o.url("base_url")
        self.timeout_s = o.number("timeout_s", 2.0, minimum=0.05, maximum=120)
        self.retries = o.integer("retries", 3, minimum=0, maximum=10)
        self.backoff_s = o.number("backoff_s", 0.05, minimum=0, maximum=10)
        self.batch_size = o.integer("batch_size", 10_000, minimum=1, maximum=1_000_000)
        self._token: Secret | None = o.secret("token_env", None, context.config_dir)
        self._clients = LoopClient(self._new_client)
        httpx_ready()  # its first request imports nothing inside the event loop

    def __repr__(self) -> str:
        return f"HttpRouter({self.base_url!r})"

    # Transport ---------------------------------------------------------------------------------
    def _new_client(self) -> Any:
        import httpx

        bearer = self._token.reveal() if self._token else None
        return json_client(
            self.timeout_s, bearer=bearer, base_url=self.base_url, limits=httpx.Limits(max_connections=16)
        )

    def _http(self) -> Any:
        return self._clients.get()

    def _fail(self, message: str) -> BackendError:
        return BackendError(self.backend, "router", scrub(message, self._token))

    async def aclose(self) -> None:
        await self._clients.aclose()

    # Read --------------------------------------------------------------------------------------
    async def read_traffic(self) -> TrafficReading:
        client = self._http()
        try:
            resp = await request_with_retries(
                lambda: client.get("/v1/shares"),
                retries=self.retries,
                backoff_s=self.backoff_s,
                what=f"GET {self.base_url}/v1/shares",
                secrets=(self._token,),
            )
        except RequestFailed as exc:
            raise self._fail(str(exc)) from None
        if resp.status_code != 200:
            raise self._fail(f"GET /v1/shares answered {resp.status_code}: {error_detail(resp, self._token)}")
        try:
            body = resp.json()
        except ValueError:
            raise self._fail("GET /v1/shares did not answer JSON") from None
        return _parse_vector(body, self._fail)

    # Write -------------------------------------------------------------------------------------
    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        failed: dict[str, str] = {}
        wanted: dict[str, float] = {}
        for tenant, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
                failed[tenant] = f"share {share!r} is outside [0, 1]; not sent"
            else:
                wanted[tenant] = float(share)
        said_applied: dict[str, float] = {}
        items = list(wanted.items())
        chunks = [dict(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        for n, chunk in enumerate(chunks):
            # A deterministic key per chunk: the same request id retried sends the same keys.
            key = request_id if len(chunks) == 1 else f"{request_id}.{n + 1}of{len(chunks)}"
            ok, bad = await self._post_batch(chunk, key)
            said_applied.update(ok)
            failed.update(bad)
        if not said_applied:
            return ApplyResult(applied={}, failed=failed)
        # Trust the read-back, not the write's answer.
        try:
            back = await self.read_traffic()
        except BackendError as exc:
            reason = f"not confirmed: read-back failed ({exc})"
            failed.update(dict.fromkeys(said_applied, reason))
            return ApplyResult(applied={}, failed=failed)
        applied: dict[str, float] = {}
        for tenant in said_applied:
            seen = back.shares.get(tenant)
            if seen is not None and abs(seen - wanted[tenant]) <= TOLERANCE:
                applied[tenant] = wanted[tenant]
            elif seen is None:
                failed[tenant] = "not confirmed by read-back: the router no longer lists this tenant"
            else:
                failed[tenant] = f"not confirmed by read-back: it reads {seen:g}, not {wanted[tenant]:g}"
        return ApplyResult(applied=applied, failed=failed)

    async def _post_batch(self, chunk: dict[str, float], key: str) -> tuple[dict[str, float], dict[str, str]]:
        client = self._http()
        payload = {"request_id": key, "shares": chunk}
        try:
            resp = await request_with_retries(
                lambda: client.post("/v1/shares", json=payload, headers={"idempotency-key": key}),
                retries=self.retries,
                backoff_s=self.backoff_s,
                what="POST /v1/shares",
                secrets=(self._token,),
            )
        except RequestFailed as exc:
            return {}, dict.fromkeys(chunk, str(exc))
        if resp.status_code != 200:
            why = f"POST /v1/shares answered {resp.status_code}: {error_detail(resp, self._token)}"
            return {}, dict.fromkeys(chunk, why)
        try:
            body = resp.json()
            applied_raw = body.get("applied", {})
            failed_raw = body.get("failed", {})
            assert isinstance(applied_raw, dict) and isinstance(failed_raw, dict)
        except (ValueError, AttributeError, AssertionError):
            return {}, dict.fromkeys(chunk, "POST /v1/shares answered 200 without an applied/failed result")
        ok: dict[str, float] = {}
        bad: dict[str, str] = {}
        for tenant in chunk:
            if tenant in failed_raw:
                bad[tenant] = scrub(f"router refused: {str(failed_raw[tenant])[:200]}", self._token)
            elif tenant in applied_raw:
                ok[tenant] = chunk[tenant]
            else:
                bad[tenant] = "the router's answer did not mention this tenant"
        return ok, bad


def _parse_vector(body: Any, fail: Any) -> TrafficReading:
    if not isinstance(body, dict) or not isinstance(body.get("shares"), dict):
        raise fail("GET /v1/shares answered without a 'shares' object")
    shares: dict[str, float] = {}
    for tenant, s in body["shares"].items():
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0.0 <= s <= 1.0 or math.isnan(s):
            raise fail(f"GET /v1/shares: tenant {tenant!r} has share {s!r}, outside [0, 1]")
        shares[tenant] = float(s)
    rps_raw = body.get("rps") or {}
    cohorts_raw = body.get("cohorts") or {}
    if not isinstance(rps_raw, dict) or not isinstance(cohorts_raw, dict):
        raise fail("GET /v1/shares: 'rps' and 'cohorts' must be objects keyed by tenant")
    rps: dict[str, float] = {}
    for tenant, r in rps_raw.items():
        if isinstance(r, bool) or not isinstance(r, int | float) or r < 0:
            raise fail(f"GET /v1/shares: tenant {tenant!r} has rps {r!r}, expected a number >= 0")
        rps[tenant] = float(r)
    return TrafficReading(shares=shares, rps=rps, cohorts={str(k): str(v) for k, v in cohorts_raw.items()})
