"""Checks on the command line's values that argparse cannot make in one sentence (it prints the usage
too): each failure is a ConfigError, so the CLI prints one sentence and exits 2 before anything runs."""

from __future__ import annotations

import argparse
import math

from cockpit.errors import ConfigError

MAX_SPEED = 10_000.0  # the same bound as cockpit.toml's [cockpit] speed


def check_speed(speed: float | None) -> None:
    """--speed: a finite number of simulated seconds per wall second, above 0 and at most MAX_SPEED."""
    if speed is None:
        return
    if not math.isfinite(speed) or speed <= 0 or speed > MAX_SPEED:
        raise ConfigError(
            f"--speed {speed:g}: expected a positive number of simulated seconds per wall second, "
            f"at most {MAX_SPEED:,.0f}"
        )


def check_args(args: argparse.Namespace) -> None:
    """What every command's options must satisfy, before the command runs."""
    check_speed(getattr(args, "speed", None))
    if args.command is None and getattr(args, "overflow", False) and not getattr(args, "drill", None):
        raise ConfigError("--overflow: only with --drill SCENARIO (the scenario's [overflow] tier)")
