"""Injected clocks: real time, accelerated simulated time (drills watched in the TUI), and manual
simulated time (headless drills and tests, as fast as possible)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    real = True  # screens show wall-clock time, not T+seconds

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimClock:
    """Simulated seconds that move only when told: `sleep` advances instantly."""

    real = False

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        self._now = t

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self._now += seconds
        await asyncio.sleep(0)  # still a suspension point: other tasks on the loop get their turn


class ScaledClock:
    """Simulated seconds that run `speed` times faster than the wall clock (x60 for a watched drill)."""

    real = False

    def __init__(self, speed: float = 60.0, start: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = start
        self._t0 = time.monotonic()
        self.paused = False

    def now(self) -> float:
        if self.paused:
            return self._start
        return self._start + (time.monotonic() - self._t0) * self.speed

    def set_speed(self, speed: float) -> None:
        """Run at `speed` from now on (simulated time does not jump)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.set(self.now())
        self.speed = speed

    def pause(self, paused: bool) -> None:
        """Stop (or restart) simulated time where it is: a drill's pause."""
        self.set(self.now())
        self.paused = paused

    def set(self, t: float) -> None:
        self._start = t
        self._t0 = time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)
