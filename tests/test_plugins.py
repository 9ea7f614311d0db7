"""The plugin host: entry-point loading, isolation of failing plugins, the typed facade."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest

from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import PluginError
from cockpit.hookspecs import BackendContext, BackendSpec, hookimpl
from cockpit.plugins import PluginHost, installed_plugins


def test_bundled_mock_is_found_through_the_entry_point_group():
    found = {p.name: p for p in installed_plugins()}
    assert found["mock"].module == "cockpit_backends.mock"
    host = PluginHost()
    spec = host.backends()["mock"]
    assert {"router", "autoscaler", "cache", "provider", "health", "simulator"} <= spec.roles
    assert host.failures == []


class Exploding:
    @hookimpl
    def cockpit_backends(self):
        raise RuntimeError("boom")


class UnknownHook:
    @hookimpl
    def cockpit_not_a_hook(self):
        return None


class NotARouter:
    @hookimpl
    def cockpit_backends(self):
        return [BackendSpec("weird", frozenset({"router"}), lambda role, options, ctx: object())]


def test_a_failing_plugin_is_reported_not_fatal():
    host = PluginHost(plugins=[("exploding", Exploding()), ("unknown-hook", UnknownHook())])
    assert "mock" in host.backends()
    failures = {(f.plugin, f.where) for f in host.failures}
    assert ("exploding", "cockpit_backends") in failures
    assert ("unknown-hook", "register") in failures


def test_unknown_backend_and_wrong_role_object_are_plugin_errors():
    host = PluginHost(plugins=[("weird", NotARouter())])
    ctx = BackendContext(clock=SimClock(), config_dir=".")
    with pytest.raises(PluginError, match="unknown backend 'nope'"):
        host.create("router", "nope", {}, ctx)
    with pytest.raises(PluginError, match="does not implement the 'router' role"):
        host.create("router", "weird", {}, ctx)
    with pytest.raises(PluginError, match="does not serve the 'autoscaler' role"):
        host.create("autoscaler", "weird", {}, ctx)


def test_a_plugin_that_fails_to_import_is_reported(tmp_path):
    """A real distribution on sys.path whose entry point names a module that raises on import."""
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cockpit.backends]\nbroken = broken_plugin\n")
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs a library that is not installed')\n")
    code = textwrap.dedent(
        """
        from cockpit.plugins import PluginHost
        h = PluginHost()
        print(sorted(h.backends()))
        print([str(f) for f in h.failures])
        """
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert "'mock'" in out  # the others still load
    assert "plugin 'broken' failed in import: ImportError: needs a library that is not installed" in out


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def cockpit_incident_declared(self, incident):
        self.calls.append(("declared", incident["id"]))

    @hookimpl
    def cockpit_stage_applied(self, stage):
        self.calls.append(("stage", stage["number"]))


class Raiser:
    @hookimpl
    def cockpit_incident_declared(self, incident):
        raise RuntimeError("webhook down")


def test_event_hooks_run_in_isolation_and_failures_are_journaled(tmp_path):
    rec = Recorder()
    host = PluginHost(plugins=[("rec", rec), ("raiser", Raiser())])

    async def go():
        clock = SimClock()
        s = open_drill("classic", journal=tmp_path / "j.db", clock=clock, host=host)
        try:
            clock.set(640)
            await s.engine.tick()
            await s.engine.command("arm", scope="regressing")
            for _ in range(30):
                clock.advance(1)
                await s.engine.tick()
            errors = [e.data for e in s.engine.journal.entries(kinds=("plugin_error",))]
            return errors
        finally:
            s.close()

    errors = asyncio.run(go())
    assert ("declared", "INC-1") in rec.calls  # the raiser did not stop the recorder
    assert ("stage", 1) in rec.calls
    # the failure names the plugin's file and line (the hook's `raise`, just above in this file)
    where = f"tests/test_plugins.py:{Raiser.cockpit_incident_declared.__code__.co_firstlineno + 2}"
    error = f"RuntimeError: webhook down (at {where} in cockpit_incident_declared)"
    assert errors == [{"plugin": "raiser", "hook": "cockpit_incident_declared", "error": error}]
