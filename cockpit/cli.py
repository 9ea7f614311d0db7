"""Entry points. Errors a user can cause print one sentence and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any

from cockpit.errors import CockpitError

STRATEGY_NAMES = ("cockpit", "abort", "fixed-stages")  # cockpit.domain.baselines.STRATEGIES, without importing it
# The commands live in cli_*.py, one module a family, imported only when that command runs:
# cli_drill (drill), cli_plan (plan), cli_plugins (plugins, plugins check/show, plugin new), cli_pins (lint, pin),
# cli_history (timeline, evidence), cli_engine, cli_journal, cli_scenario.


def config_warnings(config: Any, host: Any) -> list[str]:
    """One line per [plugins.X] table that names no installed plugin (kept here for callers; cli_plugins')."""
    from cockpit.cli_plugins import config_warnings as warnings

    return warnings(config, host)


EXIT_CODES = """\
configuration (first found): --config FILE, $COCKPIT_CONFIG, ./cockpit.toml, the user's config
directory (~/.config/cockpit/cockpit.toml on Linux), else the embedded default: the demo on the fleet
simulator, its journal and world in the user's state directory (~/.local/state/cockpit on Linux).
--config is accepted before or after the subcommand.

exit codes:
  0    success (plan: also when nothing is regressing, so there is nothing to roll back)
  1    a check found problems (lint: aliases, an unknown backend, a [plugins.X] table naming no plugin;
       plugins check: failed checks; pin: unresolved aliases; timeline: nothing at that time)
  2    bad input or environment: a malformed file, an unknown option, scenario, backend or [plugins.X]
       table, a missing extra, an unreachable backend (one sentence on stderr naming what and where)
  130  interrupted (Ctrl-C)

shell completion: eval "$(cockpit completion bash)"  (or zsh, tcsh)
"""

CONFIG_HELP = "configuration file (default: $COCKPIT_CONFIG, ./cockpit.toml, the user's, else the embedded default)"
# Where shtab's completion scripts complete a file name (shtab.FILE, without importing shtab at start-up).
_COMPLETE_FILE = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


DRILL_EPILOG = """\
The scenario supplies the world and the cockpit's settings. A --config FILE is always read and validated;
the drill takes from it only the [plugins.NAME] options of the backends --backend names."""


class DrillHelp(argparse.RawDescriptionHelpFormatter):
    """`cockpit drill --help` ends with the bundled scenarios' names (read only when help is asked for)."""

    def add_text(self, text: str | None) -> None:
        if text == DRILL_EPILOG:  # the help's epilog (a usage error prints no epilog)
            from cockpit_backends.mock.scenario import builtin_names

            text += f"\n\nbundled scenarios: {', '.join(builtin_names())}"
        super().add_text(text)


def _lazy(module: str, name: str) -> Any:
    """A subcommand's function, imported when that subcommand runs (start-up stays light)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(args))

    return run


def _version() -> str:
    from cockpit import __version__  # the one version: pyproject reads it too ([tool.setuptools.dynamic])

    return __version__


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options that mean the same for every command. On subcommands their default is SUPPRESS, so a value
    given before the subcommand is not overwritten: `cockpit --config X lint` == `cockpit lint --config X`."""
    a = parser.add_argument("--config", default=None if top else argparse.SUPPRESS, metavar="FILE", help=CONFIG_HELP)
    a.complete = _COMPLETE_FILE  # type: ignore[attr-defined]


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                out.append(child)
                out.extend(_subparsers(child))
    return out


def _completion(args: argparse.Namespace) -> int:
    try:
        import shtab
    except ImportError:
        from cockpit.errors import PluginError

        raise PluginError("completion: the 'shtab' package is missing; pip install shtab") from None
    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser `argv` needs: the top-level options, and the parser of each subcommand a word of `argv`
    names (the others are bare names). Every parser (over 100 arguments, and the modules that add some)
    is built only when help is asked for or for `completion`. The TUI's command line builds none: 11-13 ms
    of a cold start; `cockpit plan` does not import `cockpit engine`'s logging. Any of these parsers
    reads a command line the same way, and its errors name the same choices."""
    if any(a.startswith(("-h", "--h")) or a == "completion" for a in argv):
        return build_parser()
    return build_parser(only={a for a in argv if a in SUBCOMMANDS})


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `only` the top level and just those subcommands' parsers."""
    p = _top_parser()
    _add_subcommands(p, only)
    for child in _subparsers(p):
        _add_global_options(child, top=False)
    return p


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="Roll back a bad LLM model upgrade in minutes.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cockpit {_version()}")
    _add_global_options(p, top=True)
    p.add_argument("--drill", metavar="SCENARIO", help="run a scenario in the simulator inside the TUI, clock shown")
    p.add_argument("--speed", type=float, help="simulated seconds per wall second (default 60 with --drill)")
    p.add_argument("--overflow", action="store_true", help="with --drill: the scenario's [overflow] tier, in use")
    p.add_argument("--read-only", action="store_true", help="observe only: every mutating key is refused")
    p.add_argument(
        "--attach",
        metavar="ADDR",
        help="attach to a running `cockpit engine` (HOST:PORT or unix:PATH); by default the cockpit attaches "
        "to one listening on 127.0.0.1:7781 and runs its own engine only when none answers",
    )
    p.add_argument("--local", action="store_true", help="run an engine here even if one is listening")
    p.add_argument(
        "--operator",
        help="who you are in the journal (default: user@host); for shared accounts such as a bastion's 'oncall'",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="with --attach over TCP to an engine with a [server] tokens_file: the file holding your token "
        "(default: $COCKPIT_TOKEN_FILE); the engine names you by it",
    )
    p.add_argument(
        "--theme", help="a bundled theme (dark, light, high-contrast, colour-blind, ansi-16) or a theme file"
    )
    return p


def _add_subcommands(p: argparse.ArgumentParser, only: Collection[str] | None = None) -> None:
    """Every subcommand's parser, or with `only` just those (the others as bare names, so a command line
    is read the same way and an unknown word is refused naming the same choices)."""
    sub = p.add_subparsers(dest="command")
    for name in SUBCOMMANDS:
        if only is None or name in only:
            _BUILDERS[name](sub)
        else:
            sub.add_parser(name)


def _drill_parser(sub: Any) -> None:
    d = sub.add_parser(
        "drill",
        help="run a scenario headless with an autopilot on-call and print the scorecard",
        epilog=DRILL_EPILOG,
        formatter_class=DrillHelp,
    )
    d.add_argument("scenario", help="a bundled scenario name or a scenario file")
    d.add_argument("--strategy", default="cockpit", choices=list(STRATEGY_NAMES))
    d.add_argument("--compare", action="store_true", help="run all three strategies side by side")
    d.add_argument("--json", action="store_true", help="print JSON (a list with --compare)")
    d.add_argument(
        "--journal", help="keep the drill's journal in this SQLite file (--compare: J, J.abort, J.fixed-stages)"
    )
    d.add_argument("--state-file", help="persist the simulated world here (crash drills: resume after a kill)")
    d.add_argument("--speed", type=float, help="run at this many simulated seconds per wall second")
    d.add_argument("--warmer", action="store_true", help="run the cache warmer on the old revision from the start")
    d.add_argument(
        "--overflow",
        action="store_true",
        help="give the cockpit the scenario's [overflow] tier; the scorecard prices it beside a run without",
    )
    d.add_argument(
        "--backend",
        action="append",
        metavar="ROLE=NAME",
        help="hand a role to a real backend (options from --config's [plugins.NAME]); repeatable",
    )
    d.set_defaults(func=_lazy("cockpit.cli_drill", "drill_command"))


def _plan_parser(sub: Any) -> None:
    pl = sub.add_parser("plan", help="dry-run a rollback now: scope, pre-scale target and stages with ETAs")
    pl.add_argument("--scope", default="regressing", choices=["regressing", "all"])
    pl.add_argument("--tenants", help="comma-separated tenants (overrides --scope)")
    pl.add_argument("--json", action="store_true")
    # The top-level parser has these four as well (`cockpit --attach X plan` is the same request): here
    # they are SUPPRESSed when absent, so a value given before `plan` is not overwritten by a default.
    pl.add_argument(
        "--attach",
        default=argparse.SUPPRESS,
        metavar="ADDR",
        help="ask the `cockpit engine` at ADDR for its plan; by default one listening on 127.0.0.1:7781 is "
        "asked if it runs the configuration found here, else the plan is a dry run here",
    )
    pl.add_argument(
        "--local", action="store_true", default=argparse.SUPPRESS, help="dry-run here even if an engine listens"
    )
    pl.add_argument("--operator", default=argparse.SUPPRESS, help="who asks, to the engine (default: user@host)")
    pl.add_argument(
        "--token-file",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="to an engine over TCP with a [server] tokens_file: the file holding your token ($COCKPIT_TOKEN_FILE)",
    )
    pl.set_defaults(func=_lazy("cockpit.cli_plan", "plan_command"))


def _lint_parser(sub: Any) -> None:
    li = sub.add_parser("lint", help="every model reference must be a pinned revision (exit 1 on aliases)")
    li.set_defaults(func=_lazy("cockpit.cli_pins", "lint_command"))


def _pin_parser(sub: Any) -> None:
    pn = sub.add_parser("pin", help="resolve [pins] aliases into the lock file; record upgrades; roll a pin back")
    pn.add_argument("--rollback", metavar="NAME", help="make NAME's previous revision current; print the line")
    pn.add_argument("--set", metavar="NAME=REVISION", help="record an explicit upgrade of NAME")
    pn.set_defaults(func=_lazy("cockpit.cli_pins", "pin_command"))


def _timeline_parser(sub: Any) -> None:
    tl = sub.add_parser("timeline", help="what served each tenant at a time, and what changed around it")
    tl.add_argument("--at", help="a time: T+SECONDS in a drill journal; HH:MM or ISO on a real clock")
    tl.add_argument("--since", help="list every change since this time")
    tl.add_argument("--tenant", help="only this tenant in the --at table")
    tl.add_argument("--window", type=float, default=600.0, help="seconds either side of --at (default 600)")
    tl.add_argument("--journal", help="the journal file (default: the one cockpit.toml names)")
    tl.set_defaults(func=_lazy("cockpit.cli_history", "timeline_command"))


def _evidence_parser(sub: Any) -> None:
    ev = sub.add_parser("evidence", help="write an incident's frozen-window record (markdown)")
    ev.add_argument("incident", help="the incident id, e.g. INC-1")
    ev.add_argument("--out", required=True, help="the report file, e.g. report.md")
    ev.add_argument("--journal", help="the journal file (default: the one cockpit.toml names)")
    ev.set_defaults(func=_lazy("cockpit.cli_history", "evidence_command"))


def _plugins_parser(sub: Any) -> None:
    pg = sub.add_parser("plugins", help="list installed backends (without importing them); check one")
    pg.set_defaults(func=_lazy("cockpit.cli_plugins", "list_command"), plugins_command=None)
    pg.add_argument(
        "--check-imports",
        action="store_true",
        help="import each plugin and mark one that fails to import, with the reason (exit 1 if any)",
    )
    pgs = pg.add_subparsers(dest="plugins_command")
    ps = pgs.add_parser("show", help="a backend's roles, contract, capabilities and typed options")
    ps.add_argument("name")
    ps.add_argument("--json-schema", action="store_true", help="print its options' JSON schema (for editors)")
    ps.set_defaults(func=_lazy("cockpit.cli_plugins", "show_command"))
    pc = pgs.add_parser("check", help="run the contract checks for each role a backend claims")
    pc.add_argument("name")
    pc.add_argument("--write", action="store_true", help="also check the write path (re-applies current values)")


def _plugin_parser(sub: Any) -> None:
    pn = sub.add_parser("plugin", help="start a plugin of your own: cockpit plugin new NAME --role router")
    pns = pn.add_subparsers(dest="plugin_command", required=True)
    new = pns.add_parser("new", help="write a plugin distribution whose tests pass as generated")
    new.add_argument("name", help="the backend's name, e.g. my-gateway")
    new.add_argument("--role", default="router", help="the role it serves (router)")
    new.add_argument("--dir", default=".", help="where to write NAME-cockpit/ (default: here)")
    new.set_defaults(func=_lazy("cockpit.cli_plugins", "new_command"))


def _completion_parser(sub: Any) -> None:
    co = sub.add_parser("completion", help='print a shell completion script: eval "$(cockpit completion bash)"')
    co.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    co.set_defaults(func=_completion)


def _module_parser(module: str) -> Callable[[Any], None]:
    """A subcommand whose parser its own module adds (engine, journal, scenario): imported when built."""

    def build(sub: Any) -> None:
        import importlib

        importlib.import_module(module).add_parser(sub)

    return build


_BUILDERS: dict[str, Callable[[Any], None]] = {
    "drill": _drill_parser,
    "plan": _plan_parser,
    "lint": _lint_parser,
    "pin": _pin_parser,
    "timeline": _timeline_parser,
    "evidence": _evidence_parser,
    "plugins": _plugins_parser,
    "plugin": _plugin_parser,
    "engine": _module_parser("cockpit.cli_engine"),
    "journal": _module_parser("cockpit.cli_journal"),
    "scenario": _module_parser("cockpit.cli_scenario"),
    "completion": _completion_parser,
}
SUBCOMMANDS = tuple(_BUILDERS)  # in build_parser's order (tests/ui/test_cli.py checks the two agree)


def _logging(args: argparse.Namespace) -> None:
    """The TUI owns the terminal: its log goes to the state directory. `cockpit engine` configures its
    own (--log-level, --log-format), and `cockpit plan` its own only when it plans here (asking the engine
    logs nothing). Every other command logs warnings and worse to stderr."""
    if args.command in ("engine", "plan"):
        return
    from cockpit.logs import setup

    if args.command is None:
        from cockpit.paths import state_dir

        setup("info", file=state_dir() / "cockpit.log")
    else:
        setup("warning")


def _no_collection_at_exit() -> None:
    """`cockpit plan` as a process: its objects (a 10,000-tenant fleet's readings and plan) are garbage
    once it has printed, and the collector's passes at interpreter exit over them cost more than
    planning does (60 ms at 10,000 tenants); frozen, they are left to the operating system."""
    import atexit
    import gc

    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None) -> int:
    parser = parser_for(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    _logging(args)
    if argv is None and args.command == "plan":  # the command line of this process (not a caller's)
        _no_collection_at_exit()
    try:
        from cockpit.cli_checks import check_args

        check_args(args)
        if args.command is None:
            from cockpit.ui.run import run_tui

            return run_tui(args)
        return args.func(args)
    except CockpitError as exc:
        from cockpit.extras import message

        print(f"cockpit: {message(exc) or exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # an optional client (cockpit[kubernetes], cockpit[redis]) is missing
        from cockpit.extras import message

        text = message(exc)
        if text is None:
            raise
        print(f"cockpit: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cockpit timeline | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
