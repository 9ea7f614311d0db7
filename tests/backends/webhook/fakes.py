"""Local stand-ins for three incident endpoints, over real HTTP, checking the documented shapes and
refusing anything else the way the service does:

- Slack incoming webhook (POST /services/T…/B…/…): JSON with a non-empty `text` (the fallback when
  `blocks` are given); blocks of known types; section/header text objects of type mrkdwn/plain_text
  (header plain_text only, at most 150 characters; section text at most 3,000). Answers 200 "ok", or
  400 "invalid_payload" / "no_text" / "invalid_blocks" as text/plain.
- PagerDuty Events API v2 (POST /v2/enqueue): routing_key of 32 characters; event_action trigger,
  acknowledge or resolve; dedup_key at most 255 characters (required to acknowledge/resolve); a trigger
  needs payload.summary (at most 1,024), payload.source and payload.severity (critical, error, warning,
  info); payload.timestamp ISO 8601 when given. Answers 202 {"status": "success", "message": "Event
  processed", "dedup_key": …} or 400 {"status": "invalid event", "message": …, "errors": [...]}.
- incident.io HTTP alert source (POST /v2/alert_events/http/{alert_source_config_id}, Authorization:
  Bearer <token>): status firing|resolved, title, deduplication_key (required for new sources); optional
  description, metadata (an object), source_url; other fields refused. Answers 202 {"status":
  "success", "message": "Event accepted for processing", "deduplication_key": …}, 401, or 422.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_PATH = "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"
BLOCK_TYPES = {"section", "header", "context", "divider", "actions", "image", "rich_text"}


def slack(path: str, headers: dict[str, str], body: Any) -> tuple[int, str, Any]:
    if path != SLACK_PATH:
        return 404, "text/plain", "no_service"
    if not isinstance(body, dict):
        return 400, "text/plain", "invalid_payload"
    text, blocks = body.get("text"), body.get("blocks")
    if not isinstance(text, str) or not text.strip():
        return 400, "text/plain", "no_text"
    if blocks is not None and (not isinstance(blocks, list) or not all(_block_ok(b) for b in blocks)):
        return 400, "text/plain", "invalid_blocks"
    return 200, "text/plain", "ok"


def _block_ok(b: Any) -> bool:
    if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
        return False
    if b["type"] == "header":
        t = b.get("text") or {}
        return t.get("type") == "plain_text" and isinstance(t.get("text"), str) and 0 < len(t["text"]) <= 150
    if b["type"] == "section":
        t = b.get("text") or {}
        return (
            t.get("type") in ("mrkdwn", "plain_text") and isinstance(t.get("text"), str) and 0 < len(t["text"]) <= 3000
        )
    if b["type"] == "context":
        els = b.get("elements")
        return (
            isinstance(els, list)
            and 0 < len(els) <= 10
            and all(e.get("type") in ("mrkdwn", "plain_text", "image") for e in els)
        )
    return True


def pagerduty(path: str, headers: dict[str, str], body: Any) -> tuple[int, str, Any]:
    if path != "/v2/enqueue":
        return 404, "application/json", {"status": "not found"}
    errors = _pd_errors(body)
    if errors:
        return (
            400,
            "application/json",
            {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        )
    return (
        202,
        "application/json",
        {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key") or "generated"},
    )


def _pd_errors(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character integration key")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        p = body.get("payload")
        if not isinstance(p, dict):
            return [*errors, "'payload' is missing"]
        summary = p.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("'payload.summary' is required (at most 1024 characters)")
        if not isinstance(p.get("source"), str) or not p["source"]:
            errors.append("'payload.source' is required")
        if p.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("'payload.severity' must be one of: critical, error, warning, info")
        if "timestamp" in p:
            try:
                datetime.fromisoformat(p["timestamp"])
            except (TypeError, ValueError):
                errors.append("'payload.timestamp' must be ISO 8601")
        if "custom_details" in p and not isinstance(p["custom_details"], dict | str):
            errors.append("'payload.custom_details' must be an object")
    return errors


INCIDENTIO_FIELDS = {"status", "title", "deduplication_key", "description", "metadata", "source_url"}


def incidentio(token: str, config_id: str):
    def handle(path: str, headers: dict[str, str], body: Any) -> tuple[int, str, Any]:
        if path != f"/v2/alert_events/http/{config_id}":
            return 404, "application/json", {"type": "not_found", "status": 404}
        if headers.get("authorization") != f"Bearer {token}":
            return 401, "application/json", {"type": "authentication_error", "status": 401}
        problems = []
        if not isinstance(body, dict):
            problems.append("body must be an object")
        else:
            if body.get("status") not in ("firing", "resolved"):
                problems.append("status must be one of [firing, resolved]")
            if not isinstance(body.get("title"), str) or not body["title"]:
                problems.append("title is required")
            if not isinstance(body.get("deduplication_key"), str) or not body["deduplication_key"]:
                problems.append("deduplication_key is required")
            if "metadata" in body and not isinstance(body["metadata"], dict):
                problems.append("metadata must be an object")
            extra = sorted(set(body) - INCIDENTIO_FIELDS)
            if extra:
                problems.append(f"unknown field {extra[0]}")
        if problems:
            return (
                422,
                "application/json",
                {"type": "validation_error", "status": 422, "errors": [{"message": p} for p in problems]},
            )
        return (
            202,
            "application/json",
            {
                "status": "success",
                "message": "Event accepted for processing",
                "deduplication_key": body["deduplication_key"],
            },
        )

    return handle


class Endpoint:
    """One fake on a free port: `handler(path, headers, body)` -> (status, content type, answer)."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.received: list[tuple[str, dict[str, str], Any, int]] = []
        me = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw) if headers.get("content-type", "").startswith("application/json") else None
                except ValueError:
                    body = None
                status, ctype, out = me.handler(self.path, headers, body)
                me.received.append((self.path, headers, body, status))
                data = out.encode() if isinstance(out, str) else json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self) -> list[Any]:
        return [b for _, _, b, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
