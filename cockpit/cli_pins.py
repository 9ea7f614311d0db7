"""`cockpit lint` and `cockpit pin`: model references checked and locked against the provider."""

from __future__ import annotations

import argparse
from typing import Any

from cockpit.errors import CockpitError


def _provider(config: Any, host: Any = None) -> tuple[Any, str, Any]:
    """The configured provider role (None, and why, when it cannot be built) and its documented offline
    rule (None when the backend has none)."""
    from cockpit.engine.session import make_clock
    from cockpit.hookspecs import BackendContext
    from cockpit.pin_policy import provider_rule
    from cockpit.plugins import PluginHost

    host = host or PluginHost()
    name = config.backend_for("provider")
    rule = provider_rule(name, host)
    context = BackendContext(clock=make_clock(config), config_dir=str(config.dir))
    try:
        return host.create("provider", name, config.options_for(name), context), "", rule
    except CockpitError as exc:
        return None, str(exc), rule


async def _classify_all(provider: Any, values: list[str], rule: Any, why: str) -> list[Any]:
    from cockpit.pin_policy import classify

    try:
        return [await classify(provider, v, rule, why) for v in values]
    finally:
        if provider is not None and hasattr(provider, "aclose"):
            await provider.aclose()


def lint_command(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.cli_plugins import config_warnings
    from cockpit.domain.pins import describe
    from cockpit.paths import find_config, load_found
    from cockpit.pinning import references
    from cockpit.plugins import PluginHost

    source = find_config(args.config)
    config = load_found(source, require_pins=False)
    refs = references(source.path, source.text)
    name = "embedded default cockpit.toml" if source.embedded else str(config.path)
    host = PluginHost()
    provider, why, rule = _provider(config, host)
    classes = asyncio.run(_classify_all(provider, [r.value for r in refs], rule, why))
    tables = config_warnings(config, host)  # a misspelled [plugins.X] leaves a backend on its defaults
    tables += backend_findings(config, host, name)
    for line in tables:
        print(line)
    findings = 0
    for ref, c in zip(refs, classes, strict=True):
        where = f"{name}:{ref.line}" if ref.line else name
        if not c.pinned or c.offline:  # a snapshot decided offline is said too
            print(f"{where}: {ref.key} = {ref.value!r} {describe(c)}")
        findings += not c.pinned
    offline = sorted({c.offline for c in classes if c.offline})
    if offline:
        print(f"provider {config.backend_for('provider')} offline ({offline[0]}): its documented offline rule decided")
    if findings:
        print(f"{findings} reference(s) not confirmed as pinned revisions; `cockpit pin` resolves and locks aliases")
    if findings or tables:
        return 1
    print(f"{name}: {len(refs)} model reference(s), all pinned")
    return 0


def backend_findings(config: Any, host: Any, file: str) -> list[str]:
    """One sentence per [backends] role naming no installed backend that serves that role."""
    from cockpit.hookspecs import ROLES

    specs = host.backends()
    out = []
    for role in ROLES:
        name = config.backend_for(role)
        if name in specs and role in specs[name].roles:
            continue
        serving = ", ".join(sorted(n for n, s in specs.items() if role in s.roles)) or "none"
        what = f"{name!r} does not serve the {role} role" if name in specs else f"{name!r} names no installed backend"
        out.append(f"{file}: backends.{role} = {what} (installed {role} backends: {serving})")
    return out


def pin_command(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.domain.pins import describe
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
        if not is_pinned(revision):
            provider, why, rule = _provider(config)
            c = asyncio.run(_classify_all(provider, [revision], rule, why))[0]
            if not c.pinned:
                raise ConfigError(f"--set {name}: {revision!r} {describe(c)}")
        entry, changed = record(pins, name, revision, pins.get(name, {}).get("alias", ""), at, confirmed=True)
        write_lock(lock_path, pins)
        prev = f" (previous: {entry.get('previous')})" if changed and entry.get("previous") else ""
        print(f"{name}: {revision}{prev} -> {lock_path}")
        return 0
    if not config.file.pins:
        print(f"{config.path}: no [pins] to resolve")
        return 0
    failures = _pin_all(config, pins, at)
    write_lock(lock_path, pins)
    print(f"lock file: {lock_path}")
    return 1 if failures else 0


def _pin_all(config: Any, pins: dict[str, Any], at: Any) -> int:
    """Classify every [pins] entry, then the target of each alias; record the pinned ones."""
    import asyncio

    from cockpit.domain.pins import describe
    from cockpit.pinning import record

    provider, why, rule = _provider(config)
    names = sorted(config.file.pins)
    values = [config.file.pins[n] for n in names]

    async def run() -> list[tuple[Any, Any]]:
        from cockpit.pin_policy import classify

        out = []
        try:
            for value in values:
                c = await classify(provider, value, rule, why)
                target = None
                if c.kind == "alias" and c.resolves_to and not c.offline:
                    target = await classify(provider, c.resolves_to, rule, why)
                out.append((c, target))
        finally:
            if provider is not None and hasattr(provider, "aclose"):
                await provider.aclose()
        return out

    failures = 0
    for name, value, (c, target) in zip(names, values, asyncio.run(run()), strict=True):
        if c.pinned:
            revision, alias, note = value, "", f" ({describe(c)})" if c.offline else ""
        elif target is not None and target.pinned:
            revision, alias, note = c.resolves_to, value, ""
        else:
            why_not = describe(target) if target is not None else describe(c)
            print(f"{name}: {value!r} not resolved: {why_not}")
            failures += 1
            continue
        entry, changed = record(pins, name, revision, alias, at, confirmed=True)
        upgrade = f" upgrade recorded (previous: {entry['previous']})" if changed and entry.get("previous") else ""
        src = f"{alias} -> " if alias else ""
        print(f"{name}: {src}{revision}{upgrade}{note}".rstrip())
    return failures
