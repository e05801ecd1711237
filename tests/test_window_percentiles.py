"""Per-window latency percentiles, all windows at once, are np.percentile's to the bit.

``qsim.engine.windows.window_series`` groups the records by one sort by queue and window, sorts
the latencies within each group and interpolates every window's percentiles together
(``qsim.stats.group_percentiles``, ``sorted_percentiles``) instead of calling ``np.percentile``
per queue and window (a hundred queues make tens of thousands of windows). The reference below
is that call per group; the figures must be equal with ``==``, small groups and large. With
``--stream`` the batches are split the same way (one stable sort) into the per-window and
per-producer sketches, which must hold what a mask per group feeds them.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario_from

from qsim.engine import simulate
from qsim.engine.windows import (
    WINDOW_PERCENTILES,
    WindowSketches,
    runs,
    window_index,
    window_series,
)
from qsim.sketch import LogSketch
from qsim.stats import SMALL_GROUP, sorted_percentiles

LEVELS = list(WINDOW_PERCENTILES.values())


def per_group_reference(records, queues, step, samples):
    """One ``np.percentile`` per queue and window, as qsim computed them before."""
    result = {q: {k: np.full(samples, np.nan) for k in WINDOW_PERCENTILES} for q in range(queues)}
    window = window_index(records["published_at"] + records["latency"], step)
    for q in range(queues):
        for w in range(samples):
            picked = records["latency"][(records["queue"] == q) & (window == w)]
            if picked.size:
                for key, value in zip(
                    WINDOW_PERCENTILES, np.percentile(picked, LEVELS), strict=True
                ):
                    result[q][key][w] = value
    return result


def assert_windows_match(records, queues, step, samples):
    """Every window of every queue: the figures ``window_series`` gives are the reference's."""
    fast = window_series(records, queues=queues, step=step, samples=samples)
    slow = per_group_reference(records, queues=queues, step=step, samples=samples)
    for q in range(queues):
        for key in WINDOW_PERCENTILES:
            np.testing.assert_array_equal(fast[q][key], slow[q][key], strict=True)


def random_records(seed, size, queues, ties):
    rng = np.random.default_rng(seed)
    latency = rng.exponential(0.7, size)
    if ties:  # whole tenths: equal values, and groups whose quantiles fall on an index
        latency = np.round(latency, 1)
    return {
        "queue": rng.integers(0, queues, size).astype(np.int16),
        "published_at": rng.uniform(0.0, 100.0, size),
        "latency": latency,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("size", [0, 1, 40, 3000])
def test_every_window_of_every_queue_has_np_percentiles_figures(seed, ties, size):
    """Groups of one message, of a few and of hundreds; windows past the last sample dropped."""
    assert_windows_match(random_records(seed, size, queues=7, ties=ties), 7, 4.0, 20)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_with_thousands_of_windows_all_at_once_they_are_np_percentiles_figures(ties):
    """60 queues and 60 windows: thousands of groups, interpolated together."""
    assert_windows_match(random_records(4, 30_000, queues=60, ties=ties), 60, 2.0, 60)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_windows_larger_than_a_small_group_are_np_percentiles_figures(ties):
    """One queue, windows of 40,000 messages: past SMALL_GROUP, each takes its own call."""
    records = random_records(6, 100_000, queues=1, ties=ties)
    window = window_index(records["published_at"] + records["latency"], 40.0)
    assert np.bincount(window).max() > SMALL_GROUP  # the case reaches the large-group path
    assert_windows_match(records, 1, 40.0, 4)


def test_sorted_percentiles_of_single_groups_are_np_percentile():
    """Sizes 1 to 300, so that the virtual index lands on, below and above whole indexes."""
    rng = np.random.default_rng(8)
    for size in range(1, 301):
        values = np.sort(rng.lognormal(0.0, 1.0, size))
        got = sorted_percentiles(values, np.array([0]), np.array([size]), [0, 50, 95, 99, 100])
        assert got[0].tolist() == np.percentile(values, [0, 50, 95, 99, 100]).tolist()


def test_runs_are_the_stretches_of_equal_rows():
    queue = np.array([0, 0, 1, 1, 1, 3])
    window = np.array([2, 2, 1, 1, 4, 4])
    assert runs(queue, window) == [(0, 2), (2, 4), (4, 5), (5, 6)]
    assert runs(queue[:0]) == []


def _state(sketch):
    return sketch.count, sketch.zeros, sketch.min, sketch.max, sketch.bins


def test_streamed_window_sketches_hold_what_a_mask_per_window_feeds_them():
    """One sort per batch feeds each (queue, window) sketch the values a mask picks."""
    records = random_records(5, 5_000, queues=4, ties=False)
    sketches = WindowSketches(4.0, 0.01)
    sketches.add(records)
    window = window_index(records["published_at"] + records["latency"], 4.0)
    assert sketches.sketches  # the batch made sketches
    for (queue, index), sketch in sketches.sketches.items():
        expected = LogSketch(0.01)
        expected.add(records["latency"][(records["queue"] == queue) & (window == index)])
        assert _state(sketch) == _state(expected) and sketch.sum == expected.sum
    assert sum(s.count for s in sketches.sketches.values()) == 5_000


def test_a_streamed_run_sketches_each_producers_messages():
    """``--stream`` keeps per producer the count and value bins of its exact records."""
    text = """
    name: streamed
    seed: 2
    duration: 20min
    producers: [{name: a, to: q, rate: 30/s}, {name: b, to: q, rate: 40/s}]
    queues: [{name: q}]
    consumers: [{name: c, queue: q, replicas: 2, service_time: {dist: exponential, mean: 20ms}}]
    """
    scenario = scenario_from(text)
    exact, streamed = simulate(scenario), simulate(scenario, stream=0.01)
    assert streamed.sketches is not None
    for index in (0, 1):
        expected = LogSketch(0.01)
        expected.add(exact.records["wait"][exact.records["producer"] == index])
        got = streamed.sketches[("wait", "producer", index)]
        assert _state(got) == _state(expected)
