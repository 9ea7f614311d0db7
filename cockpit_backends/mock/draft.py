"""A generated scenario before it is text: tables of fields, each field with the note that says where
its value came from. Rendered as TOML in the documented format (docs/scenarios.md), every estimate
commented, and validated exactly as a hand-written scenario is before anything is written.

No I/O here: the generators (`from_journal`, the prometheus backend's `history`) build a Draft, the
CLI writes it.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import ConfigError
from cockpit.schema import convert
from cockpit_backends.mock.scenario import Scenario, validate


@dataclass
class Field:
    key: str
    value: Any
    note: str = ""  # where the value came from: written as a comment after it


@dataclass
class Table:
    header: str  # "scenario", "tiers.old", or "events" for an array of tables ([[events]])
    fields: list[Field] = field(default_factory=list)
    note: str = ""  # a comment line above the header
    array: bool = False

    def add(self, key: str, value: Any, note: str = "") -> Table:
        self.fields.append(Field(key, value, note))
        return self


@dataclass
class Draft:
    preamble: list[str] = field(default_factory=list)  # comment lines at the top of the file
    tables: list[Table] = field(default_factory=list)

    def table(self, header: str, note: str = "", *, array: bool = False) -> Table:
        t = Table(header, note=note, array=array)
        self.tables.append(t)
        return t

    def render(self) -> str:
        lines = [_comment(p) for p in self.preamble]
        for t in self.tables:
            lines.append("")
            if t.note:
                lines.append(_comment(t.note))
            lines.append(f"[[{t.header}]]" if t.array else f"[{t.header}]")
            for f in t.fields:
                text = f"{f.key} = {value_text(f.value)}"
                lines.append(f"{text}  {_comment(f.note)}" if f.note else text)
        return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())  # one line, whatever the note held


def value_text(v: Any) -> str:
    """A TOML value. Strings are JSON strings, which TOML's basic strings read the same."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("a scenario holds finite numbers only")
        return repr(round(v, 6))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {value_text(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write a {type(v).__name__} in a scenario")


def checked(text: str, where: str) -> Scenario:
    """The generated text, loaded with the same validation as a bundled scenario's."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a bug here, never the user's: say so plainly
        raise ConfigError(f"{where}: the generated scenario is not valid TOML ({exc})") from None
    sc = convert(data, Scenario, where)
    validate(sc, where)
    return sc
