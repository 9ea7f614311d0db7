"""The overflow tier on the screen: one line under the old tier's capacity, only when cockpit.toml
configures ``[overflow]`` (plain text from the snapshot; no Textual here)."""

from __future__ import annotations

from typing import Any


def overflow_line(overflow: dict[str, Any]) -> str:
    """e.g. "overflow 123/200 rps · 3 tenants · hit 12% · $6.65/h", or why it is unavailable."""
    if not overflow:
        return ""
    if not overflow.get("available"):
        return f"overflow: {overflow.get('why_not') or 'unavailable'}"
    load, limit = overflow.get("load_rps"), overflow.get("rate_limit_rps")
    if load is None:
        return f"overflow ?/{limit:,.0f} rps (not read yet)"
    hit = overflow.get("hit_rate")
    cost = overflow.get("cost_per_hour")
    parts = [f"overflow {load:,.0f}/{limit:,.0f} rps", f"{overflow.get('tenants', 0)} tenants"]
    parts.append("hit ?" if hit is None else f"hit {hit:.0%}")
    parts.append("$?/h" if cost is None else f"${cost:,.2f}/h")
    return " · ".join(parts)


def with_overflow(snap: Any, line: str) -> str:
    """The capacity panel's line, and the overflow tier's under it when one is configured."""
    extra = overflow_line(getattr(snap, "overflow", None) or {}) if snap is not None else ""
    return f"{line}\n{extra}" if extra else line
