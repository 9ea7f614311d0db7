"""Optional dependencies: which extra brings which client, and the one sentence a user sees without it.

The core install runs the cockpit on the simulator and the HTTP, HAProxy and webhook backends. The
Kubernetes backend needs ``cockpit[kubernetes]``; the Redis cache backend and a shared ``redis://``
journal need ``cockpit[redis]``. A missing client is a user error (exit 2), never an ImportError traceback.
"""

from __future__ import annotations

EXTRAS = {"kubernetes": "kubernetes", "redis": "redis"}  # top-level module -> the extra that installs it


def missing_module(exc: BaseException) -> str | None:
    """The optional module whose absence caused `exc` (following __cause__ / __context__), or None."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 8:
        if isinstance(e, ModuleNotFoundError) and e.name:
            top = e.name.split(".")[0]
            return top if top in EXTRAS else None
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def hint(module: str) -> str:
    extra = EXTRAS[module]
    return f"the {module!r} package is not installed; install the {extra!r} extra: pip install 'cockpit[{extra}]'"


def message(exc: BaseException) -> str | None:
    """One sentence for an error caused by a missing extra, or None when it is something else."""
    module = missing_module(exc)
    if module is None:
        return None
    text = str(exc)
    cut = text.find("ModuleNotFoundError")
    head = text[:cut].rstrip(" :;(") if cut > 0 else ""
    return f"{head}: {hint(module)}" if head else hint(module)
