"""Batched draws from a distribution: one numpy call per batch, one list index per value."""

from __future__ import annotations

import numpy as np

from qsim.distributions import Distribution

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
