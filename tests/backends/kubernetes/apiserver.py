"""An emulated Kubernetes API server over real HTTP, for the kubernetes backend's tests.

There is no API server on the test machines, so this stands in for one: a threaded HTTP server on
127.0.0.1 that stores objects by (group/version, plural, namespace, name) and answers the calls the
backend makes the way kube-apiserver does: GET (objects and label-selected lists), PATCH (JSON merge
patch, and strategic merge patch treated as a merge patch: the backend only patches maps and
scalars), PUT (replace, with optimistic concurrency: a stale ``metadata.resourceVersion`` gets
409 Conflict), and the Deployment ``scale`` subresource. Every request is recorded in order
(method, path, query, content type, body, status answered) so tests assert exactly what was sent.
`fail_next` makes it answer 409 or 503 to the next N matching requests.

It is deliberately not a controller: nothing reconciles. `auto_ready` makes a Deployment's
``status.readyReplicas`` follow ``spec.replicas`` on every write (pods start at once) unless a test
holds readiness down with `set_ready`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int
    authorization: str = ""


@dataclass
class _Fault:
    status: int
    remaining: int
    methods: frozenset[str]
    path_contains: str


@dataclass
class ApiServer:
    """The store and the fault plan; `serve()` starts the HTTP side."""

    auto_ready: bool = True
    token: str = "emulator-token"
    objects: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _rv: int = 100
    _faults: list[_Fault] = field(default_factory=list)
    _before: list[tuple[str, str, Any]] = field(default_factory=list)
    _delays: list[list[Any]] = field(default_factory=list)
    _held_ready: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    url: str = ""
    kubeconfig: Any = None

    # Seeding and inspection (the test side) --------------------------------------------------
    def put_object(self, api: str, plural: str, obj: dict) -> dict:
        with self._lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", "default")
            key = (api, plural, meta["namespace"], meta["name"])
            self._store(key, obj)
            return copy.deepcopy(obj)

    def get_object(self, api: str, plural: str, namespace: str, name: str) -> dict:
        with self._lock:
            return copy.deepcopy(self.objects[(api, plural, namespace, name)])

    def set_ready(self, namespace: str, deployment: str, ready: int | None) -> None:
        """Hold a Deployment's ready replicas at `ready` (None: follow spec.replicas again)."""
        with self._lock:
            if ready is None:
                self._held_ready.pop((namespace, deployment), None)
            else:
                self._held_ready[(namespace, deployment)] = ready
            key = ("apps/v1", "deployments", namespace, deployment)
            self._settle(key, self.objects[key])

    def fail_next(
        self, n: int, status: int, *, methods: tuple[str, ...] = ("GET", "PUT", "PATCH"), path_contains: str = ""
    ) -> None:
        with self._lock:
            self._faults.append(_Fault(status, n, frozenset(methods), path_contains))

    def delay_next(self, n: int, seconds: float, *, path_contains: str = "") -> None:
        """Answer the next N matching requests only after `seconds` (a slow or hung API server)."""
        with self._lock:
            self._delays.append([n, seconds, path_contains])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def before_next(self, method: str, path_contains: str, action: Any) -> None:
        """Run `action(server)` once, just before the next matching request is handled: a concurrent
        writer that gets in between a client's read and its write."""
        with self._lock:
            self._before.append((method, path_contains, action))

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def calls(self, *, writes_only: bool = False) -> list[tuple[str, str]]:
        """(method, path) in order; `writes_only` keeps PUT and PATCH."""
        with self._lock:
            return [(r.method, r.path) for r in self.requests if not writes_only or r.method in ("PUT", "PATCH")]

    # Store internals --------------------------------------------------------------------------
    def _store(self, key: tuple[str, str, str, str], obj: dict) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        obj.setdefault("kind", _KINDS.get(key[1], "Object"))
        obj.setdefault("apiVersion", key[0])
        self._settle(key, obj)
        self.objects[key] = obj

    def _settle(self, key: tuple[str, str, str, str], obj: dict) -> None:
        if key[1] != "deployments":
            return
        replicas = obj.setdefault("spec", {}).get("replicas", 1)
        status = obj.setdefault("status", {})
        held = self._held_ready.get((key[2], key[3]))
        if held is not None:
            status["readyReplicas"] = min(held, replicas)
        elif self.auto_ready:
            status["readyReplicas"] = replicas
        status["replicas"] = replicas

    def _fault_for(self, method: str, path: str) -> int | None:
        for f in self._faults:
            if f.remaining > 0 and method in f.methods and f.path_contains in path:
                f.remaining -= 1
                return f.status
        return None

    # The HTTP side ------------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, content_type: str, body: bytes, authorization: str
    ) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        pause = 0.0
        with self._lock:
            for d in self._delays:
                if d[0] > 0 and d[2] in path:
                    d[0] -= 1
                    pause = d[1]
                    break
        if pause:
            time.sleep(pause)  # outside the lock: other requests go on meanwhile
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode(errors="replace")
        with self._lock:
            for i, (m, contains, action) in enumerate(self._before):
                if m == method and contains in path:
                    del self._before[i]
                    action(self)
                    break
            rec = Recorded(method, path, query, content_type.split(";")[0].strip(), payload, 0, authorization)
            self.requests.append(rec)
            if authorization != f"Bearer {self.token}":
                status, out = 401, _status(401, "Unauthorized", "Unauthorized")
            elif (fault := self._fault_for(method, path)) is not None:
                reason = {409: "Conflict", 503: "ServiceUnavailable"}.get(fault, "InternalError")
                status, out = fault, _status(fault, reason, f"injected {fault} by the emulator")
            else:
                status, out = self._route(method, path, query, rec.content_type, payload)
            rec.status = status
            return status, out

    def _route(self, method: str, path: str, query: dict[str, str], ctype: str, payload: Any) -> tuple[int, dict]:
        segs = [s for s in path.split("/") if s]
        # /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/{sub}]]  or  /api/v1/namespaces/...
        if segs[:1] == ["api"]:
            api, rest = segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            api, rest = f"{segs[1]}/{segs[2]}", segs[3:]
        else:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource {path}")
        if len(rest) < 3 or rest[0] != "namespaces":
            return 404, _status(404, "NotFound", f"unsupported path {path}")
        ns, plural = rest[1], rest[2]
        name = rest[3] if len(rest) > 3 else None
        sub = rest[4] if len(rest) > 4 else None
        if name is None:
            if method != "GET":
                return 405, _status(405, "MethodNotAllowed", f"{method} on a collection")
            return 200, self._list(api, plural, ns, query.get("labelSelector", ""))
        key = (api, plural, ns, name)
        obj = self.objects.get(key)
        if obj is None:
            return 404, _status(404, "NotFound", f'{plural}.{api.split("/")[0]} "{name}" not found')
        if sub == "scale" and plural == "deployments":
            return self._scale(method, key, obj, ctype, payload)
        if sub is not None:
            return 404, _status(404, "NotFound", f"unsupported subresource {sub}")
        if method == "GET":
            return 200, copy.deepcopy(obj)
        if method == "PATCH":
            if ctype not in (MERGE, STRATEGIC):
                return 415, _status(415, "UnsupportedMediaType", f"the emulator does not accept {ctype} patches")
            if not isinstance(payload, dict):
                return 400, _status(400, "BadRequest", "a merge patch must be a JSON object")
            want = (payload.get("metadata") or {}).get("resourceVersion")
            if want is not None and want != obj["metadata"]["resourceVersion"]:
                return 409, _conflict(plural, api, name)
            new = _merge(copy.deepcopy(obj), payload)
            new["metadata"]["name"], new["metadata"]["namespace"] = name, ns
            self._store(key, new)
            return 200, copy.deepcopy(new)
        if method == "PUT":
            if ctype not in ("application/json", ""):  # kube-apiserver reads a body without one as JSON
                return 415, _status(415, "UnsupportedMediaType", f"a PUT needs application/json, not {ctype!r}")
            if not isinstance(payload, dict):
                return 400, _status(400, "BadRequest", "the body must be a JSON object")
            meta = payload.get("metadata") or {}
            if meta.get("name") != name:
                return 400, _status(400, "BadRequest", "metadata.name does not match the path")
            want = meta.get("resourceVersion")
            if want is not None and want != obj["metadata"]["resourceVersion"]:
                return 409, _conflict(plural, api, name)
            new = copy.deepcopy(payload)
            new["metadata"]["namespace"] = ns
            self._store(key, new)
            return 200, copy.deepcopy(new)
        return 405, _status(405, "MethodNotAllowed", f"{method} is not supported")

    def _list(self, api: str, plural: str, ns: str, selector: str) -> dict:
        wanted = [s.strip() for s in selector.split(",") if s.strip()]
        items = []
        for (a, p, n, _), obj in sorted(self.objects.items()):
            if (a, p, n) != (api, plural, ns):
                continue
            labels = obj["metadata"].get("labels") or {}
            if all(_label_ok(labels, w) for w in wanted):
                items.append(copy.deepcopy(obj))
        kind = _KINDS.get(plural, "Object") + "List"
        return {"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _scale(self, method: str, key: tuple, obj: dict, ctype: str, payload: Any) -> tuple[int, dict]:
        def view() -> dict:
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    "name": obj["metadata"]["name"],
                    "namespace": obj["metadata"]["namespace"],
                    "resourceVersion": obj["metadata"]["resourceVersion"],
                },
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": obj["status"].get("replicas", 0), "selector": ""},
            }

        if method == "GET":
            return 200, view()
        if method not in ("PATCH", "PUT"):
            return 405, _status(405, "MethodNotAllowed", f"{method} on scale")
        if method == "PATCH" and ctype not in (MERGE, STRATEGIC):
            return 415, _status(415, "UnsupportedMediaType", f"the emulator does not accept {ctype} patches")
        if not isinstance(payload, dict):
            return 400, _status(400, "BadRequest", "the body must be a JSON object")
        want = (payload.get("metadata") or {}).get("resourceVersion")
        if want is not None and want != obj["metadata"]["resourceVersion"]:
            return 409, _conflict("deployments", key[0], key[3])
        scale = _merge(view(), payload) if method == "PATCH" else payload
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            return 422, _status(422, "Invalid", "spec.replicas must be a non-negative integer")
        obj["spec"]["replicas"] = replicas
        self._store(key, obj)
        return 200, view()

    def serve(self) -> str:
        """Start serving on a free loopback port; returns the base URL."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, out = server.handle(
                    self.command,
                    self.path,
                    self.headers.get("Content-Type", ""),
                    body,
                    self.headers.get("Authorization", ""),
                )
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _do

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="k8s-emulator", daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None


_KINDS = {
    "deployments": "Deployment",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "cronjobs": "CronJob",
    "httproutes": "HTTPRoute",
}


def _label_ok(labels: dict[str, str], term: str) -> bool:
    if "!=" in term:
        k, v = term.split("!=", 1)
        return labels.get(k.strip()) != v.strip()
    if "=" in term:
        k, v = term.replace("==", "=").split("=", 1)
        return labels.get(k.strip()) == v.strip()
    if term.startswith("!"):
        return term[1:] not in labels
    return term in labels


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = _merge(target.get(k), v)
    return target


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _conflict(plural: str, api: str, name: str) -> dict:
    group = api.split("/")[0] if "/" in api else ""
    what = f"{plural}.{group}" if group and group != "v1" else plural
    return _status(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
    )
