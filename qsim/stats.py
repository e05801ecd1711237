"""Pure statistics: percentile summaries and Student-t confidence intervals. No simulation here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qsim.sketch import LogSketch

__all__ = ["PERCENTILES", "distribution_summary", "mean_interval", "sketch_summary"]

PERCENTILES: dict[str, float] = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p999": 99.9}
"""The percentiles every latency and wait summary reports, by their JSON key."""


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
