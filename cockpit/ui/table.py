"""The tenant table: a windowed view over any number of tenants.

textual's DataTable keeps and measures every row it holds, so a keystroke at 10,000 tenants paid for
re-adding and re-measuring rows. This widget holds only an ordered list of tenant ids and a function
that formats one row; it formats the rows on screen (about a screenful) when they are drawn, with fixed
column widths, and redraws only the lines whose text changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

Row = tuple[str, ...]


class TenantTable(ScrollView, can_focus=True):
    """Rows are tenant ids; `formatter(tenant)` returns the cells. Line 0 is a sticky header."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tenant-table--header",
        "tenant-table--cursor",
        "tenant-table--regressing",
    }
    DEFAULT_CSS = """
    TenantTable { scrollbar-size-vertical: 1; overflow-x: hidden; }
    TenantTable > .tenant-table--header { text-style: bold; }
    TenantTable > .tenant-table--cursor { text-style: reverse; }
    TenantTable > .tenant-table--regressing { color: $error; text-style: bold; }  /* bold: seen under NO_COLOR */
    """

    cursor: reactive[int] = reactive(0, always_update=False, repaint=False)

    def __init__(self, columns: Sequence[str], widths: Sequence[int], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.widths = list(widths)
        self.order: Sequence[str] = ()
        self.formatter: Callable[[str], Row] = lambda t: (t,)
        self.is_alert: Callable[[str], bool] = lambda t: False
        self.on_cursor: Callable[[str | None], None] = lambda t: None  # the detail pane follows the cursor
        self._cache: dict[str, Row] = {}
        self._drawn: dict[int, str] = {}  # screen line -> text last drawn there (to redraw only changes)

    # Data --------------------------------------------------------------------------------------------
    def set_rows(
        self,
        order: Sequence[str],
        formatter: Callable[[str], Row],
        is_alert: Callable[[str], bool] | None = None,
        *,
        fresh: bool = True,
    ) -> None:
        """`order`: the tenants to show, in order. `fresh`: the formatter's values changed (a new tick)."""
        same_order = order is self.order or (len(order) == len(self.order) and order == self.order)
        self.order = order
        self.formatter = formatter
        if is_alert is not None:
            self.is_alert = is_alert
        if fresh:
            self._cache.clear()
        self._set_virtual_size(Size(self.size.width or sum(self.widths), len(order) + 1))
        if self.cursor >= len(order):
            self.cursor = max(0, len(order) - 1)
        if same_order and not fresh:
            return
        self._refresh_changed()

    def _set_virtual_size(self, size: Size) -> None:
        """A new row count; the scroll bar follows in this same frame. Setting `virtual_size` lays the
        screen out again, so that is left for when the bar appears or goes (the table's width changes)."""
        if size == self.virtual_size:
            return
        height = self.container_size.height
        if height and self.is_mounted and (size.height > height) == (self.virtual_size.height > height):
            self.set_reactive(ScrollView.virtual_size, size)
        else:
            self.virtual_size = size
        if self.is_mounted:
            self._scroll_update(size)  # textual's (private) update of the bars and of the scroll offset

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """textual's ScrollView redraws its scroll bar after every layout of the screen (it compares its
        row count with its height), a frame later: a filter keystroke was two frames. The bar changes
        with this widget's size (here) or its row count (`_set_virtual_size`), not with its neighbours."""
        if size == self._size and container_size == self._container_size:
            return False
        return super()._size_updated(size, virtual_size, container_size, layout)

    def row(self, tenant: str) -> Row:
        cells = self._cache.get(tenant)
        if cells is None:
            cells = self._cache[tenant] = self.formatter(tenant)
        return cells

    @property
    def cursor_tenant(self) -> str | None:
        return self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None

    def visible_rows(self) -> list[Row]:
        """The rows on screen now (tests and the end-to-end check read these)."""
        top = int(self.scroll_offset.y)
        body = max(0, self.size.height - 1)
        return [self.row(t) for t in self.order[top : top + body]]

    # Drawing ----------------------------------------------------------------------------------------
    def _line_text(self, y: int) -> tuple[str, bool, bool]:
        """(text, is_cursor, is_alert) of screen line y."""
        if y == 0:
            return self._fmt(self.columns), False, False
        i = int(self.scroll_offset.y) + y - 1
        if i >= len(self.order):
            return "", False, False
        t = self.order[i]
        return self._fmt(self.row(t)), i == self.cursor and self.has_focus, self.is_alert(t)

    def _fmt(self, cells: Row) -> str:
        out = []
        for cell, w in zip(cells, self.widths, strict=False):
            out.append(cell[:w].ljust(w))
        return " ".join(out)

    def render_line(self, y: int) -> Strip:
        text, is_cursor, alert = self._line_text(y)
        width = self.scrollable_content_region.width
        self._drawn[y] = f"{text}\0{is_cursor}\0{alert}"
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("tenant-table--header", partial=True)
        else:
            style = base
            if alert:
                style += self.get_component_rich_style("tenant-table--regressing", partial=True)
            if is_cursor:
                style += self.get_component_rich_style("tenant-table--cursor", partial=True)
        text = text[:width].ljust(width)
        return Strip([Segment(text, style if isinstance(style, Style) else Style())], width)

    def _refresh_changed(self) -> None:
        """Redraw only the screen lines whose text differs from what was drawn."""
        height = self.size.height
        if not height or not self._drawn:
            self.refresh()
            return
        for y in range(height):
            text, is_cursor, alert = self._line_text(y)
            if self._drawn.get(y) != f"{text}\0{is_cursor}\0{alert}":
                self.refresh_lines(y, 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        self._drawn.clear()
        super().watch_scroll_y(old_value, new_value)

    def on_resize(self) -> None:
        self._drawn.clear()
        self.virtual_size = Size(self.size.width, len(self.order) + 1)

    def on_focus(self) -> None:
        self._refresh_changed()

    def on_blur(self) -> None:
        self._refresh_changed()

    # Cursor ----------------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        body = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + body:
            self.scroll_to(y=new - body + 1, animate=False, immediate=True)
        self._refresh_changed()
        self.on_cursor(self.cursor_tenant)  # in this same frame (a message would draw a frame later)

    def _move(self, to: int) -> None:
        if self.order:
            self.cursor = max(0, min(len(self.order) - 1, to))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._move(len(self.order) - 1 if where < 0 else 0)


def covered(screen: Screen) -> bool:
    """Under an opaque screen: textual still counts the screen below the top one as showing through it
    (`App._background_screens`) even when the top one is opaque."""
    stack = screen.app.screen_stack
    top = stack[-1] if stack else screen
    return top is not screen and top.styles.background.a == 1


ALWAYS = ("help", "quit")  # the footer ends with these whatever else fits


class KeyBar(Static):
    """The footer of live key bindings as one line of text: the keys that matter now first (`prefer`),
    then the rest while they fit, always ending with `? Help` and `q Quit`. textual's Footer recomposes a
    widget per key whenever the bindings change (closing any modal), which cost several frames per key."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(markup=False, **kw)
        self._text: str | None = None
        self.preferred: list[str] = []
        self.hidden: set[str] = set()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_resize(self) -> None:
        self.bindings_changed(self.screen)

    def prefer(self, ids: list[str], hidden: set[str] | None = None) -> None:
        """Show these binding ids first (the next-step line's keys), and leave `hidden` out."""
        hidden = hidden or set()
        if ids != self.preferred or hidden != self.hidden:
            self.preferred, self.hidden = list(ids), hidden
            self.bindings_changed(self.screen)

    def parts(self) -> list[tuple[str, str]]:
        """(key, description) of the enabled, shown bindings: preferred first, help and quit last."""
        app = self.app
        by_id: dict[str, tuple[str, str]] = {}
        for active in app.active_bindings.values():
            b = active.binding
            key = b.id or b.action
            if not b.show or not b.description or not active.enabled or key in by_id:
                continue
            by_id[key] = (app.get_key_display(b), b.description)
        first = [i for i in self.preferred if i in by_id]
        rest = [i for i in by_id if i not in first and i not in ALWAYS and i not in self.hidden]
        width = (self.size.width or app.size.width) - 2
        tail = [by_id[i] for i in ALWAYS if i in by_id]
        used = sum(len(k) + len(d) + 3 for k, d in tail)
        out = []
        for i in [*first, *rest]:
            k, d = by_id[i]
            if used + len(k) + len(d) + 3 > width:
                continue
            used += len(k) + len(d) + 3
            out.append((k, d))
        return out + tail

    def bindings_changed(self, screen: Screen) -> None:
        """Not while the screen is hidden under an opaque one (the scope picker): the bindings then are
        that screen's, and the bar would be laid out for them and again on the way back, a frame each."""
        if not screen.is_current or covered(screen):
            return
        parts = self.parts()
        plain = "  ".join(f"{k} {d}" for k, d in parts)
        if plain == self._text:
            return
        self._text = plain
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (k, d) in enumerate(parts):
            if i:
                text.append("  ")
            text.append(k, style="bold reverse")
            text.append(f" {d}")
        self.update(text)
