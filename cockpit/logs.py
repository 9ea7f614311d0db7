"""Logging through the standard library: levels, to stderr, as text for a person or as one JSON object
a line for a log pipeline (`cockpit engine --log-format json`).

Every record passes through `redact_text` on its way out, so a URL's credentials or a token in an error
never reach a log. The TUI owns the terminal: while it runs, records go to `cockpit.log` in the state
directory instead of stderr (a log line on the screen would garble it).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from cockpit.redact import redact_text

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{stamp}Z {record.levelname.lower():<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_text(line)


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        if record.exc_info:
            doc["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(doc, separators=(",", ":"))


def setup(level: str = "info", fmt: str = "text", *, stream: TextIO | None = None, file: Path | None = None) -> None:
    """Configure the `cockpit` loggers once per process: to `file` if given, else to `stream` (stderr)."""
    root = logging.getLogger("cockpit")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    handler: logging.Handler
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(file, encoding="utf-8")
        except OSError:
            handler = logging.NullHandler()  # no writable state directory: the screen still runs
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Text())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
