"""The Kubernetes manifest runs a command line the CLI accepts, and probes the endpoints it serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from cockpit.cli import build_parser

MANIFEST = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes" / "cockpit-engine.yaml"


def _engine_container() -> dict:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_manifest_args_parse_and_probes_hit_the_health_endpoints():
    c = _engine_container()
    args = build_parser().parse_args(c["args"])
    assert args.command == "engine" and args.config == "/etc/cockpit/cockpit.toml"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert args.listen.endswith(f":{ports['attach']}")
    assert args.http_listen.endswith(f":{ports['http']}")
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
