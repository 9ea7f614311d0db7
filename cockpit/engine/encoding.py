"""JSON for the journal and the wire, encoded by msgspec (in C): read-only mappings (readings are handed
through as they are) become objects, sets become sorted arrays, anything else is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


def plain(obj: Any) -> Any:
    """msgspec's enc_hook for the types it does not encode itself."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot encode a {type(obj).__name__} as JSON")


ENCODER = msgspec.json.Encoder(enc_hook=plain)
