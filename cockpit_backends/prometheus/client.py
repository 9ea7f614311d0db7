"""A small client for Prometheus's HTTP API: one instant query (``POST /api/v1/query``) returns a vector
as (labels, value) pairs. Every failure is a :class:`QueryFailed` with one sentence: unreachable, timed
out, rejected (with Prometheus's own parse error), or not a vector."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec

from cockpit.httpx_warm import LoopClient, json_client
from cockpit_backends.httpx_ready import httpx_ready
from cockpit_backends.prometheus.sums import Sums, summed

_EXPECTED = {"vector": "an instant vector grouped by label", "matrix": "a matrix"}


class QueryFailed(Exception):
    """A query that returned no vector; the message is one sentence."""


class _Sample(msgspec.Struct):
    metric: dict[str, str]
    value: tuple[float, str]


class _Data(msgspec.Struct):
    resultType: str
    result: msgspec.Raw


class _Answer(msgspec.Struct):
    status: str
    data: _Data | None = None
    errorType: str = ""
    error: str = ""


class _Series(msgspec.Struct):
    metric: dict[str, str]
    values: list[tuple[float, str]]


_answer = msgspec.json.Decoder(_Answer)
_vector = msgspec.json.Decoder(list[_Sample])
_matrix = msgspec.json.Decoder(list[_Series])


def parse_value(text: str) -> float:
    """Prometheus sends sample values as strings: "0.5", "NaN", "+Inf"."""
    try:
        return float(text)
    except ValueError:
        return math.nan


class PrometheusClient:
    def __init__(self, url: str, timeout_s: float, token: str = "", compress: bool = False) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._token = token
        # Prometheus gzips an answer when asked to (httpx asks by default): across a slow link that saves
        # time, next to it (a LAN, the same host) it costs more CPU on both sides than the bytes it saves
        self._encoding = "gzip" if compress else "identity"
        self._clients = LoopClient(self._new_client)
        # Imported and built here, at create time, not inside the first query: importing httpx's
        # transport and loading the CA bundle take long enough (0.1-0.8 s) to stall the event loop.
        self._ssl = httpx_ready().create_ssl_context()

    def __repr__(self) -> str:
        return f"PrometheusClient({self.url!r})"

    def _new_client(self) -> Any:
        import httpx

        return json_client(
            self.timeout_s,
            bearer=self._token or None,
            headers={"accept-encoding": self._encoding},
            base_url=self.url,
            limits=httpx.Limits(max_connections=16),
            verify=self._ssl,
        )

    def _http(self) -> Any:
        return self._clients.get()

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def _post(self, path: str, form: dict[str, str], result_type: str, what: str) -> Any:
        """POST one query to the HTTP API; the successful answer's data, or one QueryFailed sentence."""
        import httpx

        # The HTTP timeout bounds each phase; this bounds the whole call (a server that trickles bytes).
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._http().post(path, data=form)
        except (TimeoutError, httpx.TimeoutException):
            raise QueryFailed(f"Prometheus at {self.url} did not answer within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise QueryFailed(f"Prometheus at {self.url} is unreachable ({type(exc).__name__})") from None
        try:
            answer = _answer.decode(resp.content)
        except msgspec.DecodeError:
            raise QueryFailed(
                f"Prometheus at {self.url} answered {resp.status_code} with a body that is not its JSON API"
            ) from None
        if answer.status != "success" or answer.data is None:
            if answer.errorType == "bad_data":
                raise QueryFailed(f"Prometheus rejected the query: {answer.error}")
            raise QueryFailed(f"Prometheus answered {resp.status_code} ({answer.errorType}: {answer.error})")
        if answer.data.resultType != result_type:
            raise QueryFailed(f"the {what} returned a {answer.data.resultType}, not {_EXPECTED[result_type]}")
        return answer.data

    async def query(self, promql: str) -> list[tuple[dict[str, str], float, float]]:
        """The instant vector `promql` evaluates to now: (labels, value, sample time) per series."""
        data = await self._post("/api/v1/query", {"query": promql}, "vector", "query")
        samples = _vector.decode(data.result)
        try:  # float() reads every value Prometheus writes ("0.5", "NaN", "+Inf"); the slow path is a guard
            return [(s.metric, float(s.value[1]), s.value[0]) for s in samples]
        except ValueError:
            return [(s.metric, parse_value(s.value[1]), s.value[0]) for s in samples]

    async def query_sums(
        self, promql: str, tenant: str, revision: str, code: str, errors: str, only: str | None = None
    ) -> Sums:
        """The instant vector `promql` evaluates to, summed per revision and tenant as it is decoded
        (sums.summed): for the shared query, whose readers need only those sums. With `only`, the query
        selects that one revision and its answer carries no revision label."""
        data = await self._post("/api/v1/query", {"query": promql}, "vector", "query")
        return summed(data.result, tenant, revision, code, errors, only)

    async def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """The range vector `promql` evaluates to from `start` to `end` every `step` seconds: (labels,
        [(time, value)]) per series. Callers keep windows short (a few hundred steps) and fold each
        answer into aggregates, so memory stays bounded however long the whole window is."""
        form = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data = await self._post("/api/v1/query_range", form, "matrix", "range query")
        series = _matrix.decode(data.result)
        return [(s.metric, [(t, parse_value(v)) for t, v in s.values]) for s in series]
