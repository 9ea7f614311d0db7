"""Shipped query templates for the systems platform teams already run.

A template fills a check (or the rates, warmth or freshness reading) with PromQL written against the
metric names each project documents, so a check in cockpit.toml can be one line:
``template = "litellm.error_ratio"``. Placeholders, substituted from the plugin's options:

``${window}``     the rate window (option ``window``, default "5m")
``${tenant}``     the label that names a tenant (option ``tenant_label``)
``${revision}``   the label that names a model revision (option ``revision_label``)
``${selector}``   extra label matchers, e.g. ``namespace="prod"`` (option ``selector``; may be empty)

Every query returns one vector for the whole fleet, grouped by tenant and revision: one query per check
per tick, never one per tenant. docs/backends/prometheus.md lists each template with its metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Template:
    query: str
    description: str
    samples: str = ""  # requests in the window per tenant and revision (the minimum-sample query)
    direction: str = "higher_is_worse"
    threshold: float = 0.05
    scale: float = 1.0  # the degradation at which severity reaches 1
    kind: str = "check"  # "check", "rates", "warmth", "freshness"
    key_label: str = ""  # warmth: the label naming the namespace, revision or tier
    revision_label: str = ""  # overrides the plugin's revision_label (vLLM names the revision model_name)
    shared: str = ""  # a SHARED family whose one query this template's values are computed from
    # (freshness: whose rows, read with a window within max_age_s, already prove each tenant fresh)


@dataclass(frozen=True, slots=True)
class Shared:
    """One query per tick for several templates: the requests in the window per tenant, revision and
    status code. A check's error ratio (errors / all), its samples (all) and the rates (all / window, as
    ``rate`` is ``increase`` over the window's seconds) are summed from its rows, so Prometheus selects
    the fleet's series once instead of five times (the ratio's three selectors, the samples, the rates).
    A template is computed this way only when the configuration does not replace its query or samples."""

    query: str
    code_label: str  # the label the errors are told by
    errors: str  # a regular expression (anchored, as PromQL's =~) matching the error values of code_label
    # The same query split by revision, sent concurrently and summed: (query, the one revision it selects,
    # asked without the revision label) for the old and the new revision, (query, None) for every other.
    # Prometheus evaluates one query on one core, three on as many as it has.
    shards: tuple[tuple[str, str | None], ...] = ()
    evaluated: str = ""  # read from recording rules: the query of their last evaluation's time


@dataclass(frozen=True, slots=True)
class Family:
    """How a shared query is written: the counter summed by tenant, revision and `code_label`, either
    evaluated by each query (``increase(metric[window])``) or read from the series the shipped recording
    rules record (rules.py; option ``recorded``)."""

    metric: str
    code_label: str
    errors: str
    record: str  # the recorded series' name (with ${window}); its rules' evaluation time: record + "_evaluated_at"
    # the code_label values the recorded series carry instead of every code: one matching `errors`, one not
    recorded_codes: tuple[str, str] = ("5xx", "other")

    def source(self, recorded: bool) -> str:
        """The series summed, with the ${selector} (and ${window}) placeholders."""
        if recorded:
            return self.record + "{${selector}}"
        return f"increase({self.metric}{{${{selector}}}}[${{window}}])"

    def query(self, by: str, recorded: bool = False) -> str:
        return f"sum by ({by}) ({self.source(recorded)})"

    def recording(self, tenant: str, revision: str, selector: str) -> tuple[str, str]:
        """The recording rule's expression, in two parts joined by ``or``: the shared query with its codes
        folded into two values, the rest and the errors (``recorded_codes``), so a fleet answering with many
        status codes records two series per tenant and revision, not one per code. With ${window}."""
        code, (bad, rest) = self.code_label, self.recorded_codes

        def part(matcher: str, value: str) -> str:
            sel = ", ".join(x for x in (selector, matcher) if x)
            summed = f"sum by ({tenant}, {revision}) (increase({self.metric}{{{sel}}}[${{window}}]))"
            return f'label_replace({summed}, "{code}", "{value}", "", "")'

        errors = json.dumps(self.errors)  # a PromQL string literal
        return part(f"{code}!~{errors}", rest), part(f"{code}=~{errors}", bad)


def _sel(metric: str, extra: str = "") -> str:
    inner = ", ".join(x for x in (extra, "${selector}") if x)
    return f"{metric}{{{inner}}}" if inner else metric


def _error_ratio(total: str, errors_matcher: str, by: str) -> str:
    # `or ... * 0`: a tenant with no error series yet reads 0 errors rather than vanishing from the result
    err = f"sum by ({by}) (rate({_sel(total, errors_matcher)}[${{window}}]))"
    all_ = f"sum by ({by}) (rate({_sel(total)}[${{window}}]))"
    return f"({err} or {all_} * 0) / {all_}"


_TR = "${tenant}, ${revision}"

SHARED: dict[str, Family] = {
    "http": Family("http_requests_total", "code", "5..", "cockpit:http_requests:increase${window}"),
}

TEMPLATES: dict[str, Template] = {
    # Plain HTTP RED: the conventional http_requests_total{code} counter and duration histogram. ---------
    "http.error_ratio": Template(
        _error_ratio("http_requests_total", 'code=~"5.."', _TR),
        "share of requests answered 5xx, per tenant and revision (http_requests_total{code})",
        samples=f"sum by ({_TR}) (increase({_sel('http_requests_total')}[${{window}}]))",
        threshold=0.05,
        scale=1.0,
        shared="http",
    ),
    "http.latency_p95": Template(
        f"histogram_quantile(0.95, sum by ({_TR}, le) "
        f"(rate({_sel('http_request_duration_seconds_bucket')}[${{window}}])))",
        "95th percentile request duration in seconds (http_request_duration_seconds histogram)",
        samples=f"sum by ({_TR}) (increase({_sel('http_request_duration_seconds_count')}[${{window}}]))",
        threshold=0.5,
        scale=5.0,
    ),
    "http.rates": Template(
        f"sum by (${{tenant}}) (rate({_sel('http_requests_total')}[${{window}}]))",
        "requests per second per tenant, all revisions (http_requests_total)",
        kind="rates",
        shared="http",
    ),
    "http.freshness": Template(
        f"max by (${{tenant}}) (timestamp({_sel('http_requests_total')}))",
        "time of each tenant's latest request-counter sample (stale-series detection)",
        kind="freshness",
        shared="http",  # implied by the shared query's rows when the window is within max_age_s
    ),
    # LiteLLM proxy: per team (tenant_label = "team") and requested model (revision_label = "requested_model").
    # prometheus_client exposes a Counter named X as X_total.
    "litellm.error_ratio": Template(
        f"(sum by ({_TR}) (rate({_sel('litellm_proxy_failed_requests_metric_total')}[${{window}}])) "
        f"or sum by ({_TR}) (rate({_sel('litellm_proxy_total_requests_metric_total')}[${{window}}])) * 0) "
        f"/ sum by ({_TR}) (rate({_sel('litellm_proxy_total_requests_metric_total')}[${{window}}]))",
        "failed / total proxy requests (litellm_proxy_failed_requests_metric, litellm_proxy_total_requests_metric)",
        samples=f"sum by ({_TR}) (increase({_sel('litellm_proxy_total_requests_metric_total')}[${{window}}]))",
        threshold=0.05,
        scale=1.0,
    ),
    "litellm.latency_p95": Template(
        f"histogram_quantile(0.95, sum by ({_TR}, le) "
        f"(rate({_sel('litellm_request_total_latency_metric_bucket')}[${{window}}])))",
        "95th percentile total request latency in seconds (litellm_request_total_latency_metric)",
        samples=f"sum by ({_TR}) (increase({_sel('litellm_request_total_latency_metric_count')}[${{window}}]))",
        threshold=1.0,
        scale=10.0,
    ),
    "litellm.rates": Template(
        f"sum by (${{tenant}}) (rate({_sel('litellm_proxy_total_requests_metric_total')}[${{window}}]))",
        "requests per second per team (litellm_proxy_total_requests_metric)",
        kind="rates",
    ),
    "litellm.freshness": Template(
        f"max by (${{tenant}}) (timestamp({_sel('litellm_proxy_total_requests_metric_total')}))",
        "time of each team's latest request-counter sample",
        kind="freshness",
    ),
    # vLLM: per served model (model_name); no tenant label, so its checks are revision-wide. ------------
    "vllm.prefix_cache_warmth": Template(
        f"sum by (model_name) (rate({_sel('vllm:prefix_cache_hits_total')}[${{window}}])) "
        f"/ sum by (model_name) (rate({_sel('vllm:prefix_cache_queries_total')}[${{window}}]))",
        "prefix-cache hit rate per served model (vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total)",
        kind="warmth",
        key_label="model_name",
    ),
    "vllm.success_ratio": Template(
        'sum by (model_name) (rate(vllm:request_success_total{finished_reason=~"stop|length", ${selector}}'
        "[${window}])) / sum by (model_name) (rate(vllm:request_success_total{${selector}}[${window}]))",
        "share of finished requests that stopped or hit their length (not aborted), per served model",
        samples="sum by (model_name) (increase(vllm:request_success_total{${selector}}[${window}]))",
        direction="lower_is_worse",
        threshold=0.05,
        scale=1.0,
        revision_label="model_name",
    ),
    "vllm.latency_p95": Template(
        "histogram_quantile(0.95, sum by (model_name, le) "
        "(rate(vllm:e2e_request_latency_seconds_bucket{${selector}}[${window}])))",
        "95th percentile end-to-end request latency per served model (vllm:e2e_request_latency_seconds)",
        samples="sum by (model_name) (increase(vllm:e2e_request_latency_seconds_count{${selector}}[${window}]))",
        threshold=1.0,
        scale=10.0,
        revision_label="model_name",
    ),
    # Envoy AI Gateway: OpenTelemetry GenAI metrics; the tenant label comes from a request header the
    # gateway is configured to attach to its metrics; revision_label = "gen_ai_request_model". -----------
    "envoy-ai-gateway.error_ratio": Template(
        _error_ratio("gen_ai_server_request_duration_seconds_count", 'error_type!=""', _TR),
        "share of requests with an error_type (gen_ai_server_request_duration_seconds_count)",
        samples=f"sum by ({_TR}) (increase({_sel('gen_ai_server_request_duration_seconds_count')}[${{window}}]))",
        threshold=0.05,
        scale=1.0,
    ),
    "envoy-ai-gateway.latency_p95": Template(
        f"histogram_quantile(0.95, sum by ({_TR}, le) "
        f"(rate({_sel('gen_ai_server_request_duration_seconds_bucket')}[${{window}}])))",
        "95th percentile request duration in seconds (gen_ai.server.request.duration)",
        samples=f"sum by ({_TR}) (increase({_sel('gen_ai_server_request_duration_seconds_count')}[${{window}}]))",
        threshold=1.0,
        scale=10.0,
    ),
    "envoy-ai-gateway.ttft_p95": Template(
        f"histogram_quantile(0.95, sum by ({_TR}, le) "
        f"(rate({_sel('gen_ai_server_time_to_first_token_seconds_bucket')}[${{window}}])))",
        "95th percentile time to first token in seconds (gen_ai.server.time_to_first_token)",
        samples=f"sum by ({_TR}) (increase({_sel('gen_ai_server_time_to_first_token_seconds_count')}[${{window}}]))",
        threshold=0.5,
        scale=5.0,
    ),
    "envoy-ai-gateway.rates": Template(
        f"sum by (${{tenant}}) (rate({_sel('gen_ai_server_request_duration_seconds_count')}[${{window}}]))",
        "requests per second per tenant (gen_ai_server_request_duration_seconds_count)",
        kind="rates",
    ),
}
