"""`cockpit drill SCENARIO`: a scenario headless with an autopilot on-call, its scorecard;
`cockpit plan`: a dry run of a rollback now (observe once, plan, change nothing)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def drill_command(args: argparse.Namespace) -> int:
    import asyncio

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
    import asyncio

    from cockpit.engine.journal import Journal
    from cockpit.engine.session import open_engine
    from cockpit.paths import discover

    config = discover(args.config)
    # A dry run: observe once, plan, change nothing (the journal is a throw-away one).
    engine = open_engine(config, journal=Journal(":memory:"), read_only=True)

    async def observe_once() -> None:
        try:
            await engine.tick()
        finally:
            await engine.aclose()  # the plugins' objects: planning reads only what was observed

    asyncio.run(observe_once())
    if args.tenants is not None and not [t for t in args.tenants.split(",") if t.strip()]:
        from cockpit.errors import ConfigError

        raise ConfigError("--tenants: expected comma-separated tenant names, e.g. --tenants acme,globex")
    scope = [t.strip() for t in args.tenants.split(",") if t.strip()] if args.tenants else args.scope
    if engine.observed.traffic is not None and not engine.scope(scope):  # nothing wrong: nothing to plan
        return nothing_to_roll_back(config, args.json)
    plan = engine.plan_now(scope)
    if args.json:
        print(plan_json(plan))
        return 0
    print(f"config: {config.source}")
    print(f"scope: {len(plan.scope)} tenant(s): {', '.join(plan.scope)}")
    print(f"traffic to move off the new revision: {plan.traffic_to_move_rps:,.1f} rps")
    print(f"pre-scale the old tier to: {plan.prescale_to} replicas (before anything moves)")
    for st in plan.stages:
        print(
            f"  stage {st.number:>3}  T+{st.eta_s:>5.0f} s  {st.moved_rps:>8.1f} rps  "
            f"old tier {st.old_utilisation_after:>4.0%}  {', '.join(st.tenants)}"
        )
    print(f"finishes at T+{plan.eta_s:.0f} s" if plan.finishes else "does not finish within the planning horizon")
    if note := engine.overflow.plan_note():  # [overflow] configured: there, or why not
        print(note)
    if plan.unknown:  # unknown is a state: what the plan could not read, and what it assumed instead
        print(f"unknown: {len(plan.unknown)} tenant(s)")
        for t, why in sorted(plan.unknown.items()):
            print(f"  {t}: {why}")
    return 0


def nothing_to_roll_back(config: Any, as_json: bool) -> int:
    """`cockpit plan` when no tenant in scope is regressing: said, exit 0 (nothing is wrong)."""
    why = "nothing to roll back: no tenant in scope is regressing (--scope all plans every tenant)"
    if as_json:
        print(json.dumps({"scope": [], "stages": [], "note": why}, indent=2))
    else:
        print(f"config: {config.source}")
        print(why)
    return 0


def plan_json(plan: Any) -> str:
    """The plan as indented JSON (msgspec: a 10,000-tenant plan in milliseconds, not a deep copy)."""
    import msgspec

    return msgspec.json.format(msgspec.json.encode(plan), indent=2).decode()
