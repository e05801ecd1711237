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


class Work:
    """The work of each message entering one queue, its own uniform draw ``u``, drawn ``BATCH``
    at a time (the pools consuming the queue map it to service times). See
    :class:`qsim.engine.message.Message` for why."""

    __slots__ = ("_dist", "_next", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._dist: Distribution[float] | None = None
        self._next: Callable[[], float] = iter(()).__next__

    def __call__(self, msg: Message) -> None:
        """Give ``msg`` the next draw as its ``work`` (``msg.service`` -1.0: not drawn yet)."""
        try:
            value = self._next()
        except StopIteration:
            value = self._refill()
        msg.work, msg.service = value, -1.0

    def _refill(self) -> float:
        """Draw the next batch; returns its first value."""
        u = self._rng.uniform(0.0, 1.0, BATCH)
        self._next = iter((u if self._dist is None else self._dist.ppf(u)).tolist()).__next__
        return self._next()


class ServiceWork(Work):
    """Where a single pool consumes the queue (the ``work.service`` shortcut of
    :mod:`qsim.engine.paths`): straight away the service time that pool's distribution ``dist``
    maps each ``u`` to, the very value the pool would map it to."""

    __slots__ = ()

    def __init__(self, rng: np.random.Generator, dist: Distribution[float]) -> None:
        super().__init__(rng)
        self._dist = dist

    def __call__(self, msg: Message) -> None:
        """Give ``msg`` its service time (``msg.service``)."""
        try:
            msg.service = self._next()
        except StopIteration:
            msg.service = self._refill()


class ServiceTimes:
    """Service times of one pool where the queue did not draw them (see :class:`Work`): a first
    delivery takes the time the message's own ``work`` draw maps to under the pool's
    distribution; a redelivery (after a nack, a crash or a requeueing scale-down) is another
    attempt and draws afresh from the pool's own stream ``fresh``, or with ``same`` takes the
    time of the first delivery again (the work is in the message: a long video is long every
    time it is encoded)."""

    __slots__ = ("_fresh", "_quantile", "_same")

    def __init__(
        self, dist: Distribution[float], fresh: Callable[[], float], same: bool = False
    ) -> None:
        self._quantile = dist.quantile()
        self._fresh = fresh
        self._same = same

    def __call__(self, msg: Message) -> float:
        """The service time of this delivery of ``msg``."""
        if self._same:
            return msg.service if msg.service >= 0.0 else self._quantile(msg.work)
        return self.draw(msg.work if msg.deliveries == 1 else None)

    def draw(self, work: float | None) -> float:
        """The service time a first delivery's ``work`` draw maps to; None: another attempt."""
        return self._fresh() if work is None else self._quantile(work)
