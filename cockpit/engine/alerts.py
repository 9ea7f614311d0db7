"""`[engine] alerts_listen`: an authenticated HTTP endpoint on `cockpit engine` where an Alertmanager
webhook (or a pager, anything that speaks its JSON) declares an incident. It never arms: arming, and
releasing, stay with an operator.

    POST /alerts   Authorization: Bearer <token>   Content-Type: application/json
    {"version": "4", "status": "firing", "receiver": "cockpit", "groupKey": "...",
     "alerts": [{"status": "firing", "labels": {"alertname": ...}, "annotations": {...},
                 "startsAt": "2026-12-01T20:00:00Z", ...}], ...}

- A firing alert declares an incident when none is open (journaled as the ``declare`` command by
  ``alertmanager:<receiver>``), and every accepted payload is journaled as ``alert_received`` with its
  alerts' labels, annotations and start times (bounded). Resolved alerts are journaled and release
  nothing: only an operator releases. Answers 200 with what happened.
- Refused, with one sentence and nothing journaled but the refusal (``alert_refused``, at most one a
  second per peer): a missing or wrong bearer token (401), no Content-Length (411), a body over
  ``alerts_max_body_kb`` (413, never read), a body that is not Alertmanager's webhook JSON (400).
- A standby answers 503 so Alertmanager retries (list every engine's endpoint in its receiver).

The listener is a small HTTP/1.1 responder on the engine's event loop: a request costs no thread, is
bounded in time (headers 5 s, body 10 s), size (request line and each header 8 KB, at most 100
headers) and number (at most 32 connections at once), and never holds the engine lock while reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.engine.auth import RefusalLimiter
from cockpit.errors import CockpitError, abbreviate

log = logging.getLogger("cockpit.engine.alerts")

PATH = "/alerts"
HEADER_TIMEOUT_S = 5.0
BODY_TIMEOUT_S = 10.0
MAX_HEADERS = 100
MAX_CONNECTIONS = 32
ALERTS_KEPT = 20  # alerts kept per journal entry
LABELS_KEPT = 50
TOKEN_MIN = 16
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {411: "Length Required", 413: "Content Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class Refused(Exception):
    def __init__(self, status: int, message: str, journal: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.journal = journal


def load_token(section: Any, config_dir: Path) -> str:
    """The bearer token from `alerts_token_env` or `alerts_token_file` (exactly one), 16+ characters."""
    env, file = section.alerts_token_env, section.alerts_token_file
    if bool(env) == bool(file):
        raise CockpitError("[engine] alerts_listen: set alerts_token_env or alerts_token_file (one of them)")
    if env:
        token = os.environ.get(env, "").strip()
        where = f"[engine] alerts_token_env: ${env}"
    else:
        path = Path(file).expanduser()
        path = path if path.is_absolute() else config_dir / path
        try:
            lines = path.read_text().strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CockpitError(f"[engine] alerts_token_file: cannot read {path} ({type(exc).__name__})") from None
        token = lines[0].strip() if lines else ""
        where = f"[engine] alerts_token_file: {path}"
    if len(token) < TOKEN_MIN:
        raise CockpitError(f"{where} must hold a token of {TOKEN_MIN} characters or more")
    return token


def _strings(where: str, value: Any, required: bool = True) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Refused(400, f"{where} must be an object of strings")
    return {abbreviate(k, 100): abbreviate(v, 200) for k, v in list(value.items())[:LABELS_KEPT]}


def _alert(i: int, a: Any) -> dict[str, Any]:
    if not isinstance(a, dict):
        raise Refused(400, f"alerts[{i}] must be an object")
    if a.get("status") not in ("firing", "resolved"):
        raise Refused(400, f"alerts[{i}].status must be 'firing' or 'resolved'")
    starts = a.get("startsAt")
    try:
        datetime.fromisoformat(starts) if isinstance(starts, str) else None
    except ValueError:
        starts = None
    if not isinstance(starts, str):
        raise Refused(400, f"alerts[{i}].startsAt must be an RFC 3339 time")
    return {
        "status": a["status"],
        "labels": _strings(f"alerts[{i}].labels", a.get("labels")),
        "annotations": _strings(f"alerts[{i}].annotations", a.get("annotations"), required=False),
        "startsAt": abbreviate(starts, 40),
    }


def parse_payload(raw: bytes) -> dict[str, Any]:
    """Alertmanager's webhook JSON (version "4"), checked and cut to what the journal keeps."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object (Alertmanager's webhook payload)")
    if body.get("version") != "4":
        raise Refused(
            400,
            f'version must be "4" (Alertmanager\'s webhook payload), not {abbreviate(repr(body.get("version")), 20)}',
        )
    if body.get("status") not in ("firing", "resolved"):
        raise Refused(400, "status must be 'firing' or 'resolved'")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise Refused(400, "alerts must be a non-empty list")
    receiver = body.get("receiver", "")
    if not isinstance(receiver, str):
        raise Refused(400, "receiver must be a string")
    checked = [_alert(i, a) for i, a in enumerate(alerts)]
    truncated = body.get("truncatedAlerts", 0)
    return {
        "receiver": abbreviate(receiver, 64) or "alertmanager",
        "status": body["status"],
        "group_key": abbreviate(str(body.get("groupKey", "")), 200),
        "count": len(checked) + (truncated if isinstance(truncated, int) and truncated > 0 else 0),
        "alerts": checked[:ALERTS_KEPT],
        "firing": [a for a in checked if a["status"] == "firing"],
    }


def _reason(alert: Mapping[str, Any]) -> str:
    labels, notes = alert["labels"], alert["annotations"]
    what = labels.get("alertname", "alert")
    detail = notes.get("summary") or notes.get("description") or ""
    return abbreviate(f"alert {what}" + (f": {detail}" if detail else "") + " (declared by Alertmanager)", 200)


class AlertIntake:
    """The listener. `server` is the EngineServer (its engine, role and command lock)."""

    def __init__(self, server: Any, token: str, max_body: int) -> None:
        self.server = server
        self.token = token.encode()
        self.max_body = max_body
        self.refusals = RefusalLimiter()
        self._srv: asyncio.AbstractServer | None = None
        self._open = 0

    async def start(self, host: str, port: int) -> tuple[str, int]:
        try:
            self._srv = await asyncio.start_server(self._serve, host, port, limit=8192, reuse_address=True)
        except OSError as exc:
            raise CockpitError(f"[engine] alerts_listen {host}:{port}: cannot listen ({exc.strerror or exc})") from None
        return host, self._srv.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._srv is not None:
            self._srv.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._srv.wait_closed(), 2.0)

    # One request ---------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str((writer.get_extra_info("peername") or ("?",))[0])
        self._open += 1
        try:
            if self._open > MAX_CONNECTIONS:
                await self._reply(writer, 503, {"error": "too many connections; retry"})
                return
            try:
                status, out = await self._request(reader, peer)
            except Refused as r:
                if r.journal:
                    await self._journal_refusal(peer, str(r))
                status, out = r.status, {"error": str(r)}
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
                return  # a client that stalls or sends garbage is dropped without a word
            await self._reply(writer, status, out)
        except Exception as exc:  # the engine's loop must never go down for one request
            log.warning("alert intake: %s", abbreviate(str(exc), 200))
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _request(self, reader: asyncio.StreamReader, peer: str) -> tuple[int, dict[str, Any]]:
        line = await asyncio.wait_for(reader.readline(), HEADER_TIMEOUT_S)
        parts = line.decode("latin-1").split()
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            h = await asyncio.wait_for(reader.readline(), HEADER_TIMEOUT_S)
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        else:
            raise Refused(400, f"more than {MAX_HEADERS} headers", journal=False)
        if len(parts) != 3:
            raise Refused(400, "malformed request line", journal=False)
        method, target = parts[0], parts[1].split("?", 1)[0]
        if target != PATH:
            raise Refused(404, f"not found: POST Alertmanager's webhook to {PATH}", journal=False)
        if method != "POST":
            raise Refused(405, f"only POST {PATH}", journal=False)
        self._authorize(headers.get("authorization", ""))
        body = await self._body(reader, headers)
        payload = parse_payload(body)
        return await self._act(payload, peer)

    def _authorize(self, header: str) -> None:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            raise Refused(401, "missing or wrong bearer token (Alertmanager: http_config.authorization)")

    async def _body(self, reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" not in headers:
            raise Refused(411, "a Content-Length is required")
        try:
            n = int(headers["content-length"])
        except ValueError:
            raise Refused(400, "the Content-Length is not a number") from None
        if n < 0 or n > self.max_body:
            raise Refused(413, f"the body is over {self.max_body // 1024} KB ([engine] alerts_max_body_kb)")
        return await asyncio.wait_for(reader.readexactly(n), BODY_TIMEOUT_S)

    # What an accepted alert does ----------------------------------------------------------------------
    async def _act(self, payload: dict[str, Any], peer: str) -> tuple[int, dict[str, Any]]:
        s = self.server
        who = f"alertmanager:{payload['receiver']}"
        async with s._mutate:  # one step with the operators' commands
            engine = s.engine
            if engine is None or s.role != "leader":
                raise Refused(503, f"this engine is a {s.role}: send alerts to the leader (list every engine)", False)
            declared = False
            incident = engine.incident
            if payload["firing"] and not (incident and incident.open):
                try:
                    await engine.command("declare", operator=who, reason=_reason(payload["firing"][0]))
                except Exception as exc:  # a journal that cannot be written: Alertmanager retries
                    raise Refused(503, f"the engine could not declare: {abbreviate(str(exc), 200)}", False) from None
                declared = True
            incident = engine.incident
            data = {k: v for k, v in payload.items() if k != "firing"}
            data |= {"peer": peer, "declared": declared, "incident": incident.id if incident else None}
            async with engine.lock:
                with engine.journal.transaction():
                    engine.journal.append("alert_received", data, engine.clock.now(), who)
        log.info("alert from %s (%s): %s", who, payload["status"], "incident declared" if declared else "journaled")
        out: dict[str, Any] = {"status": "ok", "declared": declared, "incident": data["incident"]}
        if not payload["firing"]:
            out["note"] = "resolved alerts do not release the incident; an operator does"
        return 200, out

    async def _journal_refusal(self, peer: str, why: str) -> None:
        log.warning("alert refused from %s: %s", peer, why)
        engine = self.server.engine
        if engine is None or self.server.role != "leader" or not self.refusals.allow(peer):
            return
        data: dict[str, Any] = {"peer": peer, "reason": abbreviate(why, 200)}
        suppressed = self.refusals.suppressed.pop(peer, 0)
        if suppressed:
            data["suppressed_since_last"] = suppressed
        async with engine.lock:
            with contextlib.suppress(Exception), engine.journal.transaction():
                engine.journal.append("alert_refused", data, engine.clock.now(), "alert-intake")

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, body: Mapping[str, Any]) -> None:
        data = (json.dumps(body) + "\n").encode()
        extra = "WWW-Authenticate: Bearer\r\n" if status == 401 else ""
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + data)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), 5.0)
