"""Arrival processes: each turns a producer's spec into an iterator of absolute publish times.

Looked up in :data:`ARRIVALS` by the key that defines them (``rate``, ``interarrival``,
``schedule``, ``trace``). Poisson processes draw unit exponentials and divide by the rate, so a
schedule's pieces are exactly Poisson within each piece (memorylessness lets a gap that crosses a
piece boundary be redrawn from the boundary).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np

from qsim.distributions import Exponential
from qsim.engine.sampler import Sampler
from qsim.scenario import Producer

UNIT_EXPONENTIAL = Exponential[float].model_validate({"dist": "exponential", "mean": 1.0})

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


ARRIVALS: dict[str, Callable[[Producer, np.random.Generator], ArrivalTimes]] = {
    "rate": _from_rate,
    "interarrival": _from_interarrival,
    "schedule": _from_schedule,
    "trace": _from_trace,
}
"""Arrival process builders by the producer key that selects them."""


def arrival_times(spec: Producer, rng: np.random.Generator) -> ArrivalTimes:
    """Absolute publish times of ``spec``, capped at its ``count``."""
    times = ARRIVALS[spec.arrival_key](spec, rng)
    return itertools.islice(times, spec.count) if spec.count is not None else times
