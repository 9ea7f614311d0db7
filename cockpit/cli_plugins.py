"""`cockpit plugins show NAME [--json-schema]`: a backend's roles, contract, capabilities and options;
`cockpit plugin new NAME --role router`: a plugin distribution to start from (cockpit.scaffold)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def show_command(args: argparse.Namespace) -> int:
    from cockpit.errors import PluginError
    from cockpit.plugins import PluginHost

    host = PluginHost()
    backends = host.backends()
    spec = backends.get(args.name)
    if spec is None:
        hint = "".join(f"; {f}" for f in host.failures if f.plugin == args.name)
        raise PluginError(f"unknown backend {args.name!r} (installed: {', '.join(sorted(backends)) or 'none'}){hint}")
    if args.json_schema:
        if spec.options is None:
            raise PluginError(f"backend {spec.name!r} declares no typed options (BackendSpec.options)")
        import msgspec

        print(json.dumps(msgspec.json.schema(spec.options), indent=2))
        return 0
    for line in describe(spec):
        print(line)
    return 0


def describe(spec: Any) -> list[str]:
    caps = spec.capabilities
    step = f"share step {caps.share_step:g}" if caps.share_step else "any share"
    flags = [step, "creates tenants" if caps.creates_tenants else "cannot create tenants"]
    flags += ["measures rates" if caps.measures_rates else "no rates (health must provide them)"]
    flags += ["answers unknown"] if caps.answers_unknown else []
    out = [
        f"{spec.name} {spec.version} (plugin contract {spec.contract_version}): roles {', '.join(sorted(spec.roles))}"
    ]
    out += [f"  {spec.description}"] if spec.description else []
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
