"""The http router against a real HTTP server on loopback implementing the contract, with faults."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.errors import BackendError, ConfigError
from cockpit.hookspecs import TrafficRouter
from cockpit_backends.http.router import HttpRouter

from .conftest import RouterServer


def make(rs: RouterServer, context, **opts) -> HttpRouter:
    return HttpRouter({"base_url": rs.url, "timeout_s": 0.3, "backoff_s": 0.01, **opts}, context)


def run(coro):
    return asyncio.run(coro)


def test_reads_the_vector_with_rates_and_cohorts(router_server, context):
    r = make(router_server, context)
    assert isinstance(r, TrafficRouter)
    reading = run(r.read_traffic())
    assert dict(reading.shares) == {f"t{i:02d}": 1.0 for i in range(1, 11)}
    assert reading.rps["t03"] == 5.0
    assert reading.cohorts == {"t01": "enterprise"}


def test_apply_sets_the_batch_and_read_back_confirms(router_server, context):
    r = make(router_server, context)
    res = run(r.apply_shares({"t01": 0.5, "t02": 0.0}, "act-1"))
    assert dict(res.applied) == {"t01": 0.5, "t02": 0.0}
    assert res.failed == {}
    assert router_server.state.shares["t01"] == 0.5
    assert router_server.state.shares["t02"] == 0.0
    # one POST, then a GET to read back
    assert router_server.state.requests[-2:] == [("POST", "/v1/shares"), ("GET", "/v1/shares")]


def test_same_request_id_applies_once_and_returns_the_same_result(router_server, context):
    r = make(router_server, context)
    first = run(r.apply_shares({"t01": 0.25}, "act-7"))
    router_server.state.shares["t01"] = 0.9  # someone else moves it afterwards
    again = run(r.apply_shares({"t01": 0.25}, "act-7"))
    assert router_server.state.applies == 1
    assert router_server.state.replays == 1
    # the replay did not re-apply: the read-back shows 0.9, so the client does not claim 0.25 is in force
    assert dict(first.applied) == {"t01": 0.25}
    assert dict(again.applied) == {}
    assert "reads 0.9" in again.failed["t01"]


def test_same_request_id_with_a_different_batch_is_refused_not_applied(router_server, context):
    r = make(router_server, context)
    run(r.apply_shares({"t01": 0.25}, "act-8"))
    res = run(r.apply_shares({"t01": 0.75}, "act-8"))
    assert res.applied == {}
    assert "422" in res.failed["t01"]
    assert router_server.state.shares["t01"] == 0.25


def test_retries_500_and_429_with_backoff_then_applies(router_server, context):
    router_server.fail("POST", "500", "429", "503")
    r = make(router_server, context, retries=3)
    res = run(r.apply_shares({"t03": 0.1}, "act-2"))
    assert dict(res.applied) == {"t03": 0.1}
    assert router_server.posts() == 4
    assert router_server.state.applies == 1


def test_a_lost_answer_is_retried_with_the_same_key_and_not_applied_twice(router_server, context):
    router_server.fail("POST", "lost")  # applied, then hangs past the client's timeout
    r = make(router_server, context, retries=2)
    res = run(r.apply_shares({"t04": 0.4}, "act-3"))
    assert dict(res.applied) == {"t04": 0.4}
    assert router_server.state.applies == 1
    assert router_server.state.replays == 1


def test_hang_past_the_timeout_is_retried(router_server, context):
    router_server.fail("POST", "hang")
    r = make(router_server, context, retries=1)
    res = run(r.apply_shares({"t05": 0.5}, "act-4"))
    assert dict(res.applied) == {"t05": 0.5}


def test_persistent_failure_is_reported_per_tenant_not_hidden(router_server, context):
    router_server.fail("POST", "500", "500", "500")
    r = make(router_server, context, retries=2)
    res = run(r.apply_shares({"t06": 0.0, "t07": 0.0}, "act-5"))
    assert res.applied == {}
    assert set(res.failed) == {"t06", "t07"}
    assert "answered 500 (backend pool exhausted), after 3 attempt(s)" in res.failed["t06"]
    assert router_server.state.shares["t06"] == 1.0


def test_partial_failure_from_the_router_is_reported(router_server, context):
    r = make(router_server, context)
    res = run(r.apply_shares({"t08": 0.3, "nobody": 0.3}, "act-6"))
    assert dict(res.applied) == {"t08": 0.3}
    assert res.failed == {"nobody": "router refused: unknown tenant"}


def test_a_router_that_claims_success_without_applying_is_caught_by_read_back(router_server, context):
    router_server.fail("POST", "lie")
    r = make(router_server, context)
    res = run(r.apply_shares({"t09": 0.2}, "act-9"))
    assert res.applied == {}
    assert res.failed["t09"] == "not confirmed by read-back: it reads 1, not 0.2"


def test_read_back_failure_confirms_nothing(router_server, context):
    router_server.fail("GET", "500", "500")
    r = make(router_server, context, retries=1)
    res = run(r.apply_shares({"t10": 0.6}, "act-10"))
    assert router_server.state.shares["t10"] == 0.6  # it was applied ...
    assert res.applied == {}  # ... but not confirmed, so not claimed
    assert res.failed["t10"].startswith("not confirmed: read-back failed")


def test_a_share_of_calls_failing_or_hanging_still_converges_truthfully(router_server, context):
    """The issue's fault: the router answers 500 or times out on a share of calls. Every apply's
    claim is checked against the server's real state."""
    r = make(router_server, context, retries=1)
    router_server.fail("POST", "500", "hang", "hang", "500", "lost", "503", "500", "500")
    router_server.fail("GET", "hang", "500")
    claims = []
    for n in range(8):
        tenant = f"t{n + 1:02d}"
        res = run(r.apply_shares({tenant: 0.5}, f"act-s{n}"))
        claims.append(res)
        for t, s in res.applied.items():
            assert router_server.state.shares[t] == s  # never claims what is not in force
        assert set(res.applied) | set(res.failed) == {tenant}
    assert any(c.failed for c in claims) and any(c.applied for c in claims)


def test_unreachable_router_raises_one_sentence(context):
    r = HttpRouter({"base_url": "http://127.0.0.1:9", "retries": 1, "backoff_s": 0, "timeout_s": 0.2}, context)
    with pytest.raises(BackendError, match=r"could not connect .*, after 2 attempt\(s\)"):
        run(r.read_traffic())


def test_bearer_token_from_the_environment_is_sent_and_never_shown(router_server, context, monkeypatch):
    token = "rt-secret-token-77f1"
    router_server.state.token = token
    monkeypatch.setenv("ROUTER_TOKEN", token)
    r = make(router_server, context, token_env="ROUTER_TOKEN")
    assert token not in repr(r) and token not in repr(vars(r))
    assert len(run(r.read_traffic()).shares) == 10
    monkeypatch.setenv("ROUTER_TOKEN", "wrong-" + token)
    wrong = make(router_server, context, token_env="ROUTER_TOKEN")
    with pytest.raises(BackendError) as err:
        run(wrong.read_traffic())
    assert "401" in str(err.value) and token not in str(err.value)


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({}, r"plugins\.http\.base_url: required"),
        ({"base_url": "router:80"}, r"plugins\.http\.base_url: expected an http"),
        ({"base_url": "http://x", "retries": -1}, r"plugins\.http\.retries"),
        ({"base_url": "http://x", "timeout_s": "1s"}, r"plugins\.http\.timeout_s"),
        ({"base_url": "http://x", "colour": 1}, r"plugins\.http: unknown option 'colour'"),
        ({"base_url": "http://x", "token_env": "NOT_SET_ANYWHERE_42"}, r"NOT_SET_ANYWHERE_42 is not set"),
    ],
)
def test_bad_options_are_one_sentence(opts, match, context):
    with pytest.raises(ConfigError, match=match):
        HttpRouter(opts, context)


def test_large_batches_are_chunked_with_deterministic_keys(router_server, context):
    r = make(router_server, context, batch_size=4)
    shares = {f"t{i:02d}": 0.5 for i in range(1, 11)}
    res = run(r.apply_shares(shares, "act-big"))
    assert dict(res.applied) == shares
    assert sorted(router_server.state.results) == ["act-big.1of3", "act-big.2of3", "act-big.3of3"]
    run(r.apply_shares(shares, "act-big"))  # a retry of the whole request id replays every chunk
    assert router_server.state.applies == 3 and router_server.state.replays == 3
