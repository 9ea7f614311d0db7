"""The scope picker (A): which tenants a rollback covers. A windowed list (fast at 10,000 tenants), the
selection shown by a mark as well as colour (`[x]` / `[ ]`, readable under NO_COLOR), `/` filters, a count
of what is selected and how many of those are healthy, and `a` selects only what the filter shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Label

from cockpit.ui.table import TenantTable

COLUMNS = ("sel", "tenant", "cohort", "health")


class ScopeScreen(Screen[list[str] | None]):
    """Regressing tenants come first and are preselected; the result is the selection, in list order.
    A full screen, not a modal: nothing behind it is drawn again (dimmed) when it opens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="scope_cancel"),
        Binding("space", "toggle_tenant", "Toggle", id="scope_toggle"),
        Binding("a", "all", "All shown", id="scope_all"),
        Binding("x", "none", "None", id="scope_none"),
        Binding("slash", "filter", "Filter", id="scope_filter"),
        Binding("enter", "done", "Done", id="scope_done", priority=True),
    ]
    DEFAULT_CSS = """
    ScopeScreen #dialog { height: 100%; padding: 0 1; }
    ScopeScreen #scope-count { text-style: bold; width: 100%; }
    ScopeScreen #scope-list { height: 1fr; }
    ScopeScreen #scope-filter { display: none; height: 3; }
    ScopeScreen #scope-filter.shown { display: block; }
    """

    def __init__(
        self,
        tenants: Sequence[str],
        preselected: Sequence[str],
        cohorts: Mapping[str, str] | None = None,
        healthy: Callable[[str], bool] = lambda t: True,
    ) -> None:
        super().__init__()
        self.table = TenantTable(COLUMNS, (3, 24, 12, 8), id="scope-list")
        self.count = Label(id="scope-count")
        self._counted = ""
        self.box = Input(placeholder="filter by name, cohort or health; escape clears", id="scope-filter")
        self.reset(tenants, preselected, cohorts, healthy)

    def reset(
        self,
        tenants: Sequence[str],
        preselected: Sequence[str],
        cohorts: Mapping[str, str] | None = None,
        healthy: Callable[[str], bool] = lambda t: True,
    ) -> None:
        """The picker as a fresh one would open: the screen is built while the app is idle
        (`install_hidden`) and kept between openings, so opening it, the first time too, is one frame
        with no compose, mount or layout of its own."""
        pre = set(preselected)
        self.tenants = [t for t in tenants if t in pre] + [t for t in tenants if t not in pre]
        self.selected: set[str] = set(pre)
        self.cohorts = dict(cohorts or {})
        self.healthy = healthy
        self.shown: list[str] = self.tenants
        self._search: dict[str, str] | None = None
        if self.is_mounted:  # opened before: no filter, the cursor on the first row
            with self.box.prevent(Input.Changed):
                self.box.value = ""
            self.box.remove_class("shown")
            self.table.cursor = 0
            self.table.scroll_to(y=0, animate=False, immediate=True)
            if self.focused is not self.table:  # focusing repaints it: a frame after the first one
                self.table.focus()
        self._draw()

    def compose(self) -> ComposeResult:
        """Everything drawn as composed (rows and count included), so opening is one frame's work."""
        with Vertical(id="dialog"):
            yield self.count
            yield Label("space toggles · / filters · a all shown · x clears · enter next · esc back")
            yield self.box
            yield self.table

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        """The screen is drawn whole in its next frame. A widget changed before that (by `reset`; the
        table's scroll bar, repainted by textual's restyling of a screen it shows again, with the same
        colours) would post its own repaint when it is next idle, often after that frame: a second frame,
        20-30 ms later, that changes nothing. So those repaints are dropped (after textual's handler)."""
        self.call_next(self._drop_repaints)

    def _drop_repaints(self) -> None:
        for widget in self.walk_children(Widget, with_self=False):
            widget._repaint_required = False
        if self.table.show_vertical_scrollbar:
            self.table.vertical_scrollbar._repaint_required = False

    def _row(self, t: str) -> tuple[str, ...]:
        return ("[x]" if t in self.selected else "[ ]", t, self.cohorts.get(t, ""), "ok" if self.healthy(t) else "regr")

    def _draw(self) -> None:
        self.table.set_rows(self.shown, self._row, lambda t: t in self.selected)
        text = self._count()
        if text != self._counted:  # one line, full width: a new count needs no layout of the screen
            self._counted = text
            self.count.update(text, layout=False)

    def _count(self) -> str:
        n = len(self.selected)
        healthy = sum(1 for t in self.selected if self.healthy(t))
        warn = f" · ⚠ {healthy:,} of them healthy" if healthy else ""
        shown = f" · {len(self.shown):,} shown" if len(self.shown) != len(self.tenants) else ""
        return f"Rollback scope: {n:,} of {len(self.tenants):,} selected{warn}{shown}"

    def on_input_changed(self, event: Input.Changed) -> None:
        needle = event.value.strip().lower()
        if not needle:
            self.shown = self.tenants
        else:
            if self._search is None:
                self._search = {
                    t: f"{t.lower()}\0{self.cohorts.get(t, '').lower()}\0{'ok' if self.healthy(t) else 'regr'}"
                    for t in self.tenants
                }
            self.shown = [t for t in self.tenants if needle in self._search[t]]
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_filter(self) -> None:
        box = self.box
        box.add_class("shown")
        box.focus()

    def action_toggle_tenant(self) -> None:
        t = self.table.cursor_tenant
        if t is not None:
            self.selected.symmetric_difference_update({t})
            self._draw()

    def action_all(self) -> None:
        """Selects what the filter shows; with no filter it refuses (a stray `a` at 10,000 tenants must
        not put every healthy tenant in the rollback)."""
        if self.shown is self.tenants and len(self.tenants) > len(self.selected):
            self.notify("a selects what a filter shows: press / and filter first", severity="warning", timeout=5)
            return
        self.selected.update(self.shown)
        self._draw()

    def action_none(self) -> None:
        self.selected.clear()
        self._draw()

    def action_done(self) -> None:
        box = self.box
        if box.has_focus:
            self.table.focus()
            return
        chosen = [t for t in self.tenants if t in self.selected]
        self.dismiss(chosen or None)

    def action_back(self) -> None:
        """Escape clears the filter first; with no filter, it cancels."""
        box = self.box
        if box.value or box.has_class("shown"):
            box.value = ""
            box.remove_class("shown")
            self.table.focus()
            return
        self.dismiss(None)


async def install_hidden(app: App[Any], screen: Screen[Any], name: str) -> None:
    """Install `screen` as `name`, composed, mounted, laid out for the terminal's size and drawn once into
    nothing, without showing it: its first opening is then one frame, as a later one is. textual has no
    public way to do this: push_screen composes, mounts and lays out a screen as it shows it, in three
    frames or more (textual's private steps are named where they are used)."""
    app.install_screen(screen, name)
    _, mounted = app._get_screen(name)  # registers it and starts its compose and mount
    app._load_screen_css(screen)
    await mounted
    for _ in range(4):  # a layout lets the table show its scroll bar, which lays it out again
        if app.screen is screen:  # opened meanwhile: laid out and drawn as it is shown
            return
        screen._refresh_layout(app.size)  # sizes every widget (Resize); draws nothing: not the current screen
        screen._layout_required = False
        await _settled(screen)
        if not screen._layout_required:
            break
    if app.screen is not screen:  # drawn once, into nothing: its first frame on screen then finds its
        screen._compositor.render_update(full=True)  # lines and textual's style caches warm (20 ms less)


async def _settled(screen: Screen[Any]) -> None:
    """Until every node of the screen has handled what it had queued, twice (what the widgets' idle
    handlers post to the screen is then handled too)."""
    for _ in range(2):
        nodes = [screen, *screen.walk_children()]
        loop = asyncio.get_running_loop()
        done = [loop.create_future() for _ in nodes]
        for node, fut in zip(nodes, done, strict=True):
            if not node.call_later(fut.set_result, None):
                fut.set_result(None)
        await asyncio.gather(*done)
