"""``recorded = true``: the shared HTTP query read from the series the shipped recording rules record, in a
real Prometheus that evaluates those rules (rendered by cockpit_backends.prometheus.rules): the same
verdicts and rates as the query evaluated each tick; and unknown, with why, when the rules are not loaded
or were last evaluated too long ago."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.errors import ConfigError
from cockpit_backends.prometheus.rules import rules
from tests.backends.prometheus.conftest import NEW, Exporter, Prometheus, fleet_metrics
from tests.backends.prometheus.test_health import ERRORS, _sent, make, run
from tests.binaries import require

ROOT = Path(__file__).resolve().parents[3]
FRESH = {"template": "http.freshness", "max_age_s": 30}
RATES = {"template": "http.rates"}


@pytest.fixture(scope="module")
def recording_prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    """The FLEET exporter, without its stale tenant (test_health covers it) and with a third status code
    for 'steady' (404s, which the rules fold with the 200s), scraped every second, with the rules for a
    10 s window evaluated every second, and a second group, for an 11 s window, whose evaluation time
    reads 300 s old (a stalled group)."""
    current = rules("10s", "1s")
    stalled = rules("11s", "1s").replace("increase11s))", "increase11s)) - 300")
    text = current + "\n".join(stalled.splitlines()[3:]) + "\n"  # the second file's group, without its header
    t0 = time.time()
    render = fleet_metrics(t0)

    def metrics(now: float) -> str:
        lines = [x for x in render(now).splitlines(True) if 'tenant="stale"' not in x]
        lab = f'tenant="steady",cohort="growth",revision="{NEW}",code="404"'
        return "".join([*lines[:1], f"http_requests_total{{{lab}}} {5 * (now - t0):.4f}\n", *lines[1:]])

    exporter = Exporter(metrics)
    prom = Prometheus(tmp_path_factory.mktemp("prometheus"), [exporter.address], rules=text)
    try:
        prom.wait_for('cockpit:http_requests:increase10s{tenant="broken"}', n=4)  # 2 revisions x 2 codes
        time.sleep(11)  # a full 10 s window of samples behind the recorded sums
        yield prom
    finally:
        prom.stop()
        exporter.close()


def test_the_shipped_rule_file_is_the_rendered_one_and_promtool_accepts_it(tmp_path):
    shipped = ROOT / "docs/backends/prometheus-rules.yml"
    assert shipped.read_text() == rules()
    out = subprocess.run(
        [sys.executable, "-m", "cockpit_backends.prometheus.rules", "--window", "1m", "--tenant", "team"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert out.stdout == rules("1m", tenant="team")
    assert "record: cockpit:http_requests:increase1m" in out.stdout and "sum by (team, revision)" in out.stdout
    (tmp_path / "rules.yml").write_text(out.stdout)
    promtool = str(Path(require("prometheus")).with_name("promtool"))  # the same Debian package ships it
    check = subprocess.run([promtool, "check", "rules", str(shipped), str(tmp_path / "rules.yml")],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert check.returncode == 0 and "SUCCESS: 2 rules found" in check.stdout, check.stdout + check.stderr


def test_recorded_reads_the_rules_series_with_the_same_verdicts_and_rates(tmp_path, recording_prometheus):
    url = recording_prometheus.url
    recorded = make(tmp_path, url, checks=[ERRORS], rates=RATES, recorded=True)
    evaluated = make(tmp_path, url, checks=[ERRORS], rates=RATES)
    sent = _sent(recorded)

    async def tick(h):
        return await h.regressions(), await h.rates()

    (harm, rates), (harm2, rates2) = run(tick(recorded)), run(tick(evaluated))
    shared = recorded.settings.checks[0].shared
    assert sorted(sent) == sorted([q for q, _ in shared.shards] + [shared.evaluated])
    assert all("cockpit:http_requests:increase10s{" in q and "increase(" not in q for q, _ in shared.shards)
    assert set(harm) == set(harm2) and set(harm.unknown) == set(harm2.unknown) == {"quiet", "idle"}
    assert {t for t, v in harm.items() if v > 0} == {"broken", "allnew-bad"}
    for t in harm:
        assert harm[t] == pytest.approx(harm2[t], abs=0.02), t
    assert harm.unknown["quiet"].startswith("errors: too few samples on the new revision")
    assert "NaN" in harm.unknown["idle"]
    assert set(rates) == set(rates2) and rates["broken"] == pytest.approx(40, rel=0.1)
    for t in rates:
        assert rates[t] == pytest.approx(rates2[t], rel=0.1), t
    assert recorded._recorded_age is not None and 0 <= recorded._recorded_age < 5
    # steady's 200s and 404s are one recorded series; its error ratio counts both, as the query does
    rows = recording_prometheus.query('cockpit:http_requests:increase10s{tenant="steady"}')
    assert sorted(r["metric"]["code"] for r in rows) == ["5xx", "5xx", "other", "other"]
    steady, steady2 = recorded.last[0].tenants["steady"], evaluated.last[0].tenants["steady"]
    assert steady.value == pytest.approx(steady2.value, rel=0.1) and steady.value < 0.011 * 20 / 25 + 0.001


def test_freshness_is_implied_while_the_recording_is_young_enough(tmp_path, recording_prometheus):
    h = make(tmp_path, recording_prometheus.url, checks=[ERRORS], rates=RATES, freshness=FRESH, recorded=True)
    sent = _sent(h)
    for _ in range(3):
        r = run(h.regressions())
        assert r["broken"] > 0.5 and r["steady"] == 0.0
    # with the first reading only: 10 s window + the recording's age (about a second) is within 30 s
    assert sum("timestamp(" in q for q in sent) == 1
    # 10 s window + any age is more than max_age_s 10: every reading asks the freshness query
    h2 = make(tmp_path, recording_prometheus.url, checks=[ERRORS], freshness=FRESH | {"max_age_s": 10}, recorded=True)
    sent2 = _sent(h2)
    for _ in range(3):
        assert run(h2.regressions())["broken"] > 0.5
    assert sum("timestamp(" in q for q in sent2) == 3


def test_without_the_rules_every_tenant_is_unknown_with_why(tmp_path, fleet_prometheus):
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], rates=RATES, recorded=True)
    r = run(h.regressions())
    assert len(r) == 0
    why = r.why_unknown("broken")
    assert "check 'errors' (plugins.prometheus.checks[0]" in why
    assert "no cockpit:http_requests:increase10s_evaluated_at series: the recording rules are not loaded" in why
    rates = run(h.rates())
    assert len(rates) == 0 and rates.why_unknown("broken").startswith("rates query failed")


def test_a_recording_older_than_max_age_is_not_read(tmp_path, recording_prometheus):
    h = make(tmp_path, recording_prometheus.url, window="11s", checks=[ERRORS], rates=RATES, recorded=True)
    r = run(h.regressions())
    assert len(r) == 0  # never healthy: the sums describe a window five minutes ago
    assert "the recording rules were last evaluated 30" in r.why_unknown("broken")
    assert "(more than 60 s)" in r.why_unknown("steady")
    assert len(run(h.rates())) == 0


def test_recorded_refuses_a_selector_a_non_boolean_and_nothing_to_read(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins.prometheus.selector: with recorded = true the recording rules"):
        make(tmp_path, "http://127.0.0.1:9", checks=[ERRORS], recorded=True, selector='namespace="prod"')
    with pytest.raises(ConfigError, match=r"plugins.prometheus.recorded: expected true or false, got 'yes'"):
        make(tmp_path, "http://127.0.0.1:9", checks=[ERRORS], recorded="yes")
    own = {"name": "own", "query": "eval_score", "threshold": 0.1}
    with pytest.raises(ConfigError, match=r"plugins.prometheus.recorded: no check or rates reads the shared HTTP"):
        make(tmp_path, "http://127.0.0.1:9", checks=[own], rates={"template": "litellm.rates"}, recorded=True)
