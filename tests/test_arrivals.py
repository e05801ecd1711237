"""Arrival processes: rates, schedules and interarrival distributions publish what they promise.

Counts of a Poisson process are Poisson: a count with mean m lies within m +- 4 sqrt(m) except
with probability below 1e-4, which is the tolerance used here.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import scenario_from

from qsim.engine.simulation import Model


def published_times(text: str) -> np.ndarray:
    """Publish times of every message in an inline scenario without consumers."""
    model = Model(scenario_from(text), 0)
    model.run()
    return np.array([m.published_at for m in model.queues[0].ready])


def within_poisson_band(count: int, mean: float) -> bool:
    """Whether ``count`` is within 4 standard deviations of a Poisson ``mean``."""
    return abs(count - mean) <= 4 * math.sqrt(mean)


def test_poisson_rate_publishes_rate_times_duration_on_average():
    """rate: 50/s over 200 s publishes about 10,000 messages."""
    times = published_times(
        """
        name: poisson
        duration: 200s
        producers: [{name: p, to: q, rate: 50/s}]
        queues: [{name: q}]
        """
    )
    assert within_poisson_band(times.size, 10_000)


def test_poisson_interarrival_times_have_cv_one():
    """Poisson arrivals have exponential gaps: coefficient of variation 1 (within 3%)."""
    times = published_times(
        """
        name: poisson-cv
        duration: 400s
        producers: [{name: p, to: q, rate: 50/s}]
        queues: [{name: q}]
        """
    )
    gaps = np.diff(times)
    assert abs(gaps.std() / gaps.mean() - 1) < 0.03


def test_schedule_follows_each_piece_rate():
    """A lunch-rush schedule: 10/s for 100 s, 40/s for 50 s, 0 for 50 s, then 20/s."""
    times = published_times(
        """
        name: schedule
        duration: 300s
        producers:
          - name: p
            to: q
            schedule:
              - {at: 0s, rate: 10/s}
              - {at: 100s, rate: 40/s}
              - {at: 150s, rate: 0}
              - {at: 200s, rate: 1200/min}
        queues: [{name: q}]
        """
    )
    pieces = np.histogram(times, bins=[0, 100, 150, 200, 300])[0]
    expected = [1000, 2000, 0, 2000]
    assert all(within_poisson_band(int(n), m) for n, m in zip(pieces, expected, strict=True))


def test_interarrival_distribution_sets_the_gaps():
    """interarrival: uniform 1-3 s gives a mean gap of 2 s."""
    times = published_times(
        """
        name: interarrival
        duration: 20000s
        producers: [{name: p, to: q, interarrival: {dist: uniform, low: 1s, high: 3s}}]
        queues: [{name: q}]
        """
    )
    gaps = np.diff(times)
    standard_error = math.sqrt(4 / 12 / gaps.size)
    assert abs(gaps.mean() - 2.0) < 4 * standard_error
