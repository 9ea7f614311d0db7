"""Freeze on incident: suspend, pause or fence off what drives scheduled rollouts, and only that.

Two freezers, each with the same three verbs (``freeze`` on declare, ``reassert`` while the incident is
open, ``thaw`` on release), each returning what it changed:

``KindFreezer``
    the objects of one kind matching a label selector (CronJobs, Argo Rollouts, Flux Kustomizations and
    HelmReleases, or any kind with a field that freezes it). Freezing sets the field with one merge patch
    that also marks the object: ``cockpit.dev/suspended-by: <incident>`` and
    ``cockpit.dev/suspended-prior: <the field's value before, as JSON>``. An object already at the frozen
    value and not marked (an operator paused it) is left alone. Releasing patches the field back to the
    recorded prior value (``null`` removes a field that was absent) and drops both marks. The marks live
    on the objects, so a restarted cockpit still knows what it froze. Re-asserting is freezing again: an
    object that reads back unfrozen (resumed by hand, re-applied by GitOps, created since) is frozen and
    named; a marked one keeps its first prior value.

``SyncWindowFreezer``
    a ``deny`` window on Argo CD AppProjects (``spec.syncWindows``), added on declare and removed on
    release. A list cannot be merge-patched without overwriting it, so each change is read-modify-write:
    ``PUT`` with the ``resourceVersion`` read, re-read on 409 Conflict. The window added is recorded in
    the ``cockpit.dev/sync-window`` annotation; release removes exactly that window and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubernetes import client

from cockpit_backends.kubernetes.api import MERGE_PATCH, KubernetesError, call_sync
from cockpit_backends.kubernetes.freeze_options import FreezeRef, SyncWindowRef, Target

MARK = "cockpit.dev/suspended-by"
PRIOR = "cockpit.dev/suspended-prior"
WINDOW = "cockpit.dev/sync-window"
APPPROJECT = ("argoproj.io", "v1alpha1", "appprojects")


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    """{"spec": {"paused": value}} for "spec.paused"."""
    parts = dotted.split(".")
    out: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        out = {part: out}
    return out


def _marks(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _each(items: Sequence[Any], act: Callable[[Any], str | None], done_word: str, what: str) -> list[str]:
    """Act on every item, going on past failures; one sentence if any failed. The names acted on."""
    done, errors = [], []
    for item in items:
        try:
            name = act(item)
        except KubernetesError as exc:
            errors.append(str(exc))
            continue
        if name:
            done.append(name)
    if errors:
        raise KubernetesError(f"{len(errors)} {what} not {done_word}; first: {errors[0]}")
    return done


class KindFreezer:
    def __init__(self, api: client.ApiClient, target: Target, timeout_s: float) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.target = target
        self.timeout = timeout_s
        group, _, version = target.kind.api_version.rpartition("/")
        self._gv = (group, version)

    @property
    def verbs(self) -> tuple[str, str]:
        return self.target.kind.verbs

    def describe(self, action: str) -> str:
        return f"{self.target.kind.kind} {self.verbs[1] if action == 'thaw' else self.verbs[0]}"

    def _list(self) -> list[dict[str, Any]]:
        t = self.target
        out = call_sync(
            f"list {t.kind.kind}s in {t.namespace} matching {t.selector!r}",
            self.objects.list_namespaced_custom_object,
            *self._gv,
            t.namespace,
            t.kind.plural,
            label_selector=t.selector,
            _request_timeout=self.timeout,
        )
        return list(out.get("items") or [])

    def _patch(self, name: str, body: Mapping[str, Any], verb: str) -> None:
        t = self.target
        call_sync(
            f"{verb} {t.kind.kind} {t.namespace}/{name}",
            self.objects.patch_namespaced_custom_object,
            *self._gv,
            t.namespace,
            t.kind.plural,
            name,
            dict(body),
            _content_type=MERGE_PATCH,
            _request_timeout=self.timeout,
        )

    def _freeze_one(self, obj: Mapping[str, Any], mark: str) -> str | None:
        kind = self.target.kind
        current = _get(obj, kind.field)
        marks = _marks(obj)
        if current == kind.value:  # frozen already: by us (nothing to do) or by hand (not ours to touch)
            return None
        prior = marks[PRIOR] if MARK in marks and PRIOR in marks else json.dumps(current)
        patch = {"metadata": {"annotations": {MARK: marks.get(MARK, mark), PRIOR: prior}}}
        patch |= _nest(kind.field, kind.value)
        name = str(obj["metadata"]["name"])
        self._patch(name, patch, self.verbs[0])
        return f"{kind.kind} {self.target.namespace}/{name}"

    def freeze(self, incident: Mapping[str, Any]) -> list[str]:
        """Freeze every matching object not frozen already; the ones frozen ("Rollout models/canary")."""
        mark = str(incident.get("id") or "incident")
        return _each(
            self._list(), lambda o: self._freeze_one(o, mark), f"{self.verbs[0]}d", f"{self.target.kind.kind}(s)"
        )

    reassert = freeze  # the same check: whatever reads back unfrozen is frozen again, and named

    def _thaw_one(self, obj: Mapping[str, Any]) -> str | None:
        kind = self.target.kind
        marks = _marks(obj)
        try:  # a mark without the prior value (an older cockpit's CronJob mark): the field's default
            prior = json.loads(marks[PRIOR]) if PRIOR in marks else None
        except ValueError:
            prior = None
        if prior is None and kind.kind == "CronJob":
            prior = False
        patch = {"metadata": {"annotations": {MARK: None, PRIOR: None}}} | _nest(kind.field, prior)
        name = str(obj["metadata"]["name"])
        self._patch(name, patch, self.verbs[1])
        return f"{kind.kind} {self.target.namespace}/{name}"

    def check(self) -> list[tuple[str, bool, str]]:
        """`plugins check`: list the target (read-only) and say what a declare would do."""
        t = self.target
        what = f"{t.kind.kind}s in {t.namespace} matching {t.selector!r}"
        try:
            items = self._list()
        except KubernetesError as exc:
            return [(what, False, str(exc))]
        frozen = [o for o in items if _get(o, t.kind.field) == t.kind.value]
        mine = sum(1 for o in frozen if MARK in _marks(o))
        detail = f"{len(items)} found, {len(items) - len(frozen)} to {self.verbs[0]}"
        if frozen:
            detail += f", {len(frozen)} frozen already ({mine} by a cockpit, {len(frozen) - mine} by hand)"
        return [(what, True, detail)]

    def thaw(self, incident: Mapping[str, Any]) -> list[str]:
        """Put back the prior value on the objects this cockpit froze (those carrying its mark)."""
        mine = [o for o in self._list() if MARK in _marks(o)]
        return _each(mine, self._thaw_one, f"{self.verbs[1]}d", f"{self.target.kind.kind}(s)")


class SyncWindowFreezer:
    verbs = ("deny window", "window removal")

    def __init__(self, api: client.ApiClient, ref: SyncWindowRef, timeout_s: float) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.ref = ref
        self.timeout = timeout_s

    def describe(self, action: str) -> str:
        return "Argo CD sync window " + ("removal" if action == "thaw" else "freeze")

    def window(self) -> dict[str, Any]:
        """The deny window: active at every minute for `duration`, so always active while it exists."""
        r = self.ref
        return {
            "kind": "deny",
            "schedule": "* * * * *",
            "duration": r.duration,
            "applications": list(r.applications),
            "manualSync": r.manual_sync,
        }

    def _read(self, name: str) -> dict[str, Any]:
        g, v, p = APPPROJECT
        return call_sync(
            f"read AppProject {self.ref.namespace}/{name}",
            self.objects.get_namespaced_custom_object,
            g,
            v,
            self.ref.namespace,
            p,
            name,
            _request_timeout=self.timeout,
        )

    def _write(self, name: str, obj: Mapping[str, Any]) -> None:
        g, v, p = APPPROJECT
        call_sync(
            f"update AppProject {self.ref.namespace}/{name}",
            self.objects.replace_namespaced_custom_object,
            g,
            v,
            self.ref.namespace,
            p,
            name,
            dict(obj),
            _request_timeout=self.timeout,
        )

    def _edit(self, name: str, change: Callable[[dict[str, Any]], bool]) -> bool:
        """Read, change in place, PUT with the resourceVersion read; on 409 read again (bounded). False
        when `change` found nothing to do."""
        for attempt in range(self.ref.conflict_retries + 1):
            obj = self._read(name)
            if not change(obj):
                return False
            try:
                self._write(name, obj)
                return True
            except KubernetesError as exc:
                if exc.status != 409 or attempt == self.ref.conflict_retries:
                    raise
        return False  # not reached

    def _add(self, obj: dict[str, Any], mark: str) -> bool:
        spec = obj.setdefault("spec", {})
        windows = spec.get("syncWindows") or []
        meta = obj.setdefault("metadata", {})
        notes = meta.get("annotations") or {}
        ours = json.loads(notes[WINDOW]) if WINDOW in notes else self.window()
        if ours in windows:
            return False
        spec["syncWindows"] = [*windows, ours]
        meta["annotations"] = {**notes, MARK: notes.get(MARK, mark), WINDOW: json.dumps(ours, sort_keys=True)}
        return True

    @staticmethod
    def _remove(obj: dict[str, Any]) -> bool:
        meta = obj.setdefault("metadata", {})
        notes = dict(meta.get("annotations") or {})
        if WINDOW not in notes:
            return False
        ours = json.loads(notes.pop(WINDOW))
        notes.pop(MARK, None)
        windows = list((obj.get("spec") or {}).get("syncWindows") or [])
        if ours in windows:
            windows.remove(ours)  # the first equal one: a window an operator added alike stays
        obj.setdefault("spec", {})["syncWindows"] = windows
        meta["annotations"] = notes
        return True

    def freeze(self, incident: Mapping[str, Any]) -> list[str]:
        mark = str(incident.get("id") or "incident")

        def one(name: str) -> str | None:
            return f"AppProject {self.ref.namespace}/{name}" if self._edit(name, lambda o: self._add(o, mark)) else None

        return _each(self.ref.projects, one, "given a deny window", "AppProject(s)")

    reassert = freeze  # a window removed by hand (or by a GitOps sync of the project) is added again

    def check(self) -> list[tuple[str, bool, str]]:
        out = []
        for name in self.ref.projects:
            what = f"AppProject {self.ref.namespace}/{name}"
            try:
                obj = self._read(name)
            except KubernetesError as exc:
                out.append((what, False, str(exc)))
                continue
            windows = (obj.get("spec") or {}).get("syncWindows") or []
            ours = WINDOW in _marks(obj)
            out.append(
                (what, True, f"{len(windows)} sync window(s)" + ("; a cockpit deny window is in place" if ours else ""))
            )
        return out

    def thaw(self, incident: Mapping[str, Any]) -> list[str]:
        def one(name: str) -> str | None:
            return f"AppProject {self.ref.namespace}/{name}" if self._edit(name, self._remove) else None

        return _each(self.ref.projects, one, "rid of the deny window", "AppProject(s)")


class Freezer:
    """Every configured freezer, each in isolation: one that fails does not stop the others; the
    failures are raised as one sentence after all have run."""

    def __init__(self, api: client.ApiClient, ref: FreezeRef, timeout_s: float) -> None:
        self.parts: list[Any] = [KindFreezer(api, t, timeout_s) for t in ref.targets]
        if ref.argocd is not None:
            self.parts.append(SyncWindowFreezer(api, ref.argocd, timeout_s))

    def describe(self, action: str) -> str:
        return ", ".join(p.describe(action) for p in self.parts)

    def _all(self, action: str, incident: Mapping[str, Any]) -> list[str]:
        done: list[str] = []
        errors: list[KubernetesError] = []
        for part in self.parts:
            try:
                done += getattr(part, action)(incident)
            except KubernetesError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]  # as raised, so the error still names the frame that failed
        if errors:
            raise KubernetesError(f"{errors[0]} (and {len(errors) - 1} more freezer(s) failed)")
        return done

    def freeze(self, incident: Mapping[str, Any]) -> list[str]:
        return self._all("freeze", incident)

    def reassert(self, incident: Mapping[str, Any]) -> list[str]:
        return self._all("reassert", incident)

    def thaw(self, incident: Mapping[str, Any]) -> list[str]:
        return self._all("thaw", incident)

    def check(self) -> list[tuple[str, bool, str]]:
        return [c for part in self.parts for c in part.check()]
