"""A stand-in for a LiteLLM proxy's management API, over real HTTP, for the litellm backend's tests.

Why not the real proxy: ``litellm[proxy]`` installs and runs here (1.108.7, 3.5 min to install, ~20 s
to start) and its ``GET /model/info`` is served from the config without a database — its answer for a
25 %-step ladder is kept in tests/data/litellm/model_info_real.json and checked against this server's.
But every team endpoint needs the proxy's PostgreSQL database through Prisma (``POST /team/new``
answers 500 "DB not connected…", ``GET /team/list`` 400 "No connected db."), and Prisma fetches its
engine binaries at run time, which this machine cannot. So this server speaks the documented
endpoints the router uses, with LiteLLM's shapes:

- ``GET /model/info`` -> ``{"data": [{"model_name", "litellm_params": {"model", "weight", …},
  "model_info": {"id", "db_model": false}}]}`` from a config ``model_list`` (api keys dropped, as the
  proxy drops them);
- ``POST /team/new`` ``{team_alias?, team_id?, model_aliases?}`` -> the team (a new uuid ``team_id`` unless
  given; 400 when the id exists);
- ``POST /team/update`` ``{team_id, model_aliases?, …}`` -> ``{"team_id", "data": team}``; ``model_aliases``
  replaces the team's alias table whole (LiteLLM upserts its ``LiteLLM_ModelTable`` row); 404 unknown team;
- ``GET /team/info?team_id=`` -> ``{"team_id", "team_info": team, "keys": []}``;
- ``GET /team/list`` -> ``[team, …]`` sorted by ``team_alias``;
- ``POST /key/generate`` ``{team_id}`` -> ``{"key": "sk-…", "team_id"}``.

A team carries its aliases as ``litellm_model_table.model_aliases``, as the proxy returns them.
Errors are ``{"error": {"message", "type", "param", "code"}}``; a wrong or missing master key is 401.
Every request is recorded (method, path, body, status); `fail_next` answers the next N matching
requests with a status.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    status: int


@dataclass
class FakeLiteLLM:
    model_list: list[dict]
    master_key: str = "sk-master-test"
    teams: dict[str, dict] = field(default_factory=dict)  # team_id -> team
    requests: list[Recorded] = field(default_factory=list)
    _faults: list[list[Any]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _httpd: ThreadingHTTPServer | None = None
    url: str = ""

    # The test side ------------------------------------------------------------------------------
    def add_team(self, alias: str, model_aliases: dict[str, str] | None = None, team_id: str = "") -> dict:
        with self._lock:
            return self._new_team({"team_alias": alias, "team_id": team_id or None, "model_aliases": model_aliases})[1]

    def aliases(self) -> dict[str, dict[str, str]]:
        """team_alias -> model_aliases."""
        with self._lock:
            return {t["team_alias"]: dict(t["litellm_model_table"]["model_aliases"]) for t in self.teams.values()}

    def fail_next(self, n: int, status: int, path: str = "") -> None:
        with self._lock:
            self._faults.append([n, status, path])

    def calls(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(r.method, r.path) for r in self.requests]

    # The proxy's side ---------------------------------------------------------------------------
    def handle(self, method: str, raw: str, auth: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        with self._lock:
            rec = Recorded(method, path, payload, 0)
            self.requests.append(rec)
            rec.status, out = self._answer(method, path, query, auth, payload)
            return rec.status, out

    def _answer(self, method: str, path: str, query: dict, auth: str, payload: Any) -> tuple[int, Any]:
        if auth != f"Bearer {self.master_key}":
            return _error(401, "Authentication Error, Invalid proxy server token passed.", "auth_error")
        for f in self._faults:
            if f[0] > 0 and f[2] in path:
                f[0] -= 1
                return _error(f[1], f"injected {f[1]} by the fake proxy", "internal_server_error")
        route = {
            ("GET", "/model/info"): lambda: (200, self._model_info()),
            ("GET", "/team/list"): lambda: (200, sorted(self.teams.values(), key=lambda t: t["team_alias"] or "")),
            ("GET", "/team/info"): lambda: self._team_info(query.get("team_id", "")),
            ("POST", "/team/new"): lambda: self._new_team(payload),
            ("POST", "/team/update"): lambda: self._update_team(payload),
            ("POST", "/key/generate"): lambda: self._key(payload),
        }.get((method, path))
        if route is None:
            return _error(404, f"Not Found: {method} {path}", "not_found")
        status, out = route()
        return status, copy.deepcopy(out)

    def _model_info(self) -> dict:
        data = []
        for m in self.model_list:
            params = {k: v for k, v in m["litellm_params"].items() if k != "api_key"}
            ident = hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()
            data.append(
                {
                    "model_name": m["model_name"],
                    "litellm_params": params,
                    "model_info": {"id": ident, "db_model": False, "key": params.get("model")},
                }
            )
        return {"data": data}

    def _new_team(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return _error(422, "body must be a JSON object", "bad_request")
        team_id = body.get("team_id") or str(uuid.uuid4())
        if team_id in self.teams:
            return _error(400, f"Team id = {team_id} already exists. Please use a different team id.", "bad_request")
        aliases = body.get("model_aliases") or {}
        team = {
            "team_id": team_id,
            "team_alias": body.get("team_alias"),
            "models": [],
            "members_with_roles": [],
            "metadata": {},
            "blocked": False,
            "litellm_model_table": {"model_aliases": dict(aliases)},
        }
        self.teams[team_id] = team
        return 200, team

    def _update_team(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict) or not body.get("team_id"):
            return _error(400, "team_id is required", "bad_request")
        team = self.teams.get(body["team_id"])
        if team is None:
            return _error(404, f"Team not found, passed team_id={body['team_id']}", "not_found")
        for k, v in body.items():
            if k == "model_aliases" and isinstance(v, dict):
                team["litellm_model_table"] = {"model_aliases": dict(v)}
            elif k in ("team_alias", "metadata", "models", "blocked"):
                team[k] = v
        return 200, {"team_id": team["team_id"], "data": team}

    def _team_info(self, team_id: str) -> tuple[int, dict]:
        team = self.teams.get(team_id)
        if team is None:
            return _error(404, f"Team not found, passed team_id={team_id}", "not_found")
        return 200, {"team_id": team_id, "team_info": team, "keys": [], "team_memberships": []}

    def _key(self, body: Any) -> tuple[int, dict]:
        team_id = body.get("team_id") if isinstance(body, dict) else None
        if team_id is not None and team_id not in self.teams:
            return _error(400, f"team_id={team_id} does not exist", "bad_request")
        return 200, {"key": "sk-" + uuid.uuid4().hex, "team_id": team_id}

    def serve(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, out = server.handle(self.command, self.path, self.headers.get("Authorization", ""), body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _do

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-litellm", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self.url

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def _error(status: int, message: str, kind: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
