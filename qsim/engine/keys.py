"""Key choosers: the key of each message, drawn from a key space (:mod:`qsim.scenario.keys`).

A chooser hands out one key per call. A constant key draws nothing; every other form takes one
uniform number per message from its own stream and maps it through the key distribution's inverse
CDF, a block of numbers at a time (blocks growing from 64 to 4,096, as
:func:`qsim.engine.sampler.block_sizes`: uniform draws split exactly and each key is mapped on
its own, so the keys are those fixed blocks gave). One draw per message means two variants of a
scenario that differ only in the key distribution keep common random numbers. Weighted keys map
the draws exactly as qsim always did (``bisect_right`` on the cumulative weights), so their runs
are unchanged. Choosers are looked up by the key space's type in :data:`CHOOSERS`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qsim.engine.sampler import block_sizes
from qsim.scenario.keys import KeyRange, KeySpace, UniformKeys, WeightedKeys, ZipfKeys

__all__ = ["CHOOSERS", "Chooser", "inverse_cdf", "key_chooser"]

Chooser = Callable[[], str]
Pick = Callable[[np.ndarray], list[str]]


def inverse_cdf(rng: np.random.Generator, pick: Pick) -> Chooser:
    """Keys one at a time: blocks of uniform draws from ``rng``, each mapped by ``pick`` at once,
    handed out by a flat iterator (no Python frame per key, as :class:`qsim.engine.sampler.
    Sampler`'s draws); a block is drawn when the first key past the last one is asked for."""

    def blocks() -> Iterator[list[str]]:
        for size in block_sizes():
            yield pick(rng.uniform(0.0, 1.0, size))

    return itertools.chain.from_iterable(blocks()).__next__


def _by_cumulative(cumulative: np.ndarray, name: Callable[[int], str]) -> Pick:
    """Draw ``u`` -> the first key whose cumulative probability exceeds it."""
    last = len(cumulative) - 1

    def pick(u: np.ndarray) -> list[str]:
        chosen = np.minimum(np.searchsorted(cumulative, u, side="right"), last)
        return [name(i) for i in chosen.tolist()]

    return pick


def _constant(key: str, _rng: np.random.Generator) -> Chooser:
    return lambda: key


def _weighted(space: WeightedKeys, rng: np.random.Generator) -> Chooser:
    names = list(space.keys)
    if len(names) == 1:
        return lambda: names[0]
    total = sum(space.keys.values())
    cumulative = np.array([w / total for w in itertools.accumulate(space.keys.values())])
    return inverse_cdf(rng, _by_cumulative(cumulative, names.__getitem__))


def _uniform(space: UniformKeys, rng: np.random.Generator) -> Chooser:
    keys: KeyRange = space.uniform
    count = keys.keys

    def pick(u: np.ndarray) -> list[str]:
        chosen = np.minimum((u * count).astype(np.int64), count - 1)
        return [keys.key(i) for i in chosen.tolist()]

    return inverse_cdf(rng, pick)


def zipf_cumulative(count: int, s: float) -> np.ndarray:
    """Cumulative probabilities of keys 0 to ``count - 1`` with weights ``1 / (i + 1)^s``."""
    cumulative = np.arange(1, count + 1, dtype=np.float64)  # one array, reused in place
    np.power(cumulative, -s, out=cumulative)
    np.cumsum(cumulative, out=cumulative)
    cumulative /= cumulative[-1]
    return cumulative


def _zipf(space: ZipfKeys, rng: np.random.Generator) -> Chooser:
    keys = space.zipf
    return inverse_cdf(rng, _by_cumulative(zipf_cumulative(keys.keys, keys.s), keys.key))


CHOOSERS: dict[type, Callable[[Any, np.random.Generator], Chooser]] = {
    str: _constant,
    WeightedKeys: _weighted,
    UniformKeys: _uniform,
    ZipfKeys: _zipf,
}
"""Key-space types -> a function from the key space and its stream to a chooser."""


def key_chooser(space: KeySpace | None, rng: np.random.Generator | None) -> Chooser:
    """The chooser of ``space`` drawing from ``rng``; no key space means the empty key (and
    needs no ``rng``)."""
    if space is None:
        return lambda: ""
    assert rng is not None, "a key space draws its keys from a stream"
    return CHOOSERS[type(space)](space, rng)
