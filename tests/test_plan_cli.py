"""`cockpit plan` on a generated fleet: the same plan in-process as from the command line, and a caller's
garbage collector left as it was (the command turns it off while it runs)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _fleet import write_fleet  # noqa: E402
from bench_scale import PLAN_CONFIG  # noqa: E402

from cockpit.cli import main  # noqa: E402


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_fleet(tmp_path / "fleet.toml", 400)
    (tmp_path / "cockpit.toml").write_text(PLAN_CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_plan_in_process_equals_the_command_and_restores_gc(fleet: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["--config", str(fleet / "cockpit.toml"), "plan", "--scope", "all", "--json"]
    assert gc.isenabled()
    assert main(argv) == 0
    assert gc.isenabled()  # turned off only while the plan ran
    here = capsys.readouterr().out
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_CONFIG"}
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", *argv], capture_output=True, text=True, cwd=fleet, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == here
    plan = json.loads(here)
    assert len(plan["scope"]) == 400 and plan["finishes"] and plan["stages"]
    # every tenant in scope moves in some stage (one moved in part moves again), each stage's in name order
    assert {t for s in plan["stages"] for t in s["tenants"]} == set(plan["scope"])
    assert all(s["tenants"] == sorted(s["tenants"]) for s in plan["stages"]) and plan["scope"] == sorted(plan["scope"])


def test_gc_left_off_if_the_caller_had_it_off(fleet: Path, capsys: pytest.CaptureFixture[str]):
    gc.disable()
    try:
        assert main(["--config", str(fleet / "cockpit.toml"), "plan", "--scope", "all"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert "scope: 400 tenant(s)" in capsys.readouterr().out


def test_a_tenant_named_twice_is_planned_once(fleet: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["--config", str(fleet / "cockpit.toml"), "plan", "--json", "--tenants"]
    assert main([*argv, "pro-0002,enterprise-0001,pro-0002"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["scope"] == ["enterprise-0001", "pro-0002"]
    assert {t for s in plan["stages"] for t in s["tenants"]} == {"enterprise-0001", "pro-0002"}


def test_the_plans_json_is_laid_out_as_the_standard_librarys():
    """`cockpit plan --json` indents in C where it can: the same text as json.dumps(indent=2), and a
    number that is not finite (no old capacity at all) as null, never as the invalid Infinity."""
    from cockpit.cli_plan import indented_json

    value = {
        "scope": ["acme", 'quo"te', "caf\u00e9", "tab\there"],
        "stages": [{"number": 1, "tenants": ["acme"], "moved_rps": 0.1, "eta_s": 1e16}, {"tenants": []}],
        "finishes": True,
        "eta_s": None,
        "unknown": {"acme": "rate unknown \\ planned at 5 rps"},
        "mixed": [1, 2.5, False, "x", [], {}],
    }
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert json.loads(indented_json({"after": float("inf"), "nan": float("nan")})) == {"after": None, "nan": None}
