"""The bedrock provider: the official SDK (boto3, SigV4-signed) against a loopback server speaking the
Bedrock control plane's documented REST shapes (GetFoundationModel, GetInferenceProfile). Model ids,
system inference profiles (us./global.), ARNs and application profiles; the secret key never shows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from cockpit_backends.bedrock.provider import BedrockProvider

from ..http.conftest import run_cli, write_config
from ..provider_apis import AWS_SECRET, BedrockAPI, bedrock_state, classify, serve

OPUS4 = "anthropic.claude-opus-4-20250514-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PINNED = [
    OPUS4,
    f"us.{OPUS4}",
    f"global.{SONNET45}",
    f"arn:aws:bedrock:us-east-1::foundation-model/{OPUS4}",
    f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{OPUS4}",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/app0opus4",
]
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDPINSTEST", "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "AWS_SESSION_TOKEN": ""}


@pytest.fixture
def control_plane():
    with serve(BedrockAPI, **bedrock_state()) as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch):
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v) if v else monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def provider(url: str, tmp_path: Path, **opts):
    return BedrockProvider({"endpoint_url": url, "retries": 0, **opts}, BackendContext(None, str(tmp_path)))


def test_model_ids_profiles_and_arns_are_snapshots(control_plane, aws_env, tmp_path):
    for ref in PINNED:
        c = classify(provider(control_plane.url, tmp_path), ref)
        assert (c.kind, c.offline) == ("snapshot", ""), c
    _, path, headers = control_plane.seen[-1]
    assert path == "/foundation-models/" + OPUS4.replace(":", "%3A")  # the profile's one model, asked in turn
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDPINSTEST/")
    paths = [p for _, p, _ in control_plane.seen]
    assert any(p.startswith("/inference-profiles/") for p in paths)


def test_a_model_id_answering_another_is_an_alias_and_unknowns_stay_unknown(control_plane, aws_env, tmp_path):
    c = classify(provider(control_plane.url, tmp_path), "anthropic.claude-v2")
    assert (c.kind, c.resolves_to) == ("alias", "anthropic.claude-v2:1")
    assert asyncio.run(provider(control_plane.url, tmp_path).resolve("anthropic.claude-v2")) == "anthropic.claude-v2:1"
    c = classify(
        provider(control_plane.url, tmp_path),
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/app1mixed",
    )
    assert c.kind == "unknown" and "2 different models" in c.reason
    c = classify(provider(control_plane.url, tmp_path), "anthropic.claude-opus-9-9-v1:0")
    assert c.kind == "unknown" and "ResourceNotFoundException" in c.reason and not c.offline


def test_offline_the_documented_rule_decides_and_says_so(aws_env, tmp_path):
    p = provider("http://127.0.0.1:9", tmp_path, timeout_s=1)
    c = classify(p, f"us.{OPUS4}")
    assert c.kind == "snapshot" and c.offline and "127.0.0.1:9" in c.offline
    c = classify(
        provider("http://127.0.0.1:9", tmp_path), "arn:aws:bedrock:us-east-1:1:application-inference-profile/x"
    )
    assert c.kind == "unknown" and c.offline  # only the API can say what an application profile routes to


def test_credentials_from_a_file_and_the_secret_never_shows(control_plane, monkeypatch, tmp_path, caplog):
    for k in AWS_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (tmp_path / "aws.ini").write_text(
        f"[ops]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = {AWS_SECRET}\n"
    )
    p = provider(control_plane.url, tmp_path, credentials_file="aws.ini", profile="ops")
    assert classify(p, OPUS4).kind == "snapshot"
    assert control_plane.seen[-1][2]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFROMFILE/")
    assert AWS_SECRET not in repr(p) and AWS_SECRET not in repr(vars(p))
    with pytest.raises(ConfigError, match=r"plugins\.bedrock: no AWS credentials"):
        provider(control_plane.url, tmp_path)
    with pytest.raises(ConfigError, match=r"\[default\] in .* needs aws_access_key_id"):
        provider(control_plane.url, tmp_path, credentials_file="aws.ini")
    caplog.set_level(logging.DEBUG)
    classify(provider("http://127.0.0.1:9", tmp_path, credentials_file="aws.ini", profile="ops"), OPUS4)
    assert AWS_SECRET not in caplog.text


def bedrock_config(tmp_path: Path, url: str, pins: list[str]) -> Path:
    path = write_config(
        tmp_path / "cockpit.toml", {"provider": "bedrock"}, {"bedrock": {"endpoint_url": url, "retries": 0}}
    )
    text = path.read_text()
    text = text.replace('old = "claude-opus-4-20250514"', f'old = "{OPUS4}"')
    text = text.replace('new = "claude-opus-4-1-20250805"', f'new = "global.{SONNET45}"')
    text = text.replace('alias = "claude-opus-latest"', 'alias = "anthropic.claude-v2"')
    path.write_text(text + "\n[pins]\n" + "".join(f'p{i} = "{v}"\n' for i, v in enumerate(pins)))
    return path


def test_lint_and_plugins_check_through_the_cli(control_plane, tmp_path):
    cfg = bedrock_config(tmp_path, control_plane.url, [*PINNED, "anthropic.claude-v2"])
    env = {k: v for k, v in AWS_ENV.items() if v}
    r = run_cli("--config", str(cfg), "lint", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    flagged = [line for line in r.stdout.splitlines() if " = '" in line]
    assert len(flagged) == 1 and "pins.p6 = 'anthropic.claude-v2' is an alias" in flagged[0], r.stdout
    assert flagged[0].endswith("it resolves to anthropic.claude-v2:1 now") and flagged[0].startswith(f"{cfg}:")
    r = run_cli("--config", str(cfg), "plugins", "check", "bedrock", "--write", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"models.new global.{SONNET45}: snapshot" in r.stdout
    assert AWS_SECRET not in r.stdout + r.stderr
