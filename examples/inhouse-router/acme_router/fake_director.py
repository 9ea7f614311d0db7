"""A tiny stand-in for ACME's traffic director, for the plugin's tests and for trying it by hand:
``python -m acme_router.fake_director --port 7000``. Standard library only."""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Director:
    def __init__(self, percent: dict[str, float], qps: dict[str, float]) -> None:
        self.percent = dict(percent)
        self.qps = dict(qps)
        self.seen_ids: set[str] = set()
        self.fail_tenants: set[str] = set()  # PUTs for these answer 503 (for tests)
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        d: Director = self.server.director
        if self.path != "/api/tenants":
            return self.reply(404, {"error": "not found"})
        with d.lock:
            rows = [{"name": n, "canary_percent": p, "qps": d.qps.get(n)} for n, p in d.percent.items()]
        self.reply(200, {"tenants": rows})

    def do_PUT(self) -> None:
        d: Director = self.server.director
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        parts = self.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["api", "tenants"] or parts[3] != "canary":
            return self.reply(404, {"error": "not found"})
        name = parts[2]
        with d.lock:
            if name not in d.percent:
                return self.reply(404, {"error": f"no tenant {name}"})
            if name in d.fail_tenants:
                return self.reply(503, {"error": "shard unavailable"})
            rid = self.headers.get("x-request-id", "")
            if rid not in d.seen_ids:  # a repeated request id changes nothing
                d.seen_ids.add(rid)
                d.percent[name] = float(body["percent"])
            self.reply(200, {"name": name, "canary_percent": d.percent[name]})


def serve(director: Director, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.director = director  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=7000)
    a = p.parse_args()
    names = ["acme", "globex", "initech"]
    srv = serve(Director(dict.fromkeys(names, 100.0), dict.fromkeys(names, 10.0)), a.port)
    print(f"fake director on http://127.0.0.1:{srv.server_address[1]}")
    threading.Event().wait()
