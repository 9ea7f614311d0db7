"""`cockpit plan`: a dry run of a rollback now. The engine running the fleet is asked for its plan (its
own view and state, an armed rollback included), as a screen attaches to it; with no engine to ask, the
command observes once and plans here, changing nothing.

Which engine: the one `--attach` names (it must answer), else the one listening on the default address
unless `--local`, and only if it runs the configuration this command would otherwise plan from (the one
`--config`, `$COCKPIT_CONFIG`, `./cockpit.toml` or the user's config names; any, for the embedded
default). Nothing listening there: the plan is made here. An engine that listens but will not say what
it runs (it wants a token, TLS, another protocol version) is an error when this command has no
configuration of its own, and a plan made here with a note on stderr when it has one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder where there is one
from typing import Any

NOTHING = "nothing to roll back: no tenant in scope is regressing (--scope all plans every tenant)"


def plan_command(args: argparse.Namespace) -> int:
    import gc

    # A short command whose every object lives until it ends: the collector's passes (about 70 at 10,000
    # tenants) would only find nothing to free.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan(args)
    finally:
        if enabled:
            gc.enable()


def _plan(args: argparse.Namespace) -> int:
    from cockpit.errors import ConfigError

    if args.tenants is not None and not [t for t in args.tenants.split(",") if t.strip()]:
        raise ConfigError("--tenants: expected comma-separated tenant names, e.g. --tenants acme,globex")
    if getattr(args, "attach", None) is not None and getattr(args, "local", False):
        raise ConfigError("--attach and --local: choose one (ask that engine, or plan here)")
    scope = [t.strip() for t in args.tenants.split(",") if t.strip()] if args.tenants else args.scope
    answered = None if getattr(args, "local", False) else _ask_engine(args, scope)
    return answered if answered is not None else _dry_run(args, scope)


def _ask_engine(args: argparse.Namespace, scope: str | list[str]) -> int | None:
    """The engine's plan, printed (its exit code); None when the plan is to be made here."""
    import os

    from cockpit.engine.address import DEFAULT_LISTEN, parse_address
    from cockpit.engine.ask import EngineRefused, NoEngine, ask, credentials
    from cockpit.errors import EngineUnreachable
    from cockpit.identity import default_operator

    explicit = getattr(args, "attach", None)
    address = parse_address(DEFAULT_LISTEN if explicit is None else explicit, "--attach")
    wanted = None
    if explicit is None:
        from cockpit.paths import config_file

        found = config_file(args.config)
        wanted = str(found.path) if found is not None else None
    token, tls = credentials(getattr(args, "token_file", None), os.environ)
    operator = getattr(args, "operator", None) or default_operator()
    try:
        answer = ask(
            address,
            "plan",
            operator=operator,
            token=token,
            tls=tls,
            accept=lambda welcome: wanted is None or welcome.get("config_path") == wanted,
            scope=scope,
            note=True,
        )
    except NoEngine:
        if explicit is not None:
            raise
        return None  # nothing listens there: the plan is made here
    except EngineUnreachable as exc:  # one listens and will not answer us, or went away
        if explicit is not None:
            raise
        if wanted is None:  # no configuration of our own: that engine is the fleet's, and it is said
            raise EngineUnreachable(f"{exc}; `cockpit plan --local` plans here instead") from None
        print(f"cockpit: {exc}; planned here from {wanted}", file=sys.stderr)
        return None
    except EngineRefused as exc:
        header = _header(address, exc.welcome)
        if exc.kind == "CommandError" and str(exc).startswith("nothing to roll back"):
            return nothing_to_roll_back(header, args.json)
        hint = "" if exc.kind == "CommandError" else "; `cockpit plan --local` plans here instead"
        raise EngineRefused(f"the engine at {address} cannot plan: {exc}{hint}", exc.kind) from None
    if answer is None:
        return None  # it runs another configuration: the plan is made here
    plan, note = readable_plan(answer.result, f"the engine at {address}")
    if args.json:
        print(indented_json(plan))
        return 0
    print_plan(plan, _header(address, answer.welcome), note)
    return 0


def _header(address: Any, welcome: dict[str, Any]) -> str:
    """The first line of an engine's plan: which engine, its role and the configuration it runs."""
    return f"engine: {address} ({welcome.get('role', '?')}; config {welcome.get('config_path', '?')})"


def _dry_run(args: argparse.Namespace, scope: str | list[str]) -> int:
    import asyncio

    import msgspec

    from cockpit.engine.journal import Journal
    from cockpit.engine.session import open_engine
    from cockpit.logs import setup
    from cockpit.paths import discover

    setup("warning")  # what the backends say while observing (`cockpit.cli._logging` left it to here)
    config = discover(args.config)
    # A dry run: observe once, plan, change nothing (the journal is a throw-away one).
    engine = open_engine(config, journal=Journal(":memory:"), read_only=True)

    async def observe_once() -> None:
        try:
            await engine.tick()
        finally:
            await engine.aclose()  # the plugins' objects: planning reads only what was observed

    asyncio.run(observe_once())
    if engine.observed.traffic is not None and not engine.scope(scope):  # nothing wrong: nothing to plan
        return nothing_to_roll_back(f"config: {config.source}", args.json)
    plain = msgspec.to_builtins(engine.plan_now(scope))
    if args.json:
        print(indented_json(plain))
        return 0
    print_plan(plain, f"config: {config.source}", engine.overflow.plan_note())
    return 0


# The plan's JSON form, as the engine sends it: each field and the types it may have (None: JSON null).
_MISSING = object()
_NUMBER: tuple[type, ...] = (int, float)
_PLAN: dict[str, type | tuple[type, ...]] = {
    "scope": list,
    "traffic_to_move_rps": _NUMBER,
    "prescale_to": int,
    "stages": list,
    "finishes": bool,
    "eta_s": (*_NUMBER, type(None)),
    "unknown": dict,
}
_STAGE: dict[str, type | tuple[type, ...]] = {
    "number": int,
    "eta_s": _NUMBER,
    "tenants": list,
    "moved_rps": _NUMBER,
    "old_utilisation_after": (*_NUMBER, type(None)),  # null: no old capacity at all
}


def readable_plan(result: Any, source: str) -> tuple[dict[str, Any], str]:
    """The plan and the overflow line from an engine's answer, every field checked: what this cockpit
    cannot read is one sentence naming the engine, never a traceback on a missing key."""
    problem = _plan_problem(result)
    if problem:
        from cockpit.errors import EngineUnreachable

        raise EngineUnreachable(f"{source} sent a plan this cockpit cannot read: {problem}")
    plan = dict(result)
    return plan, plan.pop("overflow_note", "")


def _plan_problem(plan: Any) -> str | None:
    """What in an engine's plan does not have the plan's shape (the first thing found), or None."""
    if not isinstance(plan, dict):
        return f"{type(plan).__name__}, not an object"
    problem = _fields(plan, _PLAN, "")
    for i, stage in enumerate(plan["stages"] if problem is None else ()):
        problem = problem or _fields(stage, _STAGE, f"stages[{i}]")
        if problem is None and not _strings(stage["tenants"]):
            problem = f"stages[{i}].tenants holds a name that is not a string"
    if problem is None and not _strings(plan["scope"]):
        problem = "scope holds a name that is not a string"
    if problem is None and not (_strings(plan["unknown"]) and _strings(plan["unknown"].values())):
        problem = "unknown is not a map of tenant to reason"
    if problem is None and not isinstance(plan.get("overflow_note", ""), str):
        problem = f"overflow_note is {type(plan['overflow_note']).__name__}"
    return problem


def _fields(obj: Any, schema: dict[str, type | tuple[type, ...]], where: str) -> str | None:
    """The first field of `schema` that `obj` lacks or holds with another type (a bool is no count)."""
    if not isinstance(obj, dict):
        return f"{where} is {type(obj).__name__}"
    for key, types in schema.items():
        value = obj.get(key, _MISSING)
        if not isinstance(value, types) or (types is int and isinstance(value, bool)):
            what = "missing" if value is _MISSING else type(value).__name__
            return f"{where}.{key} is {what}" if where else f"{key} is {what}"
    return None


def _strings(values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


def print_plan(plan: dict[str, Any], header: str, note: str) -> None:
    """The plan as text, from its JSON form (the engine's answer, or a dry run's plan made plain)."""
    print(header)
    print(f"scope: {len(plan['scope'])} tenant(s): {', '.join(plan['scope'])}")
    print(f"traffic to move off the new revision: {plan['traffic_to_move_rps']:,.1f} rps")
    print(f"pre-scale the old tier to: {plan['prescale_to']} replicas (before anything moves)")
    for st in plan["stages"]:
        after = st["old_utilisation_after"]  # null in JSON: no old capacity at all (infinitely over)
        print(
            f"  stage {st['number']:>3}  T+{st['eta_s']:>5.0f} s  {st['moved_rps']:>8.1f} rps  "
            f"old tier {float('inf') if after is None else after:>4.0%}  {', '.join(st['tenants'])}"
        )
    print(f"finishes at T+{plan['eta_s']:.0f} s" if plan["finishes"] else "does not finish within the planning horizon")
    if note:  # [overflow] configured: there, or why not
        print(note)
    if unknown := plan.get("unknown"):  # unknown is a state: what the plan could not read, and what it assumed
        print(f"unknown: {len(unknown)} tenant(s)")
        for t, why in sorted(unknown.items()):
            print(f"  {t}: {why}")


def nothing_to_roll_back(header: str, as_json: bool) -> int:
    """`cockpit plan` when no tenant in scope is regressing: said, exit 0 (nothing is wrong)."""
    if as_json:
        print(json.dumps({"scope": [], "stages": [], "note": NOTHING}, indent=2))
    else:
        print(header)  # which configuration, or which engine, was asked
        print(NOTHING)
    return 0


def indented_json(value: Any, indent: str = "") -> str:
    """JSON laid out as `json.dumps(value, indent=2, ensure_ascii=False)` lays it out, a number that is
    not finite written as null (as the engine's encoder writes it). A list of names (a 10,000-tenant
    scope) is encoded in C in one pass: the standard library indents in pure Python, 30 ms for such a
    plan, and this command prints little else."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{inner}{encode_basestring(str(k))}: {indented_json(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        names = set(map(type, value)) == {str}
        parts = map(encode_basestring, value) if names else (indented_json(v, inner) for v in value)
        return "[\n" + inner + (",\n" + inner).join(parts) + "\n" + indent + "]"
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"
    if isinstance(value, int):
        return repr(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
