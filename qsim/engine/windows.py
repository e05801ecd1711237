"""Latency percentiles per sample window: what a dashboard's "p99 over time" panel shows.

Sample ``i`` is taken at ``i * step``; its window is ``((i - 1) * step, i * step]`` and holds the
messages that *completed* in it (acked, or processed under auto-ack), among those the recorder
keeps (published after the warm-up). A window in which no such message completed has no value
(NaN here, null in JSON), and neither has sample 0. Percentiles are exact (numpy's linear
interpolation, as :func:`qsim.stats.distribution_summary`), or with ``--stream`` read from one
quantile sketch per queue and window (:class:`qsim.sketch.LogSketch`, within its relative
accuracy), so memory stays bounded by the number of windows, not of messages.
"""

from __future__ import annotations

import numpy as np

from qsim.sketch import LogSketch
from qsim.stats import group_percentiles

__all__ = [
    "WINDOW_PERCENTILES",
    "WindowSketches",
    "run_starts",
    "runs",
    "window_index",
    "window_series",
]

WINDOW_PERCENTILES: dict[str, float] = {"latency_p50": 50, "latency_p95": 95, "latency_p99": 99}
"""Series key (under ``timeseries.queues.NAME``) -> the percentile of each window."""

Series = dict[int, dict[str, np.ndarray]]
"""Queue index -> series key -> one value per sample (NaN where the window is empty)."""


def window_index(completed_at: np.ndarray, step: float) -> np.ndarray:
    """The sample whose window holds each completion time (``ceil(t / step)``, at least 1)."""
    index = np.ceil(completed_at / step - 1e-9).astype(np.int64)
    return np.maximum(index, 1)


def _empty(samples: int) -> dict[str, np.ndarray]:
    return {key: np.full(samples, np.nan) for key in WINDOW_PERCENTILES}


def window_series(records: dict[str, np.ndarray], queues: int, step: float, samples: int) -> Series:
    """Exact per-window percentiles of every queue from the recorder's message records, grouped
    by one sort by queue and window, every group's percentiles at once
    (:func:`qsim.stats.group_percentiles`: ``np.percentile``'s figures to the bit)."""
    latency = records["latency"]
    window = window_index(records["published_at"] + latency, step)
    keep = window < samples
    queue, window, latency = records["queue"][keep], window[keep], latency[keep]
    order = np.lexsort((window, queue))
    queue, window, latency = queue[order], window[order], latency[order]
    starts = run_starts(queue, window)
    sizes = np.diff(np.r_[starts, latency.size])
    values = group_percentiles(latency, starts, sizes, list(WINDOW_PERCENTILES.values()))
    at = (queue[starts].astype(np.intp), window[starts])
    result = {}
    for column, key in enumerate(WINDOW_PERCENTILES):
        table = np.full((queues, samples), np.nan)
        table[at] = values[:, column]
        result[key] = table
    return {q: {key: result[key][q] for key in WINDOW_PERCENTILES} for q in range(queues)}


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """Where each run of equal rows in ``columns`` (sorted together, equal length) starts:
    where a stable sort has gathered each group's entries, in their order."""
    size = columns[0].size
    if not size:
        return np.zeros(0, dtype=np.intp)
    change = np.zeros(size - 1, dtype=bool)
    for column in columns:
        change |= column[1:] != column[:-1]
    starts: np.ndarray = np.r_[0, np.flatnonzero(change) + 1]
    return starts


def runs(*columns: np.ndarray) -> list[tuple[int, int]]:
    """Start and end of each run of equal rows in ``columns`` (:func:`run_starts`)."""
    starts = run_starts(*columns).tolist()
    return list(zip(starts, [*starts[1:], columns[0].size][: len(starts)], strict=True))


class WindowSketches:
    """Streaming: one quantile sketch per queue and sample window, fed in batches (each batch
    split by one sort, not a mask per queue and window)."""

    def __init__(self, step: float, relative_accuracy: float) -> None:
        self.step = step
        self.relative_accuracy = relative_accuracy
        self.sketches: dict[tuple[int, int], LogSketch] = {}

    def add(self, records: dict[str, np.ndarray]) -> None:
        """Add a batch of the recorder's message records."""
        latency = records["latency"]
        window = window_index(records["published_at"] + latency, self.step)
        queue = records["queue"].astype(np.int64)
        order = np.lexsort((window, queue))  # stable: each window's records in their order
        queue, window = queue[order], window[order]
        for start, end in runs(queue, window):
            key = (int(queue[start]), int(window[start]))
            if key not in self.sketches:
                self.sketches[key] = LogSketch(self.relative_accuracy)
            self.sketches[key].add(latency[order[start:end]])

    def series(self, queues: int, samples: int) -> Series:
        """The per-window percentiles of every queue, within the sketches' accuracy."""
        result = {q: _empty(samples) for q in range(queues)}
        for (queue, index), sketch in self.sketches.items():
            if index >= samples or sketch.count == 0:
                continue
            for key, level in WINDOW_PERCENTILES.items():
                result[queue][key][index] = sketch.quantile(level / 100)
        return result
