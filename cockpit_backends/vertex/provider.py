"""Google Cloud Vertex AI as a provider: publisher models (Gemini, Claude on Vertex) over REST.

``GET {base_url}/v1/publishers/{publisher}/models/{model}`` (``ModelGardenService.GetPublisherModel``) says
whether Vertex AI knows the model; 404 makes it unknown. A versioned id (``NAME@VERSION``, Gemini's
``-NNN``) the API knows is a snapshot. For a Google model without a version, one generateContent request
for one output token (``POST /v1/projects/{project}/locations/{region}/publishers/google/models/
{model}:generateContent``) reads ``modelVersion``, the version that answered: another version makes it an
alias of that. When the API cannot answer, the documented offline rule (``pin_rules.vertex_rule``).

Credentials: ``api_key_env``/``api_key_file`` name an OAuth access token (``gcloud auth
print-access-token``), else Application Default Credentials through google-auth (the ``vertex`` extra).
The token is sent as ``Authorization: Bearer`` and scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from cockpit.domain.pins import PinClass, alias, snapshot, unknown
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from cockpit_backends.http._common import Secret
from cockpit_backends.http.pin_rules import vertex_rule
from cockpit_backends.http.providers import Unanswered, _Provider

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def split_ref(ref: str) -> tuple[str, str]:
    """(publisher, model): ``publishers/P/models/M`` names both; else Claude is Anthropic's, the rest Google's."""
    parts = ref.split("/")
    if len(parts) == 4 and parts[0] == "publishers" and parts[2] == "models":
        return parts[1], parts[3]
    return ("anthropic" if ref.startswith("claude-") else "google"), ref


class VertexProvider(_Provider):
    backend = "vertex"
    extra_options = ("region", "project")

    def __init__(self, options: Mapping[str, Any], context: BackendContext) -> None:
        region = options.get("region", "us-central1")
        self.default_base_url = f"https://{region}-aiplatform.googleapis.com"
        super().__init__(options, context)
        self.region = self._options.string("region", "us-central1")
        self.project = self._options.raw.get("project", "")
        if not isinstance(self.project, str):
            raise ConfigError(f"{self._options.where('project')}: expected a Google Cloud project id")
        self._adc: Any = None
        if self._key is None:
            self._adc = _default_credentials()

    offline_rule = staticmethod(vertex_rule)

    def _headers(self) -> dict[str, str]:
        h = super()._headers()
        if self._key:
            h["authorization"] = f"Bearer {self._key.reveal()}"
        return h

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        if self._adc is not None:  # ADC tokens expire: refresh before each call (google-auth caches)
            import asyncio

            try:
                token = await asyncio.to_thread(_adc_token, self._adc)
            except Exception as exc:  # google.auth.exceptions.RefreshError, TransportError: no token, no call
                message = f"no access token from Application Default Credentials ({type(exc).__name__}: {exc})"
                raise self._fail(message[:300], Unanswered) from None
            self._key = Secret(token)
            self._http().headers["authorization"] = f"Bearer {token}"
        return await super()._request(method, path, body)

    def _key_hint(self) -> str:
        if self._adc is not None:
            return "check the Application Default Credentials (gcloud auth application-default login)"
        return super()._key_hint()

    async def _classify_online(self, ref: str) -> PinClass:
        publisher, model = split_ref(ref)
        base = model.split("@", 1)[0]
        body = await self._get(f"/v1/publishers/{publisher}/models/{quote(base, safe='')}")
        if not isinstance(body, dict) or not str(body.get("name", "")).endswith(f"/models/{base}"):
            raise self._fail(f"GET publishers/{publisher}/models/{base} answered without its 'name'", Unanswered)
        rule = vertex_rule(ref)
        if rule.pinned:
            return snapshot(ref, f"Vertex AI serves {base}, and {rule.reason}")
        if publisher != "google":
            return rule
        if not self.project:
            why = f"{rule.reason}; set plugins.vertex.project to ask which version answers"
            return PinClass(rule.kind, ref, "", why)
        answered = await self._probe(publisher, model)
        if answered != model:
            return alias(ref, "a one-token generateContent is answered by another version", self._note(ref, answered))
        if rule.kind == "alias":
            return alias(ref, f"it answers as itself today, but {rule.reason}")
        return unknown(ref, "it answers as itself, but nothing documents it as fixed; use a versioned id")

    async def _probe(self, publisher: str, model: str) -> str:
        path = (
            f"/v1/projects/{quote(self.project, safe='')}/locations/{self.region}/publishers/{publisher}"
            f"/models/{quote(model, safe='')}:generateContent"
        )
        body = {"contents": [{"role": "user", "parts": [{"text": "."}]}], "generationConfig": {"maxOutputTokens": 1}}
        answer = await self._request("POST", path, body)
        version = answer.get("modelVersion") if isinstance(answer, dict) else None
        if not isinstance(version, str) or not version:
            raise self._fail("generateContent answered without a 'modelVersion'", Unanswered)
        return version

    async def resolve(self, alias_ref: str) -> str:
        """The pinned id `alias_ref` points to right now: itself for a snapshot, the target of an alias."""
        c = await self.classify(alias_ref)
        if not c.offline and c.pinned:
            return self._note(alias_ref, alias_ref)
        if not c.offline and c.kind == "alias" and c.resolves_to:
            return c.resolves_to
        raise self._fail(f"{alias_ref!r} not resolved: {c.offline or c.reason}")


def _default_credentials() -> Any:
    try:
        import google.auth  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        raise ConfigError(
            "plugins.vertex: no api_key_env or api_key_file (an access token), and Application Default "
            "Credentials need google-auth: pip install 'cockpit[vertex]'"
        ) from None
    try:
        credentials, _ = google.auth.default(scopes=[SCOPE])
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError: one sentence, no traceback
        raise ConfigError(f"plugins.vertex: no Application Default Credentials ({type(exc).__name__})") from None
    return credentials


def _adc_token(credentials: Any) -> str:
    import google.auth.transport.requests  # type: ignore[import-not-found,import-untyped]

    if not credentials.valid:
        credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token)
