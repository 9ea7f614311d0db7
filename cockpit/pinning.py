"""Pinning discipline: find aliases where pins belong (`cockpit lint`) and keep a lock file of resolved
revisions with the previous one for each (`cockpit pin`), so a rollback target is always one pasted line.

"If you can't paste the old revision into your config in fifteen seconds, you don't have a rollback plan."
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.domain.revisions import is_pinned
from cockpit.errors import ConfigError

LOCK_HEADER = (
    "# Written by `cockpit pin`: machine-written, human-readable. Do not edit by hand.\n"
    "# Each pin: the current pinned revision, the previous one, and when and from which alias it came.\n"
    "# `cockpit pin --rollback NAME` makes the previous revision current and prints the line to paste.\n\n"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A model reference in the configuration, with where it stands."""

    key: str  # dotted: "models.old", "pins.summarizer"
    value: str
    line: int


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_KEYVAL = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=\s*\"([^\"]*)\"")


def references(path: Path, text: str | None = None) -> list[Reference]:
    """Model references in cockpit.toml: `[models]` old/new (the watched alias is exempt) and every
    entry of `[pins]`. Lines come from a scan of the file, values from the TOML parser."""
    text = path.read_text(encoding="utf-8") if text is None else text
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    lines: dict[str, int] = {}
    table = ""
    for n, line in enumerate(text.splitlines(), start=1):
        h = _HEADER.match(line)
        if h:
            table = h.group(1).replace('"', "").replace("'", "").replace(" ", "")
            continue
        kv = _KEYVAL.match(line)
        if kv:
            key = kv.group(1).strip('"')
            lines.setdefault(f"{table}.{key}" if table else key, n)
    refs = []
    models = data.get("models", {})
    for key in ("old", "new"):
        if isinstance(models.get(key), str):
            refs.append(Reference(f"models.{key}", models[key], lines.get(f"models.{key}", 0)))
    pins = data.get("pins", {})
    if not isinstance(pins, dict):
        raise ConfigError(f'{path}: pins: expected a table of NAME = "revision or alias"')
    for name, value in pins.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: pins.{name}: expected a string, got {type(value).__name__}")
        refs.append(Reference(f"pins.{name}", value, lines.get(f"pins.{name}", 0)))
    return refs


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def read_lock(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: the lock file is not valid TOML ({exc}); restore it from version control") from None
    pins = data.get("pins", {})
    if not isinstance(pins, dict):
        raise ConfigError(f"{path}: pins: expected tables of pinned revisions")
    return pins


def write_lock(path: Path, pins: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(LOCK_HEADER + tomli_w.dumps({"pins": dict(sorted(pins.items()))}), encoding="utf-8")
    tmp.replace(path)


def record(
    pins: dict[str, dict[str, Any]],
    name: str,
    revision: str,
    alias: str,
    at: dt.datetime,
    *,
    confirmed: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Record `revision` as current for `name`. A change is an upgrade: the old current becomes previous.
    `confirmed`: the provider classified `revision` as a snapshot (else the generic rule must say so)."""
    if not confirmed and not is_pinned(revision):
        raise ConfigError(f"pins.{name}: {revision!r} is not a pinned revision")
    entry = dict(pins.get(name, {}))
    changed = entry.get("revision") != revision
    if changed:
        if entry.get("revision"):
            entry["previous"] = entry["revision"]
            entry["previous_resolved_at"] = entry.get("resolved_at", at)
        history = list(entry.get("history", []))
        history.append({"revision": revision, "at": at, "alias": alias})
        entry["history"] = history[-20:]
        entry["revision"] = revision
        entry["resolved_at"] = at
    entry["alias"] = alias
    entry["checked_at"] = at
    pins[name] = entry
    return entry, changed


def rollback(pins: dict[str, dict[str, Any]], name: str, at: dt.datetime) -> tuple[dict[str, Any], str]:
    """Make the previous revision current again; return the entry and the line to paste."""
    entry = pins.get(name)
    if entry is None:
        known = ", ".join(sorted(pins)) or "none"
        raise ConfigError(f"pin {name!r} is not in the lock file (pinned: {known}); run `cockpit pin` first")
    previous = entry.get("previous")
    if not previous:
        raise ConfigError(f"pin {name!r} has no previous revision recorded: nothing to roll back to")
    entry = dict(entry)
    current = entry["revision"]
    entry["revision"], entry["previous"] = previous, current
    entry["resolved_at"], entry["previous_resolved_at"] = at, entry.get("resolved_at", at)
    history = list(entry.get("history", []))
    history.append({"revision": previous, "at": at, "alias": "", "rollback_from": current})
    entry["history"] = history[-20:]
    pins[name] = entry
    return entry, f'{name} = "{previous}"'
