"""Batched draws from a distribution: one numpy call per batch, one list index per value; and
service times by inverse transform of each message's own uniform draw."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qsim.distributions import Distribution
from qsim.engine.message import Message

BATCH = 4096


class Sampler:
    """Hands out draws of ``dist`` from ``rng`` one at a time, drawing ``BATCH`` at once."""

    __slots__ = ("_buffer", "_dist", "_index", "_rng")

    def __init__(self, dist: Distribution[float], rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._buffer: list[float] = []
        self._index = 0

    def __call__(self) -> float:
        """The next draw."""
        index = self._index
        if index == len(self._buffer):
            self._buffer = self._dist.sample(self._rng, BATCH).tolist()
            index = 0
        self._index = index + 1
        return self._buffer[index]


class ServiceTimes:
    """Service times of one pool with common random numbers across variants of a scenario.

    A first delivery takes the service time the message's own ``work`` draw maps to under the
    pool's distribution (inverse transform), so a message takes as long whichever replica, and
    whichever scaling strategy, processes it; and a variant with a faster distribution makes every
    message faster, not a reshuffled sample. A redelivery (after a nack, a crash or a requeueing
    scale-down) is another attempt and draws afresh from the pool's own stream ``fresh``.
    """

    __slots__ = ("_fresh", "_quantile")

    def __init__(self, dist: Distribution[float], fresh: Callable[[], float]) -> None:
        self._quantile = dist.quantile()
        self._fresh = fresh

    def __call__(self, msg: Message) -> float:
        """The service time of this delivery of ``msg``."""
        return self._quantile(msg.work if msg.deliveries == 1 else self._fresh())
