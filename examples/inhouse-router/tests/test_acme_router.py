"""The example plugin's own tests: a real HTTP server on loopback (the fake director), no mocks."""

from __future__ import annotations

import asyncio

import pytest
from acme_router import cockpit_backends
from acme_router.router import AcmeRouter

from cockpit.errors import ConfigError
from cockpit.hookspecs import ApplyResult, BackendContext, TrafficRouter
from cockpit.plugins import PluginHost
from cockpit.testing import assert_passes, check_router, check_spec, failures


def test_registers_a_router_backend():
    (spec,) = cockpit_backends()
    assert spec.name == "acme-router" and spec.roles == frozenset({"router"})


def test_the_host_creates_it_and_it_implements_the_role(director):
    import acme_router

    host = PluginHost(entry_points=False, plugins=[("acme-router", acme_router)])
    router = host.create("router", "acme-router", {"base_url": director.url}, BackendContext(None, "."))
    assert isinstance(router, TrafficRouter)


def test_reads_percent_as_shares(director):
    r = asyncio.run(AcmeRouter({"base_url": director.url}).read_traffic())
    assert dict(r.shares) == {"acme": 1.0, "globex": 1.0, "initech": 1.0}
    assert r.rps["acme"] == 12.5


def test_applies_and_confirms_by_read_back(director):
    res = asyncio.run(AcmeRouter({"base_url": director.url}).apply_shares({"acme": 0.25, "globex": 0.0}, "act-1"))
    assert dict(res.applied) == {"acme": 0.25, "globex": 0.0}
    assert director.percent == {"acme": 25.0, "globex": 0.0, "initech": 100.0}


def test_partial_failure_is_reported(director):
    director.fail_tenants.add("globex")
    res = asyncio.run(AcmeRouter({"base_url": director.url}).apply_shares({"acme": 0.5, "globex": 0.5}, "act-2"))
    assert dict(res.applied) == {"acme": 0.5}
    assert res.failed == {"globex": "director answered 503"}


def test_same_request_id_changes_nothing_twice(director):
    r = AcmeRouter({"base_url": director.url})
    asyncio.run(r.apply_shares({"acme": 0.5}, "act-3"))
    director.percent["acme"] = 80.0
    again = asyncio.run(r.apply_shares({"acme": 0.5}, "act-3"))
    assert director.percent["acme"] == 80.0
    assert again.applied == {} and "reads 0.8" in again.failed["acme"]


def test_bad_options_are_one_sentence():
    with pytest.raises(ConfigError, match=r"plugins\.acme-router\.base_url: required, and not set"):
        AcmeRouter({})
    with pytest.raises(ConfigError, match="unknown option 'colour' \\(known: base_url, timeout_s, concurrency\\)"):
        AcmeRouter({"base_url": "http://x", "colour": "red"})


def test_the_host_validates_the_options_naming_the_file():
    import acme_router

    host = PluginHost(entry_points=False, plugins=[("acme-router", acme_router)])
    ctx = BackendContext(None, ".", config_file="/etc/cockpit/cockpit.toml")
    with pytest.raises(ConfigError) as err:
        host.create("router", "acme-router", {"base_url": "http://x", "timeout_s": -1}, ctx)
    assert str(err.value) == "/etc/cockpit/cockpit.toml: plugins.acme-router.timeout_s: expected `float` > 0.0"


def test_keeps_the_contract_write_path_included(director):
    """What `cockpit plugins check acme-router --write` runs, from the plugin's own tests (cockpit.testing)."""
    import acme_router

    assert_passes(asyncio.run(check_spec(acme_router, "acme-router", {"base_url": director.url}, write=True)))
    assert director.percent == {"acme": 100.0, "globex": 100.0, "initech": 100.0}  # moved and put back


def test_the_kit_catches_a_router_that_claims_what_it_did_not_write(director):
    class Lying(AcmeRouter):
        async def apply_shares(self, shares, request_id):
            return ApplyResult(applied=dict(shares))

    move = "FAIL  router     apply_shares (moved acme, globex by 0.01 and back): apply_shares claimed tenant"
    assert failures(asyncio.run(check_router(Lying({"base_url": director.url}), write=True))) == [
        f"{move} 'acme' at 0.99, but read_traffic reads 1.0: not written",
        f"{move} 'globex' at 0.99, but read_traffic reads 1.0: not written",
    ]
