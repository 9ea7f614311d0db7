"""httpx, imported with what its first request would otherwise import inside the event loop
(:mod:`cockpit.httpx_warm`; kept here for the backends that import it from this place)."""

from cockpit.httpx_warm import httpx_ready

__all__ = ["httpx_ready"]
