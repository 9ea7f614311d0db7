"""Who is at the keyboard, as the journal names an operator by default: user@host."""

from __future__ import annotations

import getpass
import socket


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
