"""What a new user's trial ran into: each bad input is one sentence naming what and where, exit 2, no
traceback; the commands that had nothing wrong say so and exit 0."""

from __future__ import annotations

import logging
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "cockpit" / "data" / "cockpit.toml").read_text()
SPEED = "expected a positive number of simulated seconds per wall second, at most 10,000"


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def one_sentence(r: subprocess.CompletedProcess, code: int = 2) -> str:
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def config(tmp_path: Path, text: str, name: str = "cockpit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# 1. --speed ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--drill", "classic", "--speed", "inf"], "inf"),
        (["--drill", "classic", "--speed", "nan"], "nan"),
        (["--drill", "classic", "--speed", "20000"], "20000"),
        (["drill", "classic", "--speed", "nan"], "nan"),
        (["drill", "classic", "--speed", "inf"], "inf"),
        (["drill", "classic", "--speed=-inf"], "-inf"),
        (["--local", "--speed", "inf"], "inf"),
    ],
)
def test_speed_must_be_finite_positive_and_bounded(argv, shown, tmp_path):
    assert one_sentence(run(*argv, cwd=tmp_path)) == f"cockpit: --speed {shown}: {SPEED}"


def test_the_bound_itself_is_accepted(tmp_path):
    r = run("drill", "demo", "--speed", "10000", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def _drill_tmp_dirs(tmp: Path) -> list[Path]:
    return list(tmp.glob("cockpit-tui-drill-*"))


def test_a_tui_drill_that_fails_to_open_leaves_no_temporary_directory(tmp_path):
    bad = ROOT / "tests" / "data" / "malformed_scenario.toml"
    r = run("--drill", str(bad), cwd=tmp_path, env={"TMPDIR": str(tmp_path)})
    assert "malformed_scenario.toml" in one_sentence(r)
    assert _drill_tmp_dirs(tmp_path) == []


def test_a_tui_drill_killed_by_sigterm_removes_its_temporary_directory(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "cockpit.cli", "--local", "--drill", "demo", "--speed", "5"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
    )
    os.close(slave)

    def drain() -> None:  # the screen's output: a full pty would block the app
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not (dirs := _drill_tmp_dirs(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert dirs, "the TUI drill never made its temporary directory"
        assert (dirs[0] / "journal.db").exists() or dirs[0].is_dir()
        time.sleep(2)  # the app is up and drawing
        p.send_signal(signal.SIGTERM)
        assert p.wait(60) == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert _drill_tmp_dirs(tmp_path) == []


# 2. an unknown [plugins.X] table ------------------------------------------------------------------
def test_an_unknown_plugins_table_is_refused_by_every_command_that_loads_the_config(tmp_path):
    cfg = config(tmp_path, DEFAULT.replace("[plugins.mock]", "[plugins.mokc]"))
    want = f"cockpit: {cfg}: [plugins.mokc] names no installed plugin or backend; did you mean [plugins.mock]?"
    for argv in (["plan", "--local"], ["--local"], ["drill", "demo"], ["--drill", "demo"]):
        assert one_sentence(run("--config", str(cfg), *argv, cwd=tmp_path)) == want, argv
    lint = run("--config", str(cfg), "lint", cwd=tmp_path)  # lint reports it as a finding: exit 1
    assert lint.returncode == 1 and want.removeprefix("cockpit: ") in lint.stdout, lint.stdout


# 3. drill --config is always read ----------------------------------------------------------------
def test_drill_reads_the_config_it_is_given_without_backend(tmp_path):
    missing = tmp_path / "nope.toml"
    assert one_sentence(run("drill", "demo", "--config", str(missing), cwd=tmp_path)) == (
        f"cockpit: --config {missing}: configuration file not found"
    )
    bad = ROOT / "tests" / "data" / "malformed.toml"
    assert f"{bad}: not valid TOML" in one_sentence(run("drill", "demo", "--config", str(bad), cwd=tmp_path))
    good = config(tmp_path, DEFAULT)
    assert run("drill", "demo", "--config", str(good), "--json", cwd=tmp_path).returncode == 0
    assert "only the [plugins.NAME] options" in " ".join(run("drill", "--help").stdout.split())


# 4. lint names an unknown backend -----------------------------------------------------------------
def test_lint_reports_an_unknown_backend_name(tmp_path):
    cfg = config(tmp_path, DEFAULT.replace('router = "mock"', 'router = "nosuchrouter"'))
    r = run("lint", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"{cfg}: backends.router = 'nosuchrouter' names no installed backend (installed router backends: " in (
        r.stdout
    )
    assert "mock" in r.stdout.split("installed router backends: ")[1] and "all pinned" not in r.stdout


# 5. the tests' own hermeticity -------------------------------------------------------------------
def test_the_state_and_config_directories_are_not_the_users(tmp_path):
    from cockpit.cli import main
    from cockpit.paths import state_dir, user_config_file

    home = Path.home()
    assert not state_dir().is_relative_to(home) and not user_config_file().is_relative_to(home)
    main(["--config", str(tmp_path / "nope.toml")])  # the TUI's logging: a file in the state directory
    handlers = logging.getLogger("cockpit").handlers
    files = [Path(h.baseFilename) for h in handlers if isinstance(h, logging.FileHandler)]
    assert files == [state_dir() / "cockpit.log"]


def test_main_left_no_handler_behind():
    logger = logging.getLogger("cockpit")
    assert not [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    assert logger.propagate


# 6, 7. plugins show and check --------------------------------------------------------------------
def listed_plugins() -> list[str]:
    r = run("plugins")
    assert r.returncode == 0, r.stderr
    return [line.split()[0] for line in r.stdout.splitlines()]


def test_plugins_show_works_for_every_listed_plugin_and_the_error_lists_the_same_names():
    names = listed_plugins()
    assert {"webhook", "launchdarkly", "unleash", "vertex", "mock"} <= set(names)
    for name in names:
        r = run("plugins", "show", name)
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout.startswith(f"{name} "), r.stdout
    assert run("plugins", "show", "webhook").stdout.startswith("webhook 0.1.0: serves no role; hooks cockpit_configure")
    err = one_sentence(run("plugins", "show", "nosuch"))
    assert err == f"cockpit: unknown plugin or backend 'nosuch' (installed plugins: {', '.join(names)})"
    assert one_sentence(run("plugins", "check", "nosuch")) == err
    assert "also provides: anthropic, openai-compatible" in run("plugins", "show", "http").stdout


def test_plugins_check_on_a_hook_only_plugin_says_there_is_nothing_to_check(tmp_path):
    r = run("plugins", "check", "webhook", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "nothing to check: the embedded default cockpit.toml has no [plugins.webhook] table" in r.stdout


def test_capabilities_are_shown_only_for_router_backends():
    for provider_only in ("vertex", "bedrock"):
        r = run("plugins", "show", provider_only)
        assert r.returncode == 0 and "roles provider" in r.stdout and "capabilities" not in r.stdout, r.stdout
    assert "capabilities: any share, creates tenants" in run("plugins", "show", "mock").stdout


# 8. plan with nothing regressing ------------------------------------------------------------------
def test_plan_with_nothing_regressing_says_so_and_exits_0(tmp_path):
    r = run("plan", "--local", cwd=tmp_path)  # the embedded demo, before its regression (not an engine on 7781)
    assert r.returncode == 0, r.stderr
    assert "nothing to roll back: no tenant in scope is regressing" in r.stdout
    r = run("plan", "--local", "--json", cwd=tmp_path)
    assert r.returncode == 0 and '"scope": []' in r.stdout


# 9. lint on an alias: a plain sentence -----------------------------------------------------------
def test_lint_on_an_unknown_alias_names_no_exception(tmp_path):
    cfg = config(tmp_path, DEFAULT.replace('old = "claude-opus-4-20250514"', 'old = "claude-3-5-sonnet-latest"'))
    r = run("lint", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1
    assert "models.old = 'claude-3-5-sonnet-latest' could not be confirmed as a pinned revision: unknown to the " in (
        r.stdout
    )
    assert "Error" not in r.stdout and "(" not in r.stdout.splitlines()[0].split("revision:")[1]


# 10. drill --help and journal verify ---------------------------------------------------------------
def test_drill_help_lists_the_bundled_scenarios():
    from cockpit_backends.mock.scenario import builtin_names

    out = run("drill", "--help").stdout
    assert f"bundled scenarios: {', '.join(builtin_names())}" in out
    assert {"classic", "demo"} <= set(builtin_names())


def test_journal_verify_defaults_to_the_configured_journal(tmp_path):
    r = run("journal", "verify", cwd=tmp_path, env={"COCKPIT_STATE_DIR": str(tmp_path / "state")})
    assert one_sentence(r) == f"cockpit: journal {tmp_path / 'state' / 'cockpit-journal.db'}: no such file"
    drill = run("drill", "demo", "--journal", str(tmp_path / "j.db"), "--json", cwd=tmp_path)
    assert drill.returncode == 0, drill.stderr
    cfg = config(tmp_path, DEFAULT.replace('journal = "cockpit-journal.db"', 'journal = "j.db"'))
    r = run("journal", "verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith(f"journal {tmp_path / 'j.db'}: "), (r.stdout, r.stderr)


# 11. --overflow without --drill --------------------------------------------------------------------
def test_overflow_without_drill_is_refused(tmp_path):
    assert one_sentence(run("--overflow", cwd=tmp_path)) == (
        "cockpit: --overflow: only with --drill SCENARIO (the scenario's [overflow] tier)"
    )
