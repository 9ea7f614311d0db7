"""Strict reading of ``[plugins.prometheus]``: checks, rates, warmth and freshness, from templates or
PromQL written by hand. Every mistake is one sentence naming the option (``plugins.prometheus.checks[1]
.direction``) and, where it can be found, the line of the configuration file."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template as _Sub
from typing import Any

from cockpit.errors import ConfigError
from cockpit_backends.prometheus.templates import SHARED, TEMPLATES, Shared, Template

OPTIONS = (
    "url",
    "timeout_s",
    "token_env",
    "tenant_label",
    "revision_label",
    "cohort_label",
    "cohorts",
    "revisions",
    "window",
    "selector",
    "checks",
    "rates",
    "warmth",
    "freshness",
    "recorded",
    "compress",
)
PLACEHOLDERS = ("window", "selector", "tenant", "revision")
CHECK_OPTIONS = (
    "name",
    "template",
    "query",
    "samples",
    "min_samples",
    "direction",
    "threshold",
    "thresholds",
    "baseline",
    "consecutive",
    "scale",
    "severity_floor",
    "tenant_label",
    "revision_label",
)
READING_OPTIONS = {
    "rates": ("template", "query"),
    "warmth": ("template", "query", "key_label"),
    "freshness": ("template", "query", "max_age_s"),
}
DIRECTIONS = ("higher_is_worse", "lower_is_worse")
BASELINES = ("old", "none")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    where: str  # "plugins.prometheus.checks[0]"
    line: str  # "cockpit.toml:23", or "" when the file is not at hand
    query: str
    samples: str
    min_samples: float
    direction: str
    threshold: float
    thresholds: Mapping[str, float]
    baseline: str
    consecutive: int
    scale: float
    severity_floor: float
    tenant_label: str
    revision_label: str
    shared: Shared | None = None  # the value and samples are summed from this query's rows (templates.SHARED)

    def threshold_for(self, cohort: str) -> float:
        return self.thresholds.get(cohort, self.threshold)

    def located(self) -> str:
        return f"{self.where}" + (f", {self.line}" if self.line else "")


@dataclass(frozen=True, slots=True)
class Reading:
    """The rates, warmth or freshness query."""

    kind: str
    where: str
    line: str
    query: str
    key_label: str = ""
    max_age_s: float = 0.0
    shared: Shared | None = None  # rates: summed from this query's rows (templates.SHARED); freshness:
    # the shared query whose rows imply it (HealthSignals skips the freshness query while they do)

    def located(self) -> str:
        return f"{self.where}" + (f", {self.line}" if self.line else "")


@dataclass(frozen=True, slots=True)
class Settings:
    url: str
    timeout_s: float
    token_env: str
    tenant_label: str
    revision_label: str
    cohort_label: str
    old: str
    new: str
    window: str
    checks: tuple[Check, ...]
    rates: Reading | None
    warmth: Reading | None
    freshness: Reading | None
    backend: str = "prometheus"
    cohorts: Mapping[str, str] = field(default_factory=dict)  # tenant -> cohort (the cohorts option)
    window_s: float = 300.0  # the window in seconds (rates summed from a shared query divide by it)
    recorded: bool = False  # the shared HTTP query reads the series the shipped recording rules record
    compress: bool = False  # ask Prometheus for gzipped answers


def _str(where: str, v: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(v, str) or (not v and not empty_ok):
        raise ConfigError(f"{where}: expected a non-empty string, got {v!r}")
    return v


def _num(where: str, v: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    ok = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
    if not ok or v > hi or v < lo or (lo_open and v == lo):
        lo_s = f"above {lo:g}" if lo_open else f"from {lo:g}"
        raise ConfigError(f"{where}: expected a number {lo_s} to {hi:g}, got {v!r}")
    return float(v)


def _table(where: str, v: Any, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(v).__name__}")
    unknown = sorted(set(v) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown option {unknown[0]!r} (known: {', '.join(known)})")
    return dict(v)


def _template(where: str, name: Any, kinds: tuple[str, ...]) -> Template:
    if not isinstance(name, str) or name not in TEMPLATES or TEMPLATES[name].kind not in kinds:
        fitting = sorted(k for k, t in TEMPLATES.items() if t.kind in kinds)
        raise ConfigError(f"{where}.template: unknown template {name!r} (shipped: {', '.join(fitting)})")
    return TEMPLATES[name]


class _Lines:
    """Finds where an option is written in the configuration file(s) beside the plugin's config_dir."""

    def __init__(self, config_dir: str) -> None:
        self.files: list[tuple[str, list[str]]] = []
        try:
            for p in sorted(Path(config_dir).glob("*.toml")):
                try:
                    self.files.append((p.name, p.read_text(encoding="utf-8").splitlines()))
                except OSError:
                    continue
        except OSError:
            pass

    def find(self, *needles: str) -> str:
        for needle in needles:
            needle = needle.strip()
            if not needle:
                continue
            for name, lines in self.files:
                for i, line in enumerate(lines, start=1):
                    if needle in line:
                        return f"{name} line {i}"
        return ""


def _substitute(where: str, text: str, values: Mapping[str, str]) -> str:
    try:
        return _Sub(text).substitute(values)
    except KeyError as exc:
        known = ", ".join("${" + k + "}" for k in PLACEHOLDERS)
        raise ConfigError(f"{where}: unknown placeholder ${{{exc.args[0]}}} (known: {known})") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: a '$' that is not a placeholder ({exc}); write $$ for a literal $") from None


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _shared(family: str, values: Mapping[str, str]) -> Shared:
    """The family's shared query with these placeholders' values, and its shards: the old and the new
    revision each without the revision label in the answer, every other revision with it."""
    f = SHARED[family]
    recorded = values.get("recorded") == "yes"
    tenant, rev, sel = values["tenant"], values["revision"], values.get("selector", "")
    everything = f"{tenant}, {rev}, {f.code_label}"

    def fill(by: str, *matchers: str) -> str:
        selector = ", ".join(x for x in (sel, *matchers) if x)
        return _Sub(f.query(by, recorded)).substitute({**values, "selector": selector})

    shards: tuple[tuple[str, str | None], ...] = ()
    old, new = values.get("old_revision", ""), values.get("new_revision", "")
    if old and new and old != new:
        o, n = json.dumps(old), json.dumps(new)  # PromQL string literals (quotes and backslashes escaped)
        one = f"{tenant}, {f.code_label}"
        shards = (
            (fill(one, f"{rev}={o}"), old),
            (fill(one, f"{rev}={n}"), new),
            (fill(everything, f"{rev}!={o}", f"{rev}!={n}"), None),
        )
    evaluated = _Sub(f.record + "_evaluated_at").substitute(values) if recorded else ""
    return Shared(fill(everything), f.code_label, f.errors, shards, evaluated)


def _connection(root: str, o: Mapping[str, Any]) -> tuple[str, float, str]:
    """url, timeout_s and token_env."""
    url = o.get("url")
    if url is None:
        raise ConfigError(f"{root}.url: required; set it to Prometheus's address, e.g. 'http://127.0.0.1:9090'")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{root}.url: expected an http:// or https:// URL, got {url!r}")
    timeout_s = _num(f"{root}.timeout_s", o.get("timeout_s", 2.0), 0.05, 60)
    token_env = o.get("token_env", "")
    if token_env and (not isinstance(token_env, str) or "=" in token_env):
        raise ConfigError(f"{root}.token_env: expected an environment variable's name, e.g. 'PROMETHEUS_TOKEN'")
    return url, timeout_s, token_env or ""


def _revisions(root: str, o: Mapping[str, Any], revision_label: str) -> tuple[str, str]:
    revs = o.get("revisions")
    if revs is None:
        raise ConfigError(
            f"{root}.revisions: required; the {revision_label!r} label values of the two revisions, "
            'e.g. revisions = { old = "claude-opus-4-20250514", new = "claude-opus-4-1-20250805" }'
        )
    revs = _table(f"{root}.revisions", revs, ("old", "new"))
    old = _str(f"{root}.revisions.old", revs.get("old"))
    new = _str(f"{root}.revisions.new", revs.get("new"))
    if old == new:
        raise ConfigError(f"{root}.revisions: old and new are both {old!r}; name the two revisions' label values")
    return old, new


def _cohorts(root: str, o: Mapping[str, Any]) -> dict[str, str]:
    """tenant -> cohort, from cohort = [tenants]."""
    cohorts: dict[str, str] = {}
    raw_cohorts = o.get("cohorts", {})
    if not isinstance(raw_cohorts, Mapping):
        raise ConfigError(f'{root}.cohorts: expected a table of cohort = [tenants], e.g. {{ enterprise = ["acme"] }}')
    for cohort, members in raw_cohorts.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise ConfigError(f"{root}.cohorts.{cohort}: expected a list of tenant names, got {members!r}")
        cohorts.update(dict.fromkeys(members, str(cohort)))
    return cohorts


def _window(root: str, o: Mapping[str, Any]) -> str:
    window = _str(f"{root}.window", o.get("window", "5m"))
    if not window[:-1].isdigit() or window[-1] not in "smhd":
        raise ConfigError(f"{root}.window: expected a Prometheus duration such as '30s' or '5m', got {window!r}")
    return window


def _bool(where: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def _recorded(root: str, o: Mapping[str, Any], selector: str) -> bool:
    recorded = _bool(f"{root}.recorded", o.get("recorded", False))
    if recorded and selector:
        raise ConfigError(
            f"{root}.selector: with recorded = true the recording rules select the series; write the matchers "
            "into their expression (python -m cockpit_backends.prometheus.rules --selector '...') and leave "
            "selector empty"
        )
    return recorded


def _line(lines: _Lines, raw: Mapping[str, Any], fallback: str) -> str:
    """Where the query (else `fallback`) is written in the configuration file."""
    return lines.find(str(raw.get("query", "")).strip().splitlines()[0] if raw.get("query") else "", fallback)


def _queries(
    where: str, c: Mapping[str, Any], tpl: Template | None, values: Mapping[str, str]
) -> tuple[str, str, float]:
    """A check's query, samples query and min_samples."""
    query = _substitute(f"{where}.query", _str(f"{where}.query", c.get("query", tpl.query if tpl else "")), values)
    samples_raw = c.get("samples", tpl.samples if tpl else "")
    samples = _substitute(f"{where}.samples", _str(f"{where}.samples", samples_raw, empty_ok=True), values)
    min_samples = _num(f"{where}.min_samples", c.get("min_samples", 20 if samples else 0), 0, 1e12)
    if min_samples > 0 and not samples:
        raise ConfigError(f"{where}.min_samples: needs a samples query (requests in the window per tenant)")
    return query, samples, min_samples


def _judgement(where: str, c: Mapping[str, Any], tpl: Template | None) -> tuple[str, float, dict[str, float], str]:
    """A check's direction, threshold, per-cohort thresholds and baseline."""
    direction = c.get("direction", tpl.direction if tpl else "higher_is_worse")
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}.direction: expected 'higher_is_worse' or 'lower_is_worse', got {direction!r}")
    threshold = _num(f"{where}.threshold", c.get("threshold", tpl.threshold if tpl else None), 0, 1e12)
    th_raw = c.get("thresholds", {})
    if not isinstance(th_raw, Mapping):
        raise ConfigError(f"{where}.thresholds: expected a table of cohort = number, e.g. {{ enterprise = 0.02 }}")
    thresholds = {str(k): _num(f"{where}.thresholds.{k}", v, 0, 1e12) for k, v in th_raw.items()}
    baseline = c.get("baseline", "old")
    if baseline not in BASELINES:
        raise ConfigError(f"{where}.baseline: expected 'old' or 'none', got {baseline!r}")
    return direction, threshold, thresholds, baseline


def _severity(where: str, c: Mapping[str, Any], tpl: Template | None) -> tuple[int, float, float]:
    """A check's consecutive, scale and severity_floor."""
    consecutive = c.get("consecutive", 2)
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or not 1 <= consecutive <= 1000:
        raise ConfigError(f"{where}.consecutive: expected a whole number from 1 to 1000, got {consecutive!r}")
    scale = _num(f"{where}.scale", c.get("scale", tpl.scale if tpl else 1.0), 0, 1e12, lo_open=True)
    floor = _num(f"{where}.severity_floor", c.get("severity_floor", 0.5), 0, 1, lo_open=True)
    return consecutive, scale, floor


def _check(where: str, rc: Any, taken: list[Check], lines: _Lines, base: Mapping[str, str]) -> Check:
    c = _table(where, rc, CHECK_OPTIONS)
    name = _str(f"{where}.name", c.get("name"))
    if any(x.name == name for x in taken):
        raise ConfigError(f"{where}.name: {name!r} is used by another check; names must be unique")
    tpl = _template(where, c["template"], ("check",)) if "template" in c else None
    if tpl is None and "query" not in c:
        raise ConfigError(f"{where}: set query (PromQL) or template (one of the shipped ones)")
    line = _line(lines, c, f'"{name}"')
    t_label = _str(f"{where}.tenant_label", c.get("tenant_label", base["tenant"]))
    r_label = _str(
        f"{where}.revision_label", c.get("revision_label", (tpl.revision_label if tpl else "") or base["revision"])
    )
    values = dict(base, tenant=t_label, revision=r_label)
    query, samples, min_samples = _queries(where, c, tpl, values)
    direction, threshold, thresholds, baseline = _judgement(where, c, tpl)
    consecutive, scale, floor = _severity(where, c, tpl)
    shared = None
    if tpl is not None and tpl.shared and "query" not in c and "samples" not in c:
        shared = _shared(tpl.shared, values)
    return Check(
        name,
        where,
        line,
        query,
        samples,
        min_samples,
        direction,
        threshold,
        thresholds,
        baseline,
        consecutive,
        scale,
        floor,
        t_label,
        r_label,
        shared,
    )


def _checks(root: str, o: Mapping[str, Any], lines: _Lines, base: Mapping[str, str]) -> tuple[Check, ...]:
    raw_checks = o.get("checks", [])
    if not isinstance(raw_checks, list) or not raw_checks:
        raise ConfigError(
            f'{root}.checks: at least one check is required, e.g. [[{root}.checks]] name = "errors" '
            'template = "http.error_ratio" (see docs/backends/prometheus.md)'
        )
    checks: list[Check] = []
    for i, rc in enumerate(raw_checks):
        checks.append(_check(f"{root}.checks[{i}]", rc, checks, lines, base))
    return tuple(checks)


def _reading(root: str, kind: str, raw: Any, lines: _Lines, base: Mapping[str, str]) -> Reading:
    """The rates, warmth or freshness reading."""
    where = f"{root}.{kind}"
    r = _table(where, raw, READING_OPTIONS[kind])
    tpl = _template(where, r["template"], (kind,)) if "template" in r else None
    if tpl is None and "query" not in r:
        raise ConfigError(f"{where}: set query (PromQL) or template (one of the shipped ones)")
    q = _substitute(f"{where}.query", _str(f"{where}.query", r.get("query", tpl.query if tpl else "")), base)
    line = _line(lines, r, f"{kind}")
    key_label = ""
    if kind == "warmth":
        key_label = _str(f"{where}.key_label", r.get("key_label", (tpl.key_label if tpl else "") or "namespace"))
    max_age = _num(f"{where}.max_age_s", r.get("max_age_s", 60.0), 0, 1e9, lo_open=True) if kind == "freshness" else 0
    shared = _shared(tpl.shared, base) if tpl is not None and tpl.shared and "query" not in r else None
    return Reading(kind, where, line, q, key_label, max_age, shared)


def parse(raw: Mapping[str, Any], config_dir: str, backend: str = "prometheus") -> Settings:
    root = f"plugins.{backend}"
    o = _table(root, raw, OPTIONS)
    lines = _Lines(config_dir)
    url, timeout_s, token_env = _connection(root, o)
    tenant_label = _str(f"{root}.tenant_label", o.get("tenant_label", "tenant"))
    revision_label = _str(f"{root}.revision_label", o.get("revision_label", "revision"))
    cohort_label = _str(f"{root}.cohort_label", o.get("cohort_label", "cohort"))
    old, new = _revisions(root, o, revision_label)
    cohorts = _cohorts(root, o)
    window = _window(root, o)
    selector = _str(f"{root}.selector", o.get("selector", ""), empty_ok=True)
    recorded = _recorded(root, o, selector)
    base = {"window": window, "selector": selector, "tenant": tenant_label, "revision": revision_label}
    # not placeholders: how the shared query is written (its shards, recorded or evaluated)
    base |= {"old_revision": old, "new_revision": new, "recorded": "yes" if recorded else ""}
    checks = _checks(root, o, lines, base)
    readings = {kind: _reading(root, kind, o[kind], lines, base) if kind in o else None for kind in READING_OPTIONS}
    if recorded and not any(x.shared for x in (*checks, readings["rates"]) if x is not None):
        raise ConfigError(
            f"{root}.recorded: no check or rates reads the shared HTTP query (http.error_ratio or http.rates as "
            "shipped, without a query or samples of your own), which is all the recording rules record; "
            "remove recorded"
        )
    return Settings(
        url=url.rstrip("/"),
        timeout_s=timeout_s,
        token_env=token_env,
        tenant_label=tenant_label,
        revision_label=revision_label,
        cohort_label=cohort_label,
        old=old,
        new=new,
        window=window,
        checks=checks,
        rates=readings["rates"],
        warmth=readings["warmth"],
        freshness=readings["freshness"],
        backend=backend,
        cohorts=cohorts,
        window_s=float(window[:-1]) * _SECONDS[window[-1]],
        recorded=recorded,
        compress=_bool(f"{root}.compress", o.get("compress", False)),
    )
