"""Errors a user can cause. Each carries one sentence that names what and where; the CLI prints it
and exits with code 2, never with a traceback."""


class CockpitError(Exception):
    """A user-facing error: bad configuration, bad scenario, unknown plugin, unreachable backend."""

    exit_code = 2


class ConfigError(CockpitError):
    """The configuration or a scenario file is unreadable or invalid."""


class PluginError(CockpitError):
    """A backend plugin is unknown, failed to load, or does not serve the role asked of it."""


class BackendError(CockpitError):
    """A backend call failed or timed out; the engine holds and reports instead of guessing."""

    def __init__(self, backend: str, role: str, message: str) -> None:
        super().__init__(f"backend {backend!r} ({role}): {message}")
        self.backend = backend
        self.role = role
