"""The prometheus health backend against a real Prometheus scraping a real exporter: checks, baselines,
minimum samples, cohort thresholds, consecutive breaches, rates, warmth, and every way a tenant is unknown."""

from __future__ import annotations

import asyncio
import math
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import tomli_w

from cockpit.engine.clock import SimClock
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, HealthSignals, SignalReading
from cockpit.plugins import PluginHost
from tests.backends.prometheus.conftest import NEW, OLD, LocalServer
from tests.backends.redis.conftest import free_port

ERRORS = {"name": "errors", "template": "http.error_ratio", "consecutive": 1, "min_samples": 20}


def make(tmp_path: Path, url: str, **options):
    """The backend as the engine builds it, from a cockpit.toml written to `tmp_path`."""
    opts = {"url": url, "window": "10s", "revisions": {"old": OLD, "new": NEW}} | options
    (tmp_path / "cockpit.toml").write_text(
        tomli_w.dumps({"models": {"old": OLD, "new": NEW}, "plugins": {"prometheus": opts}})
    )
    ctx = BackendContext(clock=SimClock(), config_dir=str(tmp_path))
    return PluginHost().create("health", "prometheus", opts, ctx)


def run(coro):
    return asyncio.run(coro)


def test_listed_and_implements_the_health_role(tmp_path, fleet_prometheus):
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS])
    assert isinstance(h, HealthSignals) and hasattr(h, "rates") and hasattr(h, "warmth")
    specs = PluginHost().backends()
    assert {"health"} == set(specs["prometheus"].roles) == set(specs["http-json"].roles)


def test_error_ratio_against_own_and_fleet_baselines(tmp_path, fleet_prometheus):
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], freshness={"template": "http.freshness", "max_age_s": 30})
    r = run(h.regressions())
    assert isinstance(r, SignalReading)
    # regressing: broken against its own old value, allnew-bad against the fleet's (median of old values)
    assert r["broken"] == pytest.approx(0.5 + 0.5 * 0.39, abs=0.02)
    assert r["allnew-bad"] == pytest.approx(0.5 + 0.5 * 0.29, abs=0.02)
    verdicts = {v: res.tenants for res in h.last for v in [res.check.name]}["errors"]
    assert verdicts["broken"].baseline_from == "own old"
    assert verdicts["allnew-bad"].baseline_from.startswith("fleet old (median of")
    # healthy, known
    assert r["steady"] == 0.0 and r["allnew-ok"] == 0.0
    assert r["premium"] == 0.0  # +0.03 is under the default threshold 0.05
    # unknown, each with its reason; never healthy
    assert "quiet" not in r and r.unknown["quiet"].startswith("errors: too few samples on the new revision")
    assert "idle" not in r and "NaN" in r.unknown["idle"]
    assert "stale" not in r and r.unknown["stale"].startswith("stale series: last sample")
    assert r.why_unknown("nobody") == "no series for this tenant in any check"


def test_cohort_threshold_and_consecutive_breaches(tmp_path, fleet_prometheus):
    check = ERRORS | {"thresholds": {"enterprise": 0.02}, "consecutive": 2}
    h = make(tmp_path, fleet_prometheus.url, checks=[check], cohorts={"enterprise": ["premium"]})
    first = run(h.regressions())
    assert first["premium"] == 0.0 and first["broken"] == 0.0  # one breach each: not yet
    second = run(h.regressions())
    assert second["premium"] == pytest.approx(0.5 + 0.5 * 0.03, abs=0.01)  # enterprise's 0.02 applies
    assert second["broken"] > 0.5


def test_lower_is_worse_absolute_check_and_combination(tmp_path, fleet_prometheus):
    evals = {
        "name": "eval",
        "query": "eval_score{${selector}}",
        "direction": "lower_is_worse",
        "baseline": "none",
        "threshold": 0.7,
        "scale": 0.7,
        "consecutive": 1,
    }
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS, evals])
    r = run(h.regressions())
    assert r["broken"] == pytest.approx(0.5 + 0.5 * max(0.39, 0.28 / 0.7), abs=0.02)  # the worse check wins
    assert r["allnew-bad"] > 0.5  # regressing on errors; no eval series does not hide it
    # steady: healthy on errors, healthy on eval; allnew-ok: healthy on errors but no eval series
    assert r["steady"] == 0.0
    assert "allnew-ok" not in r and "eval: no series on the new revision" in r.unknown["allnew-ok"]
    assert "NaN" in r.unknown["premium"]


def test_rates_and_warmth(tmp_path, fleet_prometheus):
    h = make(
        tmp_path,
        fleet_prometheus.url,
        checks=[ERRORS],
        rates={"template": "http.rates"},
        warmth={"template": "vllm.prefix_cache_warmth"},
    )
    rates = run(h.rates())
    assert rates["broken"] == pytest.approx(40, rel=0.05)
    assert rates["allnew-ok"] == pytest.approx(30, rel=0.05)
    assert rates.why_unknown("ghost").startswith("no request series for this tenant")
    warmth = run(h.warmth())
    assert warmth[OLD] == pytest.approx(0.3, abs=0.01) and warmth[NEW] == pytest.approx(0.8, abs=0.01)


def _counted(h, sent: list[str]) -> None:
    """Record every query `h` sends, rows or sums (the real client still sends them)."""
    query, query_sums = h.client.query, h.client.query_sums

    async def counted(q):
        sent.append(q)
        return await query(q)

    async def counted_sums(q, *labels):
        sent.append(q)
        return await query_sums(q, *labels)

    h.client.query, h.client.query_sums = counted, counted_sums


def test_http_templates_read_one_shared_query_with_the_same_values(tmp_path, fleet_prometheus):
    """http.error_ratio, its samples and http.rates are summed from one `sum by (tenant, revision, code)`
    query per tick; they read what the templates' own PromQL reads from the same Prometheus."""
    from cockpit_backends.prometheus.templates import TEMPLATES

    tpl = TEMPLATES["http.error_ratio"]
    sub = {"${tenant}": "tenant", "${revision}": "revision", "${window}": "10s", ", ${selector}": "", "${selector}": ""}

    def fill(q: str) -> str:
        for k, v in sub.items():
            q = q.replace(k, v)
        return q

    by_hand = ERRORS | {"name": "by_hand", "query": fill(tpl.query), "samples": fill(tpl.samples)}
    rates_q = fill(TEMPLATES["http.rates"].query)
    shared = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], rates={"template": "http.rates"})
    own = make(tmp_path, fleet_prometheus.url, checks=[by_hand], rates={"query": rates_q})
    assert shared.settings.checks[0].shared is not None and own.settings.checks[0].shared is None
    sent: dict[object, list[str]] = {shared: [], own: []}
    for h in (shared, own):
        _counted(h, sent[h])

    async def tick(h):
        return await h.regressions(), await h.rates()

    (harm, rates), (harm2, rates2) = run(tick(shared)), run(tick(own))
    # one query for ratio, samples and rates, split by revision (old, new, any other) and sent concurrently
    assert sent[shared] == [q for q, _ in shared.settings.checks[0].shared.shards] and len(sent[shared]) == 3
    assert len(set(sent[own])) == len(sent[own]) == 3  # the check, its samples, the rates
    sent[own].clear()
    run(tick(own))  # the next tick reads the rates anew (only what regressions() just read is reused)
    assert len(sent[own]) == 3
    assert set(harm) == set(harm2) and set(harm.unknown) == set(harm2.unknown)
    for t in harm:
        assert harm[t] == pytest.approx(harm2[t], abs=0.02), t
    why = {t: r.removeprefix("errors: ")[:40] for t, r in harm.unknown.items()}
    assert why == {t: r.removeprefix("by_hand: ")[:40] for t, r in harm2.unknown.items()}
    values = {t: v.value for t, v in shared.last[0].tenants.items()}
    values2 = {t: v.value for t, v in own.last[0].tenants.items()}
    for t, v in values.items():  # NaN (0/0) where Prometheus says NaN
        assert (
            (math.isnan(v) and math.isnan(values2[t]))
            if v is not None and math.isnan(v)
            else v == pytest.approx(values2[t], rel=0.05, abs=0.002)
        ), t
    assert set(rates) == set(rates2)
    for t in rates:
        assert rates[t] == pytest.approx(rates2[t], rel=0.05), t


def test_prometheus_down_makes_everyone_unknown(tmp_path):
    h = make(tmp_path, f"http://127.0.0.1:{free_port()}", checks=[ERRORS], rates={"template": "http.rates"})
    r = run(h.regressions())
    assert len(r) == 0 and "unreachable" in r.why_unknown("acme")
    assert "check 'errors' (plugins.prometheus.checks[0], cockpit.toml line" in r.why_unknown("acme")
    rates = run(h.rates())
    assert len(rates) == 0 and rates.why_unknown("acme").startswith("rates query failed")


class _Proxy(LocalServer):
    """A local HTTP server in front of the real Prometheus (the subclasses say what it does in between)."""


class _SlowProxy(_Proxy):
    """Forwards to the real Prometheus after `delay_s`: a Prometheus slow past the client's timeout."""

    def __init__(self, upstream: str, delay_s: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(delay_s)
                r = httpx.post(
                    upstream + self.path, content=body, headers={"content-type": self.headers["content-type"]}
                )
                try:
                    self.send_response(r.status_code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(r.content)))
                    self.end_headers()
                    self.wfile.write(r.content)
                except OSError:
                    pass  # the client gave up

            def log_message(self, *a) -> None:
                return

        self._serve(Handler)


def test_slow_past_the_timeout_is_unknown_within_the_timeout(tmp_path, fleet_prometheus):
    slow = _SlowProxy(fleet_prometheus.url, delay_s=2.0)
    try:
        h = make(tmp_path, slow.url, checks=[ERRORS], timeout_s=0.3)
        t0 = time.monotonic()
        r = run(h.regressions())
        elapsed = time.monotonic() - t0
        assert elapsed < 1.0, elapsed
        assert len(r) == 0 and "did not answer within 0.3 s" in r.why_unknown("broken")
        # the same proxy within a longer timeout answers
        h2 = make(tmp_path, slow.url, checks=[ERRORS], timeout_s=5)
        assert run(h2.regressions())["broken"] > 0.5
    finally:
        slow.close()


class _EncodingProxy(_Proxy):
    """Forwards to the real Prometheus with the client's Accept-Encoding and returns its bytes as they came
    (gzipped when asked), noting each request's Accept-Encoding and each answer's Content-Encoding."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                asked = self.headers.get("accept-encoding", "")
                headers = {"content-type": self.headers["content-type"], "accept-encoding": asked}
                with httpx.stream("POST", upstream + self.path, content=body, headers=headers) as r:
                    raw = b"".join(r.iter_raw())
                    got = r.headers.get("content-encoding", "")
                proxy.seen.append((asked, got))
                self.send_response(r.status_code)
                self.send_header("content-type", "application/json")
                if got:
                    self.send_header("content-encoding", got)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *a) -> None:
                return

        self._serve(Handler)


def test_answers_come_uncompressed_unless_compress_is_set(tmp_path, fleet_prometheus):
    proxy = _EncodingProxy(fleet_prometheus.url)
    try:
        plain = run(make(tmp_path, proxy.url, checks=[ERRORS]).regressions())
        assert proxy.seen and set(proxy.seen) == {("identity", "")}  # Prometheus gzips only when asked
        proxy.seen.clear()
        gzipped = run(make(tmp_path, proxy.url, checks=[ERRORS], compress=True).regressions())
        assert proxy.seen and set(proxy.seen) == {("gzip", "gzip")}
        assert set(plain) == set(gzipped) and gzipped["broken"] == pytest.approx(plain["broken"], abs=0.02)
        with pytest.raises(ConfigError, match=r"plugins.prometheus.compress: expected true or false, got 1"):
            make(tmp_path, proxy.url, checks=[ERRORS], compress=1)
    finally:
        proxy.close()


def test_a_query_with_a_syntax_error_names_the_check_and_its_config_line(tmp_path, fleet_prometheus):
    bad = {"name": "latency", "query": "histogram_quantile(0.95, sum by (tenant, revision (rate(x[5m])))"}
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS, bad | {"threshold": 1.0}])
    r = run(h.regressions())
    lines = (tmp_path / "cockpit.toml").read_text().splitlines()
    n = next(i for i, line in enumerate(lines, start=1) if "histogram_quantile" in line)
    why = r.why_unknown("steady")
    assert (
        f"check 'latency' (plugins.prometheus.checks[1], cockpit.toml line {n}): Prometheus rejected the query:" in why
    )
    assert "parse error" in why
    assert r["broken"] > 0.5  # the other check still reads: a regression seen stands


def test_bad_options_are_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins.prometheus.checks\[0\].direction: expected"):
        make(tmp_path, "http://127.0.0.1:9", checks=[ERRORS | {"direction": "up"}])
    with pytest.raises(ConfigError, match=r"plugins.prometheus.checks\[0\].template: unknown template 'nope'"):
        make(tmp_path, "http://127.0.0.1:9", checks=[{"name": "x", "template": "nope"}])
    with pytest.raises(ConfigError, match=r"plugins.prometheus.checks: at least one check"):
        make(tmp_path, "http://127.0.0.1:9", checks=[])
    with pytest.raises(ConfigError, match=r"unknown placeholder \$\{tenantt\}"):
        make(tmp_path, "http://127.0.0.1:9", checks=[{"name": "x", "query": "up{${tenantt}}", "threshold": 1}])
    with pytest.raises(ConfigError, match=r"plugins.prometheus.revisions: required"):
        opts = {"url": "http://127.0.0.1:9", "checks": [ERRORS]}
        PluginHost().create("health", "prometheus", opts, BackendContext(clock=SimClock(), config_dir=str(tmp_path)))


def test_every_shipped_template_parses_in_prometheus(tmp_path, fleet_prometheus):
    """Each template is valid PromQL (a metric that does not exist yet simply returns nothing)."""
    from cockpit_backends.prometheus.config import parse
    from cockpit_backends.prometheus.templates import TEMPLATES

    for name, t in TEMPLATES.items():
        kind = t.kind
        opts = {"url": fleet_prometheus.url, "revisions": {"old": OLD, "new": NEW}, "checks": [ERRORS]}
        if kind == "check":
            opts["checks"] = [{"name": "c", "template": name}]
        else:
            opts[kind] = {"template": name}
        s = parse(opts, str(tmp_path))
        queries = [s.checks[0].query, s.checks[0].samples] if kind == "check" else [getattr(s, kind).query]
        for q in filter(None, queries):
            r = httpx.post(f"{fleet_prometheus.url}/api/v1/query", data={"query": q}, timeout=5).json()
            assert r["status"] == "success", (name, q, r)
    assert not math.isnan(0.0)


def test_plugins_check_shows_each_query_per_tenant_and_why_unknown(tmp_path, fleet_prometheus):
    import subprocess
    import sys

    bad = {"name": "latency", "query": "histogram_quantile(0.95, sum by (tenant (rate(x[5m]))", "threshold": 1.0}
    make(
        tmp_path,
        fleet_prometheus.url,
        checks=[ERRORS, bad],
        freshness={"template": "http.freshness", "max_age_s": 30},
        rates={"template": "http.rates"},
        warmth={"template": "vllm.prefix_cache_warmth"},
    )
    cfg = str(tmp_path / "cockpit.toml")
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", cfg, "plugins", "check", "prometheus"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr  # the broken check fails the contract check
    text = out.stdout
    assert "PASS  health     check 'errors': " in text
    assert "FAIL  health     check 'latency': check 'latency' (plugins.prometheus.checks[1], cockpit.toml line" in text
    assert "Prometheus rejected the query" in text
    assert "broken: 0.4" in text and "(own old)" in text
    assert "quiet: unknown: too few samples on the new revision" in text
    assert "idle: unknown: NaN (0/0: no requests in the window)" in text
    assert "warning: partial coverage" in text  # 'stale' has no rate: it is named with why
    assert "claude-opus-4-20250514 30%" in text
    assert "Traceback" not in out.stderr


def test_a_drill_with_a_real_health_backend_refuses_and_says_why(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--backend", "health=prometheus"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2 and out.stdout == ""
    assert "--backend health=prometheus: a drill is scored against the simulator's own regressions" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_plan_names_tenants_whose_rate_is_unknown(tmp_path):
    """The router reports no rates and Prometheus is down: the plan says so per tenant, never 0 rps silently."""
    import subprocess
    import sys

    cfg = {
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"},
        "cockpit": {"clock": "simulated"},
        "backends": {"health": "prometheus"},
        "plugins": {
            "mock": {"scenario": "classic", "router_rates": False},
            "prometheus": {
                "url": f"http://127.0.0.1:{free_port()}",
                "revisions": {"old": OLD, "new": NEW},
                "checks": [ERRORS],
                "rates": {"template": "http.rates"},
            },
        },
    }
    (tmp_path / "cockpit.toml").write_text(tomli_w.dumps(cfg))
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "--config", str(tmp_path / "cockpit.toml"), "plan", "--scope", "all"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "unknown: 12 tenant(s)" in out.stdout
    assert "  acme: rates query failed: rates (plugins.prometheus.rates, cockpit.toml line" in out.stdout
    assert "is unreachable (ConnectError)" in out.stdout


def _sent(h) -> list[str]:
    sent: list[str] = []
    _counted(h, sent)
    return sent


def test_freshness_query_is_implied_by_the_window_and_sent_only_to_explain_a_missing_tenant(tmp_path, fleet_prometheus):
    fresh = {"template": "http.freshness", "max_age_s": 30}
    # Without the stale tenant (selector): the 10 s window is within max_age_s, so the shared query's rows
    # prove every tenant fresh; the freshness query goes with the first reading only.
    rates_cfg = {"template": "http.rates"}
    h = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], freshness=fresh, rates=rates_cfg,
             selector='tenant!="stale"')  # fmt: skip
    sent = _sent(h)
    first = run(h.regressions())
    assert sum("timestamp(" in q for q in sent) == 1 and first["broken"] > 0.5
    sent.clear()
    second, rates = run(h.regressions()), run(h.rates())
    assert not any("timestamp(" in q for q in sent) and len(sent) == 3  # the shared query's shards; rates reuse
    assert second["broken"] > 0.5 and second["steady"] == 0.0 and not second.unknown.keys() - {"quiet", "idle"}
    assert rates["steady"] == pytest.approx(40, rel=0.2)  # 20 rps on each revision
    # With the stale tenant seen and missing from the window's rows, it is sent every tick to say why.
    h2 = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], freshness=fresh)
    sent2 = _sent(h2)
    for _ in range(2):
        r = run(h2.regressions())
        assert r.unknown["stale"].startswith("stale series: last sample")
    assert sum("timestamp(" in q for q in sent2) == 2
    # A window longer than max_age_s proves nothing: the freshness query goes with every reading.
    h3 = make(tmp_path, fleet_prometheus.url, checks=[ERRORS], freshness=fresh | {"max_age_s": 5},
              selector='tenant!="stale"')  # fmt: skip
    sent3 = _sent(h3)
    run(h3.regressions())
    run(h3.regressions())
    assert sum("timestamp(" in q for q in sent3) == 2
