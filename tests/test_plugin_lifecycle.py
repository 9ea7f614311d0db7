"""A plugin's place in one engine: the router's declared share step sets the rollback's smallest move,
role objects are closed (``aclose``) with their engine, roles share state through ``BackendContext.shared``
rather than module dicts, and ``cockpit lint`` flags a ``[plugins.X]`` table that names no plugin."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import cockpit_backends.mock as mock
from cockpit.engine.drill import run_drill
from cockpit.hookspecs import BackendSpec, Capabilities, hookimpl
from cockpit.paths import embedded_config_text
from cockpit.plugins import PluginHost

from .test_plugin_host_contract import cli


class SteppedMock:
    """The simulator, declared as a router that stores shares on a 0.05 grid."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.ceilings: list[float] = []  # every ceiling of every stage applied

    @hookimpl
    def cockpit_backends(self) -> list[BackendSpec]:
        (spec,) = mock.cockpit_backends()
        return [replace(spec, contract_version=2, capabilities=Capabilities(share_step=self.step))]

    @hookimpl
    def cockpit_stage_applied(self, stage: dict[str, Any]) -> None:
        self.ceilings += stage["ceilings"].values()


def _off_grid(values: list[float], step: float) -> list[float]:
    return [v for v in values if abs(v / step - round(v / step)) > 1e-6]


def test_a_routers_share_step_is_the_rollbacks_smallest_move(tmp_path: Path) -> None:
    coarse = SteppedMock(0.05)
    card = asyncio.run(run_drill("classic", host=PluginHost(entry_points=False, plugins=[("mock", coarse)])))
    assert card.restored
    partial = [c for c in coarse.ceilings if 0.0 < c < 1.0]
    assert partial, "the drill never planned a partial move: the test proves nothing"
    assert _off_grid(coarse.ceilings, 0.05) == []
    # the same drill on a router that stores any share plans ceilings off that grid
    fine = SteppedMock(0.0)
    asyncio.run(run_drill("classic", host=PluginHost(entry_points=False, plugins=[("mock", fine)])))
    assert _off_grid(fine.ceilings, 0.05)


def test_lint_flags_a_plugins_table_that_names_no_plugin(tmp_path: Path) -> None:
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(embedded_config_text() + "\n[plugins.redsi]\nurl = 'redis://127.0.0.1:6379/0'\n")
    out = cli("--config", str(cfg), "lint", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{cfg}: [plugins.redsi] names no installed plugin or backend; did you mean [plugins.redis]?" in (
        out.stdout.splitlines()
    )
    cfg.write_text(embedded_config_text())
    clean = cli("--config", str(cfg), "lint", cwd=tmp_path)
    assert clean.returncode == 0 and "names no installed plugin" not in clean.stdout, clean.stdout + clean.stderr
