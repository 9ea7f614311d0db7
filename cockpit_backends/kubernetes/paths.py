"""Path expressions: where in a routing resource the tenants, the destinations and the weights are.

A path is fields separated by dots, read from a JSON object (the resource as the API server answers it):

    spec.rules[]                         every element of the list spec.rules
    matches[].headers[name=x-tenant].value
                                         for each match, the headers whose ``name`` is x-tenant, their ``value``
    match[].headers.x-tenant.exact       (Istio) a map key is a field like any other
    headers[name=x-tenant][type!=RegularExpression]
                                         filters combine; ``!=`` also keeps elements without the field

``[]`` walks every element of a list, ``[key=value]`` only those whose ``key`` equals ``value`` and
``[key!=value]`` those whose ``key`` does not (both compare case-insensitively, as header names are
compared). A path that finds nothing yields nothing: a missing field is never an error when reading.
Writing (`put`) takes a path of plain fields only and creates the maps on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class PathError(ValueError):
    """A path that cannot be read: one phrase saying where."""


@dataclass(frozen=True, slots=True)
class Cond:
    key: str
    value: str
    negate: bool

    def ok(self, item: Any) -> bool:
        have = item.get(self.key) if isinstance(item, Mapping) else None
        same = have is not None and str(have).lower() == self.value.lower()
        return not same if self.negate else same


@dataclass(frozen=True, slots=True)
class Step:
    field: str
    each: bool = False  # the field is a list: walk its elements
    conds: tuple[Cond, ...] = ()  # ... keeping only those that pass every condition


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    @property
    def plain(self) -> bool:
        """Only fields: a path that can be written."""
        return not any(s.each for s in self.steps)

    def find(self, node: Any) -> list[Any]:
        """Every value the path reaches from `node`, in document order."""
        nodes = [node]
        for step in self.steps:
            nodes = list(_walk(nodes, step))
        return nodes

    def first(self, node: Any) -> Any:
        found = self.find(node)
        return found[0] if found else None

    def put(self, node: dict[str, Any], value: Any) -> None:
        """Set the value at this (plain) path, creating the maps on the way."""
        assert self.plain, self.text
        for step in self.steps[:-1]:
            nxt = node.get(step.field)
            if not isinstance(nxt, dict):
                nxt = node[step.field] = {}
            node = nxt
        node[self.steps[-1].field] = value

    def has(self, node: Any) -> bool:
        return bool(self.find(node))


def _walk(nodes: Iterable[Any], step: Step) -> Iterable[Any]:
    for node in nodes:
        if not isinstance(node, Mapping) or step.field not in node:
            continue
        value = node[step.field]
        if not step.each:
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if all(c.ok(v) for c in step.conds))


_FIELD = re.compile(r"[^.\[\]=!]+")
_COND = re.compile(r"\[(?P<key>[^\[\]=!]+)(?P<op>!?=)(?P<value>[^\[\]]*)\]")


def parse(text: str) -> Path:
    """Read a path; PathError names the position of the first thing it cannot read."""
    if not isinstance(text, str) or not text.strip():
        raise PathError("expected a path such as 'spec.rules[]'")
    text = text.strip()
    steps: list[Step] = []
    pos = 0
    while True:
        m = _FIELD.match(text, pos)
        if m is None:
            raise PathError(f"expected a field name at position {pos} of {text!r}")
        field, pos = m.group(0), m.end()
        each, conds = False, []
        while pos < len(text) and text[pos] == "[":
            each = True
            if text.startswith("[]", pos):
                pos += 2
                continue
            c = _COND.match(text, pos)
            if c is None:
                raise PathError(f"expected '[]' or '[key=value]' at position {pos} of {text!r}")
            conds.append(Cond(c.group("key").strip(), c.group("value").strip(), c.group("op") == "!="))
            pos = c.end()
        steps.append(Step(field, each, tuple(conds)))
        if pos == len(text):
            return Path(text, tuple(steps))
        if text[pos] != ".":
            raise PathError(f"expected '.' or '[' at position {pos} of {text!r}")
        pos += 1
