"""The haproxy router against a real HAProxy over its Runtime API (unix and TCP stats sockets)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, TrafficRouter
from cockpit.plugins import PluginHost
from cockpit_backends.haproxy import config_path, parse_options
from cockpit_backends.haproxy.router import ATOMIC_BATCH, HAProxyRouter
from cockpit_backends.haproxy.runtime import RuntimeAPIError, Session

from .conftest import measure_split


def router(h, **extra) -> HAProxyRouter:
    host = PluginHost()
    obj = host.create("router", "haproxy", {**h.options, **extra}, BackendContext(clock=None, config_dir="/"))
    assert isinstance(obj, TrafficRouter)
    return obj


async def raw_map(h) -> dict[str, str]:
    from cockpit_backends.haproxy.runtime import Address, parse_map

    async with Session(Address.parse(h.socket, Path("/"))) as s:
        (answer,) = await s.run([f"show map {h.map_path}"])
    return dict(parse_map(answer))


def test_shipped_config_is_package_data() -> None:
    text = config_path().read_text()
    assert "X-Tenant" in text and "backend new" in text and "backend old" in text
    assert "level admin" in text and "rand(1000000000)" in text


def test_reads_the_map_file_haproxy_loaded(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0, "globex": 0.25, "wonka": 0.0})
    r = asyncio.run(router(h).read_traffic())
    assert dict(r.shares) == {"acme": 1.0, "globex": 0.25, "wonka": 0.0}
    assert dict(r.rps) == {}  # no rates_table: the engine takes rates from the health backend


def test_context_tenants_absent_from_the_map_read_as_zero(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0})
    obj = HAProxyRouter(parse_options(h.options, "/"), tenants=("acme", "newco"))
    r = asyncio.run(obj.read_traffic())
    assert dict(r.shares) == {"acme": 1.0, "newco": 0.0}


def test_apply_small_batch_sets_and_adds_and_reads_back(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0, "globex": 0.5})
    obj = router(h)
    res = asyncio.run(obj.apply_shares({"acme": 0.3, "globex": 0.5, "newco": 1 / 3}, "r1"))
    assert not res.failed
    assert res.applied["acme"] == 0.3 and res.applied["globex"] == 0.5
    assert abs(res.applied["newco"] - 1 / 3) < 1e-9
    assert asyncio.run(raw_map(h)) == {"acme": "300000000", "globex": "500000000", "newco": "333333333"}
    again = asyncio.run(obj.apply_shares({"acme": 0.3, "globex": 0.5, "newco": 1 / 3}, "r1"))
    assert dict(again.applied) == dict(res.applied)


def test_large_batch_commits_one_new_map_version_and_keeps_other_entries(make_haproxy) -> None:
    h = make_haproxy({"not-ours": 0.7, **{f"t{i:05d}": 1.0 for i in range(1500)}})
    obj = router(h)
    wanted = {f"t{i:05d}": (i % 5) / 4 for i in range(1500)}
    wanted.update({f"n{i:05d}": 0.5 for i in range(300)})  # new tenants go into the same version
    assert len(wanted) > ATOMIC_BATCH
    res = asyncio.run(obj.apply_shares(wanted, "big"))
    assert not res.failed
    assert dict(res.applied) == wanted
    back = asyncio.run(obj.read_traffic()).shares
    assert {t: back[t] for t in wanted} == wanted
    assert back["not-ours"] == 0.7  # an entry the cockpit did not send survives the new version


def test_bad_tenants_and_shares_fail_per_tenant_without_touching_the_rest(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0})
    res = asyncio.run(router(h).apply_shares({"acme": 0.5, "bad tenant": 0.5, "semi;colon": 0.1, "over": 1.5}, "r2"))
    assert dict(res.applied) == {"acme": 0.5}
    assert set(res.failed) == {"bad tenant", "semi;colon", "over"}
    assert "whitespace" in res.failed["bad tenant"] and "between 0 and 1" in res.failed["over"]
    assert asyncio.run(raw_map(h)) == {"acme": "500000000"}


def test_tcp_stats_socket(make_haproxy) -> None:
    h = make_haproxy({"acme": 0.5}, tcp_socket=True)
    obj = router(h)
    assert asyncio.run(obj.apply_shares({"acme": 0.75}, "tcp")).applied == {"acme": 0.75}
    assert asyncio.run(obj.read_traffic()).shares == {"acme": 0.75}


def test_rates_from_the_stick_table(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0, "globex": 0.0, "idle": 0.5})
    measure_split(h.port, {"acme": 40, "globex": 10})
    r = asyncio.run(router(h, rates_table="tenant_rates").read_traffic())
    # http_req_rate(10s): requests in the last 10 s, per second
    assert r.rps["acme"] == pytest.approx(4.0)
    assert r.rps["globex"] == pytest.approx(1.0)
    assert r.rps["idle"] == 0.0


def test_unknown_map_and_table_are_one_sentence_errors(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0})
    with pytest.raises(RuntimeAPIError, match=r"has no map '/nope\.map'"):
        asyncio.run(router(h, map="/nope.map").read_traffic())
    with pytest.raises(RuntimeAPIError, match="has no stick table 'nope'"):
        asyncio.run(router(h, rates_table="nope").read_traffic())


def test_haproxy_gone_raises_a_clear_error_and_reports_nothing_applied(make_haproxy) -> None:
    h = make_haproxy({"acme": 1.0})
    obj = router(h)
    h.kill()
    with pytest.raises(RuntimeAPIError, match="cannot connect to the HAProxy runtime API"):
        asyncio.run(obj.read_traffic())
    with pytest.raises(RuntimeAPIError, match="cannot connect"):
        asyncio.run(obj.apply_shares({"acme": 0.0}, "gone"))
    h.start()  # back, serving the map file's shares again
    assert asyncio.run(obj.read_traffic()).shares == {"acme": 1.0}


def test_unresponsive_socket_times_out_with_a_sentence(tmp_path) -> None:
    """A TCP listener that never answers: the session is bounded by timeout_s."""
    import socket as _socket

    srv = _socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    try:
        port = srv.getsockname()[1]
        obj = HAProxyRouter(parse_options({"socket": f"127.0.0.1:{port}", "map": "/m", "timeout_s": 0.3}, "/"))
        with pytest.raises(RuntimeAPIError, match=r"did not read the map within 0\.3 s"):
            asyncio.run(obj.read_traffic())
    finally:
        srv.close()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"map": "/m"}, "plugins.haproxy.socket"),
        ({"socket": "a b", "map": "/m"}, "plugins.haproxy.socket"),
        ({"socket": "/s"}, "plugins.haproxy.map"),
        ({"socket": "/s", "map": "/m", "timeout_s": 0}, "plugins.haproxy.timeout_s"),
        ({"socket": "/s", "map": "/m", "timeout_s": "5"}, "plugins.haproxy.timeout_s"),
        ({"socket": "/s", "map": "/m", "rates_table": 3}, "plugins.haproxy.rates_table"),
        ({"socket": "/s", "map": "/m", "sockett": "/s"}, "unknown option 'sockett'"),
    ],
)
def test_bad_options_are_config_errors(options, field) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        PluginHost().create("router", "haproxy", options, BackendContext(clock=None, config_dir="/"))


def test_socket_option_forms() -> None:
    o = parse_options({"socket": "run/admin.sock", "map": "/m"}, "/etc/cockpit")
    assert o.socket.path == "/etc/cockpit/run/admin.sock"
    o = parse_options({"socket": "127.0.0.1:9999", "map": "/m"}, "/")
    assert (o.socket.host, o.socket.port) == ("127.0.0.1", 9999)
    o = parse_options({"socket": "[::1]:9999", "map": "#0"}, "/")
    assert (o.socket.host, o.socket.port, o.map) == ("::1", 9999, "#0")
