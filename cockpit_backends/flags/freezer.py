"""Turning flags off and back on: the state file, and the two services' REST calls.

LaunchDarkly (https://launchdarkly.com/docs/api/feature-flags):
    read    GET   {url}/api/v2/flags/{project}/{flag}?env={environment}   -> environments.{env}.on
    off/on  PATCH {url}/api/v2/flags/{project}/{flag}
            Content-Type: application/json; domain-model=launchdarkly.semanticpatch
            {"environmentKey": env, "instructions": [{"kind": "turnFlagOff" | "turnFlagOn"}], "comment": …}
    auth    Authorization: <access token>  (no scheme)

Unleash (https://docs.getunleash.io/api, Admin API):
    read    GET   {url}/api/admin/projects/{project}/features/{flag}/environments/{environment} -> enabled
    off/on  POST  {url}/api/admin/projects/{project}/features/{flag}/environments/{environment}/off | /on
    auth    Authorization: <admin or personal access token>
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from cockpit.redact import scrub

NAMES = {"launchdarkly": "LaunchDarkly", "unleash": "Unleash"}
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class FlagError(Exception):
    """One sentence naming the service, the flag, the call and the answer; never the token."""


class Service:
    def __init__(self, opts: Mapping[str, Any]) -> None:
        self.opts = opts
        self.name = NAMES[opts["service"]]
        self.token = os.environ.get(opts["token_env"], "")
        self.env = opts["environment"]
        self.http = httpx.Client(
            base_url=opts["url"],
            timeout=opts["timeout_s"],
            headers={"Authorization": self.token, "Accept": "application/json"},
        )

    def _q(self, part: str) -> str:
        return quote(part, safe="")

    def _call(self, what: str, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise FlagError(f"{self.name}: {what}: cannot reach {self.opts['url']} ({type(exc).__name__})") from None
        if r.status_code >= 300:
            detail = ""
            try:
                body = r.json()
                detail = str(body.get("message") or body.get("details") or "") if isinstance(body, dict) else ""
            except ValueError:
                pass
            detail = scrub(detail[:200], self.token)
            raise FlagError(
                f"{self.name}: {what}: {r.status_code} {r.reason_phrase}" + (f" ({detail})" if detail else "")
            )
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise FlagError(f"{self.name}: {what}: the answer is not JSON") from None

    def is_on(self, flag: str) -> bool:
        raise NotImplementedError

    def set(self, flag: str, on: bool, incident: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()


class LaunchDarkly(Service):
    def _path(self, flag: str) -> str:
        return f"/api/v2/flags/{self._q(self.opts['project'])}/{self._q(flag)}"

    def is_on(self, flag: str) -> bool:
        body = self._call(f"read flag {flag}", "GET", self._path(flag), params={"env": self.env})
        on = ((body or {}).get("environments") or {}).get(self.env, {}).get("on")
        if not isinstance(on, bool):
            raise FlagError(f"{self.name}: read flag {flag}: no environments.{self.env}.on in the answer")
        return on

    def set(self, flag: str, on: bool, incident: str) -> None:
        kind = "turnFlagOn" if on else "turnFlagOff"
        body = {
            "environmentKey": self.env,
            "instructions": [{"kind": kind}],
            "comment": f"cockpit: incident {incident} {'released' if on else 'freeze'}",
        }
        what = f"turn flag {flag} {'on' if on else 'off'} in {self.env}"
        self._call(what, "PATCH", self._path(flag), content=json.dumps(body), headers={"Content-Type": SEMANTIC_PATCH})


class Unleash(Service):
    def _path(self, flag: str) -> str:
        o = self.opts
        return f"/api/admin/projects/{self._q(o['project'])}/features/{self._q(flag)}/environments/{self._q(self.env)}"

    def is_on(self, flag: str) -> bool:
        body = self._call(f"read flag {flag}", "GET", self._path(flag))
        on = (body or {}).get("enabled")
        if not isinstance(on, bool):
            raise FlagError(f"{self.name}: read flag {flag}: no 'enabled' in the answer")
        return on

    def set(self, flag: str, on: bool, incident: str) -> None:
        what = f"{'enable' if on else 'disable'} flag {flag} in {self.env}"
        self._call(what, "POST", self._path(flag) + ("/on" if on else "/off"))


# State ------------------------------------------------------------------------------------------------
def _load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise FlagError(f"{path}: the flag freeze state cannot be read ({type(exc).__name__})") from None
    return data if isinstance(data, dict) else {}


def _save(path: str, data: Mapping[str, Any]) -> None:
    """Written whole and atomically, before the flag it records is touched."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        raise FlagError(
            f"{path}: the flag freeze state cannot be written ({exc.strerror or type(exc).__name__})"
        ) from None


def _clear(path: str) -> None:
    Path(path).unlink(missing_ok=True)


# The three verbs ---------------------------------------------------------------------------------------
def _flags(opts: Mapping[str, Any], incident: Mapping[str, Any]) -> list[str]:
    if opts["flags"] is not None:
        return list(opts["flags"])
    manifest = incident.get("freeze") or {}
    return [str(f) for f in manifest.get("flags") or []]


def _freeze(svc: Service, flags: Sequence[str], state_file: str, incident: str) -> tuple[list[str], list[str]]:
    """Turn off every flag that reads on, the prior values recorded first. (done, errors)"""
    old = _load(state_file)
    # a new incident keeps what an earlier one could not restore (a release that failed for a flag)
    prior: dict[str, bool] = dict(old.get("prior") or {})
    state = {"incident": incident, "prior": prior}
    if old.get("incident") != incident:
        _save(state_file, state)
    done, errors = [], []
    for flag in flags:
        try:
            on = svc.is_on(flag)
            if flag not in prior:  # the value before the incident: kept from the first read
                prior[flag] = on
                _save(state_file, state)
            if on:
                svc.set(flag, False, incident)
                done.append(f"{svc.name} flag {flag} off in {svc.env}")
        except FlagError as exc:
            errors.append(str(exc))
    return done, errors


def _thaw(svc: Service, state_file: str, incident: str) -> tuple[list[str], list[str]]:
    """Turn back on the flags that were on before (and read off now); then forget the state."""
    state = _load(state_file)
    done, errors = [], []
    for flag, was_on in sorted((state.get("prior") or {}).items()):
        if not was_on:
            continue
        try:
            if not svc.is_on(flag):
                svc.set(flag, True, str(state.get("incident") or incident))
                done.append(f"{svc.name} flag {flag} on in {svc.env}")
        except FlagError as exc:
            errors.append(str(exc))
    if not errors:
        _clear(state_file)
    return done, errors


def run(action: str, opts: Mapping[str, Any], incident: Mapping[str, Any]) -> list[str]:
    """`action` ("freeze", "reassert", "thaw") on one service, each flag in isolation; what changed.
    Failures are raised together as one sentence after every flag was tried."""
    ident = str(incident.get("id") or "incident")
    svc: Service = LaunchDarkly(opts) if opts["service"] == "launchdarkly" else Unleash(opts)
    try:
        if action == "thaw":
            done, errors = _thaw(svc, opts["state_file"], ident)
        else:
            done, errors = _freeze(svc, _flags(opts, incident), opts["state_file"], ident)
    finally:
        svc.close()
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise FlagError(errors[0] + more)
    return done


def check(opts: Mapping[str, Any], incident: Mapping[str, Any]) -> list[tuple[str, bool, str]]:
    """Read each flag (never change it): what a declare would do to it."""
    svc: Service = LaunchDarkly(opts) if opts["service"] == "launchdarkly" else Unleash(opts)
    flags = _flags(opts, incident)
    if not flags:
        return [(f"{svc.name} flags", False, "no flags to freeze: set [freeze] flags or this table's flags")]
    out = []
    try:
        for flag in flags:
            what = f"{svc.name} flag {flag} in {svc.env}"
            try:
                on = svc.is_on(flag)
            except FlagError as exc:
                out.append((what, False, str(exc)))
                continue
            out.append((what, True, "on: a declare turns it off" if on else "off: a declare leaves it off"))
    finally:
        svc.close()
    return out
