"""The router role on a LiteLLM proxy: a tenant is a team, its share is where its model alias points.

Each team's ``model_aliases`` (LiteLLM's team-based model aliases, set with ``POST /team/update``)
maps the alias the team calls (``claude-opus``) to one group of the proxy's share ladder
(``claude-opus@42``: 58 % old revision, 42 % new; see ladder.py). Reading is two calls whatever the
number of teams: ``GET /model/info`` (the ladder's weights) and ``GET /team/list`` (every team's
aliases). Writing points each team's alias at the group serving the asked share: ``POST /team/update``
with the team's whole ``model_aliases`` (the endpoint replaces the table, so the team's other aliases
are carried over), or ``POST /team/new`` for a tenant with no team yet. Then ``GET /team/list`` again:
only teams whose alias reads back as asked are reported applied.

LiteLLM keeps no version on a team: a change made by someone else between the read and the write of
the same team's *other* aliases is overwritten (the cockpit's own alias is always set absolutely).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any

from cockpit.errors import BackendError
from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit.httpx_warm import LoopClient, json_client
from cockpit_backends.http._common import RequestFailed, Secret, error_detail, request_with_retries, scrub
from cockpit_backends.litellm.ladder import pick_group, read_ladder

TOLERANCE = 1e-6
LADDER_TTL_S = 30.0  # how long a read of the ladder (GET /model/info) is used before reading it again


class LiteLLMRouter:
    """``TrafficRouter`` over LiteLLM's management API (master key in ``Authorization: Bearer``)."""

    def __init__(
        self,
        *,
        base_url: str,
        key: Secret,
        alias: str,
        old: str,
        new: str,
        tenant_field: str = "team_alias",
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        concurrency: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.alias, self.old, self.new = alias, old, new
        self.tenant_field = tenant_field
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.concurrency = concurrency
        self._clients = LoopClient(self._new_client)
        self._ladder_cache: tuple[float, dict[str, float]] | None = None
        import ssl

        from cockpit_backends.httpx_ready import httpx_ready

        # here, not on the event loop: the imports and the TLS context take a while
        self._httpx = httpx_ready()
        self._tls = ssl.create_default_context() if self.base_url.startswith("https://") else False

    def __repr__(self) -> str:
        return f"LiteLLMRouter({self.base_url!r}, alias={self.alias!r})"

    # Transport ---------------------------------------------------------------------------------
    def _new_client(self) -> Any:
        return json_client(
            self.timeout_s,
            bearer=self._key.reveal(),
            base_url=self.base_url,
            verify=self._tls,
            limits=self._httpx.Limits(max_connections=max(self.concurrency, 2)),
        )

    def _http(self) -> Any:
        return self._clients.get()

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _fail(self, message: str) -> BackendError:
        return BackendError("litellm", "router", scrub(message, self._key))

    async def _call(self, method: str, path: str, body: Any = None, *, retries: int | None = None) -> Any:
        """One management call; its JSON answer. Raises RequestFailed (one scrubbed sentence) otherwise."""
        client = self._http()
        what = f"{method} {path}"
        resp = await request_with_retries(
            lambda: client.request(method, path, json=body),
            retries=self.retries if retries is None else retries,
            backoff_s=self.backoff_s,
            what=what,
            secrets=(self._key,),
        )
        if resp.status_code != 200:
            raise RequestFailed(f"{what} answered {resp.status_code}: {error_detail(resp, self._key)}")
        try:
            return resp.json()
        except ValueError:
            raise RequestFailed(f"{what} did not answer JSON") from None

    # Reading -----------------------------------------------------------------------------------
    async def _ladder(self, *, fresh: bool = False) -> dict[str, float]:
        """The ladder, read again when older than LADDER_TTL_S (it is the proxy's config: it rarely
        changes, and /model/info is large) or when `fresh`."""
        now = time.monotonic()
        if not fresh and self._ladder_cache is not None and now - self._ladder_cache[0] < LADDER_TTL_S:
            return self._ladder_cache[1]
        try:
            ladder = read_ladder(await self._call("GET", "/model/info"), self.old, self.new)
        except (RequestFailed, ValueError) as exc:
            raise self._fail(str(exc)) from None
        if not ladder:
            raise self._fail(
                f"the proxy has no model group splitting {self.old!r} and {self.new!r} (GET /model/info): "
                "add the share ladder to its config (python -m cockpit_backends.litellm.ladder)"
            )
        self._ladder_cache = (now, ladder)
        return ladder

    async def _teams(self) -> dict[str, dict[str, Any]]:
        """Tenant -> team (as ``GET /team/list`` answers it), the first team of a name winning."""
        try:
            body = await self._call("GET", "/team/list")
        except RequestFailed as exc:
            raise self._fail(str(exc)) from None
        if not isinstance(body, list):
            raise self._fail("GET /team/list did not answer a list of teams")
        out: dict[str, dict[str, Any]] = {}
        for team in body:
            name = team.get(self.tenant_field) if isinstance(team, dict) else None
            if isinstance(name, str) and name and name not in out:
                out[name] = team
        return out

    def _aliases(self, team: Mapping[str, Any]) -> dict[str, Any]:
        table = team.get("litellm_model_table")
        aliases = table.get("model_aliases") if isinstance(table, Mapping) else None
        return dict(aliases) if isinstance(aliases, Mapping) else {}

    def _shares(self, teams: Mapping[str, Mapping[str, Any]], ladder: Mapping[str, float]) -> dict[str, float]:
        """A team whose alias points at no ladder group (or is unset, and the alias itself is no ladder
        group) has no share we can read: it is left out, never guessed."""
        shares: dict[str, float] = {}
        for tenant, team in teams.items():
            target = self._aliases(team).get(self.alias, self.alias)
            if isinstance(target, str) and target in ladder:
                shares[tenant] = ladder[target]
        return shares

    async def read_traffic(self) -> TrafficReading:
        ladder, teams = await asyncio.gather(self._ladder(), self._teams())
        # The management API counts no requests: the health backend provides the rates.
        return TrafficReading(shares=self._shares(teams, ladder), rps={})

    # Writing -----------------------------------------------------------------------------------
    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        failed: dict[str, str] = {}
        wanted: dict[str, float] = {}
        for tenant, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
                failed[tenant] = f"share {share!r} is outside [0, 1]; not sent"
            elif not math.isfinite(share):
                failed[tenant] = "share is not a finite number; not sent"
            else:
                wanted[tenant] = float(share)
        if not wanted:
            return ApplyResult(applied={}, failed=failed)
        ladder, teams = await asyncio.gather(self._ladder(fresh=True), self._teams())
        groups: dict[str, str] = {}
        for tenant, share in wanted.items():
            group = pick_group(ladder, share, self.alias)
            if group is None:
                steps = len(ladder)
                failed[tenant] = f"no model group on the proxy serves share {share:g} (the ladder has {steps} groups)"
            else:
                groups[tenant] = group
        writes = {t: g for t, g in groups.items() if t not in teams or self._aliases(teams[t]).get(self.alias) != g}
        errors = await self._write(writes, teams)
        failed.update(errors)
        return await self._confirm(groups, wanted, ladder, failed)

    async def _write(self, writes: Mapping[str, str], teams: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        """Point each team's alias at its group, `concurrency` at a time; the error per tenant that failed."""
        gate = asyncio.Semaphore(self.concurrency)
        errors: dict[str, str] = {}

        async def one(tenant: str, group: str) -> None:
            team = teams.get(tenant)
            async with gate:
                body: dict[str, Any]
                try:
                    if team is None:  # not retried: a timed-out create may have made the team
                        body = {self.tenant_field: tenant, "model_aliases": {self.alias: group}}
                        await self._call("POST", "/team/new", body, retries=0)
                    else:
                        aliases = {**self._aliases(team), self.alias: group}
                        body = {"team_id": team.get("team_id"), "model_aliases": aliases}
                        await self._call("POST", "/team/update", body)
                except RequestFailed as exc:
                    errors[tenant] = scrub(str(exc), self._key)

        await asyncio.gather(*(one(t, g) for t, g in writes.items()))
        return errors

    async def _confirm(
        self,
        groups: Mapping[str, str],
        wanted: Mapping[str, float],
        ladder: Mapping[str, float],
        failed: dict[str, str],
    ) -> ApplyResult:
        """Trust the read-back, not the writes' answers."""
        try:
            teams = await self._teams()
        except BackendError as exc:
            failed.update(dict.fromkeys((t for t in groups if t not in failed), f"not confirmed: {exc}"))
            return ApplyResult(applied={}, failed=failed)
        applied: dict[str, float] = {}
        for tenant, group in groups.items():
            if tenant in failed:
                continue
            team = teams.get(tenant)
            seen = self._aliases(team).get(self.alias) if team is not None else None
            if seen == group and abs(ladder[group] - wanted[tenant]) <= TOLERANCE:
                applied[tenant] = wanted[tenant]
            elif team is None:
                failed[tenant] = "not confirmed by read-back: GET /team/list has no such team"
            else:
                failed[tenant] = (
                    f"not confirmed by read-back: its {self.alias!r} alias points at {seen!r}, not {group!r}"
                )
        return ApplyResult(applied=applied, failed=failed)
