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
    whole parser does. A line that asks for help (or for a completion script) gets the whole parser."""
    from cockpit.cli import SUBCOMMANDS, build_parser, parser_for

    full = build_parser()
    choices = next(a.choices for a in full._actions if a.dest == "command")
    assert tuple(choices) == SUBCOMMANDS
    for argv in TUI_LINES + BAD_LINES:
        fast = parser_for(argv)
        assert len(fast.format_help()) < len(full.format_help())  # the subcommands' help is not there
        assert _parse(fast, argv, capsys) == _parse(build_parser(), argv, capsys), argv
    for argv in (["-h"], ["--he"], ["plan", "-h"], ["completion", "bash"]):
        assert parser_for(argv).format_help() == full.format_help(), argv


SUBCOMMAND_LINES = [
    ["plan"],
    ["--config", "x", "lint"],
    ["drill", "demo", "--compare"],
    ["--attach", "127.0.0.1:7781", "plan", "--scope", "all"],  # a top-level value is not overwritten
    ["plan", "--attach", "unix:/tmp/e.sock", "--local", "--json"],
    ["--operator", "plan", "engine", "--listen", ":7790"],  # a subcommand's name as an option's value
    ["journal", "verify"],
    ["plugins", "show", "mock"],
]
BAD_SUBCOMMAND_LINES = [["plan", "--scope", "bogus"], ["plan", "--attach"], ["engine", "--log-level", "loud"]]


def _plain(parsed: tuple[object, str]) -> tuple[object, str]:
    """A parse without its `func` (a closure each parser makes afresh), named by what it runs instead."""
    out, err = parsed
    if isinstance(out, dict) and "func" in out:
        func = out.pop("func")
        out["runs"] = [c.cell_contents for c in func.__closure__ or ()] or func.__name__
    return out, err


def test_a_subcommand_line_builds_only_that_subcommands_parser(capsys) -> None:
    """`cockpit plan` builds the plan's parser and names the others bare (no `cockpit engine` parser, so
    not its module and logging): it reads every line, and refuses every bad one, as the whole parser."""
    from cockpit.cli import build_parser, parser_for

    for argv in SUBCOMMAND_LINES + BAD_SUBCOMMAND_LINES:
        assert _plain(_parse(parser_for(argv), argv, capsys)) == _plain(_parse(build_parser(), argv, capsys)), argv
    lean = parser_for(["plan", "--json"])
    built = {name: len(p._actions) for a in lean._actions if a.dest == "command" for name, p in a.choices.items()}
    assert built["plan"] > 5 and built["engine"] == built["drill"] == 2  # -h and --config: bare names
