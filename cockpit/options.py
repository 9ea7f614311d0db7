"""Typed plugin options (contract 2): a backend declares its ``[plugins.NAME]`` table as a msgspec Struct
(``BackendSpec.options``) and the host validates the table before the factory sees it, so every plugin's
errors read the same, naming the file, the table and the option::

    cockpit.toml: plugins.acme-router.timeout_s: expected `float` > 0.0
    cockpit.toml: plugins.acme-router: unknown option 'colour' (known: base_url, timeout_s, concurrency)
    cockpit.toml: plugins.acme-router.base_url: required, and not set

A plugin's own code (or tests) may call :func:`parse_options` directly. Document each option in the
Struct's docstring; use ``Annotated[float, msgspec.Meta(gt=0)]`` for ranges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from cockpit.errors import ConfigError

T = TypeVar("T")

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")


def parse_options(options: Mapping[str, Any], type_: type[T], backend: str, file: str = "") -> T:
    """`options` as `type_` (a msgspec Struct, ``forbid_unknown_fields=True`` advised), or a ConfigError
    naming `file`, ``plugins.<backend>`` and the option."""
    try:
        return msgspec.convert(dict(options), type=type_, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_sentence(str(exc), type_, backend, file)) from None


def _sentence(msg: str, type_: type, backend: str, file: str) -> str:
    where = f"{file}: " if file else ""
    table = f"plugins.{backend}"
    m = _AT.search(msg)
    path = m.group("path") if m else ""
    msg = msg[: m.start()] if m else msg
    if u := _UNKNOWN.match(msg):
        known = ", ".join(getattr(type_, "__struct_fields__", ()))
        return f"{where}{table}{path}: unknown option {u.group('name')!r} (known: {known})"
    if r := _MISSING.match(msg):
        return f"{where}{table}{path}.{r.group('name')}: required, and not set"
    return f"{where}{table}{path}: {msg[:1].lower() + msg[1:]}"
