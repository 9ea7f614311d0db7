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
    "reapprove": "reapprove",
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
VIEW_ACTIONS = frozenset(
    {"timeline", "filter", "close_filter", "help", "take_control", "command", "detail", "sort", "copy", "plan"}
)
DRILL_ACTIONS = frozenset({"drill_pause", "drill_speed"})  # only in a drill run in this process
MAIN_ACTIONS = frozenset(ACTION_COMMANDS) | VIEW_ACTIONS | DRILL_ACTIONS

BINDINGS: list[Binding] = [
    Binding("d", "declare", "Declare", id="declare"),
    Binding("D", "release", "Release", id="release"),
    Binding("R", "reapprove", "Re-approve", id="reapprove"),
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
    Binding("y", "copy", "Copy summary", id="copy"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("escape", "close_filter", "Clear filter", show=False, id="close_filter"),
    Binding("colon", "command", "Command", id="command"),
    Binding("o", "sort", "Sort", id="sort"),
    Binding("enter", "detail", "Detail", id="detail"),
    Binding("p", "drill_pause", "Pause drill", id="drill_pause"),
    Binding("plus,equals_sign", "drill_speed(1)", "Faster", id="drill_faster"),
    Binding("minus", "drill_speed(-1)", "Slower", id="drill_slower"),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
]

# Help's groups, in this order (incident keys first); a binding id in none is listed under "other".
GROUPS = (
    (
        "Incident",
        (
            "declare",
            "release",
            "reapprove",
            "arm",
            "arm_scope",
            "advance",
            "auto",
            "hold",
            "resume",
            "prescale",
            "warmer",
        ),
    ),
    ("Operators", ("take_control",)),
    ("Views", ("timeline", "copy", "filter", "close_filter", "command", "sort", "detail", "help", "quit")),
    ("Drill", ("drill_pause", "drill_faster", "drill_slower")),
)
KEY_NAMES = {"question_mark": "?", "slash": "/", "colon": ":", "plus": "+", "minus": "-", "escape": "esc"}


def key_name(key: str) -> str:
    """How a key is written for people (`?`, not `question_mark`)."""
    first = key.split(",")[0]
    return KEY_NAMES.get(first, first)


# The command palette's namespaced titles, by binding id: the palette is built from the same registry as
# the keys, and runs the same actions, so read-only refusal (check_action) applies to it unchanged.
PALETTE_TITLES = {
    "declare": "incident: declare (freeze)",
    "release": "incident: release (thaw)",
    "reapprove": "rollout: re-approve rolled-back tenants (after release)",
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
    "copy": "view: copy the incident summary (OSC 52)",
    "command": "view: command mode (:tenants, :timeline, :plan, :theme NAME)",
    "sort": "view: sort the tenant table",
    "detail": "view: the selected tenant's detail and history",
    "drill_pause": "drill: pause / resume",
    "drill_faster": "drill: faster",
    "drill_slower": "drill: slower",
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
    " share on new, summed over time by the engine); in a drill the simulator's own count, without ≈."
)


def help_text(app: App[Any], actions: Mapping[str, PluginAction], read_only: bool, commands: str = "") -> str:
    """Built from the screen's live bindings (a remapped key shows as remapped, a refused one as refused),
    grouped with the incident keys first; the table's own scrolling keys are not listed."""
    live: dict[str, tuple[str, str, bool]] = {}
    for active in app.active_bindings.values():
        b = active.binding
        if b.id and b.description:
            live.setdefault(b.id, (app.get_key_display(b), b.description, active.enabled))
    lines = []
    for title, ids in GROUPS:
        rows = [(live[i], i) for i in ids if i in live]
        if not rows:
            continue
        lines.append(f"{title}:")
        for (key, desc, enabled), i in rows:
            state = "" if enabled else "  (refused here)"
            lines.append(f"{key:>10}  {desc}{state}  [{i}]")
        lines.append("")
    lines.append(f"{'ctrl+p':>10}  Command palette: the keys above as namespaced commands, and themes")
    lines.append(f"{'↑↓ pgup pgdn':>10}  move in the table · ctrl+c does not quit: q does")
    if commands:
        lines.append(f"\nCommand mode (:)\n{commands}")
    if actions:
        lines.append("\nPlugin actions:")
        for a in actions.values():
            state = "  (refused: read-only)" if read_only and a.mutating else ""
            lines.append(f"{a.key:>10}  {a.description}{state}  [{a.id}]")
    if read_only:
        lines.append(f"\nRead-only: {', '.join(refused_names())} are refused (the screen says so when pressed).")
    lines.append(LEGEND)
    return "\n".join(lines)
