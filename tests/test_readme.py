"""The README is part of the interface: its two set-up commands, CI's test command and its drill table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "the README opens with a sh block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_setup_commands():
    cmds = setup_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("cockpit") and "pytest" in cmds[1]
    assert README.index("```sh") < README.index("##"), "the commands come before any section"


def test_ci_runs_the_readme_test_command():
    assert setup_commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_drill_table_is_what_the_command_prints():
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "drill", "classic", "--compare"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    assert out in README, "re-run `cockpit drill classic --compare` and paste it into the README"
