"""`[plugins.kubernetes.freeze]` options: which objects an incident freezes, and how. Never imports the
kubernetes client.

Each *target* is a kind, a label selector and a namespace. A kind is one of the presets below or any
other resource named by its API version, plural and the field that freezes it (a merge patch sets the
field to `value`; release puts the prior value back). ``cronjob_selector`` is the shorthand for one
CronJob target. ``[freeze.argocd]`` adds a deny sync window to Argo CD AppProjects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.errors import ConfigError

W = "plugins.kubernetes.freeze"


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str
    api_version: str  # group/version
    plural: str
    field: str  # dotted path of the field a merge patch sets, e.g. "spec.suspend"
    value: Any  # what it is set to while frozen
    verbs: tuple[str, str] = ("freeze", "thaw")  # for messages: what freezing and releasing are called


PRESETS: dict[str, Kind] = {
    "CronJob": Kind("CronJob", "batch/v1", "cronjobs", "spec.suspend", True, ("suspend", "resume")),
    "Rollout": Kind("Rollout", "argoproj.io/v1alpha1", "rollouts", "spec.paused", True, ("pause", "resume")),
    "Kustomization": Kind(
        "Kustomization", "kustomize.toolkit.fluxcd.io/v1", "kustomizations", "spec.suspend", True, ("suspend", "resume")
    ),
    "HelmRelease": Kind(
        "HelmRelease", "helm.toolkit.fluxcd.io/v2", "helmreleases", "spec.suspend", True, ("suspend", "resume")
    ),
    "ImageUpdateAutomation": Kind(
        "ImageUpdateAutomation",
        "image.toolkit.fluxcd.io/v1beta2",
        "imageupdateautomations",
        "spec.suspend",
        True,
        ("suspend", "resume"),
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    kind: Kind
    selector: str
    namespace: str


@dataclass(frozen=True, slots=True)
class SyncWindowRef:
    """A deny sync window added to each named Argo CD AppProject while the incident is open."""

    projects: tuple[str, ...]
    namespace: str
    applications: tuple[str, ...]
    duration: str
    manual_sync: bool
    conflict_retries: int


@dataclass(frozen=True, slots=True)
class FreezeRef:
    targets: tuple[Target, ...]
    argocd: SyncWindowRef | None
    timeout_s: float
    namespace: str

    @property
    def selector(self) -> str:  # the first target's (the CronJob shorthand's) selector
        return self.targets[0].selector if self.targets else ""


_FREEZE = {"cronjob_selector", "namespace", "timeout_s", "targets", "argocd"}
_TARGET = {"kind", "selector", "namespace", "api_version", "plural", "field", "value"}
_ARGOCD = {"projects", "namespace", "applications", "duration", "manual_sync", "conflict_retries"}
_API_VERSION = re.compile(r"^[a-z0-9.-]+/v[0-9a-z]+$")
_FIELD = re.compile(r"^spec(\.[A-Za-z0-9_]+)+$")
_DURATION = re.compile(r"^([0-9]+h)?([0-9]+m)?$")


def _table(where: str, value: Any, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
    extra = sorted(set(value) - known)
    if extra:
        raise ConfigError(f"{where}: unknown option {extra[0]!r} (known: {', '.join(sorted(known))})")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty name")
    return value.strip()


def _names(where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of names")
    return tuple(_name(where, v) for v in value)


def _kind(where: str, t: Mapping[str, Any]) -> Kind:
    kind = _name(f"{where}.kind", t.get("kind"))
    custom = {k: t[k] for k in ("api_version", "plural", "field", "value") if k in t}
    if kind in PRESETS and not custom:
        return PRESETS[kind]
    if kind in PRESETS:
        raise ConfigError(f"{where}: {kind} is a preset; drop {sorted(custom)[0]} (or name another kind)")
    missing = [k for k in ("api_version", "plural", "field") if k not in custom]
    if missing:
        presets = ", ".join(PRESETS)
        raise ConfigError(f"{where}: kind {kind!r} is not a preset ({presets}); give api_version, plural and field")
    api = _name(f"{where}.api_version", custom["api_version"])
    if not _API_VERSION.match(api):
        raise ConfigError(f"{where}.api_version: expected GROUP/VERSION (e.g. example.com/v1), got {api!r}")
    field = _name(f"{where}.field", custom["field"])
    if not _FIELD.match(field):
        raise ConfigError(f"{where}.field: expected a dotted path under spec (e.g. spec.paused), got {field!r}")
    value = custom.get("value", True)
    if not isinstance(value, bool | int | float | str):
        raise ConfigError(f"{where}.value: expected true/false, a number or a string")
    return Kind(kind, api, _name(f"{where}.plural", custom["plural"]).lower(), field, value)


def _argocd(raw: Any, retries: int) -> SyncWindowRef:
    where = f"{W}.argocd"
    a = _table(where, raw, _ARGOCD)
    duration = _name(f"{where}.duration", a.get("duration", "24h"))
    if not _DURATION.match(duration) or duration in ("", "0h", "0m"):
        raise ConfigError(f"{where}.duration: expected hours and/or minutes such as '24h' or '1h30m', got {duration!r}")
    manual = a.get("manual_sync", False)
    if not isinstance(manual, bool):
        raise ConfigError(f"{where}.manual_sync: expected true or false")
    r = a.get("conflict_retries", retries)
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= 50:
        raise ConfigError(f"{where}.conflict_retries: expected a whole number from 0 to 50, got {r!r}")
    return SyncWindowRef(
        projects=_names(f"{where}.projects", a.get("projects")),
        namespace=_name(f"{where}.namespace", a.get("namespace", "argocd")),
        applications=_names(f"{where}.applications", a.get("applications", ["*"])),
        duration=duration,
        manual_sync=manual,
        conflict_retries=r,
    )


def parse_freeze(raw: Any, namespace: str, conflict_retries: int = 5) -> FreezeRef:
    f = _table(W, raw, _FREEZE)
    ns = _name(f"{W}.namespace", f.get("namespace", namespace))
    targets: list[Target] = []
    if "cronjob_selector" in f:
        targets.append(Target(PRESETS["CronJob"], _name(f"{W}.cronjob_selector", f["cronjob_selector"]), ns))
    raw_targets = f.get("targets", [])
    if not isinstance(raw_targets, list):
        raise ConfigError(f"{W}.targets: expected a list of tables ([[plugins.kubernetes.freeze.targets]])")
    for i, t in enumerate(raw_targets):
        where = f"{W}.targets[{i}]"
        t = _table(where, t, _TARGET)
        targets.append(
            Target(
                _kind(where, t),
                _name(f"{where}.selector", t.get("selector")),
                _name(f"{where}.namespace", t.get("namespace", ns)),
            )
        )
    argocd = _argocd(f["argocd"], conflict_retries) if "argocd" in f else None
    if not targets and argocd is None:
        raise ConfigError(f"{W}: nothing to freeze: set cronjob_selector, [[{W}.targets]] or [{W}.argocd]")
    timeout = f.get("timeout_s", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise ConfigError(f"{W}.timeout_s: expected a positive number of seconds up to 600, got {timeout!r}")
    return FreezeRef(tuple(targets), argocd, float(timeout), ns)
