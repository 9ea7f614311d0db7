"""The main screen's panels: each a small widget that shows one concern of a Snapshot.

Each panel takes what it shows in `show(...)` (the snapshot and the few figures the screen derives) and
formats it with the plain-text views in `cockpit.ui.view`; its look is its own `DEFAULT_CSS`. Where a
panel sits on the screen is the app's stylesheet (`cockpit.tcss`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from textual.widgets import Input, Static

from cockpit.domain.planner import Plan
from cockpit.engine.snapshot import Snapshot
from cockpit.ui import detail, trends, view
from cockpit.ui.plantext import plan_line


class Panel(Static):
    """A text panel (markup off: tenant names and reasons are shown as they are)."""

    DEFAULT_CSS = """
    Panel { padding: 0 1; height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self._shown: object = None
        self._rows = -1

    def update(self, content: Any = "", *, layout: bool | None = None) -> None:
        """Redraw only when the text changed, and lay the screen out again only when its height may
        have (a keystroke or a tick that re-lays out every panel costs tens of ms at 10,000 tenants)."""
        if content == self._shown:
            return
        self._shown = content
        width = max(1, self.size.width - 2)
        rows = sum(max(1, -(-len(line) // width)) for line in str(content).split("\n"))
        relayout = rows != self._rows if layout is None else layout
        self._rows = rows
        super().update(content, layout=relayout)


class Banner(Panel):
    """The incident state on one line: NORMAL or FROZEN (by word and glyph as well as colour), and what
    else the operator must know at a glance (read-only, simulated time, degraded backends)."""

    DEFAULT_CSS = """
    Banner { height: auto; text-style: bold; padding: 0 1; }
    Banner.frozen { background: $error; color: $text; }
    Banner.normal { background: $success-darken-2; color: $text; }
    Banner.waiting { background: $warning-darken-2; }
    Banner.regressing { background: $warning; color: $text; }
    """

    def show(
        self,
        snap: Snapshot | None,
        regressing: int = 0,
        *,
        read_only: bool,
        real_clock: bool,
        drill: float | None = None,
        paused: bool = False,
    ) -> None:
        text, cls = view.banner(snap, regressing)
        extras = []
        if drill is not None or paused:
            extras.append("DRILL" + (" ⏸ PAUSED (p)" if paused else f" ×{drill:g}" if drill else ""))
        if read_only:
            extras.append("READ-ONLY")
        clock = view.incident_clock(snap, real_clock)
        if clock:
            extras.append(clock)
        if snap is not None and snap.degraded:
            extras.append(f"⚠ DEGRADED: {', '.join(sorted(snap.degraded))}")
        more = " · ".join(extras)
        width = (self.size.width or self.app.size.width) - 2
        sep = "  │ " if len(text) + len(more) + 4 <= width else "\n"  # narrow: the clock on a line of its own
        self.update(text + (sep + more if more else ""))
        self.set_classes(cls)


KEY_VERB = re.compile(r"(^|[\s(·,])([A-Za-z?/:]) (?=\w)")  # a one-key name before the word it does


class NextStep(Panel):
    """What to do now, in one line (cockpit.ui.guide.next_step): always there, always an action."""

    DEFAULT_CSS = """
    NextStep { height: auto; text-style: bold; color: $accent; }
    """

    def show(self, line: str) -> None:
        # a key and its verb stay on one line when it wraps ("h holds", never "h" / "holds")
        self.update("▶ " + KEY_VERB.sub("\\1\\2\u00a0", line))


class AttachLine(Panel):
    """Attached screens only: which engine, its role, and who is in control."""

    DEFAULT_CSS = """
    AttachLine { height: 1; padding: 0 1; text-style: italic; }
    """

    def show(self, address: str, role: str, controller: str | None, operator: str) -> None:
        me = "(you)" if controller == operator else "· c takes it"
        self.update(f"attached to {address} ({role}) · control: {controller or 'nobody'} {me}")


class ModelsPanel(Panel):
    """The pinned old and new revisions, and the alias-drift alarm."""

    DEFAULT_CSS = """
    ModelsPanel.drift { background: $warning; color: $text; text-style: bold; }
    """

    def show(self, snap: Snapshot | None, old: str, new: str) -> None:
        text, drifted = view.models_line(snap, old, new)
        self.update(text)
        self.set_class(drifted, "drift")


class CapacityPanel(Panel):
    """Old-tier replicas ready, desired and needed for full failback, utilisation, and the ETA to capacity."""

    def show(self, snap: Snapshot | None, needed: int | None) -> None:
        from cockpit.ui.overflow import with_overflow  # the overflow tier's line, when configured

        self.update(with_overflow(snap, view.capacity_line(snap, needed)))


class CachesPanel(Panel):
    """Each cache namespace's hit rate with a short trend of its own, and which are GC-frozen."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.warmth: dict[str, deque[float]] = {}

    def record(self, snap: Snapshot) -> None:
        for ns in snap.namespaces:
            self.warmth.setdefault(f"{ns.tier}:{ns.revision}", deque(maxlen=60)).append(ns.hit_rate)

    def show(self, snap: Snapshot | None) -> None:
        if snap is None or not snap.namespaces:
            self.update("caches: no reading")
            return
        parts = []
        for ns in snap.namespaces:
            spark = view.sparkline(self.warmth.get(f"{ns.tier}:{ns.revision}", ()), 8)
            frozen = " ❄" if ns.frozen else ""
            parts.append(f"{ns.tier} g{ns.generation} hit {view.pct(ns.hit_rate)} {spark}{frozen}")
        gc = "  (❄ = GC frozen)" if any(ns.frozen for ns in snap.namespaces) else ""
        self.update("cache  " + " · ".join(parts) + gc + warmer_text(snap.warmer))


class TrendsPanel(Panel):
    """Old-tier utilisation and ready replicas, old-cache hit rate and wrong answers, over the window."""

    def show(self, history: Sequence[trends.Sample], *, estimated: bool) -> None:
        width = max(5, min(60, (self.size.width - 66) // 4)) if self.size.width else 5
        self.update(trends.trends_line(history, width, estimated=estimated))


class RollbackPanel(Panel):
    """The rollback's state, stage, mode and progress, and why it holds."""

    def show(self, snap: Snapshot | None, settle_left: float | None, eta_s: float | None = None) -> None:
        self.update(view.rollback_line(snap, settle_left, eta_s))


class PlanPanel(Panel):
    """The planner's stages with status and ETA (the engine's dry run, kept by the screen's PlanTracker)."""

    def show(self, plan: Plan | None, snap: Snapshot | None) -> None:
        rb: dict[str, Any] = snap.rollback if snap is not None else {}
        held = bool(rb.get("paused")) or bool(snap is not None and (snap.hold or "").startswith("waiting"))
        stage = int(rb.get("stage", 0))
        self.update(plan_line(plan, stage, bool(rb.get("armed")), bool(rb.get("done")), held))


class UnknownPanel(Panel):
    """What could not be read (health, rates, cache warmth): how many, what the cockpit does about it,
    and the first reason. Hidden while everything was read."""

    DEFAULT_CSS = """
    UnknownPanel { background: $warning-darken-3; color: $text; }
    """

    def show(self, snap: Snapshot | None) -> None:
        lines = view.unknown_lines(snap)
        self.display = bool(lines)
        if lines:
            self.update("\n".join(lines))


class TableBar(Panel):
    """How many tenants the table shows, how many regress (and how many are unknown), and the legend."""

    DEFAULT_CSS = """
    TableBar { height: 1; padding: 0 1; color: $text-muted; }
    """

    def show(
        self, shown: int, total: int, regressing: int, filter_text: str = "", unknown: int = 0, sort: str = ""
    ) -> None:
        """A breadcrumb (tenants › filter › sort) and the counts."""
        crumb = "tenants"
        if filter_text:
            crumb += f" › /{filter_text} ({shown:,} of {total:,}; esc clears)"
        else:
            crumb += f" ({total:,})"
        if sort:
            crumb += f" › sorted by {sort} (o)"
        unk = f" · {unknown} unknown" if unknown else ""
        text = f"{crumb} · {regressing:,} regressing{unk}"
        room = self.size.width - 2 if self.size.width else 1_000  # the legend only where it fits whole
        for legend in (" · enter: detail", " · hit o·n = old·new cache"):
            if len(text) + len(legend) > room:
                break
            text += legend
        self.update(text)


class FilterInput(Input):
    """The tenant filter. It reports in its value watcher rather than by a Changed message, which would
    arrive a frame later: the box and the table it filters change in one frame."""

    DEFAULT_CSS = """
    FilterInput { display: none; height: 3; }
    FilterInput.shown { display: block; }
    """

    def __init__(self, on_change: Callable[[str], None], **kw: Any) -> None:
        super().__init__(disabled=True, **kw)
        self.changed = on_change
        self.cursor_blink = False  # SSH-friendly: nothing on screen moves unless the fleet does
        self.border_title = "/ filter"  # which box this is, beside the command box

    def watch_value(self, value: str) -> None:
        self.changed(value)

    def open(self) -> None:
        self.disabled = False
        self.add_class("shown")
        self.focus()

    def close(self) -> bool:
        """Hide the box; False if it was not open."""
        if not self.has_class("shown"):
            return False
        self.remove_class("shown")
        self.disabled = True
        return True


class CommandInput(Input):
    """`:` command mode, k9s-style (:tenants, :timeline, :plan, :theme NAME, …); Enter runs, Esc leaves."""

    DEFAULT_CSS = """
    CommandInput { display: none; height: 3; }
    CommandInput.shown { display: block; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(disabled=True, **kw)
        self.cursor_blink = False
        self.border_title = ": command"

    def key_escape(self) -> None:
        self.value = ""
        self.remove_class("shown")
        self.disabled = True
        self.screen.query_one("#tenants").focus()


class DetailPane(Panel):
    """At wide widths, beside the table: the selected tenant's figures (Enter opens its history). Its
    size is fixed, so following the cursor redraws the pane alone."""

    DEFAULT_CSS = """
    DetailPane { width: 44; height: 100%; border-left: solid $primary; }
    """

    def show(self, snap: Snapshot | None, tenant: str | None, threshold: float) -> None:
        if tenant is None:
            self.update("no tenant selected", layout=False)
            return
        self.update("\n".join([*detail.now_lines(snap, tenant, threshold), "", "enter: history"]), layout=False)


def warmer_text(warmer: dict[str, Any]) -> str:
    """The cache warmer once on: its state and what it has cost (it is not free)."""
    if not warmer.get("enabled") and not warmer.get("sent"):
        return ""
    state = "ON" if warmer.get("enabled") else "off"
    cost = float(warmer.get("cost", 0.0) or 0.0)
    sent, reads = int(warmer.get("sent", 0) or 0), int(warmer.get("reads", 0) or 0)
    return f" · warmer {state}: {sent:,} sent, {reads:,} served from cache, ${cost:,.2f}"
