"""ctrl+p: every key of the main screen under a namespaced title, the plugins' keys, and `theme: NAME`.

The palette is built from the same binding registry as the keys and runs the same actions on the main
screen, so the read-only refusal (`MainScreen.check_action`) applies to it unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from cockpit.ui.keys import BINDINGS, PALETTE_TITLES, key_name, refused

if TYPE_CHECKING:
    from cockpit.ui.main_screen import MainScreen

PaletteCommand = tuple[str, Callable[[], Any], str]  # (title, callback, help)


def palette_commands(
    main: MainScreen, keymap: Mapping[str, str], themes: Sequence[Any], set_theme: Callable[[str], None]
) -> list[PaletteCommand]:
    engine = main.engine
    out: list[PaletteCommand] = []
    for b in BINDINGS:
        if not b.id or (b.id not in PALETTE_TITLES and not b.show):
            continue  # escape-to-close and the like are keys, not commands
        key = keymap.get(b.id, b.key).split(",")[0]
        no = refused(engine.read_only, b.action, engine.actions, ())
        title = PALETTE_TITLES.get(b.id, f"app: {b.description.lower()}")
        out.append((title, functools.partial(main.palette_action, b.action), _help(key, no)))
    for a in engine.actions.values():
        no = refused(engine.read_only, "plugin", engine.actions, (a.id,))
        title = f"plugin {a.id.split('.')[0]}: {a.description[:1].lower()}{a.description[1:]}"
        out.append((title, functools.partial(main.palette_action, f"plugin({a.id!r})"), _help(a.key, no)))
    for t in themes:
        name = t.name.removeprefix("cockpit-")
        out.append((f"theme: {name}", functools.partial(set_theme, t.name), f"switch to the {name} theme"))
    return out


def _help(key: str, refused: bool) -> str:
    return f"key {key_name(key)}" + ("  (refused: read-only)" if refused else "")


class CockpitCommands(Provider):
    """The palette's provider: the commands above, matched fuzzily."""

    def _commands(self) -> list[PaletteCommand]:
        from cockpit.ui.app import CockpitApp  # the app imports this module

        return self.app.palette_commands() if isinstance(self.app, CockpitApp) else []

    async def discover(self) -> Hits:
        for title, run, help_text in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, run, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)
