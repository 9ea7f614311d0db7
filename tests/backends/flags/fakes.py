"""Local stand-ins for the LaunchDarkly and Unleash REST APIs, over real HTTP, that answer only what
their documentation describes: the method, path, auth header, content type and body shape are checked,
and anything else is refused the way the service refuses it (401, 404, 400, 405, 415). Every request is
recorded (method, path, query, headers, body) for the tests to assert on."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fake:
    token: str
    project: str = "default"
    environments: tuple[str, ...] = ("production", "staging")
    flags: dict[str, dict[str, bool]] = field(default_factory=dict)  # flag -> env -> on
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None

    def on(self, flag: str, env: str = "production") -> bool:
        with self.lock:
            return self.flags[flag][env]

    def set(self, flag: str, on: bool, env: str = "production") -> None:
        with self.lock:
            self.flags[flag][env] = on

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if r.method != "GET"]

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        raise NotImplementedError

    def serve(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                with fake.lock:
                    fake.requests.append(Seen(self.command, parts.path, query, headers, body))
                    status, out = fake.handle(self.command, parts.path, query, headers, raw)
                data = json.dumps(out).encode() if out is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

            def log_message(self, *a: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self.url

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


class LaunchDarklyFake(Fake):
    """GET and PATCH (semantic patch) /api/v2/flags/{projectKey}/{featureFlagKey}; the access token in
    Authorization with no scheme."""

    def _flag_json(self, key: str, env: str | None) -> dict:
        envs = {e: {"on": on, "_environmentName": e} for e, on in self.flags[key].items() if env in (None, e)}
        return {"key": key, "name": key, "kind": "boolean", "environments": envs}

    def handle(self, method, path, query, headers, raw):
        if headers.get("authorization") != self.token:
            return 401, {"code": "unauthorized", "message": "Invalid access token"}
        segs = [unquote(s) for s in path.split("/") if s]
        if segs[:3] != ["api", "v2", "flags"] or len(segs) != 5:
            return 404, {"code": "not_found", "message": "Unknown resource"}
        project, key = segs[3], segs[4]
        if project != self.project or key not in self.flags:
            return 404, {"code": "not_found", "message": "Unknown resource"}
        if method == "GET":
            env = query.get("env")
            if env is not None and env not in self.environments:
                return 404, {"code": "not_found", "message": f"Unknown environment {env}"}
            return 200, self._flag_json(key, env)
        if method != "PATCH":
            return 405, {"code": "method_not_allowed", "message": "Method not allowed"}
        if headers.get("content-type") != SEMANTIC:
            return 400, {
                "code": "invalid_request",
                "message": "expected a semantic patch (domain-model=launchdarkly.semanticpatch)",
            }
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"code": "invalid_request", "message": "body is not JSON"}
        if not isinstance(body, dict) or set(body) - {"environmentKey", "instructions", "comment"}:
            return 400, {"code": "invalid_request", "message": "unknown field in semantic patch"}
        env, instructions = body.get("environmentKey"), body.get("instructions")
        if env not in self.environments:
            return 400, {"code": "invalid_request", "message": "environmentKey is required for turnFlagOn/turnFlagOff"}
        if not isinstance(instructions, list) or not instructions:
            return 400, {"code": "invalid_request", "message": "instructions must be a non-empty array"}
        for ins in instructions:
            if not isinstance(ins, dict) or ins.get("kind") not in ("turnFlagOn", "turnFlagOff") or len(ins) != 1:
                return 400, {"code": "invalid_request", "message": f"unsupported instruction {ins!r}"}
            self.flags[key][env] = ins["kind"] == "turnFlagOn"
        return 200, self._flag_json(key, None)


class UnleashFake(Fake):
    """Admin API: GET .../projects/{p}/features/{f}/environments/{e}; POST .../{e}/on and .../{e}/off
    with no body; the token in Authorization."""

    def handle(self, method, path, query, headers, raw):
        if headers.get("authorization") != self.token:
            return 401, {"name": "AuthenticationRequired", "message": "You must log in to use Unleash."}
        segs = [unquote(s) for s in path.split("/") if s]
        ok = len(segs) in (8, 9) and segs[:3] == ["api", "admin", "projects"] and segs[4] == "features"
        if not ok or segs[6] != "environments":
            return 404, {"name": "NotFoundError", "message": f"Could not find {path}"}
        project, feature, env = segs[3], segs[5], segs[7]
        if project != self.project or feature not in self.flags or env not in self.environments:
            return 404, {"name": "NotFoundError", "message": f"Could not find feature {feature} in {env}"}
        if len(segs) == 8:
            if method != "GET":
                return 405, {"name": "MethodNotAllowed", "message": method}
            on = self.flags[feature][env]
            return 200, {
                "name": env,
                "environment": env,
                "featureName": feature,
                "type": "production",
                "enabled": on,
                "strategies": [],
            }
        action = segs[8]
        if method != "POST" or action not in ("on", "off"):
            return 405, {"name": "MethodNotAllowed", "message": f"{method} {action}"}
        if raw.strip() not in (b"", b"{}"):
            return 400, {"name": "BadDataError", "message": "this endpoint takes no body"}
        self.flags[feature][env] = action == "on"
        return 200, None
