"""Real HTTP servers on loopback for the http backends: the router contract (with scripted faults)
and the two provider model APIs. Each fixture starts a server on a free port and shuts it down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cockpit.hookspecs import BackendContext
from cockpit_backends.http.reference_server import RouterHandler, RouterState, serve

REPO = Path(__file__).resolve().parents[3]
OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"
SECRET_KEY = "sk-ant-test-DO-NOT-LEAK-0123456789abcdef"


class FaultyRouterHandler(RouterHandler):
    """The reference router, with scripted faults consumed one per request of the given method.

    A fault is "500", "503", "429", "hang" (sleep past the client's timeout before doing anything) or
    "lost" (apply, then sleep past the timeout so the answer is lost), or "lie" (answer that the batch
    was applied without applying it)."""

    def _fault(self, method: str) -> str | None:
        q: deque = self.server.faults[method]
        return q.popleft() if q else None

    def _inject(self, fault: str | None) -> bool:
        if fault in ("500", "503"):
            self.send_json(int(fault), {"error": "backend pool exhausted"})
            return True
        if fault == "429":
            self.send_response(429)
            self.send_header("retry-after", "0.01")
            self.send_header("content-length", "0")
            self.end_headers()
            return True
        if fault == "hang":
            time.sleep(self.server.hang_s)
            self.close_connection = True
            return True
        return False

    def do_GET(self) -> None:
        if self._inject(self._fault("GET")):
            self.state.requests.append(("GET", self.path))
            return
        super().do_GET()

    def do_POST(self) -> None:
        fault = self._fault("POST")
        if fault == "lost":
            raw = self.read_body()
            body = json.loads(raw)
            self.state.requests.append(("POST", self.path))
            self.state.apply(self.headers["idempotency-key"], raw, body["shares"])
            time.sleep(self.server.hang_s)
            self.close_connection = True
            return
        if fault == "lie":
            raw = self.read_body()
            body = json.loads(raw)
            self.state.requests.append(("POST", self.path))
            self.send_json(200, {"applied": body["shares"], "failed": {}})
            return
        if self._inject(fault):
            self.read_body()
            self.state.requests.append(("POST", self.path))
            return
        super().do_POST()


@dataclass
class RouterServer:
    state: RouterState
    server: ThreadingHTTPServer
    faults: dict[str, deque] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, method: str, *faults: str) -> None:
        self.server.faults[method].extend(faults)  # type: ignore[attr-defined]

    def posts(self) -> int:
        return sum(1 for m, _ in self.state.requests if m == "POST")


def start_router(state: RouterState, hang_s: float = 0.6) -> RouterServer:
    server = serve(state, handler=FaultyRouterHandler)
    server.faults = {"GET": deque(), "POST": deque()}  # type: ignore[attr-defined]
    server.hang_s = hang_s  # type: ignore[attr-defined]
    return RouterServer(state, server)


@pytest.fixture
def router_server() -> Iterator[RouterServer]:
    tenants = [f"t{i:02d}" for i in range(1, 11)]
    rs = start_router(
        RouterState(dict.fromkeys(tenants, 1.0), dict.fromkeys(tenants, 5.0), {"t01": "enterprise"}),
    )
    yield rs
    rs.server.shutdown()
    rs.server.server_close()


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(clock=None, config_dir=str(tmp_path))


# Providers -------------------------------------------------------------------------------------


class ProviderHandler(BaseHTTPRequestHandler):
    """Speaks the Anthropic models API (GET /v1/models/{id}) and an OpenAI-compatible GET /v1/models."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        s = self.server
        s.seen.append((self.path, dict(self.headers)))
        if s.faults:
            status = s.faults.popleft()
            # A careless server that echoes the credential it got back into its error body.
            echoed = self.headers.get("x-api-key") or self.headers.get("authorization") or ""
            self.send_json(status, {"error": {"type": "error", "message": f"bad request with key {echoed}"}})
            return
        if s.key and self.headers.get("x-api-key") != s.key and self.headers.get("authorization") != f"Bearer {s.key}":
            self.send_json(401, {"error": {"message": "invalid x-api-key"}})
            return
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": s.listing})
            return
        if self.path.startswith("/v1/models/"):
            alias = self.path.removeprefix("/v1/models/")
            if self.headers.get("anthropic-version") is None:
                self.send_json(400, {"error": {"message": "anthropic-version header is required"}})
                return
            pinned = s.aliases.get(alias)
            if pinned is None:
                self.send_json(404, {"error": {"type": "not_found_error", "message": f"model: {alias}"}})
                return
            self.send_json(
                200,
                {"type": "model", "id": pinned, "display_name": "Claude Opus", "created_at": "2025-08-05T00:00:00Z"},
            )
            return
        self.send_json(404, {"error": {"message": "not found"}})


@dataclass
class ProviderServer:
    server: ThreadingHTTPServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


@pytest.fixture
def provider_server() -> Iterator[ProviderServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ProviderHandler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    server.faults = deque()  # type: ignore[attr-defined]
    server.key = SECRET_KEY  # type: ignore[attr-defined]
    server.aliases = {"claude-opus-latest": NEW, NEW: NEW, OLD: OLD}  # type: ignore[attr-defined]
    server.listing = [  # type: ignore[attr-defined]
        {"id": "llama-prod", "object": "model", "owned_by": "vllm", "root": "meta-llama/Llama-3.1-8B@rev-0e9e39f"},
        {"id": "llama-3.1-8b-2024-07-23", "object": "model", "owned_by": "vllm", "root": "/models/llama"},
        {"id": "floating", "object": "model", "owned_by": "litellm"},
    ]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ProviderServer(server)
    server.shutdown()
    server.server_close()


# The CLI in a subprocess -------------------------------------------------------------------------


def write_config(path: Path, backends: dict[str, str], plugins: dict[str, dict[str, Any]]) -> Path:
    roles = {"router": "mock", "autoscaler": "mock", "cache": "mock", "provider": "mock", "health": "mock"}
    roles.update(backends)
    lines = [
        "[models]",
        f'old = "{OLD}"',
        f'new = "{NEW}"',
        'alias = "claude-opus-latest"',
        "",
        "[backends]",
        *(f'{k} = "{v}"' for k, v in roles.items()),
        "",
        "[plugins.mock]",
        'scenario = "classic"',
    ]
    for name, opts in plugins.items():
        lines += ["", f'[plugins."{name}"]', *(f"{k} = {json.dumps(v)}" for k, v in opts.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 240):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
