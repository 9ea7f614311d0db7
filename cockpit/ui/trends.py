"""The trend plots' ring buffer: one Sample a tick of what the trends and the plot panel read. Every
figure in it is the engine's (the Snapshot's); the buffer only remembers them since the screen opened."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from cockpit.config import Config
from cockpit.engine.snapshot import Snapshot
from cockpit.ui import view

HISTORY = 600  # samples kept for the trend plots (ten minutes at one tick a second)


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick's worth of what the trend plots show (the app keeps a ring buffer of these)."""

    now: float
    util: float | None
    ready: int
    desired: int
    old_hit: float | None
    wrong: float  # wrong answers served so far: the engine's figure (the simulator's count in a drill)
    moved: float = 0.0  # the rollback's traffic restored to old, as a fraction of its scope's
    stage: int = 0
    needed: int = 0  # replicas asked for full failback (0: none)


def scaled(values: Sequence[float], top: float | None = None) -> list[float]:
    hi = top if top is not None else max(values, default=0.0)
    return [min(1.0, v / hi) if hi > 0 else 0.0 for v in values]


def buckets(values: Sequence[float], width: int) -> list[float]:
    """`values` averaged into at most `width` buckets, oldest first: a sparkline of the whole window."""
    n = len(values)
    if n <= width:
        return list(values)
    return [
        sum(values[i * n // width : (i + 1) * n // width]) / max(1, (i + 1) * n // width - i * n // width)
        for i in range(width)
    ]


def compact(n: float) -> str:
    return f"{n:.0f}" if n < 1000 else (f"{n / 1000:.1f}k" if n < 1e6 else f"{n / 1e6:.1f}M")


def trends_line(history: Sequence[Sample], width: int = 5, estimated: bool = True) -> str:
    """Old-tier utilisation and ready replicas, old-cache hit rate and wrong answers served so far, over
    the buffered window. `wrong≈` marks an estimate (outside a drill there is no ground truth)."""
    if not history:
        return "trends: no reading yet"
    last = history[-1]
    span = last.now - history[0].now
    util = buckets([s.util or 0.0 for s in history], width)
    ready = buckets([float(s.ready) for s in history], width)
    hit = buckets([s.old_hit or 0.0 for s in history], width)
    wrong = buckets([s.wrong for s in history], width)
    top = max(1.0, *(float(s.desired) for s in history))
    label = f"{span / 60:.0f}m:" if span >= 60 else f"{span:.0f}s:"
    return (
        f"{label} util {view.sparkline(scaled(util, max(1.0, *util)), width)} {view.pct(last.util)}"
        f"  ready {view.sparkline(scaled(ready, top), width)} {last.ready}/{last.desired}"
        f"  old hit {view.sparkline(hit, width)} {view.pct(last.old_hit)}"
        f"  wrong{'≈' if estimated else ''} {view.sparkline(scaled(wrong), width)} {compact(last.wrong)}"
    )


class TrendRecorder:
    def __init__(self, config: Config) -> None:
        self.tiers = config.file.tiers
        self.history: deque[Sample] = deque(maxlen=HISTORY)
        self.estimated = True  # the last snapshot's wrong answers are an estimate (no simulator's count)

    def record(self, snap: Snapshot) -> Sample:
        old_hit, _ = view.tier_hits(snap, self.tiers.old, self.tiers.new)
        o = snap.old_tier
        rb = snap.rollback
        needed = snap.replicas_needed or int(rb.get("scale_requested") or 0)
        sample = Sample(
            snap.now,
            snap.old_utilisation,
            o.ready if o else 0,
            o.desired if o else 0,
            old_hit,
            snap.wrong_answers or 0.0,
            float(snap.progress.get("fraction", 0.0)),
            int(rb.get("stage", 0)) if rb.get("armed") else 0,
            needed,
        )
        self.estimated = not snap.wrong_truth
        if self.history and self.history[-1].now >= snap.now:
            self.history[-1] = sample  # the same engine time again (a redraw): replace, not append
        else:
            self.history.append(sample)
        return sample
