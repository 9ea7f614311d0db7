"""The provider role's contract checks (`cockpit plugins check NAME` for a provider backend).

``resolve(models.alias)`` must answer a pinned revision; with ``classify``, each of models.old, models.new
and models.alias must get a snapshot / alias / unknown answer, and models.old and models.new must be
snapshots (the rollback target and the rollout are pinned), with the reason and whether it was offline.
"""

from __future__ import annotations

from typing import Any

from cockpit.domain.pins import PinClass, describe
from cockpit.domain.revisions import is_pinned
from cockpit.hookspecs import BackendContext

KINDS = ("snapshot", "alias", "unknown")


async def check_provider(c: Any, alias: str, context: BackendContext | None) -> None:
    classify = hasattr(c.obj, "classify")
    if not alias:
        c.ok("resolve", "no models.alias configured: nothing to resolve")
    else:
        rev = await c.run("resolve", "resolve", alias)
        if rev is not None:
            pinned = isinstance(rev, str) and (is_pinned(rev) or (classify and await _pinned(c, rev)))
            if c.fail("resolve", [] if pinned else [f"{alias!r} resolved to {rev!r}, not a pinned revision"]):
                c.ok("resolve", f"{alias} -> {rev}")
    if not classify:
        return
    models = context.models if context is not None else None
    refs = [("models.old", models.old if models else ""), ("models.new", models.new if models else "")]
    refs.append(("models.alias", alias))
    for key, ref in refs:
        if ref:
            await _classified(c, key, ref)


async def _pinned(c: Any, rev: str) -> bool:
    try:
        answer, _ = await c.call("classify", rev)
    except Exception:
        return False
    return isinstance(answer, PinClass) and answer.pinned


async def _classified(c: Any, key: str, ref: str) -> None:
    answer = await c.run("classify", "classify", ref)
    if answer is None:
        return
    if not isinstance(answer, PinClass) or answer.kind not in KINDS:
        c.fail("classify", [f"classify({ref!r}) returned {answer!r}, not a PinClass (snapshot, alias or unknown)"])
        return
    if key != "models.alias" and not answer.pinned:
        c.fail("classify", [f"{key} = {ref!r} {describe(answer)}"])
        return
    offline = f" (offline: {answer.offline})" if answer.offline else ""
    target = f" -> {answer.resolves_to}" if answer.kind == "alias" and answer.resolves_to else ""
    c.ok("classify", f"{key} {ref}: {answer.kind}{target}, {answer.reason}{offline}; {c.took}")
