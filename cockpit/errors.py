"""Errors a user can cause. Each carries one sentence that names what and where; the CLI prints it
and exits with code 2, never with a traceback."""


class CockpitError(Exception):
    """A user-facing error: bad configuration, bad scenario, unknown plugin, unreachable backend."""

    exit_code = 2


class ConfigError(CockpitError):
    """The configuration or a scenario file is unreadable or invalid."""


class PluginError(CockpitError):
    """A backend plugin is unknown, failed to load, or does not serve the role asked of it."""


class FencedError(CockpitError):
    """A write from an engine whose lease epoch is no longer the current one (a stale leader). Defined here,
    not with the Redis journal that raises it, so the server and an attached screen can name it without the
    redis client installed."""


class EngineUnreachable(CockpitError):
    """No engine answers at the address, or it went away."""


class BackendError(CockpitError):
    """A backend call failed or timed out; the engine holds and reports instead of guessing."""

    def __init__(self, backend: str, role: str, message: str) -> None:
        super().__init__(f"backend {backend!r} ({role}): {message}")
        self.backend = backend
        self.role = role


def abbreviate(value: object, limit: int = 64) -> str:
    """A value as it may appear in a one-sentence error, a journal entry or a log line: at most `limit`
    printable characters (a 10 MB value is never echoed back)."""
    s = str(value)
    s = "".join(c if c.isprintable() else "?" for c in s[: limit + 1])
    return s if len(s) <= limit else s[: limit - 1] + "…"


def name_problem(value: object, max_len: int = 200) -> str | None:
    """Why `value` is not a usable name (tenant, cohort, tier, model, operator), or None: names are
    shown on screens and compared byte for byte, so no empty, padded or unprintable ones (control
    characters, bidi overrides, zero-width look-alikes)."""
    if not isinstance(value, str) or not value:
        return "is empty"
    if len(value) > max_len:
        return f"is longer than {max_len} characters"
    for i, c in enumerate(value):
        if not c.isprintable():
            return f"has an unprintable character (U+{ord(c):04X}) at position {i}"
    if value != value.strip():
        return "starts or ends with a space"
    return None
