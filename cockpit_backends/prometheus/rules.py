"""Recording rules for the shared HTTP query (option ``recorded = true``).

Without them, each tick's shared query makes Prometheus select every request series of the fleet and
compute its increase over the window (40,000 series for 10,000 tenants: most of a tick). With them,
Prometheus's rule engine computes the same ``sum by (tenant, revision, code) (increase(…[window]))`` once
per rule interval, in the background, and records it as ``cockpit:http_requests:increase<window>``; a tick
then reads those recorded series, split by revision as before. A second rule records the evaluation's time
(``…_evaluated_at``: the newest timestamp of the recorded sums, so a failing first rule shows as old
sums, not as a group that ran), and the backend knows how old the sums are: older than freshness's ``max_age_s``
(60 s without freshness) they are not read (every tenant unknown, with why), and the freshness query is
left unsent only while that age plus the window is within ``max_age_s``.

The values are the same formula, evaluated up to one rule interval earlier: a regression shows up to that
much later. Render the file for your window, labels and selector, and load it into Prometheus
(``rule_files``)::

    python -m cockpit_backends.prometheus.rules --window 5m --interval 15s > cockpit-rules.yml

docs/backends/prometheus-rules.yml is this output with the defaults."""

from __future__ import annotations

import argparse
import json
from string import Template

from cockpit_backends.prometheus.templates import SHARED


def rules(
    window: str = "5m", interval: str = "15s", tenant: str = "tenant", revision: str = "revision", selector: str = ""
) -> str:
    """The rule file (YAML) recording the shared HTTP query's sums and the time they were evaluated."""
    f = SHARED["http"]
    values = {"window": window, "selector": selector, "tenant": tenant, "revision": revision}
    record = Template(f.record).substitute(values)
    rest, errors = (Template(x).substitute(values) for x in f.recording(tenant, revision, selector))
    lines = [
        "# Recording rules for cockpit's prometheus backend (option recorded = true; docs/backends/prometheus.md).",
        f"# Rendered by: python -m cockpit_backends.prometheus.rules --window {window} --interval {interval}"
        + (f" --tenant {tenant}" if tenant != "tenant" else "")
        + (f" --revision {revision}" if revision != "revision" else "")
        + (f" --selector {json.dumps(selector)}" if selector else ""),
        "groups:",
        f"  - name: cockpit-http-{window}",
        f"    interval: {interval}",
        "    rules:",
        f"      - record: {record}",
        "        expr: |-",  # a literal block: the PromQL as written, no escapes
        f"          {rest}",
        "          or",
        f"          {errors}",
        f"      - record: {record}_evaluated_at",
        f'        expr: "max(timestamp({record}))"',  # when the first rule last wrote its sums
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m cockpit_backends.prometheus.rules", description=__doc__.split("\n")[0])
    ap.add_argument("--window", default="5m", help="the plugin's window option (default 5m)")
    ap.add_argument("--interval", default="15s", help="how often Prometheus evaluates the rules (default 15s)")
    ap.add_argument("--tenant", default="tenant", help="the plugin's tenant_label")
    ap.add_argument("--revision", default="revision", help="the plugin's revision_label")
    ap.add_argument("--selector", default="", help='extra label matchers, e.g. namespace="prod"')
    a = ap.parse_args(argv)
    print(rules(a.window, a.interval, a.tenant, a.revision, a.selector), end="")


if __name__ == "__main__":
    main()
