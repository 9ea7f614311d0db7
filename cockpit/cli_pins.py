"""`cockpit lint` and `cockpit pin`: model references checked and locked against the provider."""

from __future__ import annotations

import argparse
from typing import Any

from cockpit.errors import CockpitError


def _provider(config: Any, host: Any = None) -> Any:
    """The configured provider role, or None (and why) when it cannot be reached or built."""
    from cockpit.engine.session import make_clock
    from cockpit.hookspecs import BackendContext
    from cockpit.plugins import PluginHost

    name = config.backend_for("provider")
    context = BackendContext(clock=make_clock(config), config_dir=str(config.dir))
    try:
        return (host or PluginHost()).create("provider", name, config.options_for(name), context), None
    except CockpitError as exc:
        return None, str(exc)


def lint_command(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.cli_plugins import config_warnings
    from cockpit.paths import find_config, load_found
    from cockpit.pinning import lint, references
    from cockpit.plugins import PluginHost

    source = find_config(args.config)
    config = load_found(source, require_pins=False)
    refs = references(source.path, source.text)
    name = "embedded default cockpit.toml" if source.embedded else str(config.path)
    host = PluginHost()
    provider, why = _provider(config, host)
    findings = asyncio.run(lint(refs, provider.resolve if provider else None))
    tables = config_warnings(config, host)  # a misspelled [plugins.X] leaves a backend on its defaults
    for line in tables:
        print(line)
    for f in findings:
        where = f"{name}:{f.ref.line}" if f.ref.line else name
        now = f"it resolves to {f.resolves_to} now" if f.resolves_to else f"could not resolve it ({f.error or why})"
        print(f"{where}: {f.ref.key} = {f.ref.value!r} is an alias, not a pinned revision; {now}")
    if findings:
        print(f"{len(findings)} alias(es) where a pinned revision is required; `cockpit pin` resolves and locks them")
    if findings or tables:
        return 1
    print(f"{name}: {len(refs)} model reference(s), all pinned")
    return 0


def pin_command(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.domain.revisions import is_pinned
    from cockpit.errors import ConfigError
    from cockpit.paths import discover
    from cockpit.pinning import now_utc, read_lock, record, rollback, write_lock

    config = discover(args.config, require_pins=False)
    lock_path = config.lock_path
    pins = read_lock(lock_path)
    at = now_utc()
    if args.rollback:
        entry, line = rollback(pins, args.rollback, at)
        write_lock(lock_path, pins)
        print(f"# {args.rollback}: back to {entry['revision']} (from {entry['previous']}); paste into [pins]:")
        print(line)
        return 0
    if args.set:
        name, sep, revision = args.set.partition("=")
        if not sep or not name or not revision:
            raise ConfigError(f"--set {args.set!r}: expected NAME=REVISION")
        entry, changed = record(pins, name, revision, pins.get(name, {}).get("alias", ""), at)
        write_lock(lock_path, pins)
        prev = f" (previous: {entry.get('previous')})" if changed and entry.get("previous") else ""
        print(f"{name}: {revision}{prev} -> {lock_path}")
        return 0
    if not config.file.pins:
        print(f"{config.path}: no [pins] to resolve")
        return 0
    provider, why = _provider(config)
    failures = 0
    for name, value in sorted(config.file.pins.items()):
        if is_pinned(value):
            revision, alias = value, ""
        else:
            if provider is None:
                print(f"{name}: {value!r} not resolved: {why}")
                failures += 1
                continue
            try:
                revision, alias = asyncio.run(provider.resolve(value)), value
            except Exception as exc:
                print(f"{name}: {value!r} not resolved: {type(exc).__name__}: {exc}")
                failures += 1
                continue
        entry, changed = record(pins, name, revision, alias, at)
        note = f"upgrade recorded (previous: {entry['previous']})" if changed and entry.get("previous") else ""
        src = f"{alias} -> " if alias else ""
        print(f"{name}: {src}{revision} {note}".rstrip())
    write_lock(lock_path, pins)
    print(f"lock file: {lock_path}")
    return 1 if failures else 0
