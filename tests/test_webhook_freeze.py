"""Declaring an incident tells the deploy pipeline through the webhook plugin; a freeze that does not
arrive is journaled and shown, never silent."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError


class Pipeline(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.received.append((self.headers.get("authorization", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def pipeline(monkeypatch):
    Pipeline.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pipeline)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("FREEZE_TOKEN", "tok-123")
    yield f"http://127.0.0.1:{server.server_address[1]}/freeze"
    server.shutdown()
    server.server_close()


def run(tmp_path, options):
    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock, plugin_options={"webhook": options})
        e = s.engine
        try:
            await e.tick()
            await e.command("declare", reason="bad answers")
            clock.advance(60)
            await e.tick()
            await e.command("release", confirm=True)
            errors = [x.data for x in e.journal.entries(kinds=("plugin_error",))]
            return errors, e.snapshot.alerts
        finally:
            s.close()

    return asyncio.run(go())


def test_declare_and_release_reach_the_pipeline_with_the_freeze_manifest(tmp_path, pipeline):
    errors, alerts = run(tmp_path, {"urls": [pipeline], "token_env": "FREEZE_TOKEN"})
    assert errors == [] and alerts == []
    events = [b["event"] for _, b in Pipeline.received]
    assert events == ["incident_declared", "incident_released"]
    auth, declared = Pipeline.received[0]
    assert auth == "Bearer tok-123"
    assert declared["incident"]["id"] == "INC-1" and declared["incident"]["reason"] == "bad answers"
    freeze = declared["incident"]["freeze"]
    assert freeze["rollout"] is True and freeze["models"]["old"] == "claude-opus-4-20250514"
    assert len(freeze["cache_namespaces"]) == 2


def test_an_undelivered_freeze_is_journaled_and_shown(tmp_path):
    errors, alerts = run(tmp_path, {"urls": ["http://127.0.0.1:9/freeze"], "timeout_s": 1})
    assert [e["hook"] for e in errors] == ["cockpit_incident_declared", "cockpit_incident_released"]
    assert "incident_declared not delivered to 1 webhook(s)" in errors[0]["error"]
    assert alerts and "webhook" in alerts[-1]


def test_bad_options_refuse_to_start(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins\.webhook\.urls: expected a list of http"):
        run(tmp_path, {"urls": "not-a-list"})
