"""The plot panel (at 120 columns and wider): old-tier utilisation against the headroom line, ready vs
desired vs needed replicas, and the traffic moved to old over time with the stages marked. Text only
(block characters, a dashed headroom line, stage numbers), so it reads the same under NO_COLOR."""

from __future__ import annotations

from collections.abc import Sequence

from cockpit.ui.panels import Panel
from cockpit.ui.trends import Sample, buckets, scaled
from cockpit.ui.view import pct, sparkline

BLOCKS = " ▁▂▃▄▅▆▇█"
HEIGHT = 4  # rows of the utilisation chart


def util_chart(values: Sequence[float], width: int, headroom: float = 1.0, height: int = HEIGHT) -> list[str]:
    """Rows (top first) of a column chart of `values`, with `headroom` drawn as a dashed line."""
    vals = buckets(list(values), width)
    top = max(headroom * 1.25, max(vals, default=0.0))
    rows = []
    for r in range(height - 1, -1, -1):
        lo, hi = top * r / height, top * (r + 1) / height
        line = []
        for v in vals:
            if v >= hi:
                line.append("█")
            elif v > lo:
                line.append(BLOCKS[max(1, min(8, int((v - lo) / (hi - lo) * 8)))])
            else:
                line.append("┄" if lo <= headroom < hi else " ")
        label = f" ┄ {pct(headroom)} headroom" if lo <= headroom < hi else f" {pct(hi)}"
        rows.append("".join(line) + label)
    return rows


def stage_marks(history: Sequence[Sample], width: int) -> str:
    """Under the moved-to-old line: each stage's number where it was first seen."""
    n = len(history)
    marks = [" "] * min(width, n)
    last = 0
    for i, s in enumerate(history):
        if s.stage > last:
            col = i * len(marks) // max(1, n)
            label = str(s.stage)
            span = range(max(0, col - 1), min(len(marks), col + len(label) + 1))
            if all(marks[k] == " " for k in span):  # stages too close together: the first one's label
                for j, ch in enumerate(label):
                    if col + j < len(marks):
                        marks[col + j] = ch
            last = s.stage
    return "".join(marks)


def plot_lines(history: Sequence[Sample], width: int, headroom: float = 1.0, if_armed: int | None = None) -> list[str]:
    """The panel's rows. `headroom`: the utilisation the planner keeps the old tier under (the dashed
    line); `if_armed`: the replicas arming now would ask for, shown while nothing is asked yet."""
    if not history:
        return ["plots: no reading yet"]
    last = history[-1]
    span = history[-1].now - history[0].now
    rows = [f"old-tier utilisation, last {span / 60:.0f} min (util now {pct(last.util)})"]
    rows += util_chart([s.util or 0.0 for s in history], width, headroom)
    top = max(1.0, *(float(max(s.desired, s.needed)) for s in history))
    ready = scaled(buckets([float(s.ready) for s in history], width), top)
    desired = scaled(buckets([float(s.desired) for s in history], width), top)
    needed = scaled(buckets([float(s.needed) for s in history], width), top)
    rows.append(f"{sparkline(ready, width)} ready {last.ready}")
    rows.append(f"{sparkline(desired, width)} desired {last.desired}")
    need = f"{last.needed:,}" if last.needed else (f"{if_armed:,} if armed now" if if_armed else "—")
    rows.append(f"{sparkline(needed, width)} needed {need}")
    rows.append(f"{sparkline(buckets([s.moved for s in history], width), width)} moved to old {last.moved:.0%}")
    rows.append(f"{stage_marks(history, width)} stages")
    return rows


class PlotPanel(Panel):
    DEFAULT_CSS = """
    PlotPanel { height: auto; border-top: dashed $primary; }
    """

    def show(self, history: Sequence[Sample], headroom: float = 1.0, if_armed: int | None = None) -> None:
        width = max(20, (self.size.width or 120) - 26)
        self.update("\n".join(plot_lines(history, width, headroom, if_armed)))
