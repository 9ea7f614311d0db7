"""`cockpit engine --http-listen`: /metrics, /healthz and leader-aware /readyz, over real HTTP requests to a
running engine (one on SQLite with the autopilot rolling back; two sharing a Redis journal)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import httpx

from .conftest import free_port, with_tokens, write_drill_config


def _get(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5.0)


def _value(text: str, series: str) -> float | None:
    m = re.search(rf"(?m)^{re.escape(series)} ([0-9.e+-]+)$", text)
    return float(m.group(1)) if m else None


def _wait_metric(port: int, series: str, predicate, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _get(port, "/metrics").text
        v = _value(text, series)
        if v is not None and predicate(v):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{series} never satisfied the condition; last scrape:\n{text}")


def test_single_engine_serves_metrics_and_health(tmp_path, engines):
    cfg = write_drill_config(tmp_path, "journal.db", speed=20.0, regression_at=20)
    tokens = with_tokens(cfg)
    http = free_port()
    engine = engines(cfg, f"127.0.0.1:{free_port()}", "--autopilot", "--http-listen", f"127.0.0.1:{http}")
    engine.wait_for("metrics and health on")

    health = _get(http, "/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    ready = _get(http, "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"role": "leader", "epoch": None, "ready": True}

    metrics = _get(http, "/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for series in (
        "cockpit_leader 1.0",
        'cockpit_engine_role{role="leader"} 1.0',
        "cockpit_leader_epoch 0.0",
        "cockpit_attached_screens 0.0",
        'cockpit_degraded{role="router"} 0.0',
        "cockpit_degraded_roles 0.0",
    ):
        assert series in text, (series, text)
    _wait_metric(http, "cockpit_tick_duration_seconds_count", lambda v: v >= 3)

    # The autopilot declares and arms; stages move traffic: the stage and actuation latency follow.
    text = _wait_metric(http, "cockpit_rollback_stage", lambda v: v >= 1, timeout=90)
    assert _value(text, "cockpit_incident_open") == 1.0
    assert _value(text, "cockpit_rollback_armed") == 1.0
    text = _wait_metric(http, "cockpit_actuation_latency_seconds_count", lambda v: v >= 1)
    assert _value(text, "cockpit_actuations_total") >= 1
    assert _value(text, "cockpit_journal_append_seconds_count") > 0
    assert _value(text, "cockpit_journal_unacked_actuation_age_seconds") is not None

    # A screen attaches: the gauge counts it.
    async def attached() -> None:
        from cockpit.engine.remote import RemoteEngine

        operator, token = next(iter(tokens.items()))
        screen = await RemoteEngine.connect(engine.listen, operator, token=token)
        try:
            await screen.first_snapshot()
            await asyncio.to_thread(_wait_metric, http, "cockpit_attached_screens", lambda v: v == 1)
        finally:
            await screen.close()

    asyncio.run(attached())
    _wait_metric(http, "cockpit_attached_screens", lambda v: v == 0)

    assert _get(http, "/nope").status_code == 404
    assert httpx.post(f"http://127.0.0.1:{http}/metrics", timeout=5.0).status_code == 405


def test_standby_is_live_but_not_ready(tmp_path, redis_server, engines):
    url = f"redis://127.0.0.1:{redis_server}/0?stream=metrics"
    cfg = write_drill_config(tmp_path, url, speed=20.0)
    with_tokens(cfg)
    ports = [free_port(), free_port()]
    first = engines(cfg, f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{ports[0]}", name="a")
    first.wait_for("leader, epoch")
    second = engines(cfg, f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{ports[1]}", name="b")
    second.wait_for("standby (lease held by")

    leader, standby = _get(ports[0], "/readyz"), _get(ports[1], "/readyz")
    assert leader.status_code == 200 and leader.json()["role"] == "leader" and leader.json()["epoch"] >= 1
    assert standby.status_code == 503, standby.text
    assert standby.json()["role"] == "standby" and "another engine holds the lease" in standby.json()["why"]
    assert _get(ports[1], "/healthz").status_code == 200  # alive: Kubernetes must not restart a standby

    text = _get(ports[0], "/metrics").text
    assert _value(text, "cockpit_leader") == 1.0 and _value(text, "cockpit_leader_epoch") >= 1
    text = _get(ports[1], "/metrics").text
    assert _value(text, "cockpit_leader") == 0.0 and 'cockpit_engine_role{role="standby"} 1.0' in text
    assert "cockpit_tick_duration_seconds_count 0.0" in text  # a standby does not tick


def test_bad_http_listen_is_one_sentence(tmp_path):
    cfg = write_drill_config(tmp_path, "journal.db")
    for value, words in (("localhost", "--http-listen 'localhost'"), ("unix:/tmp/x.sock", "expected HOST:PORT")):
        r = subprocess.run(
            [sys.executable, "-m", "cockpit", "engine", "--config", str(cfg), "--http-listen", value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
        assert words in r.stderr, r.stderr
