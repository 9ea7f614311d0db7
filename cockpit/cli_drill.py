"""`cockpit drill SCENARIO`: a scenario headless with an autopilot on-call, its scorecard."""

from __future__ import annotations

import argparse
import json
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
