"""Scaled time: a live run plays ``scale`` wall-clock seconds for each scenario second."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["Clock"]


@dataclass
class Clock:
    """Wall-clock time since the run started, in scenario seconds; ``stop`` ends every wait."""

    scale: float
    start: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)

    def scenario_time(self, wall: float) -> float:
        """Scenario seconds since the start at wall-clock time ``wall`` (``time.time()``)."""
        return (wall - self.start) / self.scale

    def now(self) -> float:
        """Scenario seconds since the start."""
        return self.scenario_time(time.time())

    def wall(self, seconds: float) -> float:
        """A scenario duration in wall-clock seconds."""
        return seconds * self.scale

    def sleep_until(self, at: float) -> bool:
        """Wait until scenario time ``at``; False if the run was stopped meanwhile."""
        delay = self.start + at * self.scale - time.time()
        if delay > 0:
            return not self.stop.wait(delay)
        return not self.stop.is_set()
