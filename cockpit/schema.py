"""Strict loading of TOML files into typed structures, with one-sentence errors.

Every user-editable file (cockpit.toml, drill scenarios) is validated here: unknown fields, wrong
types and out-of-range values are rejected with the file and the dotted field path.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from cockpit.errors import ConfigError, abbreviate

T = TypeVar("T")

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def field_path(raw: str) -> str:
    """msgspec's `$.tiers.old.replicas` / `$.tenants[3].rps` as `tiers.old.replicas` / `tenants[3].rps`."""
    return raw.lstrip(".")


def convert(data: Any, type_: type[T], where: str) -> T:
    try:
        return msgspec.convert(data, type=type_, strict=True)
    except RecursionError:
        raise ConfigError(f"{where}: values nested too deeply") from None
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = _PATH_RE.search(msg)
        if m:
            path = field_path(m.group("path"))
            msg = msg[: m.start()]
            first = msg[:1].lower() + msg[1:]
            # msgspec reports an unknown field as "Object contains unknown field `x`" at the parent.
            raise ConfigError(f"{where}: {path or '(top level)'}: {first}") from None
        raise ConfigError(f"{where}: {msg[:1].lower() + msg[1:]}") from None


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({abbreviate(exc, 200)})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a {what} the cockpit reads (arrays or tables nested too deeply)") from None


def load(path: Path, type_: type[T], what: str) -> T:
    return convert(read_toml(path, what), type_, str(path))
