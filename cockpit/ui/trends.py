"""The trend plots' ring buffer: one Sample a tick of what the trends and the capacity ETA read."""

from __future__ import annotations

from collections import deque

from cockpit.config import Config
from cockpit.engine.snapshot import Snapshot
from cockpit.ui import view
from cockpit.ui.scorecard import DrillScore

HISTORY = 600  # samples kept for the trend plots (ten minutes at one tick a second)


class TrendRecorder:
    """Wrong answers: the simulator's own count in a drill; otherwise an estimate, harm × rps × share on
    new of each regressing tenant, integrated over time."""

    def __init__(self, config: Config, drill: DrillScore | None) -> None:
        self.tiers = config.file.tiers
        self.threshold = config.file.incident.regression_threshold
        self.drill = drill
        self.history: deque[view.Sample] = deque(maxlen=HISTORY)
        self.wrong_estimate = 0.0

    def record(self, snap: Snapshot) -> view.Sample:
        if self.drill is not None:
            wrong = self.drill.wrong_answers(snap)
        else:
            if self.history:
                self.wrong_estimate += view.wrong_since(self.history[-1].now, snap, self.threshold)
            wrong = self.wrong_estimate
        old_hit, _ = view.tier_hits(snap, self.tiers.old, self.tiers.new)
        o = snap.old_tier
        sample = view.Sample(snap.now, snap.old_utilisation, o.ready if o else 0, o.desired if o else 0, old_hit, wrong)
        self.history.append(sample)
        return sample
