"""`cockpit drill SCENARIO`: a scenario headless with an autopilot on-call, its scorecard;
`cockpit plan`: a dry run of a rollback now (observe once, plan, change nothing)."""

from __future__ import annotations

import argparse
import json
import math
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder where there is one
from typing import Any


def drill_command(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from cockpit.domain.baselines import STRATEGIES
    from cockpit.engine.drill import run_drill
    from cockpit.report import scorecard_table

    if args.speed is not None and args.speed <= 0:
        from cockpit.errors import ConfigError

        raise ConfigError(f"--speed {args.speed:g}: expected a positive number of simulated seconds per second")
    backends, plugin_options = drill_backends(args)
    strategies = list(STRATEGIES) if args.compare else [args.strategy]
    cards = []
    for s in strategies:
        cards.append(
            asyncio.run(
                run_drill(
                    args.scenario,
                    s,
                    journal=Path(j) if (j := per_strategy(args.journal, s, args.compare)) else None,
                    state_file=per_strategy(args.state_file, s, args.compare),
                    speed=args.speed,
                    backends=backends,
                    plugin_options=plugin_options,
                    warmer=args.warmer,
                    overflow=args.overflow,
                )
            )
        )
    if args.overflow:  # the extra cost without the overflow tier, beside the cost with it
        without_overflow(cards, args.scenario, backends, plugin_options, args.warmer)
    if args.compare:
        from cockpit.cli_scenario import as_it_happened

        cards += as_it_happened(args.scenario)  # a scenario generated from history: what really happened
    if args.json:
        out = [c.to_json() for c in cards]
        print(json.dumps(out if args.compare else out[0], indent=2))
    else:
        print(scorecard_table(cards))
    return 0


def without_overflow(cards: list[Any], scenario: str, backends: dict, plugin_options: dict, warmer: bool) -> None:
    """Run each strategy again without the overflow tier (a throw-away journal) and put its extra cost
    in the card's overflow figures, so the scorecard shows both costs."""
    import asyncio

    from cockpit.engine.drill import run_drill

    for card in cards:
        plain = asyncio.run(
            run_drill(scenario, card.strategy, backends=backends, plugin_options=plugin_options, warmer=warmer)
        )
        card.overflow = {**(card.overflow or {}), "extra_cost_without_overflow": round(plain.extra_cost, 2)}


def per_strategy(path: str | None, strategy: str, compare: bool) -> str | None:
    """--journal J (and --state-file S): with --compare each strategy has its own, so none resumes another's
    checkpoint or world: J for the cockpit, J.<strategy> for each baseline (J.abort, J.fixed-stages)."""
    if not path or not compare or strategy == "cockpit":
        return path or None
    return f"{path}.{strategy}"


def drill_backends(args: argparse.Namespace) -> tuple[dict[str, str], dict]:
    """`--backend cache=redis`: that role goes to a real backend, with options from --config's [plugins]."""
    from cockpit.errors import ConfigError
    from cockpit.paths import find_config

    backends: dict[str, str] = {}
    for item in args.backend or []:
        role, sep, name = item.partition("=")
        if not sep or not role or not name:
            raise ConfigError(f"--backend {item!r}: expected ROLE=NAME, e.g. --backend cache=redis")
        backends[role] = name
    options: dict = {}
    # A --config FILE is always read and validated (a typo or a malformed file is an error, never a silent
    # run on the scenario alone); the drill takes only the [plugins.NAME] options of --backend's backends.
    source = find_config(args.config) if backends or args.config else None
    if source is not None and not source.embedded:
        from cockpit.paths import load_found
        from cockpit.plugins import refuse_unknown_tables

        config = load_found(source, require_pins=False)
        refuse_unknown_tables(config)
        options = {k: v for k, v in config.file.plugins.items() if k in backends.values()}
    return backends, options


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
    if args.tenants is not None and not [t for t in args.tenants.split(",") if t.strip()]:
        from cockpit.errors import ConfigError

        raise ConfigError("--tenants: expected comma-separated tenant names, e.g. --tenants acme,globex")
    scope = [t.strip() for t in args.tenants.split(",") if t.strip()] if args.tenants else args.scope
    answered = _ask_engine(args, scope)
    return answered if answered is not None else _dry_run(args, scope)


def _ask_engine(args: argparse.Namespace, scope: str | list[str]) -> int | None:
    """The plan of the engine running the fleet, printed; None when there is none to ask (then the plan
    is a dry run here). An engine named with --attach must answer; the one listening on the default
    address is asked unless --local, and with --config only if it runs that very file (else it plans
    another fleet). One that listens but refuses us (a token it wants) is an error, never a silent dry
    run that would disagree with the fleet's engine."""
    import os

    from cockpit.engine.address import DEFAULT_LISTEN, parse_address
    from cockpit.engine.ask import EngineRefused, NoEngine, ask
    from cockpit.errors import EngineUnreachable

    explicit = getattr(args, "attach", None)
    if getattr(args, "local", False) and not explicit:
        return None
    address = parse_address(explicit or DEFAULT_LISTEN, "--attach")
    token_file = getattr(args, "token_file", None) or os.environ.get("COCKPIT_TOKEN_FILE")
    token, tls = None, None
    if token_file:
        from cockpit.engine.auth import read_client_token

        token = read_client_token(token_file)
    if any(os.environ.get(f"COCKPIT_TLS_{k}") for k in ("CERT", "KEY", "CA")):
        from cockpit.engine.auth import client_tls_from_env

        tls = client_tls_from_env(os.environ)
    wanted = None if explicit or args.config is None else os.path.realpath(args.config)  # as Path.resolve()

    def runs_our_config(welcome: dict[str, Any]) -> bool:
        return wanted is None or welcome.get("config_path") == wanted

    from cockpit.identity import default_operator

    operator = getattr(args, "operator", None) or default_operator()
    try:
        answer = ask(
            address, "plan", operator=operator, token=token, tls=tls, accept=runs_our_config, scope=scope, note=True
        )
    except NoEngine:
        if explicit:
            raise
        return None  # nothing listens there: the dry run here
    except EngineUnreachable as exc:  # one listens and refused us (a token?), or went away: said, not hidden
        if explicit:
            raise
        raise EngineUnreachable(f"{exc}; `cockpit plan --local` plans here instead") from None
    except EngineRefused as exc:
        if str(exc).startswith("nothing to roll back"):
            return nothing_to_roll_back(f"engine: {address}", args.json)
        raise EngineRefused(f"the engine at {address}: {exc}", exc.kind) from None
    if answer is None:
        return None
    plan = answer.result
    note = plan.pop("overflow_note", "")
    if args.json:
        print(indented_json(plan))
        return 0
    welcome = answer.welcome
    print_plan(plan, f"engine: {address} ({welcome.get('role', '?')}; config {welcome.get('config_path')})", note)
    return 0


def _dry_run(args: argparse.Namespace, scope: str | list[str]) -> int:
    import asyncio

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
    plan = engine.plan_now(scope)
    import msgspec

    plain = msgspec.to_builtins(plan)
    if args.json:
        print(indented_json(plain))
        return 0
    print_plan(plain, f"config: {config.source}", engine.overflow.plan_note())
    return 0


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
    why = "nothing to roll back: no tenant in scope is regressing (--scope all plans every tenant)"
    if as_json:
        print(json.dumps({"scope": [], "stages": [], "note": why}, indent=2))
    else:
        print(header)  # which configuration, or which engine, was asked
        print(why)
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
