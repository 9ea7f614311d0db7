"""Webhook templates through a real engine: a declare and a release reach a Slack incoming webhook, the
PagerDuty Events API v2 and an incident.io HTTP alert source (local servers that refuse anything but the
documented shapes), with the right secrets in the right places; a refusal is one journaled sentence
without the secret; bad templates refuse to start."""

from __future__ import annotations

import asyncio
import json

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError
from tests.backends.webhook.fakes import SLACK_PATH, Endpoint, incidentio, pagerduty, slack

PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, as PagerDuty issues them
INCIDENTIO_TOKEN = "inc-io-token-0123456789"
CONFIG_ID = "01GW2G3V0S59R238FAHPDS1R66"


@pytest.fixture
def endpoints(monkeypatch):
    eps = {
        "slack": Endpoint(slack),
        "pagerduty": Endpoint(pagerduty),
        "incidentio": Endpoint(incidentio(INCIDENTIO_TOKEN, CONFIG_ID)),
    }
    monkeypatch.setenv("SLACK_URL", eps["slack"].url + SLACK_PATH)
    monkeypatch.setenv("PD_KEY", PD_KEY)
    monkeypatch.setenv("INCIDENTIO_TOKEN", INCIDENTIO_TOKEN)
    yield eps
    for ep in eps.values():
        ep.close()


def _targets(eps) -> list[dict]:
    return [
        {"url_env": "SLACK_URL", "template": "slack"},
        {
            "url": eps["pagerduty"].url + "/v2/enqueue",
            "template": "pagerduty",
            "routing_key_env": "PD_KEY",
            "source": "cockpit-prod",
            "severity": "error",
        },
        {
            "url": f"{eps['incidentio'].url}/v2/alert_events/http/{CONFIG_ID}",
            "template": "incidentio",
            "token_env": "INCIDENTIO_TOKEN",
        },
    ]


def run(tmp_path, options, reason="bad answers for <!channel> & co"):
    async def go():
        clock = SimClock()
        s = open_drill(
            "classic", journal=tmp_path / "j.db", clock=clock, config_dir=tmp_path, plugin_options={"webhook": options}
        )
        e = s.engine
        try:
            await e.tick()
            await e.command("declare", reason=reason)
            clock.advance(60)
            await e.tick()
            await e.command("release", confirm=True)
            return [x.data for x in e.journal.entries(kinds=("plugin_error",))]
        finally:
            s.close()

    return asyncio.run(go())


def test_declare_and_release_reach_slack_pagerduty_and_incidentio_in_their_documented_shapes(tmp_path, endpoints):
    errors = run(tmp_path, {"targets": _targets(endpoints), "timeout_s": 5})
    assert errors == []
    for name, ep in endpoints.items():
        assert [status for *_, status in ep.received] == ([200, 200] if name == "slack" else [202, 202]), name

    declared, released = endpoints["slack"].bodies()
    assert declared["text"].startswith("Incident INC-1 declared by ")
    assert declared["text"].endswith(": bad answers for &lt;!channel&gt; &amp; co")  # no @channel from a reason
    assert declared["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Incident INC-1 declared: fleet frozen"},
    }
    assert "*Frozen:* rollout calendar; 2 cache namespace(s)" in declared["blocks"][1]["text"]["text"]
    assert released["text"].startswith("Incident INC-1 released by ")

    trigger, resolve = endpoints["pagerduty"].bodies()
    assert trigger["routing_key"] == PD_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "cockpit-INC-1" == resolve["dedup_key"]
    assert trigger["payload"]["source"] == "cockpit-prod" and trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["custom_details"]["freeze"]["models"]["old"] == "claude-opus-4-20250514"
    assert trigger["payload"]["summary"].endswith(": bad answers for <!channel> & co")  # escaped for Slack only
    assert resolve == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": "cockpit-INC-1"}

    (_, headers, firing, _), (_, _, resolved, _) = endpoints["incidentio"].received
    assert headers["authorization"] == f"Bearer {INCIDENTIO_TOKEN}"
    assert firing["status"] == "firing" and resolved["status"] == "resolved"
    assert firing["deduplication_key"] == resolved["deduplication_key"] == "cockpit-INC-1"
    assert firing["metadata"]["model_old"] == "claude-opus-4-20250514"
    # the Slack URL and the routing key are secrets: neither travels anywhere else
    assert "authorization" not in endpoints["slack"].received[0][1]
    assert "authorization" not in endpoints["pagerduty"].received[0][1]


def test_a_refused_event_is_one_journaled_sentence_without_the_secret(tmp_path, endpoints):
    bad = tmp_path / "pd-bad.json"  # a custom template that forgets the severity PagerDuty requires
    bad.write_text(
        json.dumps(
            {
                "declared": {
                    "routing_key": "${routing_key}",
                    "event_action": "trigger",
                    "payload": {"summary": "${summary}", "source": "x"},
                },
                "released": {
                    "routing_key": "${routing_key}",
                    "event_action": "resolve",
                    "dedup_key": "cockpit-${incident.id}",
                },
            }
        )
    )
    target = {"url": endpoints["pagerduty"].url + "/v2/enqueue", "template": "pd-bad.json", "routing_key_env": "PD_KEY"}
    errors = run(tmp_path, {"targets": [target]})
    assert [e["hook"] for e in errors] == ["cockpit_incident_declared"]  # the resolve went through
    assert errors[0]["error"].startswith(
        "RuntimeError: incident_declared not delivered to 1 webhook(s): "
        f"{endpoints['pagerduty'].url}/… answered 400 (Event object is invalid: "
    )
    assert "payload.severity" in errors[0]["error"] and PD_KEY not in errors[0]["error"]


def test_the_generic_body_is_unchanged_for_urls(tmp_path, endpoints):
    generic = Endpoint(lambda path, headers, body: (204, "text/plain", ""))
    try:
        assert run(tmp_path, {"urls": [generic.url + "/hooks/freeze"]}) == []
        assert [b["event"] for b in generic.bodies()] == ["incident_declared", "incident_released"]
        assert generic.bodies()[0]["incident"]["freeze"]["rollout"] is True
    finally:
        generic.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"url": "http://x/", "template": "teams"}, "plugins.webhook.targets[0].template: no template 'teams'"),
        (
            {"url": "http://x/", "template": "pagerduty"},
            "plugins.webhook.targets[0]: template 'pagerduty' needs routing_key_env",
        ),
        ({"template": "slack"}, "plugins.webhook.targets[0]: give url or url_env"),
        ({"url": "http://x/", "severity": "fatal"}, "plugins.webhook.targets[0].severity: expected one of critical"),
        ({"url": "http://x/", "colour": "red"}, "plugins.webhook.targets[0].colour: unknown option"),
        (
            {"url_env": "NO_SUCH_URL_VAR"},
            "plugins.webhook.targets[0].url_env: the environment variable NO_SUCH_URL_VAR",
        ),
        (
            {"url": "http://x/", "template": "pagerduty", "routing_key_env": "NO_SUCH_KEY_VAR"},
            "plugins.webhook.targets[0].routing_key_env: the environment variable NO_SUCH_KEY_VAR is not set",
        ),
        (
            {"url": "http://x/", "template": "custom.json"},
            "plugins.webhook.targets[0].template: template 'custom.json' uses unknown variable ${incident.owner}",
        ),
    ],
)
def test_bad_targets_refuse_to_start(tmp_path, target, message):
    (tmp_path / "custom.json").write_text(json.dumps({"declared": {"t": "${incident.owner}"}, "released": {}}))
    with pytest.raises(ConfigError) as err:
        run(tmp_path, {"targets": [target]})
    assert str(err.value).startswith(message), str(err.value)
