"""The host's side of the plugin contract: import failures in `cockpit plugins`, `plugins check` on the
embedded default, a misspelled [plugins.X] table, the contract version and capabilities, the pinned
models in BackendContext."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import pytest

from cockpit.contract import check_backend
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, BackendSpec, Capabilities, hookimpl
from cockpit.options import parse_options
from cockpit.paths import embedded_config_text
from cockpit.plugins import PluginHost

from .test_contract_checks import START, Router


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "COCKPIT_CONFIG"}
    full.update({"COCKPIT_STATE_DIR": str(cwd / "state"), "XDG_CONFIG_HOME": str(cwd / "xdg"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=120
    )


def _dist(site: Path, name: str, module: str, source: str | None) -> None:
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[cockpit.backends]\n{name} = {module}\n")
    if source is not None:
        (site / f"{module}.py").write_text(source)


def test_plugins_marks_a_plugin_that_fails_to_import(tmp_path):
    site = tmp_path / "site"
    _dist(site, "broken", "broken_plugin", "raise ImportError('needs a library that is not installed')\n")
    _dist(site, "stale", "gone_plugin", None)
    env = {"PYTHONPATH": str(site)}
    listed = cli("plugins", cwd=tmp_path, env=env)
    lines = {ln.split()[0]: ln for ln in listed.stdout.splitlines()}
    assert listed.returncode == 1
    # metadata only: the broken module is located, not run; the stale entry point has no module at all
    assert lines["broken"].endswith("(broken_plugin)")
    assert lines["stale"].endswith(
        "(gone_plugin)  fails to import: no module named 'gone_plugin' (the entry point outlived its package?)"
    )
    assert lines["mock"].endswith("(cockpit_backends.mock)")
    checked = cli("plugins", "--check-imports", cwd=tmp_path, env=env)
    lines = {ln.split()[0]: ln for ln in checked.stdout.splitlines()}
    assert checked.returncode == 1
    assert (
        "(broken_plugin)  fails to import: ImportError: needs a library that is not installed (at " in lines["broken"]
    )
    assert "broken_plugin.py:1 in <module>)" in lines["broken"]
    assert lines["mock"].endswith("(cockpit_backends.mock)")


def test_plugins_check_runs_on_the_embedded_default(tmp_path):
    out = cli("plugins", "check", "mock", "--write", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # 18: the mock router declares capabilities.overflow, so read_overflow is checked too (no tier behind it here)
    assert "WARN" not in out.stdout and out.stdout.splitlines()[-1] == "18 passed, 0 failed"
    assert "read_overflow: no overflow tier behind this router" in out.stdout


def test_a_misspelled_plugins_table_is_flagged_with_the_nearest_name(tmp_path):
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(embedded_config_text() + "\n[plugins.redsi]\nurl = 'redis://127.0.0.1:6379/0'\n")
    out = cli("--config", str(cfg), "plugins", "check", "mock", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    warnings = [ln for ln in out.stdout.splitlines() if "WARN" in ln]
    assert warnings == [
        f"  WARN  config     {cfg}: [plugins.redsi] names no installed plugin or backend; did you mean [plugins.redis]?"
    ]


def _host(**spec: object) -> PluginHost:
    class Plugin:
        @hookimpl
        def cockpit_backends(self):
            return [BackendSpec("t", frozenset({"router"}), lambda role, options, context: Router(), **spec)]

    return PluginHost(entry_points=False, plugins=[("t", Plugin())])


def test_a_backend_for_another_contract_is_refused_in_one_sentence():
    host = _host(contract_version=3)
    assert "t" not in host.backends()
    assert [str(f) for f in host.failures] == [
        "plugin 't' failed in cockpit_backends: backend 't' was written for plugin contract 3, but this cockpit "
        "speaks contracts 1 to 2: upgrade the cockpit, or install a release of the plugin for contract 2"
    ]
    assert "t" in _host(contract_version=2).backends() and "t" in _host().backends()  # undeclared: contract 1


def test_capabilities_are_checked_and_the_share_step_is_what_the_write_check_moves():
    host = _host(capabilities=Capabilities(share_step=0.7))
    assert "t" not in host.backends()
    assert [f.error for f in host.failures] == [
        "backend 't': capabilities.share_step must be a number from 0 to 0.5, not 0.7"
    ]
    host = _host(contract_version=2, capabilities=Capabilities(share_step=0.05))
    results = asyncio.run(check_backend(host, "t", {}, BackendContext(None, "."), write=True))
    assert [r.name for r in results if r.role == "router"][2:] == [
        "apply_shares (moved acme, globex by 0.05 and back)",
        "restore",
    ]
    assert all(r.ok for r in results) and START == {"acme": 1.0, "globex": 0.5, "initech": 0.0}


def test_the_engine_hands_plugins_the_pinned_models(tmp_path):
    s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock())
    try:
        models = s.engine.context.models
        pinned = s.engine.config.file.models
        assert (models.old, models.new, models.alias) == (pinned.old, pinned.new, pinned.alias)
        assert models.old and models.new and models.old != models.new
    finally:
        s.close()


class Opts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0


def test_typed_options_errors_name_the_file_the_table_and_the_option():
    assert parse_options({"url": "redis://x", "timeout_s": 3}, Opts, "redis", "c.toml") == Opts(
        url="redis://x", timeout_s=3.0
    )
    cases = {
        "c.toml: plugins.redis: unknown option 'urll' (known: url, timeout_s)": {"urll": "x"},
        "c.toml: plugins.redis.url: required, and not set": {},
        "c.toml: plugins.redis.url: expected `str`, got `int`": {"url": 5},
        "c.toml: plugins.redis.timeout_s: expected `float` > 0.0": {"url": "x", "timeout_s": 0},
    }
    for sentence, table in cases.items():
        with pytest.raises(ConfigError) as err:
            parse_options(table, Opts, "redis", "c.toml")
        assert str(err.value) == sentence


def test_the_testing_kit_imports_no_test_only_dependency():
    code = "import sys, cockpit.testing; print(sorted(m for m in ('pytest', 'textual') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class ListHealth:
    async def regressions(self):
        return ["acme"]  # a list, not a mapping


class RaisingHealth:
    async def regressions(self):
        raise KeyError("route")  # HEALTH RAISES


def _drill_with_health(tmp_path: Path, cls: type) -> dict[str, str]:
    class Plugin:
        @hookimpl
        def cockpit_backends(self):
            return [BackendSpec("h", frozenset({"health"}), lambda role, options, context: cls())]

    host = PluginHost(plugins=[("h", Plugin())])
    s = open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(), host=host, backends={"health": "h"})
    try:
        asyncio.run(s.engine.tick())
        return dict(s.engine.backends.degraded)
    finally:
        s.close()


def test_the_engine_says_what_type_a_health_plugin_should_return(tmp_path):
    assert _drill_with_health(tmp_path, ListHealth)["health"] == (
        "h: regressions returned list; expected a Mapping[str, float] (tenant -> severity 0..1) or a SignalReading"
    )


def test_the_engine_names_the_plugin_s_line_when_a_call_raises(tmp_path):
    n = next(i for i, ln in enumerate(Path(__file__).read_text().splitlines(), 1) if ln.endswith("# HEALTH RAISES"))
    assert _drill_with_health(tmp_path, RaisingHealth)["health"] == (
        f"h: KeyError: 'route' (at tests/test_plugin_host_contract.py:{n} in regressions)"
    )


def test_a_config_error_from_cockpit_configure_stops_the_engine_with_the_plugin_s_sentence(tmp_path):
    class Picky:
        @hookimpl
        def cockpit_configure(self, plugins, context):
            raise ConfigError("plugins.picky.url: expected an http(s) URL")

    host = PluginHost(plugins=[("picky", Picky())])
    with pytest.raises(ConfigError) as err:
        open_drill("classic", journal=tmp_path / "j.db", clock=SimClock(), host=host).close()
    assert str(err.value) == "plugins.picky.url: expected an http(s) URL"  # no source location: it is config
