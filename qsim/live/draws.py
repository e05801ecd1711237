"""The random draws a live run shares with the simulation's replication 0, for any broker.

Live clients draw from the very streams the simulation uses (``qsim.streams.stream`` with the
scenario's seed, replication 0, the same names), so live and simulated runs see the same
arrivals and each message carries the same work draw (header ``qsim-work``): the two are paired.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from qsim.distributions import Distribution
from qsim.engine.sampler import Sampler
from qsim.engine.simulation import UNIFORM01
from qsim.scenario import Scenario
from qsim.streams import stream

__all__ = ["Draws", "SharedDraw"]


class SharedDraw:
    """Draws of one distribution, shared by threads (one stream per pool, as simulated)."""

    def __init__(self, dist: Distribution[float], rng: np.random.Generator) -> None:
        self._sampler = Sampler(dist, rng)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """The next draw."""
        with self._lock:
            return self._sampler()


@dataclass
class Draws:
    """The named streams of one scenario's replication 0."""

    scenario: Scenario
    works: dict[str, SharedDraw] = field(default_factory=dict)

    def rng(self, name: str) -> np.random.Generator:
        """The stream the simulation's replication 0 uses for ``name``."""
        return stream(self.scenario.seed, 0, name)

    def work(self, queue: str) -> SharedDraw:
        """The ``work`` draws of messages entering ``queue`` (one stream per queue, shared by
        the producers publishing to it, as simulated: see :class:`qsim.engine.message.Message`)."""
        if queue not in self.works:
            self.works[queue] = SharedDraw(UNIFORM01, self.rng(f"queue:{queue}:work"))
        return self.works[queue]
