"""A reference in-memory implementation of the router contract (``router-openapi.yaml``), stdlib only.

It is what the tests and the benchmark run against, and a readable statement of the server side of
the contract for a platform team implementing it: ``python -m cockpit_backends.http.reference_server --port 8080
--tenants 100``. Not for production: state lives in memory.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RouterState:
    """The vector, per-tenant rates and cohorts, and the stored result of every request id."""

    def __init__(
        self,
        shares: dict[str, float] | None = None,
        rps: dict[str, float] | None = None,
        cohorts: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.shares = dict(shares or {})
        self.rps = dict(rps or {})
        self.cohorts = dict(cohorts or {})
        self.token = token
        self.results: dict[str, tuple[str, dict[str, Any]]] = {}  # key -> (body fingerprint, result)
        self.lock = threading.Lock()
        self.applies = 0  # batches actually applied (not replays)
        self.replays = 0
        self.requests: list[tuple[str, str]] = []  # (method, path)

    def vector(self) -> dict[str, Any]:
        with self.lock:
            return {"shares": dict(self.shares), "rps": dict(self.rps), "cohorts": dict(self.cohorts)}

    def apply(self, key: str, raw: bytes, shares: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fingerprint = raw.decode("utf-8", "replace")
        with self.lock:
            seen = self.results.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    return 422, {"error": f"request id {key!r} was already used for a different batch"}
                self.replays += 1
                return 200, seen[1]
            applied: dict[str, float] = {}
            failed: dict[str, str] = {}
            for tenant, s in shares.items():
                if tenant not in self.shares:
                    failed[tenant] = "unknown tenant"
                elif isinstance(s, bool) or not isinstance(s, int | float) or not 0 <= s <= 1:
                    failed[tenant] = "share must be a number in [0, 1]"
                else:
                    self.shares[tenant] = float(s)
                    applied[tenant] = float(s)
            result = {"request_id": key, "applied": applied, "failed": failed}
            self.results[key] = (fingerprint, result)
            self.applies += 1
            return 200, result


class RouterHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many requests
    disable_nagle_algorithm = True  # headers and body are two writes: don't wait on a delayed ACK
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def state(self) -> RouterState:
        return self.server.state

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def authorised(self) -> bool:
        token = self.state.token
        if token and self.headers.get("authorization") != f"Bearer {token}":
            self.send_json(401, {"error": "missing or wrong bearer token"})
            return False
        return True

    def do_GET(self) -> None:
        self.state.requests.append(("GET", self.path))
        if not self.authorised():
            return
        if self.path.split("?")[0] == "/v1/shares":
            self.send_json(200, self.state.vector())
        else:
            self.send_json(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        self.state.requests.append(("POST", self.path))
        raw = self.read_body()
        if not self.authorised():
            return
        if self.path != "/v1/shares":
            self.send_json(404, {"error": f"no route {self.path}"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        if not isinstance(body, dict) or not isinstance(body.get("shares"), dict):
            self.send_json(400, {"error": "body needs a 'shares' object"})
            return
        key = self.headers.get("idempotency-key") or body.get("request_id")
        if not isinstance(key, str) or not key:
            self.send_json(400, {"error": "an Idempotency-Key header or a request_id field is required"})
            return
        status, result = self.state.apply(key, raw, body["shares"])
        self.send_json(status, result)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when a client opens many at once


def serve(
    state: RouterState, host: str = "127.0.0.1", port: int = 0, handler: type[RouterHandler] = RouterHandler
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``server.server_address`` has the port; ``shutdown()`` stops it."""
    server = _Server((host, port), handler)
    server.state = state  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="router-reference", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="reference in-memory router implementing router-openapi.yaml")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--tenants", type=int, default=10, help="tenants t0001.. at share 1.0, 1 rps each")
    a = p.parse_args(argv)
    names = [f"t{i:04d}" for i in range(1, a.tenants + 1)]
    server = serve(RouterState(dict.fromkeys(names, 1.0), dict.fromkeys(names, 1.0)), a.host, a.port)
    print(f"router contract on http://{a.host}:{server.server_address[1]} ({a.tenants} tenants); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
