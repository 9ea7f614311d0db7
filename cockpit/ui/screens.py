"""Modal screens: confirmation (default "no"), and a scrollable text (help, timeline, plan, detail, scorecard)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal in a framed box in the middle of the screen (`#dialog`, `.wide` for long text)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog #dialog { width: 72; max-width: 100%; height: auto; max-height: 100%; border: heavy $accent;
                     padding: 0 1; background: $surface; }
    Dialog #dialog.wide { width: 100; height: 90%; }
    Dialog #dialog-title { text-style: bold; }
    Dialog #dialog-buttons { height: auto; align-horizontal: right; }
    Dialog #dialog-buttons Button { margin: 0 1; }
    """


class ConfirmScreen(Dialog[bool]):
    """Yes/no with "No" focused, so Enter (or Escape) at 3 a.m. does nothing destructive."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no"),
    ]

    def __init__(self, title: str, body: str, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.body, id="dialog-body")
            with Horizontal(id="dialog-buttons"):
                yield Button("No (n)", id="no", variant="primary")
                yield Button(f"{self.yes} (y)", id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(Dialog[None]):
    """A scrollable read-only text panel (help, timeline, scorecard)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close", id="text_close")]

    def __init__(self, title: str, body: str, screen_id: str) -> None:
        super().__init__(id=screen_id)
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Label(self.title_text, id="dialog-title")
            with VerticalScroll():
                yield Static(self.body, id="text-body", markup=False)
            yield Label("escape or q: close")

    def set_body(self, body: str) -> None:
        self.body = body
        self.query_one("#text-body", Static).update(body)

    def set_text(self, title: str, body: str) -> None:
        """A kept screen opened again: its new title and text, from the top."""
        self.title_text = title
        self.query_one("#dialog-title", Label).update(title)
        if body != self.body:
            self.set_body(body)
        self.query_one(VerticalScroll).scroll_home(animate=False, immediate=True)

    def action_close(self) -> None:
        self.dismiss(None)


def show_text(app: App[Any], title: str, body: str, screen_id: str) -> None:
    """Open the text screen `screen_id` (help, plan, timeline, detail). It is kept (installed) once
    opened, so opening it again costs no compose, mount or layout, and closing it no teardown."""
    if app.is_screen_installed(screen_id):
        screen = app.get_screen(screen_id)
        assert isinstance(screen, TextScreen)
        screen.set_text(title, body)
    else:
        app.install_screen(TextScreen(title, body, screen_id), screen_id)
    app.push_screen(screen_id)
