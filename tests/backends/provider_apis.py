"""Loopback HTTP servers speaking each provider's documented model API, for the provider backends' tests.

- Anthropic: ``GET /v1/models/{model_id}`` (``x-api-key``, ``anthropic-version``) answers ``{type, id,
  display_name, created_at}``; an alias answers the id it resolves to.
- OpenAI: ``GET /v1/models`` (``{object: list, data: [{id, object, owned_by, root?}]}``) and ``POST
  /v1/chat/completions`` whose answer's ``model`` is the model that answered.
- Bedrock control plane: ``GET /foundation-models/{id}`` (``{modelDetails: {modelId, modelArn, ...}}``)
  and ``GET /inference-profiles/{id}`` (``{inferenceProfileId, type, models: [{modelArn}], ...}``), SigV4
  ``Authorization`` required; errors as ``x-amzn-ErrorType`` + ``{message}``.
- Vertex AI: ``GET /v1/publishers/{p}/models/{m}`` (``{name, versionId, versionState, ...}``) and ``POST
  /v1/projects/{p}/locations/{r}/publishers/{p}/models/{m}:generateContent`` answering ``modelVersion``;
  ``Authorization: Bearer`` required.

Each server records what it was asked (path, headers) in ``seen``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

ANTHROPIC_KEY = "sk-ant-pins-DO-NOT-LEAK-0123456789"
OPENAI_KEY = "sk-openai-pins-DO-NOT-LEAK-98765"
AWS_SECRET = "aws-secret-DO-NOT-LEAK-abcdefghijklmnop"
VERTEX_TOKEN = "ya29.vertex-token-DO-NOT-LEAK-42"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> Any:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) or b"{}"
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return json.loads(raw)

    def do_GET(self) -> None:
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.get()

    def do_POST(self) -> None:
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.post(self.body())

    def get(self) -> None:
        self.send_json(404, {"error": {"message": "not found"}})

    def post(self, body: Any) -> None:
        self.send_json(404, {"error": {"message": "not found"}})


class AnthropicAPI(_Handler):
    def get(self) -> None:
        if self.headers.get("x-api-key") != ANTHROPIC_KEY or not self.headers.get("anthropic-version"):
            return self.send_json(401, {"type": "error", "error": {"type": "authentication_error"}})
        if not self.path.startswith("/v1/models/"):
            return super().get()
        ref = unquote(self.path.removeprefix("/v1/models/"))
        target = self.server.models.get(ref)
        if target is None:
            return self.send_json(
                404, {"type": "error", "error": {"type": "not_found_error", "message": f"model: {ref}"}}
            )
        self.send_json(
            200, {"type": "model", "id": target, "display_name": target, "created_at": "2026-02-04T00:00:00Z"}
        )


class OpenAIAPI(_Handler):
    def _authorized(self) -> bool:
        if self.headers.get("authorization") == f"Bearer {OPENAI_KEY}":
            return True
        self.send_json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        return False

    def get(self) -> None:
        if self.path != "/v1/models":
            return super().get()
        if self._authorized():
            self.send_json(200, {"object": "list", "data": self.server.listing})

    def post(self, body: Any) -> None:
        if self.path != "/v1/chat/completions":
            return super().post(body)
        if not self._authorized():
            return
        model = self.server.answers.get(body.get("model"))
        reasoning = body.get("model") in getattr(self.server, "reasoning", ())  # refuses max_tokens, as OpenAI's do
        if model is not None and reasoning and "max_tokens" in body:
            message = "Unsupported parameter: 'max_tokens' is not supported with this model."
            return self.send_json(400, {"error": {"message": message + " Use 'max_completion_tokens' instead."}})
        tokens = body.get("max_completion_tokens" if reasoning else "max_tokens")
        if model is None or tokens != 1:
            return self.send_json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist"}})
        self.send_json(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "."}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
            },
        )


class BedrockAPI(_Handler):
    def _error(self, status: int, code: str, message: str) -> None:
        self.send_json(status, {"message": message}, {"x-amzn-ErrorType": code})

    def get(self) -> None:
        auth = self.headers.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 Credential=") or "/bedrock/aws4_request" not in auth:
            return self._error(403, "AccessDeniedException", "missing or malformed SigV4 signature")
        if self.path.startswith("/foundation-models/"):
            ref = unquote(self.path.removeprefix("/foundation-models/"))
            model = self.server.models.get(ref.rsplit("/", 1)[-1])
            if model is None:
                return self._error(404, "ResourceNotFoundException", f"model {ref} not found")
            return self.send_json(200, {"modelDetails": model})
        if self.path.startswith("/inference-profiles/"):
            ref = unquote(self.path.removeprefix("/inference-profiles/"))
            profile = self.server.profiles.get(ref.rsplit("/", 1)[-1])
            if profile is None:
                return self._error(404, "ResourceNotFoundException", f"inference profile {ref} not found")
            return self.send_json(200, profile)
        super().get()


class VertexAPI(_Handler):
    def _authorized(self) -> bool:
        if self.headers.get("authorization") == f"Bearer {VERTEX_TOKEN}":
            return True
        self.send_json(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials."}})
        return False

    def get(self) -> None:
        if not self._authorized():
            return
        path = unquote(self.path)
        if not path.startswith("/v1/publishers/"):
            return super().get()
        name = path.removeprefix("/v1/")
        model = self.server.models.get(name)
        if model is None:
            return self.send_json(404, {"error": {"code": 404, "message": f"Publisher Model `{name}` not found."}})
        self.send_json(200, {"name": name, **model})

    def post(self, body: Any) -> None:
        if self.path == "/token":  # the OAuth 2.0 token endpoint a service account key names (token_uri)
            return self._token(body)
        if not self._authorized():
            return
        path = unquote(self.path)
        if not path.endswith(":generateContent") or "/publishers/" not in path:
            return super().post(body)
        model = path.rsplit("/", 1)[-1].removesuffix(":generateContent")
        version = self.server.answers.get(model)
        if version is None or body.get("generationConfig", {}).get("maxOutputTokens") != 1:
            return self.send_json(404, {"error": {"code": 404, "message": f"model {model} not found"}})
        self.send_json(
            200,
            {
                "candidates": [{"content": {"role": "model", "parts": [{"text": "."}]}, "finishReason": "MAX_TOKENS"}],
                "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
                "modelVersion": version,
            },
        )

    def _token(self, body: Any) -> None:
        """RFC 7523 JWT bearer grant: the assertion must be signed (RS256) by the service account's key, for
        this token_uri and the cloud-platform scope."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        assertion = body.get("assertion", "x.e30.x")
        head, payload, signature = [*assertion.split("."), "", ""][:3]
        try:
            self.server.public_key.verify(
                _b64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return self.send_json(400, {"error": "invalid_grant", "error_description": "bad signature"})
        claims = json.loads(_b64(payload))
        ok = (
            body.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            and claims.get("iss") == self.server.client_email
            and claims.get("aud") in (f"{self.server.url}/token", "https://oauth2.googleapis.com/token")
            and "https://www.googleapis.com/auth/cloud-platform" in claims.get("scope", "")
        )
        if not ok:
            return self.send_json(400, {"error": "invalid_grant", "error_description": "the claims do not match"})
        self.server.tokens_issued += 1
        self.send_json(200, {"access_token": VERTEX_TOKEN, "expires_in": 3600, "token_type": "Bearer"})


def classify(provider: Any, ref: str) -> Any:
    """`provider.classify(ref)` in a fresh event loop, the provider closed after."""

    async def go() -> Any:
        try:
            return await provider.classify(ref)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@contextmanager
def serve(handler: type[_Handler], **state: Any) -> Iterator[Any]:
    """A server on a free loopback port with `state` as attributes; yields it (``.url``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    for k, v in state.items():
        setattr(server, k, v)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def anthropic_models() -> dict[str, str]:
    """What the Anthropic models API answers for each id or alias (an id answers itself)."""
    ids = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-1-20250805", "claude-sonnet-4-20250514"]
    return {
        **{i: i for i in ids},
        "claude-opus-latest": "claude-opus-4-1-20250805",
        "claude-sonnet-4-0": "claude-sonnet-4-20250514",
        "claude-opus-4-1": "claude-opus-4-1-20250805",
    }


def bedrock_state(region: str = "us-east-1") -> dict[str, Any]:
    def model(mid: str) -> dict[str, Any]:
        return {
            "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{mid}",
            "modelId": mid,
            "modelName": mid,
            "providerName": mid.split(".")[0],
            "modelLifecycle": {"status": "ACTIVE"},
            "inferenceTypesSupported": ["ON_DEMAND", "INFERENCE_PROFILE"],
        }

    opus4, sonnet45 = "anthropic.claude-opus-4-20250514-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"
    models = {m: model(m) for m in (opus4, sonnet45, "anthropic.claude-v2:1")}
    models["anthropic.claude-v2"] = model("anthropic.claude-v2:1")  # a model id that answers another: an alias

    def profile(pid: str, kind: str, *arns: str) -> dict[str, Any]:
        return {
            "inferenceProfileName": pid,
            "inferenceProfileId": pid,
            "inferenceProfileArn": f"arn:aws:bedrock:{region}:123456789012:{kind}/{pid}",
            "models": [{"modelArn": a} for a in arns],
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED" if kind == "inference-profile" else "APPLICATION",
        }

    def arns(mid: str, *regions: str) -> list[str]:
        return [f"arn:aws:bedrock:{r}::foundation-model/{mid}" for r in regions]

    profiles = {
        f"us.{opus4}": profile(f"us.{opus4}", "inference-profile", *arns(opus4, "us-east-1", "us-east-2", "us-west-2")),
        f"global.{sonnet45}": profile(
            f"global.{sonnet45}", "inference-profile", *arns(sonnet45, "us-east-1", "eu-west-1")
        ),
        "app0opus4": profile("app0opus4", "application-inference-profile", *arns(opus4, "us-east-1")),
        "app1mixed": profile(
            "app1mixed", "application-inference-profile", *arns(opus4, "us-east-1"), *arns(sonnet45, "us-east-1")
        ),
    }
    return {"models": models, "profiles": profiles}
