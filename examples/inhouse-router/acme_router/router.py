"""The router role for ACME's traffic director.

The director's API is not the cockpit's, which is the usual case. It speaks *percent* per tenant, one
tenant per request:

    GET  /api/tenants                  -> {"tenants": [{"name": "acme", "canary_percent": 100, "qps": 12.5}]}
    PUT  /api/tenants/{name}/canary    {"percent": 25}  (header X-Request-Id)  -> {"name": ..., "canary_percent": 25}

The adapter's three jobs: translate (share 0..1 <-> percent 0..100), fan a batch out to per-tenant
requests with bounded concurrency, and never claim a tenant it did not set — every tenant whose PUT
failed is in ``ApplyResult.failed`` with the reason, and the rest are confirmed by reading back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from acme_router import AcmeOptions
from cockpit.errors import BackendError
from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit.options import parse_options


class AcmeRouter:
    def __init__(self, options: AcmeOptions | Mapping[str, Any]) -> None:
        # The host hands over validated AcmeOptions; a test may pass the raw table.
        opts = options if isinstance(options, AcmeOptions) else parse_options(options, AcmeOptions, "acme-router")
        self.base_url, self.timeout_s, self.concurrency = opts.base_url.rstrip("/"), opts.timeout_s, opts.concurrency

    def _client(self) -> httpx.AsyncClient:
        # One client per call keeps the object free of event-loop state; a busy router would keep one.
        return httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s)

    async def read_traffic(self) -> TrafficReading:
        async with self._client() as client:
            try:
                resp = await client.get("/api/tenants")
            except httpx.HTTPError as exc:
                raise BackendError("acme-router", "router", f"GET /api/tenants failed ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise BackendError("acme-router", "router", f"GET /api/tenants answered {resp.status_code}")
        rows = resp.json().get("tenants", [])
        shares = {r["name"]: r["canary_percent"] / 100.0 for r in rows}
        rps = {r["name"]: float(r["qps"]) for r in rows if r.get("qps") is not None}
        return TrafficReading(shares=shares, rps=rps)

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        failed: dict[str, str] = {}
        gate = asyncio.Semaphore(self.concurrency)

        async def put(client: httpx.AsyncClient, tenant: str, share: float) -> None:
            async with gate:
                try:
                    resp = await client.put(
                        f"/api/tenants/{tenant}/canary",
                        json={"percent": round(share * 100, 4)},
                        headers={"x-request-id": f"{request_id}:{tenant}"},  # the director dedupes on it
                    )
                except httpx.HTTPError as exc:
                    failed[tenant] = f"PUT failed ({type(exc).__name__})"
                    return
                if resp.status_code != 200:
                    failed[tenant] = f"director answered {resp.status_code}"

        async with self._client() as client:
            await asyncio.gather(*(put(client, t, s) for t, s in shares.items()))
        # Confirm by read-back: only what the director now serves counts as applied.
        back = await self.read_traffic()
        applied: dict[str, float] = {}
        for tenant, share in ((t, s) for t, s in shares.items() if t not in failed):
            if (seen := back.shares.get(tenant)) is not None and abs(seen - share) <= 1e-6:
                applied[tenant] = share
            else:
                failed[tenant] = f"not confirmed by read-back (reads {seen!r})"
        return ApplyResult(applied=applied, failed=failed)
