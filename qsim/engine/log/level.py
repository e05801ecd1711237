"""A level that changes over time (records behind, messages waiting), time-weighted."""

from __future__ import annotations

from qsim.engine.results import LevelRun


class Level:
    """A count with its time-weighted area and its maximum since the measured window began."""

    __slots__ = ("area", "max", "since", "value")

    def __init__(self) -> None:
        self.value = 0
        self.area = 0.0
        self.since = 0.0
        self.max = 0

    def add(self, delta: int, now: float) -> None:
        """The level changes by ``delta`` at ``now``."""
        self.area += self.value * (now - self.since)
        self.since = now
        self.value += delta
        if self.value > self.max:
            self.max = self.value

    def start_window(self, now: float) -> None:
        """The warm-up ended: the mean and the maximum start again from here."""
        self.add(0, now)
        self.area = 0.0
        self.max = self.value

    def report(self, window: float, now: float) -> LevelRun:
        """Mean over the measured ``window`` (ending ``now``), maximum, and the final value."""
        self.add(0, now)
        return LevelRun(mean=self.area / window, max=self.max, final=self.value)
