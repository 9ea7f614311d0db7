"""The vertex provider over REST against a loopback server speaking Vertex AI's documented shapes
(GetPublisherModel, generateContent's modelVersion), with a static access token that never shows."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from cockpit.hookspecs import BackendContext
from cockpit_backends.vertex.provider import VertexProvider

from ..http.conftest import run_cli, write_config
from ..provider_apis import VERTEX_TOKEN, VertexAPI, classify, serve

PINNED = ["claude-sonnet-4@20250514", "gemini-2.0-flash-001", "claude-opus-4-6"]
ALIASES = {"gemini-2.0-flash": "gemini-2.0-flash-001"}


@pytest.fixture
def vertex_api():
    models = {
        "publishers/anthropic/models/claude-sonnet-4": {
            "versionId": "20250514",
            "versionState": "VERSION_STATE_STABLE",
        },
        "publishers/anthropic/models/claude-opus-4-6": {"versionId": "001", "versionState": "VERSION_STATE_STABLE"},
        "publishers/google/models/gemini-2.0-flash-001": {"versionId": "001", "versionState": "VERSION_STATE_STABLE"},
        "publishers/google/models/gemini-2.0-flash": {"versionId": "001", "versionState": "VERSION_STATE_STABLE"},
        "publishers/google/models/gemini-house": {"versionId": "001", "versionState": "VERSION_STATE_STABLE"},
    }
    answers = {"gemini-2.0-flash": "gemini-2.0-flash-001", "gemini-house": "gemini-house"}
    with serve(VertexAPI, models=models, answers=answers) as server:
        yield server


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("PINS_VERTEX_TOKEN", VERTEX_TOKEN)


def provider(url: str, tmp_path: Path, **opts):
    options = {"base_url": url, "api_key_env": "PINS_VERTEX_TOKEN", "project": "acme-prod", "retries": 0, **opts}
    return VertexProvider(options, BackendContext(None, str(tmp_path)))


def test_versioned_ids_are_snapshots_and_an_auto_updated_alias_resolves(vertex_api, token_env, tmp_path):
    for ref in PINNED:
        c = classify(provider(vertex_api.url, tmp_path), ref)
        assert (c.kind, c.offline) == ("snapshot", ""), c
    assert vertex_api.seen[0][1] == "/v1/publishers/anthropic/models/claude-sonnet-4"
    assert vertex_api.seen[0][2]["authorization"] == f"Bearer {VERTEX_TOKEN}"
    for ref, target in ALIASES.items():
        c = classify(provider(vertex_api.url, tmp_path), ref)
        assert (c.kind, c.resolves_to) == ("alias", target), c
    method, path, _ = vertex_api.seen[-1]
    assert method == "POST"
    assert (
        path == "/v1/projects/acme-prod/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
    )
    assert asyncio.run(provider(vertex_api.url, tmp_path).resolve("gemini-2.0-flash")) == "gemini-2.0-flash-001"


def test_unknowns_stay_unknown(vertex_api, token_env, tmp_path):
    c = classify(provider(vertex_api.url, tmp_path), "gemini-9-ultra-001")
    assert c.kind == "unknown" and "404" in c.reason
    c = classify(provider(vertex_api.url, tmp_path), "gemini-house")  # answers as itself, nothing documents it
    assert c.kind == "unknown" and "nothing documents it as fixed" in c.reason
    c = classify(provider(vertex_api.url, tmp_path, project=""), "gemini-2.0-flash")
    assert c.kind == "alias" and "set plugins.vertex.project" in c.reason  # the documented rule, without a probe


def test_offline_rule_and_the_token_never_shows(token_env, tmp_path, caplog, vertex_api, monkeypatch):
    caplog.set_level(logging.DEBUG)
    c = classify(provider("http://127.0.0.1:9", tmp_path), "gemini-2.0-flash-001")
    assert c.kind == "snapshot" and "could not connect" in c.offline
    c = classify(provider("http://127.0.0.1:9", tmp_path), "gemini-2.0-flash")
    assert c.kind == "alias" and c.offline
    # a refused token: the API did not answer, so the documented rule decides, and says why
    monkeypatch.setenv("PINS_WRONG_TOKEN", "ya29.expired-token-DO-NOT-LEAK")
    c = classify(provider(vertex_api.url, tmp_path, api_key_env="PINS_WRONG_TOKEN"), "gemini-2.0-flash")
    assert c.kind == "alias" and "answered 401: the API key was refused; check $PINS_WRONG_TOKEN" in c.offline
    assert vertex_api.seen[-1][2]["authorization"] == "Bearer ya29.expired-token-DO-NOT-LEAK"  # it was sent
    assert "DO-NOT-LEAK" not in c.offline + c.reason + caplog.text
    assert VERTEX_TOKEN not in repr(vars(provider(vertex_api.url, tmp_path)))


def test_lint_and_plugins_check_through_the_cli(vertex_api, tmp_path):
    path = write_config(
        tmp_path / "cockpit.toml",
        {"provider": "vertex"},
        {"vertex": {"base_url": vertex_api.url, "api_key_env": "PINS_VERTEX_TOKEN", "project": "acme-prod"}},
    )
    text = path.read_text().replace('old = "claude-opus-4-20250514"', 'old = "claude-sonnet-4@20250514"')
    text = text.replace('new = "claude-opus-4-1-20250805"', 'new = "gemini-2.0-flash-001"')
    text = text.replace('alias = "claude-opus-latest"', 'alias = "gemini-2.0-flash"')
    pins = [*PINNED, *ALIASES]
    path.write_text(text + "\n[pins]\n" + "".join(f'p{i} = "{v}"\n' for i, v in enumerate(pins)))
    env = {"PINS_VERTEX_TOKEN": VERTEX_TOKEN}
    r = run_cli("--config", str(path), "lint", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    flagged = [line for line in r.stdout.splitlines() if " = '" in line]
    assert len(flagged) == 1 and "pins.p3 = 'gemini-2.0-flash' is an alias" in flagged[0], r.stdout
    assert flagged[0].endswith("it resolves to gemini-2.0-flash-001 now")
    r = run_cli("--config", str(path), "plugins", "check", "vertex", "--write", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "models.alias gemini-2.0-flash: alias -> gemini-2.0-flash-001" in r.stdout
    assert VERTEX_TOKEN not in r.stdout + r.stderr


def test_application_default_credentials_from_a_service_account_key(vertex_api, tmp_path, monkeypatch):
    """No token configured: google-auth's Application Default Credentials, here a service account key
    whose token_uri is the loopback server's OAuth 2.0 token endpoint (the JWT grant is signature-checked)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    vertex_api.public_key = key.public_key()
    vertex_api.client_email = "cockpit@acme-prod.iam.gserviceaccount.com"
    vertex_api.tokens_issued = 0
    info = {
        "type": "service_account",
        "project_id": "acme-prod",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": vertex_api.client_email,
        "client_id": "1",
        "token_uri": f"{vertex_api.url}/token",
    }
    (tmp_path / "sa.json").write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    p = VertexProvider({"base_url": vertex_api.url, "project": "acme-prod", "retries": 0}, BackendContext(None, "."))
    c = classify(p, "gemini-2.0-flash")
    assert (c.kind, c.resolves_to, c.offline) == ("alias", "gemini-2.0-flash-001", ""), c
    assert vertex_api.tokens_issued == 1  # one token, cached for the probe that followed
    assert vertex_api.seen[-1][2]["authorization"] == f"Bearer {VERTEX_TOKEN}"
    assert VERTEX_TOKEN not in repr(vars(p)) and "PRIVATE KEY" not in repr(vars(p))
    # the token endpoint refuses the grant: no call is made, the documented rule decides and says why
    vertex_api.client_email = "someone-else@acme-prod.iam.gserviceaccount.com"
    p = VertexProvider({"base_url": vertex_api.url, "project": "acme-prod", "retries": 0}, BackendContext(None, "."))
    c = classify(p, "gemini-2.0-flash-001")
    assert c.kind == "snapshot" and "no access token from Application Default Credentials (RefreshError" in c.offline
