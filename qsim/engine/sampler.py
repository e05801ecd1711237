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
from collections.abc import Callable, Iterable, Iterator

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
    """Draws of ``dist`` from ``rng`` one at a time (:attr:`Sampler.next`), or for a constant
    its value every time (drawing nothing, as ``Constant.sample`` draws nothing)."""
    if isinstance(dist, Constant):
        return itertools.repeat(float(dist.value)).__next__
    return Sampler(dist, rng).next


class Sampler:
    """Hands out draws of ``dist`` from ``rng`` one at a time, a block at a time (blocks as
    :func:`block_sizes`: growing where ``dist``'s draws split, else ``BATCH``). With
    ``shared``, ``rng`` feeds other draws too (two samplers on one arrival stream): blocks stay
    ``BATCH``, since the sizes of interleaved blocks decide which numbers each one gets.

    :attr:`next` is a flat iterator's ``__next__`` over the blocks: no Python frame per draw; a
    block is drawn when the first value past the last one is asked for, as a buffer refilled
    on demand would draw it."""

    __slots__ = ("_dist", "_rng", "_sizes", "next")

    def __init__(
        self, dist: Distribution[float], rng: np.random.Generator, shared: bool = False
    ) -> None:
        self._dist = dist
        self._rng = rng
        self._sizes = block_sizes(dist.split_invariant and not shared).__next__
        self.next: Callable[[], float] = itertools.chain.from_iterable(self._blocks()).__next__

    def _blocks(self) -> Iterator[list[float]]:
        while True:
            yield self._dist.sample(self._rng, self._sizes()).tolist()

    def __call__(self) -> float:
        """The next draw."""
        return self.next()


WorkDraw = Callable[[], tuple[float, float]]
"""The ``(work, service)`` of the next message entering a queue (see :class:`Work`); the
queue sets both on the message."""


class Work:
    """The work of each message entering one queue, its own uniform draw ``u``, drawn in
    growing blocks (:func:`block_sizes`: uniform draws split exactly; the pools consuming the
    queue map it to service times). See :class:`qsim.engine.message.Message` for why.
    :attr:`next` gives ``(u, -1.0)``: the service time is not drawn yet (a flat iterator's
    ``__next__``, as :class:`Sampler`'s)."""

    __slots__ = ("_rng", "_sizes", "next")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._sizes = block_sizes().__next__
        self.next: WorkDraw = itertools.chain.from_iterable(self._blocks()).__next__

    def _blocks(self) -> Iterator[Iterator[tuple[float, float]]]:
        while True:
            u = self._rng.uniform(0.0, 1.0, self._sizes())
            yield zip(u.tolist(), self._services(u), strict=False)

    def _services(self, u: np.ndarray) -> Iterable[float]:
        """The service times a block of draws gives: none yet (-1.0), the pools map them."""
        return itertools.repeat(-1.0)


class ServiceWork(Work):
    """Where a single pool consumes the queue (the ``work.service`` shortcut of
    :mod:`qsim.engine.paths`): each message's ``u`` and straight away the service time that
    pool's distribution ``dist`` maps it to, the very value the pool would map it to (every
    family's ``ppf`` maps each ``u`` on its own, so blocks of any size give the same values). A
    constant service time draws nothing: its ``ppf`` is the constant whatever ``u``, and the
    queue's work stream has no other use; its messages' ``work`` is 0 (no pool reads it)."""

    __slots__ = ("_dist",)

    def __init__(self, rng: np.random.Generator, dist: Distribution[float]) -> None:
        self._dist = dist
        super().__init__(rng)
        if isinstance(dist, Constant):
            self.next = itertools.repeat((0.0, float(dist.value))).__next__

    def _services(self, u: np.ndarray) -> Iterable[float]:
        """The service times the pool's distribution maps the draws to."""
        return self._dist.ppf(u).tolist()  # type: ignore[no-any-return]


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
