"""Arrival processes: each turns a producer's spec into an iterator of absolute publish times.

Looked up in :data:`ARRIVALS` by the key that defines them (``rate``, ``interarrival``,
``schedule``, ``trace``, ``mmpp``, ``profile``). Poisson processes draw unit exponentials and
divide by the rate, so a schedule's pieces are exactly Poisson within each piece (memorylessness
lets a gap that crosses a piece boundary be redrawn from the boundary); an MMPP's stays are such
pieces too. A ``profile`` is thinned (Lewis & Shedler 1979): on each linear piece, candidates
arrive as a Poisson process at the piece's highest rate and each is kept with probability
rate(t) / that rate, which gives exactly the non-homogeneous Poisson process.

With ``batch``, each time is repeated by a batch size drawn from a stream spawned from the
arrival stream (the times themselves draw exactly what they draw without a batch).

Unit draws come in blocks growing from 64 to 4,096 (:func:`qsim.engine.sampler.block_sizes`),
or from the producer's ``count`` where it has one: exponential draws split exactly, so a
producer of a thousand draws about what it publishes and every time is the one fixed blocks
gave. An MMPP and a profile draw exponentials and uniforms
from one stream, so their two samplers keep fixed blocks (``shared``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np

from qsim.distributions import Exponential, Uniform
from qsim.engine.sampler import FIRST_BLOCK, Sampler, block_sizes, sampler
from qsim.scenario import Producer

UNIT_EXPONENTIAL = Exponential[float].model_validate({"dist": "exponential", "mean": 1.0})
UNIT_UNIFORM = Uniform[float].model_validate({"dist": "uniform", "low": 0.0, "high": 1.0})

ArrivalTimes = Iterator[float]


def _first_block(spec: Producer) -> int:
    """A Poisson producer's first block of unit draws: its ``count`` (capped by the sampler)."""
    return FIRST_BLOCK if spec.count is None else spec.count


def _from_rate(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.rate is not None
    if spec.rate <= 0:
        return iter(())
    if spec.arrivals == "constant":
        return _constant(spec.rate)
    return itertools.chain.from_iterable(_poisson_blocks(rng, spec.rate, _first_block(spec)))


def _constant(rate: float) -> ArrivalTimes:
    gap = 1.0 / rate
    t = 0.0
    while True:
        t += gap
        yield t


def _poisson_blocks(
    rng: np.random.Generator, rate: float, first: int = FIRST_BLOCK
) -> Iterator[list[float]]:
    """A Poisson process's times, a block of unit draws at a time: each block's gaps
    (``unit / rate``) summed on from the last time by ``np.cumsum``, which adds in order, so
    every time is the float a running ``t += unit / rate`` gives (a flat iterator hands them
    out, with no Python frame per arrival)."""
    t = 0.0
    for size in block_sizes(first=first):
        gaps = UNIT_EXPONENTIAL.sample(rng, size) / rate
        gaps[0] += t
        times = np.cumsum(gaps)
        t = float(times[-1])
        yield times.tolist()


def _from_interarrival(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.interarrival is not None
    draw = sampler(spec.interarrival, rng)
    t = 0.0
    while True:
        t += draw()
        yield t


def _from_schedule(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.schedule is not None
    if spec.arrivals == "constant":
        return _constant_schedule(spec)
    return itertools.chain.from_iterable(_schedule_blocks(spec, rng))


def _constant_schedule(spec: Producer) -> ArrivalTimes:
    assert spec.schedule is not None
    steps = spec.schedule
    ends = [step.at for step in steps[1:]] + [math.inf]
    t = steps[0].at
    for step, end in zip(steps, ends, strict=True):
        t = max(t, step.at)
        if step.rate <= 0:
            continue
        gap = 1.0 / step.rate
        while True:
            candidate = t + gap
            if candidate >= end:
                break
            t = candidate
            yield t


def _schedule_blocks(spec: Producer, rng: np.random.Generator) -> Iterator[list[float]]:
    """Poisson pieces from one stream of unit draws (a block at a time): on each piece the
    times are summed on from the piece's start as in :func:`_poisson_blocks`; the gap that
    crosses the piece's end is drawn and discarded, and the next piece goes on with the draw
    after it, exactly as a draw-at-a-time loop would."""
    assert spec.schedule is not None
    steps = spec.schedule
    ends = [step.at for step in steps[1:]] + [math.inf]
    sizes = block_sizes(first=_first_block(spec))
    units = np.empty(0)
    used = 0  # draws of ``units`` consumed
    t = steps[0].at
    for step, end in zip(steps, ends, strict=True):
        t = max(t, step.at)
        if step.rate <= 0:
            continue
        while True:
            if used == len(units):
                units, used = UNIT_EXPONENTIAL.sample(rng, next(sizes)), 0
            gaps = units[used:] / step.rate
            gaps[0] += t
            times = np.cumsum(gaps)
            inside = int(np.searchsorted(times, end, side="left"))  # times < end
            if inside:
                t = float(times[inside - 1])
                yield times[:inside].tolist()
            if inside < len(times):
                used += inside + 1  # the crossing draw is spent
                break
            used = len(units)


def _from_trace(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.trace is not None
    return iter(spec.trace.times)


def _from_mmpp(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    """Poisson at each state's rate for its exponential stay; the first state drawn from the
    stationary distribution, each next one from the leaving state's row of jumps."""
    assert spec.mmpp is not None
    mmpp = spec.mmpp
    if max(s.rate for s in mmpp.states) <= 0:
        return
    unit = Sampler(UNIT_EXPONENTIAL, rng, True).next
    uniform = Sampler(UNIT_UNIFORM, rng, True).next
    start = np.cumsum(mmpp.stationary)
    jumps = np.cumsum(mmpp.jumps, axis=1).tolist()
    state = min(int(np.searchsorted(start, uniform(), side="right")), len(mmpp.states) - 1)
    t = 0.0
    while True:
        current = mmpp.states[state]
        end = t + unit() * current.mean_stay
        if current.rate > 0:
            while (t := t + unit() / current.rate) < end:
                yield t
        t = end
        row = jumps[state]
        state = min(int(np.searchsorted(row, uniform() * row[-1], side="right")), len(row) - 1)


def _from_profile(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    """Thinning, piece by piece: candidates at the piece's larger end rate, each kept with
    probability rate(t) / that rate (a uniform draw per candidate)."""
    assert spec.profile is not None
    if spec.profile.peak <= 0:
        return
    unit = Sampler(UNIT_EXPONENTIAL, rng, True).next
    uniform = Sampler(UNIT_UNIFORM, rng, True).next
    for a, b, ra, rb in spec.profile.segments():
        top = max(ra, rb)
        if top <= 0:
            continue
        slope = 0.0 if b == math.inf else (rb - ra) / (b - a)
        t = a
        while (t := t + unit() / top) < b:
            if uniform() * top < ra + slope * (t - a):
                yield t


def _batched(times: ArrivalTimes, sizes: Callable[[], float]) -> ArrivalTimes:
    """Each of ``times`` repeated by the next batch size."""
    for t in times:
        yield from itertools.repeat(t, round(sizes()))


ARRIVALS: dict[str, Callable[[Producer, np.random.Generator], ArrivalTimes]] = {
    "rate": _from_rate,
    "interarrival": _from_interarrival,
    "schedule": _from_schedule,
    "trace": _from_trace,
    "mmpp": _from_mmpp,
    "profile": _from_profile,
}
"""Arrival process builders by the producer key that selects them."""


def arrival_times(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    """Absolute publish times of ``spec`` (a batch's messages share one), capped at its
    ``count`` of messages."""
    times = ARRIVALS[spec.arrival_key](spec, rng)
    if spec.batch is not None:
        times = _batched(times, sampler(spec.batch, rng.spawn(1)[0]))
    return itertools.islice(times, spec.count) if spec.count is not None else times
