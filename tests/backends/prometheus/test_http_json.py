"""The http-json health source against a real local HTTP server serving an eval harness's export."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cockpit.engine.clock import SimClock
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from cockpit.plugins import PluginHost

DOC = {
    "tenants": {
        "acme": {"new": 0.55, "old": 0.90},  # degraded by 0.35
        "globex": {"new": 0.88, "old": 0.90},  # within threshold
        "hooli": {"new": None, "old": 0.90},  # not scored yet
        "stark": {"old": 0.90},  # no new score
    }
}


@pytest.fixture
def evals():
    state = {"doc": DOC, "status": 200, "hits": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"].append(self.path)
            body = json.dumps(state["doc"]).encode()
            if self.path.startswith("/per/"):
                body = json.dumps({"score": DOC["tenants"].get(self.path.rsplit("/", 1)[1], {}).get("new")}).encode()
            self.send_response(state["status"])
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def make(tmp_path, **opts):
    ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path), tenants=("acme", "wayne"))
    return PluginHost().create("health", "http-json", opts, ctx)


def test_scores_against_baseline_with_unknowns(tmp_path, evals):
    h = make(
        tmp_path,
        url=evals["url"] + "/latest.json",
        field="tenants.${tenant}.new",
        baseline_field="tenants.${tenant}.old",
        threshold=0.1,
    )
    r = asyncio.run(h.regressions())
    assert r["acme"] == pytest.approx(0.5 + 0.5 * 0.35)
    assert r["globex"] == 0.0
    assert r.unknown["hooli"] == "field tenants.hooli.new is null, not a number"
    assert r.unknown["stark"] == "field tenants.stark.new missing (no 'new')"
    assert r.unknown["wayne"].startswith("field tenants.wayne.new missing")  # a fleet tenant the export lacks
    assert evals["hits"] == ["/latest.json"]  # one request for the fleet


def test_per_tenant_urls_absolute_threshold_and_failure(tmp_path, evals):
    h = make(tmp_path, url=evals["url"] + "/per/${tenant}", field="score", threshold=0.7, tenants=["acme", "globex"])
    r = asyncio.run(h.regressions())
    assert r["acme"] == pytest.approx(0.5 + 0.5 * 0.15) and r["globex"] == 0.0
    assert sorted(evals["hits"]) == ["/per/acme", "/per/globex"]
    evals["status"] = 503
    r = asyncio.run(h.regressions())
    assert len(r) == 0 and r.unknown["acme"] == f"query failed: GET {evals['url']}/per/acme answered 503"


def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins.http-json.threshold: required"):
        make(tmp_path, url="http://127.0.0.1:9/x", field="t.${tenant}")
    with pytest.raises(ConfigError, match=r"plugins.http-json.field: put \$\{tenant\} in the path"):
        make(tmp_path, url="http://127.0.0.1:9/x", field="score", threshold=1)
