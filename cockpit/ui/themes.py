"""Theme files (the bundled ones, package data in cockpit/data/themes/, or any file given to --theme),
loaded at start-up.

A bad theme is a user error: one sentence naming the file and field, exit 2, before the app starts.
"""

from __future__ import annotations

import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from cockpit.errors import ConfigError
from cockpit.paths import theme_resources

DEFAULT = "dark"
COLOURS = ("primary", "secondary", "accent", "warning", "error", "success", "background", "surface", "panel")
FIELDS = {"name", "dark", "foreground", "boost", "ansi", "variables", *COLOURS}


def theme_files() -> dict[str, Traversable]:
    """The bundled themes by name, read through importlib.resources (a wheel has them too)."""
    return theme_resources()


def _read(path: Traversable | Path) -> Theme:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read theme: {exc}") from None
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown theme field; known: {', '.join(sorted(FIELDS))}")
    if not isinstance(raw.get("name"), str) or not raw.get("name"):
        raise ConfigError(f"{path}: name: a theme needs a name")
    for key in ("primary", "foreground", *COLOURS):
        if key in raw:
            try:
                Color.parse(raw[key])
            except (ColorParseError, TypeError):
                raise ConfigError(f"{path}: {key}: {raw[key]!r} is not a colour") from None
    if not isinstance(raw.get("ansi", False), bool):
        raise ConfigError(f"{path}: ansi: expected true or false")
    variables = raw.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ConfigError(f"{path}: variables: expected a table of CSS variable = colour")
    if "primary" not in raw:
        raise ConfigError(f"{path}: primary: a theme needs a primary colour")
    return Theme(**raw)


def load_theme(name_or_path: str) -> Theme:
    files = theme_files()
    if name_or_path in files:
        return _read(files[name_or_path])
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return _read(path)
    known = ", ".join(files) or "(none found)"
    raise ConfigError(f"--theme: unknown theme {name_or_path!r}; use one of {known} or a .toml theme file")


def load_all() -> list[Theme]:
    return [_read(p) for p in theme_files().values()]
