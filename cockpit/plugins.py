"""The plugin host: entry-point loading, isolation of failing plugins, a typed facade over the hooks.

Bundled backends (the mock simulator included) register through the same ``cockpit.backends``
entry-point group as a third-party plugin, so there is one way in.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import pluggy

from cockpit.entry_points import entry_points
from cockpit.errors import CockpitError, ConfigError, PluginError
from cockpit.hookspecs import (
    ENTRY_POINT_GROUP,
    PROJECT,
    ROLE_PROTOCOLS,
    SUPPORTED_CONTRACTS,
    BackendContext,
    BackendSpec,
    Capabilities,
    CockpitSpec,
    PluginAction,
)
from cockpit.httpx_warm import warm_if_used

_COCKPIT_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True, slots=True)
class PluginFailure:
    plugin: str
    where: str  # "import", "register", "cockpit_backends", a hook name
    error: str
    config_error: bool = False  # the plugin raised ConfigError: its options are wrong (the cockpit refuses to start)

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed in {self.where}: {self.error}"


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """An entry point as package metadata describes it, read without importing the plugin."""

    name: str
    module: str
    distribution: str
    version: str
    problem: str = ""  # "fails to import: …" when the plugin cannot be loaded ("" when it can, or unchecked)


def installed_plugins(*, check_imports: bool = False) -> list[InstalledPlugin]:
    """Every entry point in the group. Without `check_imports`, from package metadata only: the module is
    located (``find_spec`` of its top-level package, which runs none of its code), not imported, so a
    stale entry point shows; with it, each plugin is imported and an import failure shows with its reason."""
    import importlib.metadata  # for the distributions' names and versions

    out = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        out.append(
            InstalledPlugin(
                name=ep.name,
                module=ep.value,
                distribution=dist.name if dist else "",
                version=dist.version if dist else "",
                problem=_import_problem(ep) if check_imports else _locate_problem(ep.value),
            )
        )
    return sorted(out, key=lambda p: p.name)


def _locate_problem(value: str) -> str:
    top = value.split(":")[0].split(".")[0].strip()
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:
        return f"fails to import: {_describe(exc)}"
    return "" if found else f"fails to import: no module named {top!r} (the entry point outlived its package?)"


def _import_problem(ep: Any) -> str:  # an importlib.metadata.EntryPoint
    try:
        ep.load()
    except Exception as exc:
        return f"fails to import: {_describe(exc)}"
    return ""


def unknown_tables(tables: Iterable[str], known: Iterable[str], file: str) -> list[str]:
    """One sentence per ``[plugins.X]`` table that names no installed plugin or backend (a typo leaves
    a backend on its defaults, or unconfigured), with the nearest known name."""
    names = sorted(set(known))
    out = []
    for t in tables:
        if t in names:
            continue
        import difflib  # a table that names nothing installed: rare, and difflib is not free to import

        near = difflib.get_close_matches(t, names, n=1, cutoff=0.6)
        hint = f"did you mean [plugins.{near[0]}]?" if near else f"installed: {', '.join(names) or 'none'}"
        out.append(f"{file}: [plugins.{t}] names no installed plugin or backend; {hint}")
    return out


def config_table_problems(config: Any, host: PluginHost) -> list[str]:
    """`unknown_tables` of a loaded configuration (lint, plugins check); engines refuse the first."""
    file = "the embedded default cockpit.toml" if "embedded default" in config.source else str(config.path)
    return unknown_tables(config.file.plugins, host.known_names(), file)


def refuse_unknown_tables(config: Any, host: PluginHost | None = None) -> None:
    """Raise the first of `config_table_problems` (one sentence) as a ConfigError."""
    if problems := config_table_problems(config, host or PluginHost()):
        raise ConfigError(problems[0])


def _host_file(filename: str) -> bool:
    """A frame of the cockpit's host, pluggy or the standard library: never where a plugin went wrong."""
    import sysconfig

    roots = (_COCKPIT_DIR, os.path.dirname(pluggy.__file__), sysconfig.get_paths()["stdlib"])
    return filename.startswith(tuple(r + os.sep for r in roots))


def source_of(obj: object) -> str:
    """The folder of the package that defines `obj` (a role object, a factory, a plugin module): its frames
    are the ones an error should point at. "" when unknown."""
    module = obj if isinstance(obj, types.ModuleType) else sys.modules.get(getattr(obj, "__module__", "") or "")
    if module is None and not isinstance(obj, type):
        module = sys.modules.get(type(obj).__module__)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else ""


def raised_at(exc: BaseException, source: str = "") -> str:
    """`path:line in function` of the frame in the plugin that raised (or called what raised): the
    innermost frame under `source`, else the innermost outside the host and the standard library."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if source and f.filename.startswith(source)]
    mine = mine or [f for f in frames if not _host_file(f.filename)]
    if not mine:
        return ""
    f = mine[-1]
    name = os.path.relpath(f.filename) if f.filename.startswith(os.getcwd() + os.sep) else f.filename
    return f"{name}:{f.lineno} in {f.name}"


def _describe(exc: BaseException, source: str = "") -> str:
    """One bounded line for the journal and the screen, with the plugin's file and line; URL credentials
    (a webhook token, a Redis password) never pass through it."""
    from cockpit.redact import redact_text

    # a ConfigError is the plugin's sentence for the operator about cockpit.toml: no source location
    at = "" if isinstance(exc, ConfigError) else raised_at(exc, source)
    text = redact_text(f"{type(exc).__name__}: {exc}" + (f" (at {at})" if at else ""))
    return text if len(text) <= 500 else text[:499] + "…"


def _spec_problem(spec: BackendSpec) -> str | None:
    """One sentence when the host cannot take a backend as declared (a contract it does not speak)."""
    v = spec.contract_version
    if v not in SUPPORTED_CONTRACTS:
        first, last = SUPPORTED_CONTRACTS[0], SUPPORTED_CONTRACTS[-1]
        return (
            f"backend {spec.name!r} was written for plugin contract {v!r}, but this cockpit speaks contracts "
            f"{first} to {last}: upgrade the cockpit, or install a release of the plugin for contract {last}"
        )
    if not isinstance(spec.capabilities, Capabilities):
        return f"backend {spec.name!r}: capabilities must be a cockpit.hookspecs.Capabilities"
    problem = spec.capabilities.problem()
    return f"backend {spec.name!r}: {problem}" if problem else None


def _methods(protocol: type) -> list[str]:
    return [m for m in vars(protocol) if not m.startswith("_") and callable(getattr(protocol, m))]


class PluginHost:
    def __init__(self, *, entry_points: bool = True, plugins: Iterable[tuple[str, object]] = ()) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(CockpitSpec)
        self.failures: list[PluginFailure] = []
        self._backends: dict[str, BackendSpec] | None = None
        if entry_points:
            self._load_entry_points()
        for name, plugin in plugins:
            self.register(plugin, name)

    # Loading -----------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        for ep in entry_points(ENTRY_POINT_GROUP):
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the cockpit down
                self.failures.append(PluginFailure(ep.name, "import", _describe(exc)))
                continue
            self.register(plugin, ep.name)

    def register(self, plugin: object, name: str) -> bool:
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self.failures.append(PluginFailure(name, "register", _describe(exc)))
            return False
        self._backends = None
        return True

    # Backends ----------------------------------------------------------------------------------
    def backends(self) -> dict[str, BackendSpec]:
        if self._backends is not None:
            return self._backends
        found: dict[str, BackendSpec] = {}
        for impl in self.pm.hook.cockpit_backends.get_hookimpls():
            try:
                specs = cast("list[BackendSpec] | None", impl.function())  # pluggy types results as object
            except Exception as exc:
                failure = PluginFailure(impl.plugin_name, "cockpit_backends", _describe(exc, source_of(impl.plugin)))
                self.failures.append(failure)
                continue
            for spec in specs or ():
                problem = _spec_problem(spec)
                if problem:
                    self.failures.append(PluginFailure(impl.plugin_name, "cockpit_backends", problem))
                    continue
                if spec.name in found:
                    self.failures.append(
                        PluginFailure(
                            impl.plugin_name, "cockpit_backends", f"backend {spec.name!r} is already provided"
                        )
                    )
                    continue
                found[spec.name] = spec
        self._backends = found
        return found

    def known_names(self) -> set[str]:
        """Names a ``[plugins.X]`` table may use: every backend, and every registered plugin (a freeze-only
        plugin reads its table through ``cockpit_configure``)."""
        return set(self.backends()) | {name for name, _ in self.pm.list_name_plugin() if name}

    def capabilities(self, name: str) -> Capabilities:
        """What backend `name` declares it can do (the defaults for an unknown backend)."""
        spec = self.backends().get(name)
        return spec.capabilities if spec is not None else Capabilities()

    def create(self, role: str, name: str, options: Mapping[str, Any], context: BackendContext) -> Any:
        """The object serving `role` from backend `name`, checked against the role's protocol."""
        specs = self.backends()
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            hint = "".join(f"; {f}" for f in self.failures if f.plugin == name)
            raise PluginError(f"unknown backend {name!r} for role {role!r} (installed: {known}){hint}")
        if role not in spec.roles:
            raise PluginError(
                f"backend {name!r} does not serve the {role!r} role (it serves {', '.join(sorted(spec.roles))})"
            )
        if spec.options is not None:
            from cockpit.options import parse_options

            options = parse_options(options, spec.options, name, context.config_file)
        try:
            obj = spec.factory(role, options, context)
        except CockpitError:  # the backend's own one-sentence error (e.g. its options or files are wrong)
            raise
        except Exception as exc:
            raise PluginError(
                f"backend {name!r} could not start its {role!r} role: {_describe(exc, source_of(spec.factory))}"
            ) from exc
        warm_if_used()  # a backend on httpx: its first request must not import inside the event loop
        protocol = ROLE_PROTOCOLS[role]
        if not isinstance(obj, protocol):
            missing = [m for m in _methods(protocol) if not callable(getattr(obj, m, None))]
            raise PluginError(
                f"backend {name!r} returned a {type(obj).__name__} that does not implement the {role!r} role"
                + (f" (no {', '.join(missing)})" if missing else "")
            )
        for m in _methods(protocol):
            if inspect.iscoroutinefunction(getattr(protocol, m)) and not inspect.iscoroutinefunction(getattr(obj, m)):
                raise PluginError(
                    f"backend {name!r}: {type(obj).__name__}.{m} is a plain def; the {role!r} role requires "
                    f"async def {m}(...)"
                )
        return obj

    def actions(self, context: BackendContext) -> list[PluginAction]:
        """Every plugin's actions for this engine, each plugin in isolation."""
        found: dict[str, PluginAction] = {}
        for impl in self.pm.hook.cockpit_actions.get_hookimpls():
            try:
                got = cast("list[PluginAction] | None", impl.function(context=context))  # (as above)
            except Exception as exc:
                failure = PluginFailure(impl.plugin_name, "cockpit_actions", _describe(exc, source_of(impl.plugin)))
                self.failures.append(failure)
                continue
            for a in got or ():
                if a.id in found:
                    self.failures.append(
                        PluginFailure(impl.plugin_name, "cockpit_actions", f"action {a.id!r} is already provided")
                    )
                    continue
                found[a.id] = a
        return list(found.values())

    # Events ------------------------------------------------------------------------------------
    def notify(self, hook: str, **kwargs: Any) -> list[PluginFailure]:
        """Call every implementation of an event hook, each in isolation."""
        failures = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:
                described = _describe(exc, source_of(impl.plugin))
                failures.append(PluginFailure(impl.plugin_name, hook, described, isinstance(exc, ConfigError)))
        self.failures.extend(failures)
        return failures

    async def event(
        self, hook: str, deadline_s: float, *, results: list[tuple[str, Any]] | None = None, **kwargs: Any
    ) -> list[PluginFailure]:
        """An event hook off the control loop: every implementation runs in a worker thread, all at once,
        and the loop waits at most `deadline_s` for them (a webhook that never answers, a CronJob API
        that hangs). One that misses the deadline is reported as a failure and left to finish (or not)
        on its thread; the loop, the lease renewals and the screens carry on meanwhile. With `results`, each
        implementation's answer that is not None is appended to it as (plugin name, answer)."""
        import asyncio

        impls = getattr(self.pm.hook, hook).get_hookimpls()

        def one(impl: Any) -> PluginFailure | None:
            try:
                answer = impl.function(*[kwargs[a] for a in impl.argnames])
                if results is not None and answer is not None:
                    results.append((impl.plugin_name, answer))
            except Exception as exc:
                return PluginFailure(impl.plugin_name, hook, _describe(exc, source_of(impl.plugin)))
            return None

        tasks = {asyncio.ensure_future(asyncio.to_thread(one, impl)): impl for impl in impls}
        if not tasks:
            return []
        done, pending = await asyncio.wait(tasks, timeout=deadline_s)
        failures = [f for t in done if (f := t.result()) is not None]
        failures += [
            PluginFailure(tasks[t].plugin_name, hook, f"did not finish within {deadline_s:g} s (left running)")
            for t in pending
        ]
        return failures

    def incident_declared(self, incident: Mapping[str, Any], context: BackendContext) -> list[PluginFailure]:
        return self.notify("cockpit_incident_declared", incident=incident, context=context)

    def incident_released(self, incident: Mapping[str, Any], context: BackendContext) -> list[PluginFailure]:
        return self.notify("cockpit_incident_released", incident=incident, context=context)

    def stage_applied(self, stage: Mapping[str, Any], context: BackendContext) -> list[PluginFailure]:
        return self.notify("cockpit_stage_applied", stage=stage, context=context)

    def shares_applied(
        self, shares: Mapping[str, float], request_id: str, context: BackendContext
    ) -> list[PluginFailure]:
        return self.notify("cockpit_shares_applied", shares=shares, request_id=request_id, context=context)

    def alias_moved(
        self, alias: str, previous: str, current: str, seen_at: float, context: BackendContext
    ) -> list[PluginFailure]:
        return self.notify(
            "cockpit_alias_moved", alias=alias, previous=previous, current=current, seen_at=seen_at, context=context
        )


async def close_objects(objects: Iterable[object]) -> list[str]:
    """Await ``aclose()`` once on each distinct object that has one (role objects, then the values of an
    engine's ``context.shared``), each in isolation: one sentence per failure, naming the object and the
    plugin's file and line."""
    failures = []
    seen: set[int] = set()
    for obj in objects:
        close = getattr(obj, "aclose", None)
        if id(obj) in seen or not callable(close):
            continue
        seen.add(id(obj))
        try:
            await close()
        except Exception as exc:
            failures.append(f"{type(obj).__name__}.aclose() failed: {_describe(exc, source_of(obj))}")
    return failures
