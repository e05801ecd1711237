"""Per-window latency percentiles, all windows at once, are np.percentile's to the bit.

``qsim.engine.windows.window_series`` groups the records by one sort by queue and window; from
``VECTORISED_FROM`` groups on (a hundred queues make tens of thousands) it sorts the latencies
within the groups and interpolates every window's percentiles together (``sorted_percentiles``)
instead of calling ``np.percentile`` per queue and window. The reference below is that call
per group; the figures must be equal with ``==`` on both paths.
"""

from __future__ import annotations

import numpy as np
import pytest

from qsim.engine.windows import (
    VECTORISED_FROM,
    WINDOW_PERCENTILES,
    sorted_percentiles,
    window_index,
    window_series,
)

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
    records = random_records(seed, size, queues=7, ties=ties)
    fast = window_series(records, queues=7, step=4.0, samples=20)
    slow = per_group_reference(records, queues=7, step=4.0, samples=20)
    for q in range(7):
        for key in WINDOW_PERCENTILES:
            np.testing.assert_array_equal(fast[q][key], slow[q][key], strict=True)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_with_thousands_of_windows_all_at_once_they_are_np_percentiles_figures(ties):
    """60 queues and 60 windows: more groups than VECTORISED_FROM, so one interpolation."""
    records = random_records(4, 30_000, queues=60, ties=ties)
    window = window_index(records["published_at"] + records["latency"], 2.0)
    groups = np.unique(np.stack([records["queue"], window])[:, window < 60], axis=1).shape[1]
    assert groups >= VECTORISED_FROM  # the case reaches the vectorised path
    fast = window_series(records, queues=60, step=2.0, samples=60)
    slow = per_group_reference(records, queues=60, step=2.0, samples=60)
    for q in range(60):
        for key in WINDOW_PERCENTILES:
            np.testing.assert_array_equal(fast[q][key], slow[q][key], strict=True)


def test_sorted_percentiles_of_single_groups_are_np_percentile():
    """Sizes 1 to 300, so that the virtual index lands on, below and above whole indexes."""
    rng = np.random.default_rng(8)
    for size in range(1, 301):
        values = np.sort(rng.lognormal(0.0, 1.0, size))
        got = sorted_percentiles(values, np.array([0]), np.array([size]), [0, 50, 95, 99, 100])
        assert got[0].tolist() == np.percentile(values, [0, 50, 95, 99, 100]).tolist()
