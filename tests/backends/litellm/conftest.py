"""Fixtures: a fake LiteLLM proxy (fake_proxy.py says why not the real one) whose config holds a
whole-percent share ladder for one alias, and the router's options for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit_backends.litellm.ladder import ladder_config
from tests.backends.litellm.fake_proxy import FakeLiteLLM

ALIAS = "claude-opus"
OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"
KEY_ENV = "COCKPIT_TEST_LITELLM_KEY"


def ladder(step: int = 1) -> list[dict]:
    params = {"api_base": "http://127.0.0.1:9", "api_key": "os.environ/ANTHROPIC_API_KEY"}
    return ladder_config(ALIAS, f"anthropic/{OLD}", f"anthropic/{NEW}", step, params)


def options(proxy: FakeLiteLLM) -> dict:
    return {"base_url": proxy.url, "master_key_env": KEY_ENV, "alias": ALIAS, "retries": 1, "backoff_s": 0.01}


@pytest.fixture
def proxy(monkeypatch) -> Iterator[FakeLiteLLM]:
    p = FakeLiteLLM(model_list=ladder())
    p.serve()
    monkeypatch.setenv(KEY_ENV, p.master_key)
    try:
        yield p
    finally:
        p.close()
