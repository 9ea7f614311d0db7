"""Secrets never reach a screen, a journal or a log (issue 10, defect 8): a key folded over two lines by a
provider's error body, base64- and URL-encoded copies, URL passwords in a Redis journal reference, webhook
tokens in their URL path."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cockpit.config import load_config
from cockpit.engine.server import screen_config
from cockpit.redact import redact_text, redact_url, scrub
from cockpit_backends.http._common import Secret, error_detail
from cockpit_backends.http._common import scrub as http_scrub

KEY = "sk-live-0123456789abcdefghijklmnopqrstuv"


def test_a_key_folded_over_two_lines_is_scrubbed_before_whitespace_is_normalised():
    body = {"error": {"message": f"invalid key {KEY[:20]}\n    {KEY[20:]} for this project"}}
    resp = httpx.Response(401, json=body)
    detail = error_detail(resp, Secret(KEY))
    assert KEY[:20] not in detail and KEY[20:] not in detail
    assert "***" in detail and detail.startswith("invalid key")


@pytest.mark.parametrize(
    "form",
    [
        KEY,
        base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("="),
        quote(KEY, safe=""),
        quote(KEY + "/+=", safe=""),
    ],
)
def test_every_encoded_form_is_scrubbed(form):
    secret = KEY + "/+=" if "%2F" in form else KEY
    out = http_scrub(f"echo: {form} end", Secret(secret))
    assert form not in out and out == "echo: *** end"


def test_short_values_are_not_treated_as_secrets():
    assert scrub("a b c", "a") == "a b c"


def test_url_credentials_are_redacted_everywhere():
    assert redact_url("redis://:hunter2@db:6379/0?stream=s") == "redis://***@db:6379/0?stream=s"
    assert redact_text("cannot reach redis://u:p@h:1/0 now") == "cannot reach redis://***@h:1/0 now"
    assert redact_url("https://hooks.example/T0K3N/abc?sig=1", keep_path=False) == "https://hooks.example/…"


def test_the_welcome_a_screen_gets_carries_no_configuration_secret(tmp_path):
    (tmp_path / "tokens").write_text("alice@laptop alice-token-0123456789\n")
    (tmp_path / "cockpit.toml").write_text(
        """
[models]
old = "m-2024-01-01"
new = "m-2024-06-01"
[cockpit]
journal = "redis://:hunter2@127.0.0.1:6379/0?stream=s"
[server]
tokens_file = "tokens"
[plugins.mock]
scenario = "classic"
state_file = "world-secret-path.json"
"""
    )
    cfg = load_config(tmp_path / "cockpit.toml")
    text = repr(screen_config(cfg))
    for secret in ("hunter2", "tokens", "world-secret-path", "alice-token"):
        assert secret not in text, secret
    assert "redis://***@127.0.0.1:6379/0?stream=s" in text


def test_cannot_reach_redis_names_the_url_without_its_password(tmp_path):
    from tests.ops.conftest import free_port

    (tmp_path / "cockpit.toml").write_text(
        f"""
[models]
old = "m-2024-01-01"
new = "m-2024-06-01"
[cockpit]
journal = "redis://:hunter2@127.0.0.1:{free_port()}/0?stream=s"
"""
    )
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(tmp_path / "cockpit.toml"), "timeline", "--since", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(tmp_path),
    )
    assert out.returncode == 2 and "cannot reach Redis" in out.stderr, out.stderr
    assert "hunter2" not in out.stderr and "redis://***@127.0.0.1" in out.stderr


def test_a_webhook_failure_names_the_host_not_the_token(monkeypatch):
    import cockpit_backends.webhook as webhook
    from cockpit.hookspecs import BackendContext

    context = BackendContext(clock=None, config_dir=".")
    options = {"urls": ["http://127.0.0.1:9/hooks/T0K3N-SECRET"], "timeout_s": 0.5}
    webhook.cockpit_configure(plugins={"webhook": options}, context=context)
    with pytest.raises(RuntimeError) as err:
        webhook.cockpit_incident_declared(incident={"id": "INC-1"}, context=context)
    assert "T0K3N" not in str(err.value) and "http://127.0.0.1:9/…" in str(err.value)
