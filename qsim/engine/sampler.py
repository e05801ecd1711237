"""Batched draws from a distribution: one numpy call per block, one list index per value; and
service times by inverse transform of each message's own uniform draw.

Blocks grow with use: a stream's first block is :data:`FIRST_BLOCK` values, each next one twice
the last, up to :data:`BATCH`, so a stream that is used little (one producer of a thousand, a
failure process) draws about what it uses rather than ``BATCH`` values, and a busy one soon
draws ``BATCH`` at a time. That changes no draw where the family's draws split exactly
(:attr:`qsim.distributions.Distribution.split_invariant`: ``n`` values then ``m`` are the ``n +
m`` values drawn at once); the families that do not split (hyper-exponentials and other
phase-type laws, mixtures, the truncated normal) keep fixed blocks of ``BATCH``, exactly as
before. A constant draws no random numbers at all (``Constant.sample`` never touches its
generator), so :func:`sampler` hands out its value without a buffer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from qsim.distributions import Constant, Distribution
from qsim.engine.message import Message

BATCH = 4096
"""The largest block of draws (and every block of a family whose draws do not split)."""
FIRST_BLOCK = 64
"""The first block of a stream whose draws split; each next block doubles, up to BATCH."""


def block_sizes(splits: bool = True, first: int = FIRST_BLOCK) -> itertools.chain[int]:
    """The sizes of successive blocks: ``first`` (at most BATCH), doubling to BATCH, then BATCH
    for ever; BATCH every time where the draws do not split."""
    start = max(1, min(first, BATCH))
    growing = itertools.takewhile(lambda n: n < BATCH, (start << k for k in range(64)))
    return itertools.chain(growing if splits else (), itertools.repeat(BATCH))


def sampler(dist: Distribution[float], rng: np.random.Generator) -> Callable[[], float]:
    """Draws of ``dist`` from ``rng`` one at a time: a :class:`Sampler`, or for a constant its
    value every time (drawing nothing, as ``Constant.sample`` draws nothing)."""
    if isinstance(dist, Constant):
        return itertools.repeat(float(dist.value)).__next__
    return Sampler(dist, rng)


class Sampler:
    """Hands out draws of ``dist`` from ``rng`` one at a time, a block at a time (blocks as
    :func:`block_sizes`: growing where ``dist``'s draws split, else ``BATCH``). With
    ``shared``, ``rng`` feeds other draws too (two samplers on one arrival stream): blocks stay
    ``BATCH``, since the sizes of interleaved blocks decide which numbers each one gets."""

    __slots__ = ("_buffer", "_dist", "_index", "_rng", "_sizes")

    def __init__(
        self, dist: Distribution[float], rng: np.random.Generator, shared: bool = False
    ) -> None:
        self._dist = dist
        self._rng = rng
        self._buffer: list[float] = []
        self._index = 0
        self._sizes = block_sizes(dist.split_invariant and not shared).__next__

    def __call__(self) -> float:
        """The next draw."""
        index = self._index
        if index == len(self._buffer):
            self._buffer = self._dist.sample(self._rng, self._sizes()).tolist()
            index = 0
        self._index = index + 1
        return self._buffer[index]


class Work:
    """The work of each message entering one queue, its own uniform draw ``u``, drawn in
    growing blocks (:func:`block_sizes`: uniform draws split exactly; the pools consuming the
    queue map it to service times). See :class:`qsim.engine.message.Message` for why."""

    __slots__ = ("_next", "_rng", "_sizes")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._sizes = block_sizes().__next__
        self._next: Callable[[], float] = iter(()).__next__

    def __call__(self, msg: Message) -> None:
        """Give ``msg`` the next draw as its ``work`` (``msg.service`` -1.0: not drawn yet)."""
        try:
            value = self._next()
        except StopIteration:
            value = self._refill()
        msg.work, msg.service = value, -1.0

    def _refill(self) -> float:
        """Draw the next block; returns its first value."""
        u = self._rng.uniform(0.0, 1.0, self._sizes())
        self._next = iter(self._values(u).tolist()).__next__
        return self._next()

    def _values(self, u: np.ndarray) -> np.ndarray:
        """What a block of uniform draws hands out: the draws themselves."""
        return u


class ServiceWork(Work):
    """Where a single pool consumes the queue (the ``work.service`` shortcut of
    :mod:`qsim.engine.paths`): straight away the service time that pool's distribution ``dist``
    maps each ``u`` to, the very value the pool would map it to (every family's ``ppf`` maps
    each ``u`` on its own, so blocks of any size give the same values). A constant service time
    draws nothing: its ``ppf`` is the constant whatever ``u``, and the queue's work stream has no
    other use."""

    __slots__ = ("_dist",)

    def __init__(self, rng: np.random.Generator, dist: Distribution[float]) -> None:
        super().__init__(rng)
        self._dist = dist
        if isinstance(dist, Constant):
            self._next = itertools.repeat(float(dist.value)).__next__

    def _values(self, u: np.ndarray) -> np.ndarray:
        """The service times the pool's distribution maps the draws to."""
        return self._dist.ppf(u)

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
