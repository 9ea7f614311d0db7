"""cockpit.entry_points reads the entry points importlib.metadata would, in the same order, without importing
it (start-up time): compared on this environment and on distributions written for the test."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit import entry_points as fast


def stdlib(group: str) -> list[tuple[str, str, str]]:
    return [(ep.name, ep.value, ep.group) for ep in importlib.metadata.entry_points(group=group)]


def ours(group: str) -> list[tuple[str, str, str]]:
    return [(ep.name, ep.value, ep.group) for ep in fast.entry_points(group)]


@pytest.mark.parametrize("group", ["cockpit.backends", "console_scripts", "pytest11"])
def test_the_installed_entry_points_are_read_as_importlib_metadata_reads_them(group):
    assert ours(group) == stdlib(group)
    assert fast._scan(group) == fast.entry_points(group)  # the simple reading itself, not its fallback


def _dist(site: Path, folder: str, text: str) -> None:
    (site / folder).mkdir(parents=True)
    (site / folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {folder.split('-')[0]}\nVersion: 1\n")
    (site / folder / "entry_points.txt").write_text(textwrap.dedent(text))


def test_order_first_distribution_wins_and_loading(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "Zeta_Plugin-1.0.dist-info", "[cockpit.backends]\nzeta = zeta_mod:Thing.attr\n")
    _dist(first, "alpha-2.0.dist-info", "# a comment\n[other]\nx = y\n\n[cockpit.backends]\n alpha =  alpha_mod \n")
    _dist(second, "zeta.plugin-9.0.dist-info", "[cockpit.backends]\nshadowed = nowhere\n")  # same name: ignored
    _dist(second, "beta-1.0.egg-info", "[cockpit.backends]\nbeta = beta_mod [extra]\n")
    (first / "zeta_mod.py").write_text("class Thing:\n    attr = 42\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    importlib.invalidate_caches()
    got = ours("cockpit.backends")
    assert got == stdlib("cockpit.backends")
    names = [n for n, _, _ in got]
    assert {"zeta", "alpha", "beta"} <= set(names) and "shadowed" not in names  # the first zeta-plugin wins
    assert ("beta", "beta_mod [extra]", "cockpit.backends") in got and ("alpha", "alpha_mod", "cockpit.backends") in got
    zeta = next(ep for ep in fast.entry_points("cockpit.backends") if ep.name == "zeta")
    assert zeta.load() == 42


def test_a_malformed_line_is_left_to_importlib_metadata(tmp_path, monkeypatch):
    _dist(tmp_path, "odd-1.0.dist-info", "[cockpit.backends]\nno equals sign here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(fast._Unusual):
        fast._scan("cockpit.backends")
    with pytest.raises(TypeError):  # what importlib.metadata itself does with it (Pair.parse)
        fast.entry_points("cockpit.backends")


def test_the_plan_path_does_not_import_importlib_metadata(tmp_path):
    """The plugin host starts (every bundled plugin loaded) without importlib.metadata."""
    code = "import sys; from cockpit.plugins import PluginHost; h = PluginHost(); "
    code += "print(len(h.backends()), 'importlib.metadata' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    count, imported = out.stdout.split()
    assert int(count) >= 10 and imported == "False"
