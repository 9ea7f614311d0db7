"""`cockpit plugins [--check-imports]`: installed backends, from metadata; `cockpit plugins check NAME`:
the contract checks; `cockpit plugins show NAME [--json-schema]`: a backend's roles, contract, capabilities and options;
`cockpit plugin new NAME --role router`: a plugin distribution to start from (cockpit.scaffold)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def list_command(args: argparse.Namespace) -> int:
    from cockpit.plugins import installed_plugins

    if args.plugins_command is None:
        # Metadata only: listing never imports a plugin (a broken or heavy one costs nothing here), but
        # locates its module; --check-imports imports each and says why one fails.
        plugins = installed_plugins(check_imports=args.check_imports)
        width = max((len(p.name) for p in plugins), default=4)
        for p in plugins:
            print(
                f"{p.name:<{width}}  {p.distribution} {p.version}  ({p.module})"
                + (f"  {p.problem}" if p.problem else "")
            )
        return 1 if any(p.problem for p in plugins) else 0
    return check_command(args)


def config_warnings(config: Any, host: Any) -> list[str]:
    """One line per [plugins.X] table that names no installed plugin (plugins check and lint)."""
    from cockpit.plugins import config_table_problems

    return config_table_problems(config, host)


def check_command(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from cockpit.contract import check_backend
    from cockpit.engine.session import make_clock
    from cockpit.hookspecs import BackendContext, PinnedModels
    from cockpit.paths import discover
    from cockpit.plugins import PluginHost

    config = discover(args.config)
    host = PluginHost()
    backends = host.backends()
    context = BackendContext(
        clock=make_clock(config),
        config_dir=str(Path(config.path).parent),
        tiers={"old": config.file.tiers.old, "new": config.file.tiers.new},
        models=PinnedModels(config.file.models.old, config.file.models.new, config.file.models.alias),
        config_file=str(config.path),
    )
    freeze = _freeze_checks(host, config, context, args.name)
    if args.name not in backends and not freeze:
        if not host.pm.has_plugin(args.name):
            raise unknown_plugin(args.name, host)
        print(f"{args.name}: serves no role, hooks {', '.join(plugin_hooks(host, args.name))}")
        print(f"  nothing to check: {config_file(config)} has no [plugins.{args.name}] table its hooks could check")
        return 0
    if args.name not in backends:  # a freeze-only plugin (launchdarkly, unleash): its checks only
        return _report(f"{args.name}: freeze hooks", freeze, config, host)
    spec = backends[args.name]
    results = asyncio.run(
        check_backend(
            host,
            args.name,
            config.options_for(args.name),
            context,
            alias=config.file.models.alias,
            write=args.write,
            threshold=config.file.incident.regression_threshold,
        )
    )
    title = f"{spec.name} {spec.version}: roles {', '.join(sorted(spec.roles))}"
    return _report(title, [*results, *freeze], config, host)


def _report(title: str, results: list[Any], config: Any, host: Any) -> int:
    print(title)
    for warning in config_warnings(config, host):
        print(f"  WARN  config     {warning}")
    for r in results:
        print(f"  {r.line()}")
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _freeze_checks(host: Any, config: Any, context: Any, name: str) -> list[Any]:
    """What the freeze plugins say about the `name` table (read-only: nothing is frozen)."""
    from cockpit.contract import Check
    from cockpit.errors import ConfigError

    if name not in config.file.plugins:
        return []
    for f in host.notify("cockpit_configure", plugins=config.file.plugins, context=context):
        if f.config_error:
            raise ConfigError(f.error.split(": ", 1)[-1])
    import msgspec

    kwargs = {"name": name, "freeze": msgspec.to_builtins(config.file.freeze), "context": context}
    out = []
    for impl in host.pm.hook.cockpit_freeze_check.get_hookimpls():
        try:
            got = impl.function(*[kwargs[a] for a in impl.argnames])
        except Exception as exc:
            out.append(Check("freeze", impl.plugin_name, False, f"{type(exc).__name__}: {exc}"))
            continue
        out += [Check("freeze", what, bool(ok), detail) for what, ok, detail in got or ()]
    return out


def show_command(args: argparse.Namespace) -> int:
    from cockpit.errors import PluginError
    from cockpit.plugins import PluginHost

    host = PluginHost()
    spec = host.backends().get(args.name)
    if spec is None and host.pm.has_plugin(args.name) and not args.json_schema:  # a hook-only plugin (webhook)
        for line in describe_plugin(host, args.name):
            print(line)
        return 0
    if spec is None:
        raise unknown_plugin(args.name, host)
    if args.json_schema:
        if spec.options is None:
            raise PluginError(f"backend {spec.name!r} declares no typed options (BackendSpec.options)")
        import msgspec

        print(json.dumps(msgspec.json.schema(spec.options), indent=2))
        return 0
    for line in describe(spec):
        print(line)
    if others := [n for n in provided_by(host, args.name) if n != args.name]:  # http: anthropic, openai-compatible
        print(f"  plugin {args.name} also provides: {', '.join(others)} (cockpit plugins show NAME)")
    return 0


def provided_by(host: Any, plugin: str) -> list[str]:
    """The backends plugin `plugin` provides (as loaded: each one the host accepted)."""
    backends = host.backends()
    out: list[str] = []
    for impl in host.pm.hook.cockpit_backends.get_hookimpls():
        if impl.plugin_name == plugin:
            try:
                out += [s.name for s in impl.function() or () if s.name in backends]
            except Exception:  # already recorded as the plugin's failure by host.backends()
                continue
    return sorted(out)


def unknown_plugin(name: str, host: Any) -> Exception:
    """One sentence for a name that is neither a backend nor a plugin; it lists what `cockpit plugins`
    lists (the installed plugins), and why a plugin of that name failed to load, if it did."""
    from cockpit.errors import PluginError
    from cockpit.plugins import installed_plugins

    names = [p.name for p in installed_plugins()]
    hint = "".join(f"; {f}" for f in host.failures if f.plugin == name)
    return PluginError(f"unknown plugin or backend {name!r} (installed plugins: {', '.join(names) or 'none'}){hint}")


def config_file(config: Any) -> str:
    return "the embedded default cockpit.toml" if "embedded default" in config.source else str(config.path)


def plugin_hooks(host: Any, name: str) -> list[str]:
    """The cockpit hooks plugin `name` implements."""
    plugin = host.pm.get_plugin(name)
    return sorted(c.name for c in host.pm.get_hookcallers(plugin) or [] if c.name != "cockpit_backends")


def describe_plugin(host: Any, name: str) -> list[str]:
    """`plugins show` for a plugin that serves no role (webhook, launchdarkly, unleash): its hooks."""
    from cockpit.plugins import installed_plugins

    found = [p for p in installed_plugins() if p.name == name]
    version = f" {found[0].version}" if found else ""
    module = host.pm.get_plugin(name)
    paragraph = " ".join((getattr(module, "__doc__", None) or "").strip().split("\n\n")[0].split())
    doc = paragraph.split(". ")[0].rstrip(".")
    out = [f"{name}{version}: serves no role; hooks {', '.join(plugin_hooks(host, name)) or 'none'}"]
    out += [f"  {doc}"] if doc else []
    return [*out, f"  options [plugins.{name}]: read by its cockpit_configure hook (see its documentation)"]


def describe(spec: Any) -> list[str]:
    out = [
        f"{spec.name} {spec.version} (plugin contract {spec.contract_version}): roles {', '.join(sorted(spec.roles))}"
    ]
    out += [f"  {spec.description}"] if spec.description else []
    if "router" in spec.roles:  # the capabilities describe a router: shares, tenants, rates
        caps = spec.capabilities
        step = f"share step {caps.share_step:g}" if caps.share_step else "any share"
        flags = [step, "creates tenants" if caps.creates_tenants else "cannot create tenants"]
        flags += ["measures rates" if caps.measures_rates else "no rates (health must provide them)"]
        flags += ["answers unknown"] if caps.answers_unknown else []
        out.append(f"  capabilities: {', '.join(flags)}")
    if spec.options is None:
        return [*out, f"  options [plugins.{spec.name}]: not declared (the plugin validates its own table)"]
    return [*out, f"  options [plugins.{spec.name}]:", *_options(spec.options)]


def _options(struct: type) -> list[str]:
    import msgspec

    rows = []
    for f in msgspec.structs.fields(struct):
        kind = _type_name(msgspec.inspect.type_info(f.type))
        if f.required:
            default = "required"
        else:
            value = f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
            default = f"default {value!r}"
        rows.append((f.encode_name, kind, default))
    w0 = max(len(r[0]) for r in rows) if rows else 0
    w1 = max(len(r[1]) for r in rows) if rows else 0
    return [f"    {n:<{w0}}  {k:<{w1}}  {d}" for n, k, d in rows]


def _type_name(info: Any) -> str:
    """`float > 0`, `int >= 1 <= 256`, `str matching '^https?://'`: the type with its constraints."""
    name = type(info).__name__.removesuffix("Type").lower()
    bounds = []
    for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        value = getattr(info, attr, None)
        if value is not None:
            bounds.append(f"{sign} {value:g}")
    pattern = getattr(info, "pattern", None)
    return " ".join([name, *bounds] + ([f"matching {pattern!r}"] if pattern else []))


def new_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cockpit.scaffold import new_plugin

    root = new_plugin(args.name, args.role, Path(args.dir))
    print(f"{root}: a {args.role} plugin; next: cd {root} && pip install -e '.[test]' && pytest")
    return 0
