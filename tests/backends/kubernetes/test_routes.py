"""The router generalised by path expressions: HTTPRoutes read with one list call (label selector),
Envoy AI Gateway's AIGatewayRoute, Istio's VirtualService and a custom resource, against the emulated
API server: the exact requests and the objects left behind; and `plugins check --write` on Istio."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext
from cockpit_backends.kubernetes.paths import PathError, parse
from tests.backends.kubernetes.conftest import GATEWAY, NS, httproute, options, seed

AIGW, ISTIO = "aigateway.envoyproxy.io/v1alpha1", "networking.istio.io/v1"
ROUTES = f"/apis/{GATEWAY}/namespaces/{NS}/httproutes"
LABEL = {"cockpit.dev/tenants": "model"}


@pytest.fixture
def make(apiserver, tmp_path):
    contexts = []

    def make(route: dict):
        ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path), tiers={"old": "old", "new": "new"})
        contexts.append(ctx)
        opts = options(apiserver.kubeconfig)
        del opts["freeze"]
        opts["route"] = route
        return cockpit_backends.kubernetes._factory("router", opts, ctx)

    yield make
    for ctx in contexts:
        cockpit_backends.kubernetes.forget(ctx)


def _labelled(name: str, shares: dict[str, float], labels: dict | None = LABEL) -> dict:
    route = httproute(name, shares)
    if labels:
        route["metadata"]["labels"] = dict(labels)
    return route


def _seed_httproutes(apiserver, n_tenants: int = 40) -> dict[str, float]:
    """n tenants, 16 to an HTTPRoute (the Gateway API's limit), all labelled; one unlabelled route too."""
    shares = {f"t{i:02d}": (i % 5) / 4 for i in range(n_tenants)}
    names = list(shares)
    for k in range(0, n_tenants, 16):
        chunk = {t: shares[t] for t in names[k : k + 16]}
        apiserver.put_object(GATEWAY, "httproutes", _labelled(f"tenants-{k // 16}", chunk))
    apiserver.put_object(GATEWAY, "httproutes", _labelled("other-team", {"zz": 1.0}, labels=None))
    apiserver.clear_requests()
    return shares


SELECTED = {"selector": "cockpit.dev/tenants=model", "old_backend": "model-old", "new_backend": "model-new"}


def test_a_selector_reads_every_httproute_with_one_list_call(apiserver, make):
    shares = _seed_httproutes(apiserver)
    r = make(SELECTED)
    reading = asyncio.run(r.read_traffic())
    assert dict(reading.shares) == shares  # the unlabelled route's tenant is not ours
    assert [(q.method, q.path, q.query) for q in apiserver.requests] == [
        ("GET", ROUTES, {"labelSelector": "cockpit.dev/tenants=model"})
    ]


def test_a_selector_write_uses_the_listed_objects_and_confirms_with_one_more_list(apiserver, make):
    _seed_httproutes(apiserver)
    r = make(SELECTED)
    result = asyncio.run(r.apply_shares({"t01": 0.0, "t17": 0.42, "t39": 0.0, "nobody": 0.5}, "act-1"))
    assert dict(result.applied) == {"t01": 0.0, "t17": 0.42, "t39": 0.0}
    assert result.failed == {
        "nobody": "no rule matches header x-tenant: nobody in the HTTPRoutes matching 'cockpit.dev/tenants=model'"
    }
    calls = [(q.method, q.path) for q in apiserver.requests]
    # a list, one PUT per route holding an asked tenant (no GET of its own), a list to read back
    assert calls[0] == ("GET", ROUTES) and calls[-1] == ("GET", ROUTES)
    assert sorted(calls[1:-1]) == [
        ("PUT", f"{ROUTES}/tenants-0"),
        ("PUT", f"{ROUTES}/tenants-1"),
        ("PUT", f"{ROUTES}/tenants-2"),
    ]
    assert all(q.body["metadata"]["resourceVersion"] for q in apiserver.requests if q.method == "PUT")
    back = asyncio.run(r.read_traffic()).shares
    assert (back["t01"], back["t17"], back["t39"]) == (0.0, 0.42, 0.0)


def test_a_selector_write_rereads_only_the_object_that_got_409(apiserver, make):
    _seed_httproutes(apiserver, 20)
    r = make(SELECTED)

    def concurrent_writer(server):  # someone moves t00 between our list and our write of tenants-0
        route = server.get_object(GATEWAY, "httproutes", NS, "tenants-0")
        route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 1
        server.put_object(GATEWAY, "httproutes", route)

    apiserver.before_next("PUT", "httproutes/tenants-0", concurrent_writer)
    result = asyncio.run(r.apply_shares({"t01": 0.5, "t17": 0.0}, "act-1"))
    assert dict(result.applied) == {"t01": 0.5, "t17": 0.0}
    seen = [(q.method, q.path.rsplit("/", 1)[-1], q.status) for q in apiserver.requests]
    assert seen == [
        ("GET", "httproutes", 200),
        ("PUT", "tenants-0", 409),
        ("GET", "tenants-0", 200),
        ("PUT", "tenants-0", 200),
        ("PUT", "tenants-1", 200),
        ("GET", "httproutes", 200),
    ]
    assert asyncio.run(r.read_traffic()).shares["t00"] > 0  # theirs kept


def aigateway_route(name: str, shares: dict[str, float]) -> dict:
    rules = []
    for tenant, share in shares.items():
        new = round(share * 1_000_000)
        rules.append(
            {
                "matches": [{"headers": [{"type": "Exact", "name": "X-Tenant", "value": tenant}]}],
                "backendRefs": [
                    {"name": "claude-old", "weight": 1_000_000 - new},
                    {"name": "claude-new", "weight": new},
                ],
            }
        )
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"parentRefs": [{"name": "envoy-ai-gateway"}], "schema": {"name": "OpenAI"}, "rules": rules},
    }


def test_envoy_ai_gateway_weights_are_written_on_the_aigatewayroute(apiserver, make):
    apiserver.put_object(AIGW, "aigatewayroutes", aigateway_route("tenants", {"acme": 1.0, "globex": 0.5}))
    apiserver.clear_requests()
    r = make({"kind": "aigatewayroute", "names": ["tenants"], "old_backend": "claude-old", "new_backend": "claude-new"})
    assert dict(asyncio.run(r.read_traffic()).shares) == {"acme": 1.0, "globex": 0.5}  # header name: any case
    result = asyncio.run(r.apply_shares({"acme": 0.25}, "act-1"))
    assert dict(result.applied) == {"acme": 0.25}
    path = f"/apis/{AIGW}/namespaces/{NS}/aigatewayroutes/tenants"
    assert [(q.method, q.path) for q in apiserver.requests] == [
        ("GET", path),
        ("GET", path),
        ("PUT", path),
        ("GET", path),
    ]
    obj = apiserver.get_object(AIGW, "aigatewayroutes", NS, "tenants")
    assert obj["spec"]["rules"][0]["backendRefs"] == [
        {"name": "claude-old", "weight": 750_000},
        {"name": "claude-new", "weight": 250_000},
    ]
    assert obj["spec"]["schema"] == {"name": "OpenAI"}  # the rest of the object as it was


def virtual_service(name: str, shares: dict[str, float], field: str = "host") -> dict:
    http = []
    for tenant, share in shares.items():
        new = round(share * 100)
        old_dest = (
            {"host": "model-old.models.svc.cluster.local"} if field == "host" else {"host": "model", "subset": "v1"}
        )
        new_dest = (
            {"host": "model-new.models.svc.cluster.local"} if field == "host" else {"host": "model", "subset": "v2"}
        )
        http.append(
            {
                "match": [{"headers": {"x-tenant": {"exact": tenant}}}],
                "route": [{"destination": old_dest, "weight": 100 - new}, {"destination": new_dest, "weight": new}],
            }
        )
    http.append({"route": [{"destination": {"host": "model-old.models.svc.cluster.local"}}]})  # default route
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"hosts": ["model"], "http": http}}


ISTIO_ROUTE = {
    "kind": "virtualservice",
    "names": ["model"],
    "old_backend": "model-old.models.svc.cluster.local",
    "new_backend": "model-new.models.svc.cluster.local",
}


def test_istio_virtualservice_weights_add_up_to_100(apiserver, make):
    apiserver.put_object(ISTIO, "virtualservices", virtual_service("model", {"acme": 1.0, "tyrell": 0.5}))
    r = make(ISTIO_ROUTE)
    assert dict(asyncio.run(r.read_traffic()).shares) == {"acme": 1.0, "tyrell": 0.5}
    result = asyncio.run(r.apply_shares({"acme": 0.42, "tyrell": 0.425}, "act-1"))
    # 0.425 is off the 1 % grid of weights that add up to 100: the share stored (0.42) is what is reported
    assert dict(result.applied) == {"acme": 0.42, "tyrell": 0.42}
    vs = apiserver.get_object(ISTIO, "virtualservices", NS, "model")
    assert [d["weight"] for d in vs["spec"]["http"][0]["route"]] == [58, 42]
    assert [d["weight"] for d in vs["spec"]["http"][1]["route"]] == [58, 42]
    assert vs["spec"]["http"][2] == {"route": [{"destination": {"host": "model-old.models.svc.cluster.local"}}]}
    put = next(q for q in apiserver.requests if q.method == "PUT")
    assert put.path == f"/apis/{ISTIO}/namespaces/{NS}/virtualservices/model" and put.content_type == "application/json"


def test_istio_subsets_through_a_backend_name_path(apiserver, make):
    apiserver.put_object(ISTIO, "virtualservices", virtual_service("model", {"acme": 1.0}, field="subset"))
    r = make({**ISTIO_ROUTE, "backend_name": "destination.subset", "old_backend": "v1", "new_backend": "v2"})
    assert dict(asyncio.run(r.apply_shares({"acme": 0.0}, "act-1")).applied) == {"acme": 0.0}
    vs = apiserver.get_object(ISTIO, "virtualservices", NS, "model")
    assert [(d["destination"]["subset"], d["weight"]) for d in vs["spec"]["http"][0]["route"]] == [
        ("v1", 100),
        ("v2", 0),
    ]


def test_a_custom_resource_through_paths(apiserver, make):
    obj = {
        "metadata": {"name": "split", "namespace": NS},
        "spec": {
            "tenants": [
                {
                    "team": "acme",
                    "revisions": [{"id": "r1", "traffic": {"percent": 30}}, {"id": "r2", "traffic": {"percent": 70}}],
                },
                {"team": "hooli", "revisions": [{"id": "r1"}, {"id": "r2"}]},  # unset: weighs 1 each
            ]
        },
    }
    apiserver.put_object("serving.example.com/v1", "trafficsplits", obj)
    route = {
        "kind": "custom",
        "api": "serving.example.com/v1",
        "plural": "trafficsplits",
        "names": ["split"],
        "rules": "spec.tenants[]",
        "tenant": "team",
        "backends": "revisions[]",
        "backend_name": "id",
        "weight": "traffic.percent",
        "weight_total": 100,
        "old_backend": "r1",
        "new_backend": "r2",
    }
    r = make(route)
    assert dict(asyncio.run(r.read_traffic()).shares) == {"acme": 0.7, "hooli": 0.5}
    result = asyncio.run(r.apply_shares({"acme": 0.0, "hooli": 0.25, "initech": 0.5}, "act-1"))
    assert dict(result.applied) == {"acme": 0.0, "hooli": 0.25}
    assert result.failed == {"initech": "no rule matches 'team': initech in the configured custom resources"}
    spec = apiserver.get_object("serving.example.com/v1", "trafficsplits", NS, "split")["spec"]
    assert spec["tenants"][1]["revisions"] == [
        {"id": "r1", "traffic": {"percent": 75}},
        {"id": "r2", "traffic": {"percent": 25}},
    ]  # the weight path's maps were created


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            {"kind": "ingress"},
            "plugins.kubernetes.route.kind: expected one of httproute, aigatewayroute, virtualservice, custom",
        ),
        ({"tenant": "matches[.value"}, "plugins.kubernetes.route.tenant: expected '[]' or '[key=value]' at position 7"),
        ({"weight": "refs[].weight"}, "plugins.kubernetes.route.weight: must name one field (dots only, no '[]')"),
        ({"kind": "custom"}, "plugins.kubernetes.route: kind = 'custom' needs api, plural, rules, tenant"),
        ({"api": "v1"}, "plugins.kubernetes.route.api: expected group/version"),
        (
            {"kind": "virtualservice", "weight_total": 1000},
            "plugins.kubernetes.route.weight_total: expected a whole number from 1 to 100",
        ),
        ({"names": []}, "plugins.kubernetes.route.names: list the HTTPRoute names"),
        ({"selector": "a=b"}, "plugins.kubernetes.route: set names or selector, not both"),
    ],
)
def test_bad_route_options_are_one_sentence(make, route, message):
    with pytest.raises(ConfigError) as err:
        make({"names": ["tenants"], "old_backend": "a", "new_backend": "b"} | route)
    assert str(err.value).startswith(message), str(err.value)


def test_path_expressions():
    rule = {
        "matches": [
            {"headers": [{"name": "X-Tenant", "value": "regex.*", "type": "RegularExpression"}]},
            {"headers": [{"name": "x-other", "value": "no"}, {"name": "x-tenant", "value": "acme"}]},
        ]
    }
    assert parse("matches[].headers[name=x-tenant][type!=RegularExpression].value").find(rule) == ["acme"]
    assert parse("matches[].headers[name=X-TENANT].value").find(rule) == ["regex.*", "acme"]
    assert parse("matches[].missing[].value").find(rule) == []
    assert parse("a.b-c.d").find({"a": {"b-c": {"d": 1}}}) == [1]
    target: dict = {}
    parse("traffic.percent").put(target, 5)
    assert target == {"traffic": {"percent": 5}}
    for bad, where in (("", "expected a path"), ("a..b", "position 2"), ("a]", "position 1")):
        with pytest.raises(PathError, match=where):
            parse(bad)


def test_plugins_check_write_passes_on_istio_selected_by_label(apiserver, tmp_path: Path):
    seed(apiserver, {})  # the tiers (the backend serves the autoscaler role too)
    for name, shares in (("vs-a", {"acme": 1.0, "globex": 1.0}), ("vs-b", {"tyrell": 0.5})):
        vs = virtual_service(name, shares)
        vs["metadata"]["labels"] = dict(LABEL)
        apiserver.put_object(ISTIO, "virtualservices", vs)
    opts = options(apiserver.kubeconfig)
    del opts["freeze"]
    opts["kubeconfig"] = apiserver.kubeconfig.name
    opts["route"] = {**ISTIO_ROUTE, "names": [], "selector": "cockpit.dev/tenants=model"}
    config = {
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"},
        "cockpit": {"journal": "journal.db"},
        "backends": {"router": "kubernetes"},
        "plugins": {"mock": {"scenario": "classic"}, "kubernetes": opts},
    }
    path = tmp_path / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    apiserver.clear_requests()
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(path), "plugins", "check", "kubernetes", "--write"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS  router     read_traffic: 3 tenants (no rates: the health backend must provide them)" in out.stdout
    assert "PASS  router     apply_shares (moved acme, globex by 0.01 and back)" in out.stdout
    assert "FAIL" not in out.stdout, out.stdout
    # every read was one list call; the objects are as they were
    reads = [q for q in apiserver.requests if q.method == "GET" and q.path.endswith("/virtualservices")]
    assert reads and all(q.query == {"labelSelector": "cockpit.dev/tenants=model"} for q in reads)
    vs = apiserver.get_object(ISTIO, "virtualservices", NS, "vs-a")
    assert [d["weight"] for d in vs["spec"]["http"][0]["route"]] == [0, 100]
