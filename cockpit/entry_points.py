"""The ``cockpit.backends`` entry points, read without importing ``importlib.metadata``.

``importlib.metadata`` costs more to import (email, zipfile, csv, …) than every start-up but the TUI
can spare: `cockpit plan` is a short command and the engine loads every plugin at start. Only what
the host needs is read here: each distribution's ``entry_points.txt`` on ``sys.path``, found, ordered
and de-duplicated as ``importlib.metadata.entry_points(group=…)`` does (a directory's ``*.dist-info``
and ``*.egg-info`` folders grouped by normalised name in listing order, the first distribution of a
name on the path winning), and loaded as ``EntryPoint.load`` loads. Where that simple reading might
differ (a zip or an egg on the path, another finder that reports distributions, an unusual folder
name or line), the entries come from ``importlib.metadata`` itself.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from importlib import import_module
from typing import Any, NamedTuple

# importlib.metadata.EntryPoint.pattern
_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*" r"(:\s*(?P<attr>[\w.]+)\s*)?" r"((?P<extras>\[.*\])\s*)?$")


class EntryPoint(NamedTuple):
    name: str
    value: str
    group: str

    def load(self) -> Any:
        """The module, or the object the value names in it (``EntryPoint.load``, with its errors)."""
        match = _PATTERN.match(self.value)
        module = import_module(match.group("module"))  # type: ignore[union-attr]  # as the stdlib's: AttributeError
        attrs = filter(None, (match.group("attr") or "").split("."))  # type: ignore[union-attr]
        return functools.reduce(getattr, attrs, module)


class _Unusual(Exception):
    """Something the simple reading does not cover: ask importlib.metadata."""


def entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points in ``importlib.metadata.entry_points(group=group)``'s order."""
    try:
        return _scan(group)
    except _Unusual:
        import importlib.metadata

        return [EntryPoint(ep.name, ep.value, ep.group) for ep in importlib.metadata.entry_points(group=group)]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")  # importlib.metadata.Prepared.normalize


def _scan(group: str) -> list[EntryPoint]:
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        raise _Unusual
    seen: set[str] = set()
    out: list[EntryPoint] = []
    for root in sys.path:
        for folder in _infos(root):
            name = _normalize(os.path.basename(folder).rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            out.extend(_read(folder, group))
    return out


def _infos(root: str) -> list[str]:
    """A path entry's metadata folders, grouped by normalised name in listing order (``Lookup``)."""
    if not isinstance(root, str) or os.path.isfile(root) or root.lower().endswith(".egg"):
        raise _Unusual  # a zip or an egg: importlib.metadata reads those
    try:
        children = os.listdir(root or ".")
    except OSError:
        return []
    grouped: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            if not child.endswith((".dist-info", ".egg-info")):
                raise _Unusual  # named by its metadata rather than its folder there
            grouped.setdefault(_normalize(low.rpartition(".")[0].partition("-")[0]), []).append(
                os.path.join(root, child)
            )
    return [f for folders in grouped.values() for f in folders]


def _read(folder: str, group: str) -> list[EntryPoint]:
    try:
        with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return []
    out = []
    section = None
    for line in filter(None, map(str.strip, text.splitlines())):
        if line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is None:
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise _Unusual  # importlib.metadata raises its own error on such a line
        if section == group:
            out.append(EntryPoint(name.strip(), value.strip(), group))
    return out
