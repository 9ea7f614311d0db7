"""The litellm router against a LiteLLM management API over real HTTP (the fake proxy; the ladder's
shape checked against a real proxy's /model/info answer), and `cockpit plugins check litellm --write`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from cockpit.engine.clock import SimClock
from cockpit.errors import BackendError, ConfigError
from cockpit.hookspecs import BackendContext, PinnedModels
from cockpit.plugins import PluginHost
from cockpit_backends.litellm.ladder import group_share, ladder_config, pick_group, read_ladder
from tests.backends.litellm.conftest import ALIAS, KEY_ENV, NEW, OLD, options

REAL_MODEL_INFO = Path(__file__).parents[2] / "data" / "litellm" / "model_info_real.json"


def make_router(proxy, tmp_path, **overrides):
    ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path), models=PinnedModels(old=OLD, new=NEW))
    return PluginHost().create("router", "litellm", options(proxy) | overrides, ctx)


def _team_writes(proxy) -> list[tuple[str, dict]]:
    return [(r.path, r.body) for r in proxy.requests if r.method == "POST"]


def test_the_ladder_reads_a_real_proxys_model_info_and_the_fake_answers_in_the_same_shape():
    real = json.loads(REAL_MODEL_INFO.read_text())  # LiteLLM 1.108.7, config from ladder_config(step=25)
    want = {f"{ALIAS}@{p}": p / 100 for p in (0, 25, 50, 75, 100)}
    assert read_ladder(real, OLD, NEW) == want
    from tests.backends.litellm.fake_proxy import FakeLiteLLM

    fake = FakeLiteLLM(model_list=ladder_config(ALIAS, f"anthropic/{OLD}", f"anthropic/{NEW}", 25, {"api_key": "k"}))
    served = fake._model_info()
    assert read_ladder(served, OLD, NEW) == want

    def shape(info):
        return [(d["model_name"], d["litellm_params"]["model"], d["litellm_params"]["weight"]) for d in info["data"]]

    assert shape(served) == shape(real)
    assert all("api_key" not in d["litellm_params"] for d in real["data"] + served["data"])


def test_group_share_follows_simple_shuffle_weights():
    old, new = {"model": f"anthropic/{OLD}"}, {"model": NEW}
    assert (
        group_share([{"litellm_params": {**old, "weight": 3}}, {"litellm_params": {**new, "weight": 1}}], OLD, NEW)
        == 0.25
    )
    # weights present: an unweighted deployment gets none; none present: uniform
    assert group_share([{"litellm_params": {**old, "weight": 3}}, {"litellm_params": new}], OLD, NEW) == 0.0
    assert group_share([{"litellm_params": old}, {"litellm_params": new}], OLD, NEW) == 0.5
    assert group_share([{"litellm_params": old}, {"litellm_params": {"model": "openai/gpt-4o"}}], OLD, NEW) is None
    assert pick_group({"a": 0.5, f"{ALIAS}@50": 0.5}, 0.5, ALIAS) == f"{ALIAS}@50"
    assert pick_group({"a": 0.5}, 0.42, ALIAS) is None
    with pytest.raises(ValueError, match="step must divide 100"):
        ladder_config(ALIAS, OLD, NEW, 3)


def test_read_is_two_calls_and_a_team_off_the_ladder_is_left_out(proxy, tmp_path):
    proxy.add_team("acme", {ALIAS: f"{ALIAS}@100", "gpt-4o": "gpt-4o-eu"})
    proxy.add_team("globex", {ALIAS: f"{ALIAS}@50"})
    proxy.add_team("tyrell", {ALIAS: f"{ALIAS}@0"})
    proxy.add_team("initech", {})  # calls the alias itself, which is no ladder group: share unknown
    proxy.add_team("hooli", {ALIAS: "some-other-group"})
    r = make_router(proxy, tmp_path)
    reading = asyncio.run(r.read_traffic())
    assert dict(reading.shares) == {"acme": 1.0, "globex": 0.5, "tyrell": 0.0}
    assert dict(reading.rps) == {}
    assert sorted(proxy.calls()) == [("GET", "/model/info"), ("GET", "/team/list")]


def test_apply_points_each_teams_alias_at_its_ladder_group_keeping_its_other_aliases(proxy, tmp_path):
    acme = proxy.add_team("acme", {ALIAS: f"{ALIAS}@100", "gpt-4o": "gpt-4o-eu"})
    proxy.add_team("tyrell", {ALIAS: f"{ALIAS}@50"})
    proxy.add_team("globex", {ALIAS: f"{ALIAS}@100"})
    r = make_router(proxy, tmp_path)
    proxy.requests.clear()
    result = asyncio.run(r.apply_shares({"acme": 0.42, "tyrell": 0.5, "newco": 1.0, "odd": 0.425, "bad": 1.5}, "a-1"))
    assert dict(result.applied) == {"acme": 0.42, "tyrell": 0.5, "newco": 1.0}
    assert result.failed == {
        "odd": "no model group on the proxy serves share 0.425 (the ladder has 101 groups)",
        "bad": "share 1.5 is outside [0, 1]; not sent",
    }
    # tyrell is already there: not written; acme keeps its gpt-4o alias; newco is created
    assert sorted(_team_writes(proxy), key=lambda w: w[0]) == [
        ("/team/new", {"team_alias": "newco", "model_aliases": {ALIAS: f"{ALIAS}@100"}}),
        (
            "/team/update",
            {"team_id": acme["team_id"], "model_aliases": {ALIAS: f"{ALIAS}@42", "gpt-4o": "gpt-4o-eu"}},
        ),
    ]
    assert proxy.calls()[-1] == ("GET", "/team/list")  # confirmed by read-back
    assert proxy.aliases()["globex"] == {ALIAS: f"{ALIAS}@100"}  # not asked: untouched
    # the same request again writes nothing
    proxy.requests.clear()
    again = asyncio.run(r.apply_shares({"acme": 0.42, "tyrell": 0.5, "newco": 1.0}, "a-1"))
    assert dict(again.applied) == {"acme": 0.42, "tyrell": 0.5, "newco": 1.0}
    assert _team_writes(proxy) == []
    assert dict(asyncio.run(r.read_traffic()).shares) == {"acme": 0.42, "tyrell": 0.5, "newco": 1.0, "globex": 1.0}


def test_tenants_named_by_team_id(proxy, tmp_path):
    proxy.add_team("Acme Corp", {ALIAS: f"{ALIAS}@100"}, team_id="acme")
    r = make_router(proxy, tmp_path, tenant_field="team_id")
    assert dict(asyncio.run(r.read_traffic()).shares) == {"acme": 1.0}
    result = asyncio.run(r.apply_shares({"acme": 0.5, "globex": 0.0}, "a-1"))
    assert dict(result.applied) == {"acme": 0.5, "globex": 0.0}
    created = next(q.body for q in proxy.requests if q.path == "/team/new")
    assert created == {"team_id": "globex", "model_aliases": {ALIAS: f"{ALIAS}@0"}}


def test_a_team_write_that_keeps_failing_is_that_tenants_failure_only(proxy, tmp_path):
    proxy.add_team("acme", {ALIAS: f"{ALIAS}@100"})
    r = make_router(proxy, tmp_path)
    proxy.fail_next(2, 503, "/team/update")  # retries = 1: both attempts refused
    result = asyncio.run(r.apply_shares({"acme": 0.0, "newco": 0.3}, "a-1"))
    assert dict(result.applied) == {"newco": 0.3}
    assert result.failed["acme"].startswith("POST /team/update answered 503 (injected 503 by the fake proxy)")
    assert proxy.aliases()["acme"] == {ALIAS: f"{ALIAS}@100"}


def test_an_unreachable_or_refusing_proxy_is_one_sentence_without_the_key(proxy, tmp_path):
    r = make_router(proxy, tmp_path)
    proxy.fail_next(2, 503, "/team/list")
    with pytest.raises(BackendError) as err:
        asyncio.run(r.read_traffic())
    text = str(err.value)
    assert text.startswith("backend 'litellm' (router): GET /team/list answered 503"), text
    assert proxy.master_key not in text and "\n" not in text
    os.environ["COCKPIT_TEST_WRONG_KEY"] = "sk-wrong"
    try:
        bad = make_router(proxy, tmp_path, master_key_env="COCKPIT_TEST_WRONG_KEY")
        with pytest.raises(BackendError, match=r"answered 401: Authentication Error"):
            asyncio.run(bad.read_traffic())
    finally:
        del os.environ["COCKPIT_TEST_WRONG_KEY"]


def test_a_proxy_without_the_ladder_says_how_to_add_it(proxy, tmp_path):
    proxy.model_list = [{"model_name": ALIAS, "litellm_params": {"model": "openai/gpt-4o"}}]
    r = make_router(proxy, tmp_path)
    with pytest.raises(BackendError, match=r"no model group splitting .* add the share ladder"):
        asyncio.run(r.read_traffic())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "plugins.litellm: unknown option 'colour'"),
        ({"base_url": "litellm:4000"}, "plugins.litellm.base_url: expected `str` matching regex"),
        ({"master_key_env": "COCKPIT_TEST_UNSET"}, "plugins.litellm.master_key_env: environment variable"),
        ({"alias": ""}, "plugins.litellm.alias: required (the model name the teams call)"),
        ({"tenant_field": "name"}, "plugins.litellm.tenant_field: invalid enum value 'name'"),
    ],
)
def test_bad_options_are_one_sentence(proxy, tmp_path, change, message):
    with pytest.raises(ConfigError) as err:
        make_router(proxy, tmp_path, **change)
    assert str(err.value).startswith(message), str(err.value)


def test_plugins_check_write_passes_against_the_proxy(proxy, tmp_path):
    for tenant, p in {"acme": 100, "globex": 100, "tyrell": 50}.items():
        proxy.add_team(tenant, {ALIAS: f"{ALIAS}@{p}"})
    config = {
        "models": {"old": OLD, "new": NEW, "alias": ALIAS},
        "cockpit": {"journal": "journal.db"},
        "backends": {"router": "litellm"},
        "plugins": {"mock": {"scenario": "classic"}, "litellm": options(proxy)},
    }
    path = tmp_path / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(path), "plugins", "check", "litellm", "--write"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, KEY_ENV: proxy.master_key},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS  router     read_traffic: 3 tenants (no rates: the health backend must provide them)" in out.stdout
    assert "PASS  router     apply_shares (moved acme, globex by 0.01 and back)" in out.stdout
    assert "PASS  router     restore" in out.stdout
    assert "FAIL" not in out.stdout and out.stdout.splitlines()[-1] == "4 passed, 0 failed", out.stdout
    writes = [(r.path, r.body["model_aliases"][ALIAS]) for r in proxy.requests if r.path == "/team/update"]
    assert sorted(writes) == sorted([("/team/update", f"{ALIAS}@99")] * 2 + [("/team/update", f"{ALIAS}@100")] * 2)
    assert proxy.aliases() == {
        t: {ALIAS: f"{ALIAS}@{p}"} for t, p in {"acme": 100, "globex": 100, "tyrell": 50}.items()
    }
