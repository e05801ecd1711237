"""Pure statistics: percentile summaries and Student-t confidence intervals. No simulation here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qsim.sketch import LogSketch

__all__ = [
    "PERCENTILES",
    "QUANTILE_GRID",
    "Groups",
    "distribution_summaries",
    "distribution_summary",
    "group_percentiles",
    "mean_interval",
    "quantile_grid",
    "sketch_quantiles",
    "sketch_summary",
    "sorted_percentiles",
]

PERCENTILES: dict[str, float] = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p999": 99.9}
"""The percentiles every latency and wait summary reports, by their JSON key."""

QUANTILE_GRID: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, *(round(0.05 * i, 2) for i in range(1, 19)), 0.925, 0.95, 0.96,
    0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999,
)  # fmt: skip
"""Levels of the compact quantile grid each queue's latency keeps (dense in the tail), from
which reports draw CDFs and histograms; keyed in JSON by ``f"{level:g}"``."""


class Groups:
    """The positions of each group's entries in an array of group numbers ``keys`` (a queue's
    or producer's index per record), from one stable sort: ``values[groups.of(g)]`` is exactly
    ``values[keys == g]``, the same values in the same order, so every figure computed from it
    is the same to the bit, and a thousand groups cost one sort rather than a thousand passes
    over every record."""

    __slots__ = ("_bounds", "_order")

    def __init__(self, keys: np.ndarray) -> None:
        self._order = np.argsort(keys, kind="stable")
        ordered = keys[self._order]
        top = int(ordered[-1]) + 1 if ordered.size else 0
        self._bounds = np.searchsorted(ordered, np.arange(top + 1), side="left").tolist()

    def of(self, group: int) -> np.ndarray:
        """The positions of ``group``'s entries, in their order (empty for a group with none)."""
        if not 0 <= group < len(self._bounds) - 1:
            return self._order[:0]
        return self._order[self._bounds[group] : self._bounds[group + 1]]

    def size(self, group: int) -> int:
        """How many entries ``group`` has."""
        return int(self.of(group).size)

    def arranged(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``values`` group after group, each in record order, with each group's start and
        size there: group ``g`` is ``grouped[starts[g] : starts[g] + sizes[g]]``."""
        bounds = np.asarray(self._bounds, dtype=np.intp)
        return values[self._order], bounds[:-1], np.diff(bounds)


SMALL_GROUP = 4096
"""Groups up to this size have their percentiles interpolated together
(:func:`group_percentiles`: a sort per group, about 1 us plus the sort); a larger one gets its
own ``np.percentile`` call (about 40 us, and a partition, cheaper than a sort at that size)."""


def sorted_percentiles(
    ordered: np.ndarray, starts: np.ndarray, sizes: np.ndarray, levels: list[float]
) -> np.ndarray:
    """The ``levels`` percentiles of each group ``ordered[start : start + size]`` (each sorted,
    none empty), one row per group: numpy's linear interpolation, step for step as
    ``np.percentile`` takes it (virtual index ``(n - 1) * q``; from the last index on, the
    largest value; else ``a + (b - a) * t``, or ``b - (b - a) * (1 - t)`` where ``t >= 0.5``),
    so each figure is the one ``np.percentile`` gives for that group, to the bit."""
    q = np.true_divide(levels, 100)
    last = (sizes - 1)[:, None]
    virtual = last * q[None, :]
    below = np.floor(virtual)
    top = virtual >= last
    lower = np.where(top, last, below).astype(np.intp)
    upper = np.where(top, last, below + 1).astype(np.intp)
    t = virtual - np.where(top, -1.0, below)
    a = ordered[starts[:, None] + lower]
    b = ordered[starts[:, None] + upper]
    gap = b - a
    values: np.ndarray = np.where(t >= 0.5, b - gap * (1 - t), a + gap * t)
    return values


def group_percentiles(
    grouped: np.ndarray, starts: np.ndarray, sizes: np.ndarray, levels: list[float]
) -> np.ndarray:
    """The ``levels`` percentiles of each group ``grouped[start : start + size]`` (none empty),
    one row per group, each the figure ``np.percentile`` gives for that group alone, to the
    bit: groups of up to :data:`SMALL_GROUP` values are sorted one by one and interpolated all
    together (:func:`sorted_percentiles`), a larger one by its own ``np.percentile`` call."""
    result = np.empty((sizes.size, len(levels)))
    small = sizes <= SMALL_GROUP
    ordered = grouped.copy()
    for start, size in zip(starts[small].tolist(), sizes[small].tolist(), strict=True):
        ordered[start : start + size].sort()
    result[small] = sorted_percentiles(ordered, starts[small], sizes[small], levels)
    for row in np.flatnonzero(~small).tolist():
        start, size = int(starts[row]), int(sizes[row])
        result[row] = np.percentile(grouped[start : start + size], levels)
    return result


def distribution_summaries(values: np.ndarray, groups: Groups) -> list[dict[str, float | None]]:
    """:func:`distribution_summary` of every group of ``values`` (group ``g`` is
    ``values[groups.of(g)]``): small groups sorted one by one and their percentiles computed
    together, instead of a ``np.percentile`` call per group (a thousand producers made three
    thousand). The same figures to the bit: the same order statistics interpolated as numpy
    does, each mean over the group's values alone in their order, each max its largest."""
    grouped, starts, sizes = groups.arranged(values)
    full = sizes > 0
    percentiles = group_percentiles(grouped, starts[full], sizes[full], list(PERCENTILES.values()))
    rows = iter(percentiles.tolist())
    summaries: list[dict[str, float | None]] = []
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        values_of = grouped[start : start + size]
        if size == 0:
            summaries.append(distribution_summary(values_of))
            continue
        summary: dict[str, float | None] = {"mean": float(values_of.mean())}
        summary.update(zip(PERCENTILES, next(rows), strict=True))
        summary["max"] = float(values_of.max())
        summaries.append(summary)
    return summaries


def quantile_grid(values: np.ndarray) -> dict[str, float | None]:
    """``values`` at each level of :data:`QUANTILE_GRID` (exact order statistics, numpy's
    linear interpolation; all None when empty)."""
    keys = [f"{level:g}" for level in QUANTILE_GRID]
    if values.size == 0:
        return dict.fromkeys(keys)
    return dict(zip(keys, np.quantile(values, QUANTILE_GRID).tolist(), strict=True))


def sketch_quantiles(sketch: LogSketch) -> dict[str, float | None]:
    """The same grid as :func:`quantile_grid`, from a sketch (within its relative accuracy)."""
    keys = [f"{level:g}" for level in QUANTILE_GRID]
    if sketch.count == 0:
        return dict.fromkeys(keys)
    return {key: sketch.quantile(level) for key, level in zip(keys, QUANTILE_GRID, strict=True)}


def distribution_summary(values: np.ndarray) -> dict[str, float | None]:
    """Mean, p50, p90, p95, p99, p99.9 and max of ``values`` (all None when empty).

    Percentiles are exact order statistics of the recorded values (numpy's linear interpolation).
    """
    keys = ["mean", *PERCENTILES, "max"]
    if values.size == 0:
        return dict.fromkeys(keys)
    quantiles = np.percentile(values, list(PERCENTILES.values()))
    summary: dict[str, float | None] = {"mean": float(values.mean())}
    summary.update({key: float(q) for key, q in zip(PERCENTILES, quantiles, strict=True)})
    summary["max"] = float(values.max())
    return summary


def sketch_summary(sketch: LogSketch) -> dict[str, float | None]:
    """The same figures as :func:`distribution_summary`, from a quantile sketch: mean and max
    exact, percentiles within the sketch's relative accuracy."""
    keys = ["mean", *PERCENTILES, "max"]
    if sketch.count == 0:
        return dict.fromkeys(keys)
    summary: dict[str, float | None] = {"mean": sketch.mean}
    summary.update({key: sketch.quantile(p / 100) for key, p in PERCENTILES.items()})
    summary["max"] = sketch.max
    return summary


def mean_interval(
    values: Sequence[float | None], level: float = 0.95
) -> tuple[float | None, tuple[float, float] | None]:
    """Mean of independent replications and its Student-t confidence interval.

    Returns ``(None, None)`` if any value is missing and ``(mean, None)`` with fewer than two.
    """
    if not values or any(v is None for v in values):
        return None, None
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    if data.size < 2:
        return mean, None
    from scipy import stats  # imported here: it costs each parallel worker ~0.4 s at start

    sem = float(data.std(ddof=1)) / math.sqrt(data.size)
    half = float(stats.t.ppf(0.5 + level / 2, data.size - 1)) * sem
    return mean, (mean - half, mean + half)
