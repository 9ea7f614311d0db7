"""`cockpit plugin new NAME --role router`: a plugin distribution whose tests pass as generated.

The generated router speaks a small REST contract to a gateway (``GET /shares``, ``PUT /shares``); the
distribution bundles a standard-library fake of that gateway (``python -m PKG.fake --port 7000``), tests
that run against it over real HTTP, and the cockpit's contract checks (``cockpit.testing``). Replace the
HTTP calls in ``router.py`` with your gateway's API and keep the tests green.
"""

from __future__ import annotations

import re
from pathlib import Path

from cockpit.errors import CockpitError

ROLES = ("router",)
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "cockpit router backend {name}"
requires-python = ">=3.11"
dependencies = ["cockpit", "httpx>=0.27"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."cockpit.backends"]
{name} = "{pkg}"

[tool.setuptools]
packages = ["{pkg}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
"""

INIT = '''\
"""cockpit backend {name!r}: the router role. Imported at every cockpit start-up: keep it light.

In cockpit.toml: ``router = "{name}"`` under ``[backends]``, and the gateway's URL as ``base_url`` under
``[plugins.{name}]``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from cockpit.hookspecs import BackendContext, BackendSpec, Capabilities, hookimpl

__version__ = "0.1.0"


class Options(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[plugins.{name}]: validated by the cockpit before the factory runs."""

    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]  # the gateway
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0  # per request, seconds


def _factory(role: str, options: Options, context: BackendContext) -> Any:
    from {pkg}.router import Router  # heavy imports here, not at start-up

    return Router(options)


@hookimpl
def cockpit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="{name}",
            roles=frozenset({{"router"}}),
            factory=_factory,
            description="{name} gateway (router role)",
            version=__version__,
            contract_version=2,
            options=Options,
            capabilities=Capabilities(share_step=0.0, creates_tenants=True, measures_rates=True),
        )
    ]
'''

ROUTER = '''\
"""The router role: `GET /shares` -> {{"shares": {{tenant: share}}, "rps": {{tenant: rps}}}};
`PUT /shares` {{"shares": {{...}}, "request_id": "..."}} (the gateway dedupes on the id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from cockpit.errors import BackendError
from cockpit.hookspecs import ApplyResult, TrafficReading
from cockpit.options import parse_options
from {pkg} import Options


class Router:
    def __init__(self, options: Options | Mapping[str, Any]) -> None:
        self.options = options if isinstance(options, Options) else parse_options(options, Options, "{name}")

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.options.base_url, timeout=self.options.timeout_s)

    async def read_traffic(self) -> TrafficReading:
        async with self._client() as client:
            try:
                resp = await client.get("/shares")
            except httpx.HTTPError as exc:
                raise BackendError("{name}", "router", f"GET /shares failed ({{type(exc).__name__}})") from None
        if resp.status_code != 200:
            raise BackendError("{name}", "router", f"GET /shares answered {{resp.status_code}}")
        body = resp.json()
        return TrafficReading(shares=body["shares"], rps=body.get("rps", {{}}))

    async def apply_shares(self, shares: Mapping[str, float], request_id: str) -> ApplyResult:
        failed: dict[str, str] = {{}}
        async with self._client() as client:
            try:
                resp = await client.put("/shares", json={{"shares": dict(shares), "request_id": request_id}})
                if resp.status_code != 200:
                    failed = dict.fromkeys(shares, f"gateway answered {{resp.status_code}}")
            except httpx.HTTPError as exc:
                failed = dict.fromkeys(shares, f"PUT /shares failed ({{type(exc).__name__}})")
        if failed:
            return ApplyResult(applied={{}}, failed=failed)
        back = (await self.read_traffic()).shares  # only what the gateway now serves counts as applied
        applied = {{t: s for t, s in shares.items() if abs(back.get(t, -1.0) - s) <= 1e-6}}
        failed = {{t: f"not confirmed by read-back (reads {{back.get(t)!r}})" for t in shares if t not in applied}}
        return ApplyResult(applied=applied, failed=failed)
'''

FAKE = '''\
"""A stand-in for the gateway, for tests and trying the plugin by hand:
``python -m {pkg}.fake --port 7000``. Standard library only."""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Gateway:
    def __init__(self, shares: dict[str, float], rps: dict[str, float]) -> None:
        self.shares, self.rps = dict(shares), dict(rps)
        self.seen: set[str] = set()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
        g: Gateway = self.server.gateway
        if self.path != "/shares":
            return self.reply(404, {{"error": "not found"}})
        with g.lock:
            self.reply(200, {{"shares": dict(g.shares), "rps": dict(g.rps)}})

    def do_PUT(self) -> None:
        g: Gateway = self.server.gateway
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{{}}")
        if self.path != "/shares":
            return self.reply(404, {{"error": "not found"}})
        with g.lock:
            if body.get("request_id") not in g.seen:  # a repeated request id changes nothing
                g.seen.add(body.get("request_id"))
                g.shares.update(body.get("shares", {{}}))
            self.reply(200, {{"shares": dict(g.shares)}})


def serve(gateway: Gateway, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.gateway = gateway  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=7000)
    port = p.parse_args().port
    names = ["acme", "cyberdyne", "globex", "initech", "umbrella"]
    server = serve(Gateway(dict.fromkeys(names, 1.0), dict.fromkeys(names, 10.0)), port)
    print(f"fake gateway on http://127.0.0.1:{{server.server_address[1]}}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
'''

CONFTEST = """\
from __future__ import annotations

import pytest

from {pkg}.fake import Gateway, serve


@pytest.fixture
def gateway():
    g = Gateway({{"acme": 1.0, "globex": 0.5, "initech": 0.0}}, {{"acme": 12.5, "globex": 3.0, "initech": 0.5}})
    server = serve(g)
    g.url = f"http://127.0.0.1:{{server.server_address[1]}}"
    yield g
    server.shutdown()
    server.server_close()
"""

TESTS = '''\
"""Against the bundled fake gateway over real HTTP; then the cockpit's own contract checks."""

from __future__ import annotations

import asyncio

import pytest

import {pkg}
from cockpit.errors import ConfigError
from cockpit.testing import assert_passes, check_spec
from {pkg}.router import Router


def test_reads_the_shares_and_rates(gateway):
    r = asyncio.run(Router({{"base_url": gateway.url}}).read_traffic())
    assert dict(r.shares) == {{"acme": 1.0, "globex": 0.5, "initech": 0.0}} and r.rps["acme"] == 12.5


def test_applies_and_confirms_by_read_back(gateway):
    res = asyncio.run(Router({{"base_url": gateway.url}}).apply_shares({{"acme": 0.25}}, "act-1"))
    assert dict(res.applied) == {{"acme": 0.25}} and gateway.shares["acme"] == 0.25


def test_keeps_the_cockpit_contract_write_path_included(gateway):
    assert_passes(asyncio.run(check_spec({pkg}, "{name}", {{"base_url": gateway.url}}, write=True)))
    assert gateway.shares == {{"acme": 1.0, "globex": 0.5, "initech": 0.0}}  # the check put back what it moved


def test_bad_options_are_one_sentence():
    with pytest.raises(ConfigError, match=r"plugins\\.{name}\\.base_url: required, and not set"):
        Router({{}})
'''

README = """\
# {dist}

A cockpit router backend, generated by `cockpit plugin new {name} --role router`.

```console
$ pip install -e '.[test]' && pytest                 # against the bundled fake gateway
$ python -m {pkg}.fake --port 7000 &                 # the fake, by hand
$ cockpit --config cockpit.toml plugins check {name} --write
```

Replace the HTTP calls in `{pkg}/router.py` with your gateway's API; see the cockpit's
docs/writing-a-plugin.md.
"""


def files(name: str) -> dict[str, str]:
    """Relative path -> contents of the distribution for backend `name`."""
    pkg = name.replace("-", "_") + "_cockpit"
    values = {"name": name, "pkg": pkg, "dist": f"{name}-cockpit"}
    return {
        "pyproject.toml": PYPROJECT.format(**values),
        "README.md": README.format(**values),
        f"{pkg}/__init__.py": INIT.format(**values),
        f"{pkg}/router.py": ROUTER.format(**values),
        f"{pkg}/fake.py": FAKE.format(**values),
        "tests/conftest.py": CONFTEST.format(**values),
        f"tests/test_{pkg}.py": TESTS.format(**values),
    }


def new_plugin(name: str, role: str, where: Path) -> Path:
    """Write the distribution into `where`/`name`-cockpit; refuses to overwrite anything."""
    if not _NAME.match(name):
        raise CockpitError(f"plugin name {name!r}: lower-case letters, digits and '-', 2 to 40 characters")
    if role not in ROLES:
        raise CockpitError(f"--role {role}: only {', '.join(ROLES)} can be generated so far")
    root = where / f"{name}-cockpit"
    if root.exists():
        raise CockpitError(f"{root}: already exists; choose another name or --dir")
    for rel, text in files(name).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
