"""The main screen's view keys, k9s-style: `:` command mode, `/` filter (Esc clears it), `o` sorts,
Enter opens a tenant's detail, `t` the live timeline, `y` copies the incident summary (OSC 52), `?` help,
and a drill's pause and speed keys. None of them changes anything in the fleet."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from cockpit.ui import guide, keys, view
from cockpit.ui.actions import ActionScreen
from cockpit.ui.detail import detail_body, tenant_history
from cockpit.ui.plantext import stage_lines
from cockpit.ui.timeline import TimelineFeed

SORTS = ("", "tenant", "rps", "on new", "health")  # o cycles through them ("" : regressing first)
COMMANDS = {
    "tenants": "the tenant table (clears the filter)",
    "timeline": "the journal's events, newest first, live",
    "plan": "the rollback plan, stage by stage",
    "theme NAME": "switch theme (dark, light, high-contrast, colour-blind, ansi-16)",
    "filter TEXT": "filter the tenants",
    "sort COLUMN": f"sort the table by {', '.join(s for s in SORTS if s)}",
    "help": "the keys",
    "quit": "quit (asks first while a rollback runs)",
}
SPEEDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ViewScreen(ActionScreen):
    filter_text: str
    sort: str
    feed: TimelineFeed
    drill: Any  # the drill's controls on a drill's screen, else None (MainScreen)

    @property
    def real_clock(self) -> bool:
        """Journal times and the banner: wall-clock on a real clock, T+h:mm:ss on a simulated one."""
        return bool(getattr(self.engine.clock, "real", False))

    def show_table(self, snap: Any, *, fresh: bool) -> None:  # MainScreen draws
        raise NotImplementedError

    # Filter and sort ---------------------------------------------------------------------------------
    def action_filter(self) -> None:
        # shown by its class alone: an inline `display` set here outlived Esc (an empty box kept 3 rows)
        self.query_one("#filter").open()  # type: ignore[attr-defined]

    def action_close_filter(self) -> None:
        """Esc closes the filter box AND clears the filter: what is hidden is never still filtering."""
        box = self.query_one("#filter")
        box.close()  # type: ignore[attr-defined]
        if self.filter_text:
            self.query_one("#filter", Input).value = ""
            self.filter_changed("")
        self.query_one("#tenants").focus()

    def filter_changed(self, value: str) -> None:
        """Called as the filter's value changes, so the table is redrawn in the same frame as the box."""
        if value != self.filter_text:
            self.filter_text = value
            self.show_table(self.snapshot, fresh=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "command":
            self.run_line(event.value)
            event.input.value = ""
            event.input.remove_class("shown")
            event.input.disabled = True
        self.query_one("#tenants").focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.show_table(self.snapshot, fresh=True)

    # Command mode ------------------------------------------------------------------------------------
    def action_command(self) -> None:
        box = self.query_one("#command", Input)
        box.disabled = False
        box.add_class("shown")
        box.value = ""
        box.focus()

    def run_line(self, line: str) -> None:
        """`:tenants`, `:timeline`, `:plan`, `:theme dark`, `:filter ent`, `:sort rps`, `:help`, `:q`."""
        word, _, arg = line.strip().lstrip(":").partition(" ")
        word, arg = word.lower(), arg.strip()
        if word in ("tenants", "t", "tenant"):
            self.query_one("#filter", Input).value = ""
            self.filter_changed("")
        elif word in ("timeline", "tl"):
            self.run_worker(self.action_timeline(), group="view")
        elif word == "plan":
            self.action_plan()
        elif word == "theme" and arg:
            self.set_theme(arg)
        elif word == "filter":
            self.query_one("#filter", Input).value = arg
            self.filter_changed(arg)
        elif word == "sort" and arg in SORTS:
            self.sort = arg
            self.show_table(self.snapshot, fresh=True)
        elif word in ("help", "h", "?"):
            self.action_help()
        elif word in ("q", "quit"):
            self.run_worker(self.action_quit(), group="command")
        elif word:
            known = ", ".join(f":{c}" for c in COMMANDS)
            self.notify(f":{word}: unknown command; known: {known}", severity="warning", timeout=6)

    def set_theme(self, name: str) -> None:
        names = {n.removeprefix("cockpit-"): n for n in self.app.available_themes}
        full = names.get(name) or (name if name in self.app.available_themes else None)
        if full is None:
            self.notify(f":theme {name}: unknown; known: {', '.join(sorted(names))}", severity="warning")
            return
        self.app.theme = full

    def show_text(self, title: str, body: str, screen_id: str) -> None:
        """A text screen (plan, detail, timeline, help); their module is imported when one first opens,
        not at start-up."""
        from cockpit.ui.screens import show_text

        show_text(self.app, title, body, screen_id)

    def action_plan(self) -> None:
        plan = self.planner.plan
        body = "\n".join(stage_lines(plan, 40)) if plan is not None else "no plan: nothing regressing, or done"
        self.show_text("Rollback plan (the engine's dry run)", body, "plan")

    # Tenant detail, timeline, summary, help -------------------------------------------------------------
    async def action_detail(self) -> None:
        tenant = self.query_one("#tenants").cursor_tenant  # type: ignore[attr-defined]
        if tenant is None:
            return
        self.detail_of = (tenant, await tenant_history(self.engine, tenant, self.real_clock))
        body = detail_body(self.snapshot, tenant, self.threshold, self.detail_of[1])
        self.show_text(f"tenants › {tenant}", body, "detail")

    async def action_timeline(self) -> None:
        await self.feed.refresh()
        self.show_text("Timeline (journal, newest first, live)", self.timeline_body(), "timeline")

    def timeline_body(self) -> str:
        # the wide dialog's text: 100 columns at most, less its border, padding and scroll bar
        return self.feed.text(self.real_clock, max(40, min(100, self.app.size.width) - 6))

    async def follow_timeline(self) -> None:
        """Called each tick: an open timeline follows the journal, an open tenant detail the tenant (its
        figures every tick, its history read again when the journal grew)."""
        screen = self.app.screen
        if screen.id not in ("timeline", "detail"):
            return
        from cockpit.ui.screens import TextScreen

        if not isinstance(screen, TextScreen):
            return
        grew = await self.feed.refresh()
        if screen.id == "timeline":
            if grew:
                screen.set_body(self.timeline_body())
        elif (shown := getattr(self, "detail_of", None)) is not None:
            tenant, history = shown
            if grew:
                self.detail_of = (tenant, history := await tenant_history(self.engine, tenant, self.real_clock))
            screen.set_body(detail_body(self.snapshot, tenant, self.threshold, history))

    async def action_copy(self) -> None:
        await self.feed.refresh()
        text = guide.summary(
            self.snapshot,
            self.feed.lines(self.real_clock, 200)[:60],
            view.regressing(self.snapshot, self.threshold),
            self.real_clock,
        )
        self.app.copy_to_clipboard(text)  # OSC 52: the terminal's clipboard, over SSH too
        self.last_copied = text
        self.notify(f"incident summary copied ({len(text.splitlines())} lines, OSC 52)", timeout=4)

    def action_help(self) -> None:
        self.show_text("Keys (live bindings)", self.help_text(), "help")

    def help_text(self) -> str:
        source = self.engine.config.source or str(self.engine.config.path)
        if self.drill is not None:  # a drill's configuration is built from its scenario, not read from a file
            source = "the drill's, built from its scenario (simulated fleet)"
        cmds = "\n".join(f"{':' + c:>14}  {what}" for c, what in COMMANDS.items())
        text = keys.help_text(self.app, self.engine.actions, self.engine.read_only, cmds)
        return f"configuration: {source}\n\n{text}"

    # Drill controls: the drill's simulated clock, paused or sped up (its engine runs in this process) ------
    def action_drill_pause(self) -> None:
        clock: Any = self.engine.clock
        if not hasattr(clock, "pause"):
            self.notify("this drill's clock cannot be paused (driven tick by tick)", severity="warning")
            return
        clock.pause(not clock.paused)
        self.notify("drill PAUSED: p resumes" if clock.paused else "drill resumed", timeout=3)
        self.show()

    def action_drill_speed(self, step: int) -> None:
        clock: Any = self.engine.clock
        if not hasattr(clock, "set_speed"):
            self.notify("this drill's clock has no speed (driven tick by tick)", severity="warning")
            return
        faster = [s for s in SPEEDS if s > clock.speed]
        slower = [s for s in SPEEDS if s < clock.speed]
        speed = (faster[0] if faster else SPEEDS[-1]) if step > 0 else (slower[-1] if slower else SPEEDS[0])
        clock.set_speed(speed)
        self.notify(f"drill speed ×{speed:g}", timeout=3)
        self.show()
