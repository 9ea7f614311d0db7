"""Providers: resolve a floating alias to the pinned revision it points to right now.

``anthropic``          ``GET {base_url}/v1/models/{alias}`` with ``x-api-key`` and ``anthropic-version``;
                       the answer's ``id`` is the pinned id (the models API resolves aliases itself).
``openai-compatible``  ``GET {base_url}/v1/models`` (vLLM, LiteLLM, any OpenAI-shaped proxy). The
                       listing has no alias field, so the rule is explicit and documented:

                       1. the entry whose ``id`` equals the alias must exist (else: not served);
                       2. if that ``id`` is itself pinned (dated, ``@rev-…``, ``@sha256:…``), it is the answer;
                       3. else if the entry's ``root`` is pinned, ``root`` is the answer (vLLM reports the
                          weights it loaded as ``root`` and the served name as ``id``);
                       4. else one request for one output token (``POST /v1/chat/completions``): the
                          answer's ``model`` is the answer when it is pinned; otherwise an error says so
                          rather than guessing (e.g. "the newest dated id" would be a guess).

``classify(ref)`` answers snapshot / alias / unknown from the same calls, and from the documented offline
rule (``pin_rules``) when the API cannot answer (``Unanswered``); a 404 (``NotFound``) is unknown.
The engine polls ``resolve`` and journals a change (``cockpit_alias_moved``); a provider only answers.
API keys come from ``api_key_env`` (a variable's name) or ``api_key_file``; they are sent as headers and
scrubbed from every error message, so they never reach the screen, the journal or a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from cockpit.domain.pins import PinClass, alias, snapshot, unknown
from cockpit.domain.revisions import is_pinned
from cockpit.errors import BackendError
from cockpit.hookspecs import BackendContext, PromptPrefix, WarmResult
from cockpit.httpx_warm import LoopClient, json_client, warm
from cockpit_backends.http._common import Options, RequestFailed, Secret, error_detail, request_with_retries, scrub
from cockpit_backends.http.pin_rules import anthropic_rule, openai_rule


class NotFound(BackendError):
    """The API answered 404: it knows no such model (a definite answer, not an outage)."""


class Unanswered(BackendError):
    """The API could not be asked or did not answer (connection, timeout, 5xx, a refused key)."""


PROVIDER_OPTIONS = ("base_url", "timeout_s", "retries", "backoff_s", "api_key_env", "api_key_file")


class _Provider:
    backend = ""
    default_base_url: str | None = None
    default_key_env = ""
    extra_options: tuple[str, ...] = ()

    def __init__(self, options: Mapping[str, Any], context: BackendContext) -> None:
        o = Options(self.backend, options, PROVIDER_OPTIONS + self.extra_options)
        self.base_url = o.url("base_url", self.default_base_url)
        self.timeout_s = o.number("timeout_s", 5.0, minimum=0.05, maximum=120)
        self.retries = o.integer("retries", 2, minimum=0, maximum=10)
        self.backoff_s = o.number("backoff_s", 0.2, minimum=0, maximum=10)
        self._key: Secret | None = o.secret(
            "api_key_env", "api_key_file", context.config_dir, default_env=self.default_key_env
        )
        self._options = o
        self.resolved: dict[str, str] = {}  # alias -> the last pinned revision seen
        self.moves: list[tuple[str, str, str]] = []  # (alias, previous, current), oldest first
        self._clients = LoopClient(self._new_client)
        # Off the event loop, here: importing httpx and the TLS set-up take a few tenths of a second, which
        # would otherwise block the loop on the first call.
        import httpx

        self._tls = httpx.create_ssl_context()
        httpx.AsyncClient(verify=self._tls)  # (its first construction imports the transport's modules)
        warm()  # what httpx imports lazily on a first request (~0.25 s on the event loop)

    def _new_client(self) -> Any:
        return json_client(self.timeout_s, headers=self._headers(), base_url=self.base_url, verify=self._tls)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _headers(self) -> dict[str, str]:
        return {"accept": "application/json"}

    def _http(self) -> Any:
        return self._clients.get()

    def _fail(self, message: str, kind: type[BackendError] = BackendError) -> BackendError:
        return kind(self.backend, "provider", scrub(message, self._key))

    @staticmethod
    def offline_rule(ref: str) -> PinClass:
        raise NotImplementedError

    async def classify(self, ref: str) -> PinClass:
        """Snapshot, alias or unknown, from the API; from the documented offline rule (saying why)
        when the API cannot answer. A 404 is an answer: unknown."""
        try:
            return await self._classify_online(ref)
        except NotFound as exc:
            return unknown(ref, str(exc).split(": ", 1)[-1])
        except Unanswered as exc:
            return self.offline_rule(ref).when_offline(str(exc).split(": ", 1)[-1])

    async def _classify_online(self, ref: str) -> PinClass:
        raise NotImplementedError

    async def _get(self, path: str) -> Any:
        return await self._request("GET", path)

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        """One call with retries; 401/403 and other errors become one scrubbed sentence; JSON back."""
        client = self._http()
        what = f"{method} {path}"
        try:
            resp = await request_with_retries(
                lambda: client.request(method, path, json=body),
                retries=self.retries,
                backoff_s=self.backoff_s,
                what=f"{method} {self.base_url}{path}",
                secrets=(self._key,),
            )
        except RequestFailed as exc:
            raise self._fail(str(exc), Unanswered) from None
        if resp.status_code in (401, 403):
            message = f"{what} answered {resp.status_code}: the API key was refused; {self._key_hint()}"
            raise self._fail(message, Unanswered)
        if resp.status_code == 404:
            raise self._fail(f"{what} answered 404: {error_detail(resp, self._key)}", NotFound)
        if resp.status_code != 200:
            raise self._fail(f"{what} answered {resp.status_code}: {error_detail(resp, self._key)}")
        try:
            return resp.json()
        except ValueError:
            raise self._fail(f"{what} did not answer JSON") from None

    def _note(self, alias: str, revision: str) -> str:
        """Remember the answer and record a move; the engine journals moves from its own polling."""
        previous = self.resolved.get(alias)
        if previous is not None and previous != revision:
            self.moves.append((alias, previous, revision))
        self.resolved[alias] = revision
        return revision

    def _key_hint(self) -> str:
        raw = self._options.raw
        if "api_key_file" in raw:
            return f"check the key in the file plugins.{self.backend}.api_key_file names"
        env = raw.get("api_key_env", self.default_key_env)
        return f"check ${env}" if env else f"set plugins.{self.backend}.api_key_env"


class AnthropicProvider(_Provider):
    backend = "anthropic"
    default_base_url = "https://api.anthropic.com"
    default_key_env = "ANTHROPIC_API_KEY"
    extra_options = ("anthropic_version", "input_price_per_mtok", "output_price_per_mtok")

    def __init__(self, options: Mapping[str, Any], context: BackendContext) -> None:
        super().__init__(options, context)
        self.anthropic_version = self._options.string("anthropic_version", "2023-06-01")
        # Prices for the warmer's cost figure (a cache write costs 1.25x input, a cache read 0.1x).
        self.input_price = self._options.number("input_price_per_mtok", 3.0, minimum=0, maximum=1000)
        self.output_price = self._options.number("output_price_per_mtok", 15.0, minimum=0, maximum=1000)

    def _headers(self) -> dict[str, str]:
        h = super()._headers()
        h["anthropic-version"] = self.anthropic_version
        if self._key:
            h["x-api-key"] = self._key.reveal()
        return h

    async def resolve(self, alias: str) -> str:
        body = await self._get(f"/v1/models/{quote(alias, safe='')}")
        rid = body.get("id") if isinstance(body, dict) else None
        if not isinstance(rid, str) or not rid:
            raise self._fail(f"GET /v1/models/{alias} answered without an 'id'")
        return self._note(alias, rid)

    offline_rule = staticmethod(anthropic_rule)

    async def _classify_online(self, ref: str) -> PinClass:
        """``GET /v1/models/{ref}``: an ``id`` other than `ref` makes it an alias of that id; its own id
        is a model id, which Anthropic documents as pinned, unless the rule documents it as moving."""
        body = await self._get(f"/v1/models/{quote(ref, safe='')}")
        rid = body.get("id") if isinstance(body, dict) else None
        if not isinstance(rid, str) or not rid:
            raise self._fail(f"GET /v1/models/{ref} answered without an 'id'", Unanswered)
        if rid != ref:
            return alias(ref, "the models API resolves it to another model id", self._note(ref, rid))
        rule = anthropic_rule(ref)
        if rule.kind == "alias":
            return alias(ref, f"the models API answers it as itself today, but {rule.reason}")
        return snapshot(ref, "the models API answers it as its own model id")

    async def warm(self, revision: str, prefix: PromptPrefix) -> WarmResult:
        """One request with exactly the live prefix (tools, system prompt, settings) and a cache
        breakpoint at its end, to `revision`, for one output token. The provider's `usage` says whether
        it was a cache read; that, not a 200, is what counts."""
        body: dict[str, Any] = dict(prefix.settings)
        body.update(
            {
                "model": revision,
                "max_tokens": 1,
                "system": [{"type": "text", "text": prefix.system, "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": "."}],
            }
        )
        if prefix.tools:
            body["tools"] = [dict(t) for t in prefix.tools]
        answer = await self._request("POST", "/v1/messages", body)
        try:
            usage = answer.get("usage") or {}
            read = int(usage.get("cache_read_input_tokens") or 0)
            write = int(usage.get("cache_creation_input_tokens") or 0)
            plain = int(usage.get("input_tokens") or 0)
            out = int(usage.get("output_tokens") or 0)
        except (ValueError, AttributeError, TypeError):
            raise self._fail("POST /v1/messages answered without a usable 'usage'") from None
        cost = (plain + 1.25 * write + 0.1 * read) * self.input_price / 1e6 + out * self.output_price / 1e6
        return WarmResult(cache_read_tokens=read, cache_write_tokens=write, input_tokens=plain, cost=cost)


class OpenAICompatibleProvider(_Provider):
    backend = "openai-compatible"
    default_key_env = ""  # vLLM without --api-key needs none

    def _headers(self) -> dict[str, str]:
        h = super()._headers()
        if self._key:
            h["authorization"] = f"Bearer {self._key.reveal()}"
        return h

    async def resolve(self, alias: str) -> str:
        body = await self._get("/v1/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._fail("GET /v1/models answered without a 'data' list")
        try:
            return self._note(alias, resolve_from_listing(alias, data, self._fail))
        except BackendError as exc:
            if "neither its id nor its root" not in str(exc):
                raise
            why = str(exc).split(": ", 1)[-1]
        try:  # the listing cannot say: ask the API which model answers
            answered = await self._probe(alias)
        except BackendError as exc:
            raise self._fail(f"{why}; the one-token probe failed: {str(exc).split(': ', 1)[-1]}") from None
        if answered == alias or not openai_rule(answered).pinned:
            raise self._fail(f"{why}; a one-token request is answered by {answered!r}, not a pinned id")
        return self._note(alias, answered)

    offline_rule = staticmethod(openai_rule)

    async def _probe(self, ref: str) -> str:
        """One request for one output token; the response's ``model`` is the model that answered. OpenAI's
        reasoning models refuse ``max_tokens`` (400) and take ``max_completion_tokens``: asked once more so."""
        body: dict[str, Any] = {"model": ref, "max_tokens": 1, "messages": [{"role": "user", "content": "."}]}
        try:
            answer = await self._request("POST", "/v1/chat/completions", body)
        except (NotFound, Unanswered):
            raise
        except BackendError as exc:
            if "answered 400" not in str(exc):
                raise
            del body["max_tokens"]
            body["max_completion_tokens"] = 1
            answer = await self._request("POST", "/v1/chat/completions", body)
        model = answer.get("model") if isinstance(answer, dict) else None
        if not isinstance(model, str) or not model:
            raise self._fail("POST /v1/chat/completions answered without a 'model'", Unanswered)
        return model

    async def _classify_online(self, ref: str) -> PinClass:
        """The listing first (served? a pinned ``root`` behind a served name?), then, unless the id is a
        documented snapshot, the one-token probe: a different ``model`` in the answer makes it an alias."""
        body = await self._get("/v1/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._fail("GET /v1/models answered without a 'data' list", Unanswered)
        entry = next((m for m in data if isinstance(m, dict) and m.get("id") == ref), None)
        if entry is None:
            return unknown(ref, "not in GET /v1/models: the server does not serve it")
        root = entry.get("root")
        if isinstance(root, str) and root != ref and openai_rule(root).pinned:
            return alias(ref, "a served name for the weights in its 'root'", self._note(ref, root))
        rule = openai_rule(ref)
        if rule.pinned:
            return snapshot(ref, f"served under its own id, and {rule.reason}")
        answered = await self._probe(ref)
        if answered != ref:
            return alias(ref, "a one-token request is answered by another model", self._note(ref, answered))
        if rule.kind == "alias":
            return alias(ref, f"it answers as itself today, but {rule.reason}")
        return unknown(ref, "it answers as itself, but nothing documents it as fixed; serve it as NAME@rev-… or dated")


def resolve_from_listing(alias: str, data: list[Any], fail: Any) -> str:
    """The documented rule (module docstring): exact id, pinned id, else pinned root, else an error."""
    entry = next((m for m in data if isinstance(m, dict) and m.get("id") == alias), None)
    if entry is None:
        ids = [m.get("id") for m in data if isinstance(m, dict)][:5]
        raise fail(f"alias {alias!r} is not in GET /v1/models (serves: {', '.join(map(str, ids)) or 'nothing'})")
    if is_pinned(alias):
        return alias
    root = entry.get("root")
    if isinstance(root, str) and is_pinned(root):
        return root
    raise fail(
        f"alias {alias!r} is served but neither its id nor its root ({root!r}) is a pinned revision; "
        "serve the model under a dated or '@rev-…' name (vLLM --served-model-name) or load pinned weights"
    )
