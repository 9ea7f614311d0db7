"""Generated fleets for benchmarks: N tenants in four cohorts, the classic shape at any size."""

from __future__ import annotations

from pathlib import Path

import tomli_w


def write_fleet(path: Path, tenants: int, duration_s: float = 3600.0) -> Path:
    per = tenants // 4
    cohorts = [
        {"name": "enterprise", "tenants": per, "rps": 2.0, "share": 1.0},
        {"name": "growth", "tenants": per, "rps": 1.5, "share": 1.0},
        {"name": "pro", "tenants": per, "rps": 1.0, "share": 0.5},
        {"name": "free", "tenants": tenants - 3 * per, "rps": 0.5, "share": 0.5},
    ]
    total = sum(c["tenants"] * c["rps"] for c in cohorts)
    failback_replicas = int(total / (20 * 0.7)) + 1
    doc = {
        "scenario": {"name": f"fleet-{tenants}", "seed": 3, "duration_s": duration_s, "tick_s": 1.0},
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805", "alias": "claude-opus-latest"},
        "tiers": {
            "old": {
                "replicas": max(1, failback_replicas // 4),
                "per_replica_rps": 20.0,
                "startup_s": 120.0,
                "startup_jitter_s": 15.0,
            },
            "new": {"replicas": failback_replicas, "per_replica_rps": 20.0, "startup_s": 120.0},
        },
        "caches": {"old": {"hit_rate": 0.1}, "new": {"hit_rate": 0.75}},
        "cohorts": cohorts,
        "events": [{"at_s": 600.0, "kind": "regression_start", "cohort": "enterprise", "severity": 0.6}],
    }
    path.write_text(tomli_w.dumps(doc))
    return path
