"""The warmer against a local server speaking the Anthropic Messages API: the exact prefix is sent to the
rollback target, and only the provider's reported cache reads count."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.plugins import PluginHost

KEY = "sk-warm-test-key-0000"


class Messages(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []
    cached: ClassVar[set[str]] = set()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        assert self.headers["x-api-key"] == KEY
        self.bodies.append(body)
        key = json.dumps([body["model"], body.get("tools"), body["system"], body.get("temperature")], sort_keys=True)
        tokens = 1500
        if key in self.cached:
            usage = {"input_tokens": 3, "cache_read_input_tokens": tokens, "cache_creation_input_tokens": 0}
        else:
            self.cached.add(key)
            usage = {"input_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": tokens}
        usage["output_tokens"] = 1
        data = json.dumps({"type": "message", "content": [{"type": "text", "text": "."}], "usage": usage}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def api(monkeypatch):
    Messages.bodies, Messages.cached = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Messages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WARM_TEST_KEY", KEY)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_warmer_replays_exact_prefixes_to_the_old_revision(tmp_path, api):
    prefixes = tmp_path / "prefixes.jsonl"
    tools = [{"name": "lookup", "description": "find an order", "input_schema": {"type": "object"}}]
    prefixes.write_text(
        "\n".join(
            json.dumps(
                {
                    "key": f"p{i}",
                    "system": f"system prompt {i}",
                    "tools": tools,
                    "settings": {"temperature": 0.2},
                    "tenant": f"t{i}",
                }
            )
            for i in range(3)
        )
    )

    async def go():
        clock = SimClock()
        s = open_drill(
            "classic",
            journal=tmp_path / "j.db",
            clock=clock,
            host=PluginHost(),
            backends={"provider": "anthropic"},
            plugin_options={"anthropic": {"base_url": api, "api_key_env": "WARM_TEST_KEY"}},
            warmer=True,
        )
        e = s.engine
        # the drill config has no prefixes file: point it at ours
        e.config.file.warmer.prefixes_file = str(prefixes)
        try:
            for _ in range(7):  # the first tick starts the bucket; six more send one each
                await e.tick()
                clock.advance(1)
            return e.warmer.snapshot(), e.config.file.models.old
        finally:
            s.close()

    w, old = asyncio.run(go())
    assert w["sent"] == 6 and w["failures"] == 0
    assert w["reads"] == 3  # the first pass over three prefixes wrote the cache; the second read it
    assert w["cost"] > 0
    first = Messages.bodies[0]
    assert first["model"] == old  # the rollback target, pinned
    assert first["system"] == [{"type": "text", "text": "system prompt 0", "cache_control": {"type": "ephemeral"}}]
    assert first["tools"] == tools and first["temperature"] == 0.2 and first["max_tokens"] == 1
    assert [b["system"][0]["text"] for b in Messages.bodies] == [f"system prompt {i % 3}" for i in range(6)]
