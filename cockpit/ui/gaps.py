"""What the screen still reads of an engine beyond `EngineHandle`, in this one module so it can go at once.

Two gaps, both asked of the engine side: `EngineHandle.snapshot` is refreshed only by a tick, so a
command would show a tick late (an in-process engine at one tick a second: up to a second of a stale
FROZEN/armed banner); and the handle does not declare who is in control of an attached engine (address,
role, controller), which the attach line and the take-control question show.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from cockpit.engine.handle import EngineHandle
from cockpit.engine.snapshot import Snapshot


def with_commands(engine: EngineHandle) -> Snapshot | None:
    """The last tick's snapshot with the command-side state (incident, rollback) as of now, so a command
    shows at once rather than a tick later. Bridge: `EngineHandle.snapshot` is only refreshed by a tick;
    once the engine refreshes it when a command returns, this is `engine.snapshot` and goes."""
    snap, e = engine.snapshot, cast(Any, engine)
    incident, rollback = getattr(e, "incident", None), getattr(e, "rollback", None)
    if snap is None or rollback is None:
        return snap
    return dataclasses.replace(snap, incident=incident, rollback=rollback.snapshot() | {"hold": rollback.last_hold})


def control_of(engine: EngineHandle) -> tuple[str, str, str | None]:
    """(address, role, who is in control) of a handle that can hand control over (`can_take_control`).
    EngineHandle does not declare these three yet, so they are read here, in this one place."""
    e: Any = engine
    return str(getattr(e, "address", "")), str(getattr(e, "role", "")), getattr(e, "controller", None)
