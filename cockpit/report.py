"""Plain-text rendering of scorecards, for the terminal and the README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} s"


def _count(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _bound(c: Any) -> float | None:
    """The capacity bound (docs/scenarios.md, "Limits"); lower_bound_s is the same figure where only it is known."""
    bound = getattr(c, "capacity_bound_s", None)
    return c.lower_bound_s if bound is None else bound


ROWS: list[tuple[str, Any]] = [
    ("restored", lambda c: "yes" if c.restored else "NO"),
    ("time to restore", lambda c: _fmt_s(c.time_to_restore_s)),
    ("restored, nothing dropped since", lambda c: _fmt_s(getattr(c, "restored_and_held_s", None))),
    ("capacity bound (no strategy beats)", lambda c: _fmt_s(_bound(c))),
    ("clairvoyant time to restore", lambda c: _fmt_s(getattr(c, "clairvoyant_time_to_restore_s", None))),
    ("wrong answers served", lambda c: f"{c.wrong_answers:,.0f}"),
    ("requests dropped", lambda c: f"{c.dropped_requests:,.0f}"),
    ("harmed requests (wrong + dropped)", lambda c: f"{c.wrong_answers + c.dropped_requests:,.0f}"),
    ("clairvoyant harmed requests", lambda c: _count(getattr(c, "clairvoyant_harmed_requests", None))),
    ("peak old-tier utilisation", lambda c: f"{c.peak_old_utilisation:.0%}"),
    (
        "lowest old-cache hit rate",
        lambda c: "—" if c.min_old_hit_rate is None else f"{c.min_old_hit_rate:.0%}",
    ),
    ("extra cost", lambda c: f"${c.extra_cost:,.2f}"),
    ("out-of-scope tenants disturbed", lambda c: str(len(c.disturbed_tenants))),
    ("stages", lambda c: str(c.stages)),
    ("cache warmer", lambda c: "off" if not c.warmer.get("sent") else f"{c.warmer['reads']}/{c.warmer['sent']} reads"),
]


def _overflow(cards: Sequence[Any]) -> bool:
    return any(getattr(c, "overflow", None) for c in cards)


def _money(v: float | None) -> str:
    return "—" if v is None else f"${v:,.2f}"


# Drills with --overflow: what the overflow tier served and charged (included in the extra cost above),
# and the extra cost the same strategy had without it.
OVERFLOW_ROWS: list[tuple[str, Any]] = [
    (
        "overflow tier: requests (peak)",
        lambda c: "—" if not c.overflow else f"{c.overflow['requests']:,.0f} ({c.overflow['peak_rps']:,.0f} rps)",
    ),
    ("overflow tier: cost", lambda c: _money((c.overflow or {}).get("cost"))),
    ("extra cost without overflow", lambda c: _money((c.overflow or {}).get("extra_cost_without_overflow"))),
]


def _calendar(cards: Sequence[Any]) -> bool:
    return any((getattr(c, "calendar", None) or {}).get(k) for c in cards for k in ("steps", "held"))


def _steps(c: Any) -> str:
    steps = (getattr(c, "calendar", None) or {}).get("steps") or []
    return f"{len(steps)} ({sum(s['tenants'] for s in steps):,} tenants)"


# Drills whose calendar moved or held a tenant (a calendar step due in the drill): what the health-gated
# calendar did, and who is still waiting for re-approval.
CALENDAR_ROWS: list[tuple[str, Any]] = [
    ("calendar steps (tenants promoted)", _steps),
    ("held by the calendar's health gate", lambda c: str(len((getattr(c, "calendar", None) or {}).get("held", {})))),
    ("still rolled back at the end", lambda c: str(len(getattr(c, "final_ceilings", None) or {}))),
]


def scorecard_table(cards: Sequence[Any]) -> str:
    """A Markdown-compatible table: one column per strategy."""
    title = f"scenario: {cards[0].scenario}" if cards else ""
    header = ["", *[c.strategy for c in cards]]
    extra = (OVERFLOW_ROWS if _overflow(cards) else []) + (CALENDAR_ROWS if _calendar(cards) else [])
    rows = [[label, *[f(c) for c in cards]] for label, f in ROWS + extra]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([title, "", line(header), sep, *[line(r) for r in rows]])
