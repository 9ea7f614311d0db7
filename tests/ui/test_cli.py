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


TUI_LINES = [
    [],
    ["--drill", "demo"],
    ["--config", "x.toml", "--drill", "classic", "--speed", "120", "--overflow", "--theme", "light"],
    ["--attach", "127.0.0.1:7781", "--operator", "ana", "--token-file", "t", "--read-only"],
    ["--local", "--dri", "demo"],  # an abbreviated option, as argparse allows
]
BAD_LINES = [["--bogus"], ["foo"], ["--speed", "fast"], ["--drill"]]


def _parse(parser, argv: list[str], capsys) -> tuple[object, str]:
    try:
        out: object = vars(parser.parse_args(argv))
    except SystemExit as exc:
        out = exc.code
    return out, capsys.readouterr().err


def test_the_tui_command_line_is_read_without_the_subcommands_parsers(capsys) -> None:
    """A command line with no subcommand and no help gets the top-level parser alone (the subcommands' own
    parsers cost 11-13 ms of a cold start); it reads those lines, and refuses bad ones, exactly as the
    whole parser does. A word that may be a subcommand or ask for help gets the whole parser."""
    from cockpit.cli import SUBCOMMANDS, build_parser, parser_for

    full = build_parser()
    choices = next(a.choices for a in full._actions if a.dest == "command")
    assert tuple(choices) == SUBCOMMANDS
    for argv in TUI_LINES + BAD_LINES:
        fast = parser_for(argv)
        assert len(fast.format_help()) < len(full.format_help())  # the subcommands' help is not there
        assert _parse(fast, argv, capsys) == _parse(build_parser(), argv, capsys), argv
    for argv in (["plan"], ["--config", "x", "lint"], ["-h"], ["--he"], ["drill", "demo"]):
        assert parser_for(argv).format_help() == full.format_help(), argv
