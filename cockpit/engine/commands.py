"""Every command an operator can give the engine: one typed table, the single source of truth for
which commands exist, which of them change anything, and what they need.

The engine's `command()` looks the name up here, refuses mutating commands on a read-only engine,
runs the handler under the engine lock inside one journal transaction, and journals the result. The
screen reads the same table to decide which keys a read-only screen refuses (`mutates()`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.domain.baselines import GLOBAL_SCOPE_STRATEGIES
from cockpit.domain.incident import Incident
from cockpit.domain.rollback import Mode
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.engine.loop import Engine


class ReadOnlyError(CockpitError):
    """A mutating command reached an engine (or screen) that is read-only."""


class CommandError(CockpitError):
    """A command that cannot run in the current state (said in one sentence)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One command as the handler sees it: who asked, when (engine clock), and the arguments."""

    who: str
    now: float
    args: dict[str, Any]


ARGS_KEPT = 200  # characters of one command argument kept in the journal

Handler = Callable[["Engine", Call], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    handler: Handler
    mutating: bool = True  # refused by a read-only engine and a screen not in control
    needs_armed: bool = False  # refused with one sentence when no rollback is armed
    needs_running: bool = False  # ... or when it is done (nothing left to advance or hold)
    needs_confirm: bool = False  # refused unless the caller passes confirm=True (a real bool)


def _mode_arg(call: Call) -> str | None:
    mode = call.args.get("mode")
    if mode is not None and mode not in ("auto", "manual"):
        raise CommandError(f"mode {mode!r}: expected 'auto' or 'manual'")
    return mode


async def declare(engine: Engine, call: Call) -> str:
    return await declare_incident(engine, call.who, call.now, str(call.args.get("reason", "")))


async def declare_incident(engine: Engine, who: str, now: float, reason: str) -> str:
    if engine.incident and engine.incident.open:
        return f"incident {engine.incident.id} is already open"
    engine.incident_count += 1
    engine.incident = Incident(f"INC-{engine.incident_count}", now, who, reason)
    if engine.rollout is not None:
        engine.rollout.freeze(now)
    await engine.housekeeping.freeze_caches(True)
    freeze = engine.config.file.freeze
    models = engine.config.file.models
    payload = engine.incident.to_dict() | {
        "freeze": {
            "rollout": True,
            "cache_namespaces": [ns.name for ns in engine.observed.namespaces],
            "system_prompt_revision": freeze.system_prompt_revision,
            "flags": list(freeze.flags),
            "models": {"old": models.old, "new": models.new},
        }
    }
    engine.journal.append("incident_declared", payload, now, who)
    deadline = engine.config.file.cockpit.backend_timeout_s  # event hooks run off the loop (plugins.event)
    for f in await engine.host.event("cockpit_incident_declared", deadline, incident=payload, context=engine.context):
        engine.backends.plugin_error(f, now)
    return f"incident {engine.incident.id} declared: rollout, flags and cache GC frozen"


async def release(engine: Engine, call: Call) -> str:
    if not (engine.incident and engine.incident.open):
        raise CommandError("no incident is open")
    engine.incident = engine.incident.release(call.now, call.who)
    if engine.rollout is not None:
        engine.rollout.thaw(call.now)
    await engine.housekeeping.freeze_caches(False)
    engine.journal.append("incident_released", engine.incident.to_dict(), call.now, call.who)
    deadline = engine.config.file.cockpit.backend_timeout_s
    for f in await engine.host.event(
        "cockpit_incident_released", deadline, incident=engine.incident.to_dict(), context=engine.context
    ):
        engine.backends.plugin_error(f, call.now)
    from cockpit.engine.calendar import release_note

    return f"incident {engine.incident.id} released: {release_note(engine)}"


async def arm(engine: Engine, call: Call) -> str:
    mode = _mode_arg(call)
    scope = engine.scope(call.args.get("scope", "regressing"))
    if not scope:
        raise CommandError("nothing to roll back: no tenant in scope is regressing")
    declared = ""
    if not (engine.incident and engine.incident.open):
        await declare_incident(engine, call.who, call.now, "declared by arming a rollback")
        declared = f"; incident {engine.incident.id if engine.incident else '?'} declared"
    engine.rollback.arm(scope, call.now, mode)
    traffic = engine.observed.traffic
    if traffic is not None and engine.observed.old is not None:
        # the first stage tick then costs what others do: the per-tenant sums and the order made now
        engine.old_load(traffic.rps, traffic.shares, exact=True, force=True)
        engine.rollback.prepare(engine.view(call.now, traffic))
        if engine.rollout is not None:  # the traffic layer takes the new scope's ceilings now, not mid-stage
            effective = engine.composer.effective(engine.rollout.targets, engine.rollout.version, engine.rollback)
            engine.composer.differences(effective, traffic.shares)
    return f"rollback armed for {len(scope)} tenant(s), {engine.rollback.mode} mode{declared}"


async def advance(engine: Engine, call: Call) -> str:
    rb = engine.rollback
    if rb.mode is Mode.AUTO:
        rb.set_mode(Mode.MANUAL)
    rb.advance()
    return f"advance requested (stage {rb.stage + 1})"


async def pause(engine: Engine, call: Call) -> str:
    engine.rollback.pause()
    return "rollback held"


async def resume(engine: Engine, call: Call) -> str:
    engine.rollback.resume()
    return "rollback resumed"


async def mode(engine: Engine, call: Call) -> str:
    engine.rollback.set_mode(_mode_arg(call) or "auto")
    return f"rollback mode: {engine.rollback.mode}"


async def prescale(engine: Engine, call: Call) -> str:
    obs = engine.observed
    if obs.traffic is None or obs.old is None:
        raise CommandError("cannot pre-scale: no observation of the fleet yet")
    view = engine.view(call.now, obs.traffic)
    needed = engine.rollback.replicas_needed(view)
    target = max(needed, obs.old.desired)
    engine.actuator.forget_scale_request()  # the operator asked: ask now
    required = engine.rollback.replicas_required(view)
    if not await engine.actuator.prescale(target, call.now, required=required):
        raise CommandError(
            f"pre-scale to {target} replicas not confirmed: {engine.backends.degraded.get('autoscaler', '')}"
        )
    engine.rollback.scale_requested = max(engine.rollback.scale_requested, needed)
    got = engine.observed.old.desired if engine.observed.old is not None else target
    if got < target:  # the autoscaler capped the over-request: what the failback requires is there
        return f"old tier floor raised to {got} of {target} asked ({required} required; confirmed by read-back)"
    return f"old tier floor raised to {target} replicas (confirmed by read-back)"


async def release_ceilings(engine: Engine, call: Call) -> str:
    lifted = engine.rollback.release()
    return f"ceilings released for {len(lifted)} tenant(s); the rollout resumes from its targets"


async def reapprove(engine: Engine, call: Call) -> str:
    from cockpit.engine.calendar import reapprove as lift_ceilings

    return await lift_ceilings(engine, call)


async def warmer(engine: Engine, call: Call) -> str:
    on = call.args.get("on")
    w = engine.warmer
    w.enabled = (not w.enabled) if on is None else bool(on)
    return f"cache warmer {'on' if w.enabled else 'off'} ({w.policy.rate_per_s:g}/s)"


async def plugin_action(engine: Engine, call: Call) -> str:
    action_id = call.args["id"]
    try:
        return str(await engine.actions[action_id].run())
    except CockpitError:
        raise
    except Exception as exc:
        raise CommandError(f"plugin action {action_id!r} failed: {type(exc).__name__}: {exc}") from None


_SPECS = (
    CommandSpec("declare", "declare an incident: freeze the rollout, flags and cache GC", declare),
    CommandSpec("release", "release the incident: the freeze lifts", release, needs_confirm=True),
    CommandSpec("arm", "arm the rollback for a scope (declares an incident if none is open)", arm),
    CommandSpec(
        "advance", "allow one more stage (switches to manual mode)", advance, needs_armed=True, needs_running=True
    ),
    CommandSpec("pause", "hold the rollback at its current stage", pause, needs_armed=True, needs_running=True),
    CommandSpec("resume", "resume a held rollback", resume, needs_armed=True, needs_running=True),
    CommandSpec("mode", "set the rollback mode: auto or manual", mode),
    CommandSpec("prescale", "raise the old tier's floor to what full failback needs, now", prescale, needs_armed=True),
    CommandSpec(
        "release-ceilings",
        "end the rollback and lift every ceiling",
        release_ceilings,
        needs_confirm=True,
    ),
    CommandSpec(
        "reapprove",
        "after release: hand rolled-back tenants (scope: all, a cohort, tenants) back to the calendar",
        reapprove,
        needs_confirm=True,
    ),
    CommandSpec("warmer", "turn the cache warmer on or off", warmer),
    CommandSpec("plugin-action", "run a key a plugin added", plugin_action),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _SPECS}


def mutates(name: str, engine_actions: Any = None, action_id: str | None = None) -> bool:
    """Whether a command changes anything. A plugin action says so itself."""
    if name == "plugin-action" and engine_actions is not None and action_id is not None:
        action = engine_actions.get(action_id)
        return True if action is None else bool(action.mutating)
    spec = COMMANDS.get(name)
    return True if spec is None else spec.mutating


def lookup(name: str) -> CommandSpec:
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandError(f"unknown command {name!r}")
    return spec


def scope_of(engine: Engine, scope: str | Iterable[str]) -> list[str]:
    """The tenants a scope names: "regressing", "all", "armed" (the armed rollback's own scope: a screen's
    plan line names it so, not by 100,000 names in a request), or a list of tenant names (each must exist)."""
    traffic = engine.observed.traffic
    known = traffic.shares if traffic else {}
    if scope == "armed":
        if not engine.rollback.armed:
            raise CommandError("scope 'armed': no rollback is armed")
        return sorted(engine.rollback.scope)
    if engine.strategy in GLOBAL_SCOPE_STRATEGIES or scope == "all":
        return sorted(known)
    if scope == "regressing":
        threshold = engine.config.file.incident.regression_threshold
        return sorted(t for t, h in engine.observed.harm.items() if h >= threshold and t in known)
    if isinstance(scope, str):
        raise CommandError(f"scope {scope!r}: expected 'regressing', 'all', 'armed' or a list of tenants")
    chosen = sorted(scope)
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise CommandError(f"unknown tenant {unknown[0]!r} in the rollback scope")
    return chosen


async def run(engine: Engine, name: str, operator: str | None, args: dict[str, Any]) -> str:
    """The one entry for every change an operator asks for: looked up in the table, refused when
    read-only (here, whatever the screen did), run under the engine lock in one journal transaction,
    journaled with who asked and what came of it, refusals included."""
    spec = lookup(name)
    if name == "plugin-action" and args.get("id") not in engine.actions:
        raise CommandError(f"unknown plugin action {args.get('id')!r}")
    if engine.read_only and mutates(name, engine.actions, args.get("id")):
        raise ReadOnlyError(f"read-only: the {name!r} command is refused")
    who = operator or engine.operator
    async with engine.lock:
        now = engine.clock.now()
        with engine.journal.transaction():
            try:
                if spec.needs_confirm and args.get("confirm") is not True:
                    raise CommandError(f"the {name!r} command needs confirmation (confirm=true)")
                if spec.needs_armed and not engine.rollback.armed:
                    raise CommandError(f"no rollback is armed: {name!r} has nothing to act on")
                if spec.needs_running and engine.rollback.done:
                    raise CommandError(f"the rollback is done (every tenant in scope at 0 % new): nothing to {name}")
                message = await spec.handler(engine, Call(who, now, args))
            except CockpitError as exc:  # refused or failed: said, and journaled all the same
                engine.journal.append(
                    "command_failed", {"command": name, "args": journal_args(args), "error": str(exc)}, now, who
                )
                engine.checkpoint()
                raise
            engine.journal.append("command", {"command": name, "args": journal_args(args), "result": message}, now, who)
            engine.checkpoint()
        if engine.snapshot is not None:  # the command shows at once, not a tick later
            engine.snapshot = engine.snap(now, hold=engine.snapshot.hold)
        return message


def journal_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """Command arguments as the journal keeps them: collections sorted, long values abbreviated."""
    out: dict[str, Any] = {}
    for k, v in args.items():
        if isinstance(v, (set, frozenset, list, tuple)):
            out[k] = sorted(v)
        elif isinstance(v, str) and len(v) > ARGS_KEPT:
            out[k] = v[:ARGS_KEPT] + f"… ({len(v)} characters)"
        else:
            out[k] = v
    return out
