"""Amazon Bedrock as a provider: model ids, inference profiles and ARNs classified through the control
plane (``bedrock.<region>.amazonaws.com``) with the official SDK (boto3, the ``bedrock`` extra).

``GetFoundationModel`` (``GET /foundation-models/{id}``) answers ``modelDetails.modelId``: the id itself
makes a snapshot (Bedrock foundation model ids name one model version), another id an alias of it.
``GetInferenceProfile`` (``GET /inference-profiles/{id}``) answers the ``models`` a profile routes to: a
profile is a snapshot when every model ARN in it names the same foundation model and that model is one.
When the control plane cannot answer, the documented offline rule (``pin_rules.bedrock_rule``) decides,
and the answer says it was offline.

Credentials: the AWS default chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_PROFILE``, ~/.aws, instance roles), or ``credentials_file`` + ``profile`` (an AWS credentials file read
here). The secret key and session token are scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import configparser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.domain.pins import PinClass, alias, snapshot, unknown
from cockpit.errors import BackendError, ConfigError
from cockpit.hookspecs import BackendContext
from cockpit_backends.http._common import Options, Secret, scrub
from cockpit_backends.http.pin_rules import bedrock_rule, bedrock_target

OPTIONS = ("region", "endpoint_url", "profile", "credentials_file", "timeout_s", "retries")
_NOT_FOUND = {"ResourceNotFoundException", "ValidationException"}


class _NotFound(Exception):
    pass


class _Unanswered(Exception):
    pass


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(
            "plugins.bedrock: the bedrock backend needs the AWS SDK: pip install 'cockpit[bedrock]' (boto3)"
        ) from None
    return boto3


class BedrockProvider:
    backend = "bedrock"

    def __init__(self, options: Mapping[str, Any], context: BackendContext) -> None:
        o = Options(self.backend, options, OPTIONS)
        self.region = o.string("region", "us-east-1")
        self.endpoint_url = o.url("endpoint_url", f"https://bedrock.{self.region}.amazonaws.com")
        self.timeout_s = o.number("timeout_s", 5.0, minimum=0.05, maximum=120)
        self.retries = o.integer("retries", 2, minimum=0, maximum=10)
        boto3 = _boto3()
        session = boto3.Session(region_name=self.region, **self._file_credentials(o, context.config_dir))
        creds = session.get_credentials()
        if creds is None:
            raise ConfigError(
                "plugins.bedrock: no AWS credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, set "
                "AWS_PROFILE, or set plugins.bedrock.credentials_file"
            )
        frozen = creds.get_frozen_credentials()
        self._secrets = (Secret(frozen.secret_key or ""), Secret(frozen.token or ""))
        from botocore.config import Config  # type: ignore[import-untyped]

        config = Config(
            connect_timeout=self.timeout_s,
            read_timeout=self.timeout_s,
            retries={"max_attempts": self.retries + 1, "mode": "standard"},
        )
        self._client = session.client("bedrock", endpoint_url=self.endpoint_url, config=config)
        self.resolved: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"BedrockProvider({self.endpoint_url!r})"

    @staticmethod
    def _file_credentials(o: Options, config_dir: str) -> dict[str, str]:
        path = o.raw.get("credentials_file")
        profile = o.raw.get("profile")
        if path is None:
            return {"profile_name": o.string("profile", "default")} if profile is not None else {}
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{o.where('credentials_file')}: expected a file path")
        p = Path(path) if Path(path).is_absolute() else Path(config_dir) / path
        ini = configparser.ConfigParser()
        try:
            ini.read_string(p.read_text(encoding="utf-8"))
        except (OSError, configparser.Error) as exc:
            raise ConfigError(f"{o.where('credentials_file')}: cannot read {str(p)!r} ({type(exc).__name__})") from None
        section = profile if isinstance(profile, str) and profile else "default"
        if not ini.has_option(section, "aws_access_key_id") or not ini.has_option(section, "aws_secret_access_key"):
            raise ConfigError(
                f"{o.where('credentials_file')}: [{section}] in {str(p)!r} needs aws_access_key_id and "
                "aws_secret_access_key"
            )
        out = {
            "aws_access_key_id": ini.get(section, "aws_access_key_id"),
            "aws_secret_access_key": ini.get(section, "aws_secret_access_key"),
        }
        if ini.has_option(section, "aws_session_token"):
            out["aws_session_token"] = ini.get(section, "aws_session_token")
        return out

    def _fail(self, message: str) -> BackendError:
        return BackendError(self.backend, "provider", scrub(message, *self._secrets))

    async def _call(self, operation: str, **params: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        what = f"{operation} at {self.endpoint_url}"
        try:
            return await asyncio.to_thread(getattr(self._client, operation), **params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", ""))[:200]
            text = scrub(f"{what} answered {code or 'an error'}: {message}".rstrip(": "), *self._secrets)
            raise (_NotFound if code in _NOT_FOUND else _Unanswered)(text) from None
        except BotoCoreError as exc:
            raise _Unanswered(scrub(f"{what} failed: {exc}", *self._secrets)) from None

    async def classify(self, ref: str) -> PinClass:
        kind, ident = bedrock_target(ref)
        try:
            if kind in ("inference-profile", "application-inference-profile"):
                return await self._profile(ref)
            if kind == "foundation-model":
                return await self._model(ref, ident)
        except _NotFound as exc:
            return unknown(ref, str(exc))
        except _Unanswered as exc:
            return bedrock_rule(ref).when_offline(str(exc))
        return bedrock_rule(ref)

    async def _model(self, ref: str, ident: str) -> PinClass:
        answer = await self._call("get_foundation_model", modelIdentifier=ref)
        details = answer.get("modelDetails") or {}
        model_id = details.get("modelId")
        if not isinstance(model_id, str) or not model_id:
            raise _Unanswered("GetFoundationModel answered without modelDetails.modelId")
        if model_id != ident:
            return alias(ref, "GetFoundationModel answers another model id", model_id)
        rule = bedrock_rule(ident)
        if rule.kind == "alias":
            return alias(ref, f"GetFoundationModel answers it as itself today, but {rule.reason}")
        status = (details.get("modelLifecycle") or {}).get("status", "")
        return snapshot(ref, f"GetFoundationModel answers it as its own model id ({status or 'no lifecycle status'})")

    async def _profile(self, ref: str) -> PinClass:
        answer = await self._call("get_inference_profile", inferenceProfileIdentifier=ref)
        arns = [m.get("modelArn", "") for m in answer.get("models") or [] if isinstance(m, dict)]
        models = sorted({a.rsplit("/", 1)[-1] for a in arns if a})
        if len(models) != 1:
            return unknown(ref, f"the profile routes to {len(models)} different models ({', '.join(models) or 'none'})")
        inner = await self._model(models[0], models[0])
        if inner.kind == "alias":
            return alias(ref, f"the profile routes to {models[0]}, which {inner.reason}", inner.resolves_to)
        if inner.kind == "unknown":
            return unknown(ref, f"the profile routes to {models[0]}: {inner.reason}")
        where = f"{len(arns)} region(s)" if len(arns) > 1 else "one region"
        return snapshot(ref, f"{answer.get('type', 'a')} profile routing to {models[0]} only, in {where}")

    async def resolve(self, ref: str) -> str:
        """The pinned id `ref` points to right now: itself for a snapshot, the target of an alias."""
        c = await self.classify(ref)
        if c.offline:
            raise self._fail(f"{ref!r} not resolved: {c.offline}")
        if c.pinned:
            return ref
        if c.kind == "alias" and c.resolves_to:
            self.resolved[ref] = c.resolves_to
            return c.resolves_to
        raise self._fail(f"{ref!r} not resolved: {c.reason}")

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)
