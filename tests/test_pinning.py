"""`cockpit lint` and `cockpit pin` against a local HTTP server that speaks the Anthropic models API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

KEY = "sk-test-not-a-real-key-123456"


class ModelsAPI(BaseHTTPRequestHandler):
    aliases: ClassVar[dict[str, str]] = {}

    def do_GET(self):
        if self.headers.get("x-api-key") != KEY or not self.headers.get("anthropic-version"):
            return self._send(401, {"type": "error", "error": {"type": "authentication_error"}})
        name = self.path.removeprefix("/v1/models/")
        target = self.aliases.get(name, name if name[-8:].isdigit() else None)
        if target is None:
            return self._send(404, {"type": "error", "error": {"type": "not_found_error"}})
        self._send(200, {"type": "model", "id": target, "display_name": target, "created_at": "2025-05-14T00:00:00Z"})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def models_api():
    ModelsAPI.aliases = {
        "claude-opus-latest": "claude-opus-4-1-20250805",
        "claude-haiku-latest": "claude-3-5-haiku-20241022",
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), ModelsAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ModelsAPI
    server.shutdown()
    server.server_close()


def write_config(tmp_path, base_url, models_new="claude-opus-4-1-20250805", pins=None):
    pins = pins if pins is not None else {"summarizer": "claude-opus-latest", "classifier": "claude-3-5-haiku-20241022"}
    lines = [
        "[models]",
        'old = "claude-opus-4-20250514"',
        f'new = "{models_new}"',
        "",
        "[backends]",
        'provider = "anthropic"',
        "",
        "[plugins.anthropic]",
        f'base_url = "{base_url}"',
        'api_key_env = "TEST_ANTHROPIC_KEY"',
        "",
        "[plugins.mock]",
        'scenario = "classic"',
        "",
        "[pins]",
        *[f'{k} = "{v}"' for k, v in pins.items()],
    ]
    path = tmp_path / "cockpit.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cockpit(config, *args):
    env = dict(os.environ, TEST_ANTHROPIC_KEY=KEY)
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_lint_reports_each_alias_with_file_line_and_current_resolution(tmp_path, models_api):
    base, _ = models_api
    cfg = write_config(tmp_path, base, models_new="claude-opus-latest")
    r = cockpit(cfg, "lint")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert (
        f"{cfg}:3: models.new = 'claude-opus-latest' is an alias, not a pinned revision (the models API "
        "resolves it to another model id); it resolves to claude-opus-4-1-20250805 now" in lines
    )
    assert (
        f"{cfg}:16: pins.summarizer = 'claude-opus-latest' is an alias, not a pinned revision (the models API "
        "resolves it to another model id); it resolves to claude-opus-4-1-20250805 now" in lines
    )
    assert not any("classifier" in line for line in lines)  # a pinned revision is fine
    assert KEY not in r.stdout + r.stderr


def test_lint_clean_config_exits_0_and_unreadable_exits_2(tmp_path, models_api):
    base, _ = models_api
    cfg = write_config(tmp_path, base, pins={"classifier": "claude-3-5-haiku-20241022"})
    r = cockpit(cfg, "lint")
    assert r.returncode == 0 and "all pinned" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[models\n")
    r = cockpit(bad, "lint")
    assert r.returncode == 2 and "not valid TOML" in r.stderr and "Traceback" not in r.stderr


def test_lint_says_when_the_provider_is_unreachable(tmp_path):
    cfg = write_config(tmp_path, "http://127.0.0.1:9", models_new="claude-opus-latest")
    r = cockpit(cfg, "lint")
    assert r.returncode == 1
    # the documented offline rule still flags the alias, and the output says the provider was offline
    assert f"{cfg}:3: models.new = 'claude-opus-latest' is an alias, not a pinned revision" in r.stdout
    assert "(offline: GET http://127.0.0.1:9/v1/models/claude-opus-latest could not connect" in r.stdout
    assert "provider anthropic offline (" in r.stdout and KEY not in r.stdout


def test_pin_records_upgrades_and_rolls_back_in_one_pasteable_line(tmp_path, models_api):
    base, api = models_api
    cfg = write_config(tmp_path, base)
    assert cockpit(cfg, "pin").returncode == 0
    lock = tomllib.loads((tmp_path / "cockpit.lock").read_text())["pins"]
    assert lock["summarizer"]["revision"] == "claude-opus-4-1-20250805"
    assert lock["summarizer"]["alias"] == "claude-opus-latest"
    assert "previous" not in lock["summarizer"]
    # the provider rotates the alias: pinning again records an upgrade with the previous revision
    api.aliases["claude-opus-latest"] = "claude-opus-4-5-20251101"
    r = cockpit(cfg, "pin")
    assert "upgrade recorded (previous: claude-opus-4-1-20250805)" in r.stdout
    lock = tomllib.loads((tmp_path / "cockpit.lock").read_text())["pins"]
    assert lock["summarizer"]["revision"] == "claude-opus-4-5-20251101"
    assert lock["summarizer"]["previous"] == "claude-opus-4-1-20250805"
    assert lock["summarizer"]["resolved_at"] >= lock["summarizer"]["previous_resolved_at"]
    # the on-call rolls back: one line to paste, well under fifteen seconds
    t0 = time.monotonic()
    r = cockpit(cfg, "pin", "--rollback", "summarizer")
    elapsed = time.monotonic() - t0
    assert r.returncode == 0
    assert r.stdout.splitlines()[-1] == 'summarizer = "claude-opus-4-1-20250805"'
    assert elapsed < 15
    lock = tomllib.loads((tmp_path / "cockpit.lock").read_text())["pins"]
    assert lock["summarizer"]["revision"] == "claude-opus-4-1-20250805"
    assert lock["summarizer"]["previous"] == "claude-opus-4-5-20251101"


def test_pin_rollback_without_history_is_one_sentence(tmp_path, models_api):
    base, _ = models_api
    cfg = write_config(tmp_path, base)
    cockpit(cfg, "pin")
    r = cockpit(cfg, "pin", "--rollback", "classifier")
    assert r.returncode == 2 and "no previous revision" in r.stderr
    r = cockpit(cfg, "pin", "--rollback", "nope")
    assert r.returncode == 2 and "'nope' is not in the lock file" in r.stderr
