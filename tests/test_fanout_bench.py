"""The fan-out benchmark still runs: its scenarios publish what they say, its table divides right.

Never an assertion on speed (that is the benchmark's business): the scenarios spread the same
total over producers or queues, a point measured in this process publishes every message, and
growth is each run's time over the same seed's first point.
"""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))  # `benchmarks` is a folder of the repository, not a package

from benchmarks import fanout
from benchmarks.measure import Job, Measurement, measure


def test_the_producers_series_spreads_the_total_over_producers_to_one_queue():
    scenario = fanout.point("producers-10").build(1_000, 1)
    assert {p.to for p in scenario.producers} == {"q"}
    assert sum(p.count for p in scenario.producers) == 1_000
    assert sum(p.rate for p in scenario.producers) == pytest.approx(fanout.RATE)


def test_the_queues_series_gives_each_queue_a_producer_and_a_pool_at_the_same_load():
    scenario = fanout.point("queues-10").build(1_000, 1)
    assert [p.to for p in scenario.producers] == [q.name for q in scenario.queues]
    assert [c.queue for c in scenario.consumers] == [q.name for q in scenario.queues]
    pairs = zip(scenario.producers, scenario.consumers, strict=True)
    loads = [p.rate * c.service_time.mean for p, c in pairs]
    assert loads == pytest.approx([fanout.RHO] * 10)


def test_an_unknown_point_is_an_error_naming_the_forms():
    with pytest.raises(KeyError, match="producers-N or queues-N"):
        fanout.point("consumers-3")


@pytest.mark.parametrize("key", ["producers-100", "queues-10"])
def test_a_point_measured_in_process_publishes_every_message(key):
    """``measure`` raises if the model simulated another number of messages."""
    measured = measure(Job(key, "qsim", 2_000, 1))
    assert measured.messages == 2_000 and measured.seconds > 0


def _measured(key: str, seed: int, seconds: float, rss: float = 100.0) -> Measurement:
    return Measurement(key, "qsim", 1_000, seed, seconds, None, rss, 50.0)


def test_growth_is_each_runs_time_over_the_same_seeds_first_point():
    """Seed 1: 2 s over 1 s; seed 2: 3 s over 2 s; seed 3: 4 s over 2 s; the median is 2."""
    measured = [
        *(_measured("queues-1", seed, s) for seed, s in ((1, 1.0), (2, 2.0), (3, 2.0))),
        *(_measured("queues-10", seed, s, 150.0) for seed, s in ((1, 2.0), (2, 3.0), (3, 4.0))),
    ]
    first, wide = fanout.table(measured)
    assert (first.growth, wide.growth) == (1.0, 2.0)
    assert (wide.median_us, wide.min_us, wide.max_us) == (3_000.0, 2_000.0, 4_000.0)
    assert wide.rss_growth == 1.5
