"""Errors a user can cause surface as one sentence and exit 2 before the app starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.ui.themes import load_all, theme_files

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_keymap_id_is_a_config_error(tmp_path, capsys) -> None:
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text((ROOT / "cockpit" / "data" / "cockpit.toml").read_text() + '\n[keymap]\nlaunch_missiles = "x"\n')
    assert main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "keymap.launch_missiles" in err and "unknown binding id" in err
    assert "Traceback" not in err


def test_missing_config_exits_2(tmp_path, capsys) -> None:
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err.startswith("cockpit: ")


@pytest.mark.parametrize("bad", [["--theme", "no-such-theme"], ["--drill", "demo", "--speed", "0"]])
def test_bad_flags_exit_2(bad, capsys) -> None:
    assert main(["--config", str(ROOT / "cockpit" / "data" / "cockpit.toml"), *bad]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bundled_themes_load() -> None:
    assert {"dark", "light", "high-contrast", "colour-blind", "ansi-16"} <= set(theme_files())
    assert len({t.name for t in load_all()}) == len(theme_files())
