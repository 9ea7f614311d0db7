"""The main screen's keys: the binding registry, the command each key gives the engine, and which keys a
read-only screen refuses.

Which keys change anything is not decided here: each action names the engine command it gives, and the
engine's command table (`cockpit.engine.commands.COMMANDS`) says whether that command mutates. A new
command, or a command that stops mutating, changes the screen's refusals with no edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import App
from textual.binding import Binding

from cockpit.engine.commands import COMMANDS, mutates
from cockpit.hookspecs import PluginAction

# Main-screen action -> the engine command it ends in (`plugin` is a plugin action, by id).
ACTION_COMMANDS: Mapping[str, str] = {
    "declare": "declare",
    "release": "release",
    "arm": "arm",
    "arm_scope": "arm",
    "advance": "advance",
    "auto": "mode",
    "hold": "pause",
    "resume": "resume",
    "prescale": "prescale",
    "warmer": "warmer",
    "plugin": "plugin-action",
}

# Actions that open or drive the main screen's own views (they wait while a modal is open).
VIEW_ACTIONS = frozenset({"timeline", "filter", "close_filter", "help", "take_control"})
MAIN_ACTIONS = frozenset(ACTION_COMMANDS) | VIEW_ACTIONS

BINDINGS: list[Binding] = [
    Binding("d", "declare", "Declare", id="declare"),
    Binding("D", "release", "Release", id="release"),
    Binding("a", "arm", "Arm", id="arm"),
    Binding("A", "arm_scope", "Arm scope", id="arm_scope"),
    Binding("n", "advance", "Next stage", id="advance"),
    Binding("m", "auto", "Auto/manual", id="auto"),
    Binding("h", "hold", "Hold", id="hold"),
    Binding("r", "resume", "Resume", id="resume"),
    Binding("s", "prescale", "Pre-scale", id="prescale"),
    Binding("w", "warmer", "Warmer", id="warmer"),
    Binding("c", "take_control", "Take control", id="take_control"),
    Binding("t", "timeline", "Timeline", id="timeline"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("escape", "close_filter", "Close filter", show=False, id="close_filter"),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
]

# The command palette's namespaced titles, by binding id: the palette is built from the same registry as
# the keys, and runs the same actions, so read-only refusal (check_action) applies to it unchanged.
PALETTE_TITLES = {
    "declare": "incident: declare (freeze)",
    "release": "incident: release (thaw)",
    "arm": "rollback: arm for regressing tenants",
    "arm_scope": "rollback: arm for a chosen scope",
    "advance": "rollback: advance one stage",
    "auto": "rollback: automatic / manual mode",
    "hold": "rollback: hold",
    "resume": "rollback: resume",
    "prescale": "capacity: pre-scale the old tier now",
    "warmer": "cache: warmer on / off",
    "take_control": "operators: take control of the engine",
    "timeline": "view: timeline of journal events",
    "filter": "view: filter tenants",
    "help": "view: help (live key bindings)",
    "quit": "app: quit",
}


def action_mutates(action: str, actions: Mapping[str, PluginAction], action_id: str | None = None) -> bool:
    """Does this main-screen action end in a command that changes anything (per the command table)?"""
    command = ACTION_COMMANDS.get(action)
    if command is None:
        return False
    if command == "plugin-action":
        return mutates(command, actions, action_id)
    return COMMANDS[command].mutating


def refused(read_only: bool, action: str, actions: Mapping[str, PluginAction], params: tuple[object, ...]) -> bool:
    """A read-only screen refuses exactly the actions whose command mutates."""
    action_id = str(params[0]) if params else None
    return read_only and action_mutates(action, actions, action_id)


def refused_names() -> list[str]:
    """The keys a read-only screen refuses (by description), for the help screen."""
    return [b.description.lower() for b in BINDINGS if action_mutates(b.action, {})]


LEGEND = (
    "\nhit o·n: hit rate of the old / new tier's cache namespace serving the tenant (the backends give no"
    " per-tenant rate); — where the tier carries none of its traffic. wrong≈: an estimate (harm × rps ×"
    " share on new, summed over time); in a drill the simulator's own count, without ≈."
)


def help_text(app: App[Any], actions: Mapping[str, PluginAction], read_only: bool) -> str:
    """Built from the live bindings, so a remapped key shows as remapped and a refused one as refused."""
    lines = []
    for _key, active in sorted(app.active_bindings.items(), key=lambda kv: kv[1].binding.description):
        b = active.binding
        if not b.description:
            continue
        state = "" if active.enabled else "  (refused: read-only)"
        lines.append(f"{app.get_key_display(b):>10}  {b.description}{state}  [{b.id or b.action}]")
    if not any("palette" in line for line in lines):
        lines.append(f"{'ctrl+p':>10}  Command palette: the keys above as namespaced commands, and themes")
    if actions:
        lines.append("\nPlugin actions:")
        for a in actions.values():
            state = "  (refused: read-only)" if read_only and a.mutating else ""
            lines.append(f"{a.key:>10}  {a.description}{state}  [{a.id}]")
    if read_only:
        lines.append(f"\nRead-only: {', '.join(refused_names())} are refused.")
    lines.append(LEGEND)
    return "\n".join(lines)
