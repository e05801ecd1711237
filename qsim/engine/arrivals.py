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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np

from qsim.distributions import Exponential, Uniform
from qsim.engine.sampler import Sampler
from qsim.scenario import Producer

UNIT_EXPONENTIAL = Exponential[float].model_validate({"dist": "exponential", "mean": 1.0})
UNIT_UNIFORM = Uniform[float].model_validate({"dist": "uniform", "low": 0.0, "high": 1.0})

ArrivalTimes = Iterator[float]


def _gaps(spec: Producer, rng: np.random.Generator) -> Callable[[float], float]:
    """Gap to the next publish at ``rate``: exponential (Poisson) or 1/rate (constant)."""
    if spec.arrivals == "constant":
        return lambda rate: 1.0 / rate
    unit = Sampler(UNIT_EXPONENTIAL, rng)
    return lambda rate: unit() / rate


def _from_rate(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.rate is not None
    if spec.rate <= 0:
        return
    gap = _gaps(spec, rng)
    rate = spec.rate
    t = 0.0
    while True:
        t += gap(rate)
        yield t


def _from_interarrival(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.interarrival is not None
    draw = Sampler(spec.interarrival, rng)
    t = 0.0
    while True:
        t += draw()
        yield t


def _from_schedule(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    assert spec.schedule is not None
    gap = _gaps(spec, rng)
    steps = spec.schedule
    ends = [step.at for step in steps[1:]] + [math.inf]
    t = steps[0].at
    for step, end in zip(steps, ends, strict=True):
        t = max(t, step.at)
        if step.rate <= 0:
            continue
        while True:
            candidate = t + gap(step.rate)
            if candidate >= end:
                break
            t = candidate
            yield t


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
    unit, uniform = Sampler(UNIT_EXPONENTIAL, rng), Sampler(UNIT_UNIFORM, rng)
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
    unit, uniform = Sampler(UNIT_EXPONENTIAL, rng), Sampler(UNIT_UNIFORM, rng)
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
        times = _batched(times, Sampler(spec.batch, rng.spawn(1)[0]))
    return itertools.islice(times, spec.count) if spec.count is not None else times
