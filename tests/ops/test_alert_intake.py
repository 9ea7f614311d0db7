"""`[engine] alerts_listen`: a running `cockpit engine` takes Alertmanager's webhook over real HTTP. A
firing alert with the right bearer token declares an incident (journaled with the alert's labels), a
second one finds it open, a resolved one releases nothing and nothing ever arms; a wrong token, an
oversized or malformed body is refused with one sentence and only the refusal is journaled."""

from __future__ import annotations

import json

import httpx

from cockpit.engine.journal import Journal
from cockpit.timeline import describe

from .conftest import free_port, write_drill_config

TOKEN = "am-webhook-token-0123456789abcdef"


def alertmanager(status: str, *alerts: dict) -> dict:
    """The webhook body Alertmanager sends (version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ModelAnswersRegressed"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "cockpit",
        "groupLabels": {"alertname": "ModelAnswersRegressed"},
        "commonLabels": {"alertname": "ModelAnswersRegressed", "severity": "page"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.internal:9093",
        "alerts": list(alerts),
    }


def alert(status: str, tenant: str) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "ModelAnswersRegressed", "severity": "page", "tenant": tenant},
        "annotations": {"summary": f"wrong answers for {tenant} on the new revision"},
        "startsAt": "2026-12-01T20:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-01T20:10:00.000Z",
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=...",
        "fingerprint": f"{abs(hash(tenant)) % 10**16:016x}",
    }


def post(port: int, body: bytes | dict, token: str | None = TOKEN, **headers: str) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.27.0", **headers}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return httpx.post(f"http://127.0.0.1:{port}/alerts", content=data, headers=h, timeout=10.0)


def _config(tmp_path, port: int, **engine: object):
    cfg = write_drill_config(tmp_path, "journal.db", speed=5.0, regression_at=3000)
    (tmp_path / "alerts.token").write_text(TOKEN + "\n")
    extra = {"alerts_listen": f"127.0.0.1:{port}", "alerts_token_file": "alerts.token", **engine}
    cfg.write_text(cfg.read_text() + "\n[engine]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items()))
    return cfg


def test_alertmanager_declares_an_incident_and_never_arms_and_bad_requests_are_refused(tmp_path, engines):
    port = free_port()
    cfg = _config(tmp_path, port, alerts_max_body_kb=64)
    engine = engines(cfg, f"127.0.0.1:{free_port()}")
    engine.wait_for("alerts on http://127.0.0.1:")
    engine.wait_for("leader")

    refused = [
        post(port, alertmanager("firing", alert("firing", "acme")), token=None),
        post(port, alertmanager("firing", alert("firing", "acme")), token="not-the-token-at-all-0000"),
        post(port, b'{"version": "4", "status": "firing", "alerts": [', token=TOKEN),
        post(port, {**alertmanager("firing", alert("firing", "acme")), "version": "3"}),
        post(port, b"x" * (65 * 1024)),
    ]
    assert [r.status_code for r in refused] == [401, 401, 400, 400, 413]
    assert refused[0].headers["www-authenticate"] == "Bearer"
    assert refused[0].json() == {"error": "missing or wrong bearer token (Alertmanager: http_config.authorization)"}
    assert refused[2].json() == {"error": "the body is not JSON"}
    assert refused[3].json()["error"].startswith('version must be "4"')
    assert refused[4].json() == {"error": "the body is over 64 KB ([engine] alerts_max_body_kb)"}
    assert httpx.get(f"http://127.0.0.1:{port}/alerts", timeout=5).status_code == 405

    resolved = post(port, alertmanager("resolved", alert("resolved", "acme")))
    assert resolved.status_code == 200
    assert resolved.json() == {
        "status": "ok",
        "declared": False,
        "incident": None,
        "note": "resolved alerts do not release the incident; an operator does",
    }
    first = post(port, alertmanager("firing", alert("firing", "acme"), alert("firing", "globex")))
    assert first.status_code == 200 and first.json() == {"status": "ok", "declared": True, "incident": "INC-1"}
    again = post(port, alertmanager("firing", alert("firing", "initech")))
    assert again.json() == {"status": "ok", "declared": False, "incident": "INC-1"}
    gone = post(port, alertmanager("resolved", alert("resolved", "acme")))
    assert gone.json()["declared"] is False  # and the incident stays open
    engine.stop()

    j = Journal(tmp_path / "journal.db")
    try:
        commands = [(e.actor, e.data["command"], e.data["args"]) for e in j.entries(kinds=("command",))]
        received = [e.data for e in j.entries(kinds=("alert_received",))]
        refusals = [e.data["reason"] for e in j.entries(kinds=("alert_refused",))]
        timeline = [describe(e) for e in j.entries(kinds=("alert_received", "alert_refused"))]
        released = j.count("incident_released")
    finally:
        j.close()
    assert commands == [
        (
            "alertmanager:cockpit",
            "declare",
            {
                "reason": "alert ModelAnswersRegressed: wrong answers for acme on the new revision "
                "(declared by Alertmanager)"
            },
        )
    ]
    assert [(r["status"], r["declared"], r["incident"]) for r in received] == [
        ("resolved", False, None),
        ("firing", True, "INC-1"),
        ("firing", False, "INC-1"),
        ("resolved", False, "INC-1"),
    ]
    assert [a["labels"]["tenant"] for a in received[1]["alerts"]] == ["acme", "globex"]
    assert received[1]["alerts"][0]["startsAt"] == "2026-12-01T20:00:00.000Z" and received[1]["receiver"] == "cockpit"
    assert released == 0
    assert refusals == [
        "missing or wrong bearer token (Alertmanager: http_config.authorization)",
        "missing or wrong bearer token (Alertmanager: http_config.authorization)",
        "the body is not JSON",
        "version must be \"4\" (Alertmanager's webhook payload), not '3'",
        "the body is over 64 KB ([engine] alerts_max_body_kb)",
    ]
    assert TOKEN not in (tmp_path / "journal.db").read_bytes().decode(errors="replace")
    assert "alert firing by alertmanager:cockpit: 2 alert(s) (ModelAnswersRegressed); declared INC-1" in timeline
    assert (
        timeline[0]
        == "alert REFUSED from 127.0.0.1: missing or wrong bearer token (Alertmanager: http_config.authorization)"
    )


def test_alerts_listen_without_a_token_refuses_to_start(tmp_path, engines):
    cfg = _config(tmp_path, free_port())
    (tmp_path / "alerts.token").write_text("short\n")
    engine = engines(cfg, f"127.0.0.1:{free_port()}")
    assert engine.proc.wait(timeout=60) == 2
    out = engine.output()
    assert "alerts_token_file:" in out and "must hold a token of 16 characters or more" in out
    assert "Traceback" not in out


def _raw(port: int, request: bytes) -> tuple[int, dict]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_requests_alertmanager_would_never_send_are_refused_in_one_sentence(tmp_path, engines):
    port = free_port()
    engine = engines(_config(tmp_path, port), f"127.0.0.1:{free_port()}")
    engine.wait_for("alerts on http://127.0.0.1:")
    import socket
    import time

    stalled = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(10)]
    for s in stalled:  # clients that start a request and never finish it
        s.sendall(b"POST /alerts HTTP/1.1\r\nContent-Len")
    t0 = time.monotonic()
    answered = post(port, alertmanager("resolved", alert("resolved", "acme")))
    assert answered.status_code == 200 and time.monotonic() - t0 < 2.0  # the loop is not theirs to hold
    for s in stalled:
        s.close()
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    no_length = b"POST /alerts HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    chunked = b"POST /alerts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + auth + b"\r\n0\r\n\r\n"
    flood = b"POST /alerts HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n"
    elsewhere = b"POST /api/v2/alerts HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    assert _raw(port, no_length) == (411, {"error": "a Content-Length is required"})
    assert _raw(port, chunked) == (411, {"error": "a Content-Length is required"})
    assert _raw(port, flood) == (400, {"error": "more than 100 headers"})
    assert _raw(port, elsewhere) == (404, {"error": "not found: POST Alertmanager's webhook to /alerts"})
    body = alertmanager("firing", {**alert("firing", "acme"), "labels": {"alertname": 3}})
    bad = post(port, body)
    assert bad.status_code == 400 and bad.json() == {"error": "alerts[0].labels must be an object of strings"}


def test_an_alert_freezes_the_flags_and_pages_through_the_plugins(tmp_path, engines, monkeypatch):
    """The whole chain on a running engine: Alertmanager's POST declares, the declare turns the
    [freeze] flags off in LaunchDarkly and triggers PagerDuty (local servers speaking their APIs)."""
    from tests.backends.flags.fakes import LaunchDarklyFake
    from tests.backends.webhook.fakes import Endpoint, pagerduty

    ld = LaunchDarklyFake("ld-token-0123456789", flags={"new-prompt": {"production": True, "staging": True}})
    ld.serve()
    pd = Endpoint(pagerduty)
    monkeypatch.setenv("LD_TOKEN", "ld-token-0123456789")
    monkeypatch.setenv("PD_KEY", "R0UT1NGKEY0123456789abcdefABCDEF")
    try:
        port = free_port()
        cfg = _config(tmp_path, port)
        cfg.write_text(
            cfg.read_text()
            + '\n[freeze]\nflags = ["new-prompt"]\n'
            + f'\n[plugins.launchdarkly]\nurl = "{ld.url}"\ntoken_env = "LD_TOKEN"\nenvironment = "production"\n'
            + "\n[plugins.webhook]\n[[plugins.webhook.targets]]\n"
            + f'url = "{pd.url}/v2/enqueue"\ntemplate = "pagerduty"\nrouting_key_env = "PD_KEY"\n'
        )
        engine = engines(cfg, f"127.0.0.1:{free_port()}")
        engine.wait_for("alerts on http://127.0.0.1:")
        engine.wait_for("leader")
        assert ld.on("new-prompt")
        r = post(port, alertmanager("firing", alert("firing", "acme")))
        assert r.json() == {"status": "ok", "declared": True, "incident": "INC-1"}
        assert not ld.on("new-prompt") and ld.on("new-prompt", "staging")
        (trigger,) = pd.bodies()
        assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "cockpit-INC-1"
        assert trigger["payload"]["summary"].startswith("Incident INC-1 declared by alertmanager:cockpit: alert Model")
        assert [status for *_, status in pd.received] == [202]
    finally:
        ld.close()
        pd.close()
