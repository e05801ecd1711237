"""A mergeable quantile sketch with a relative-error guarantee, for runs too long to keep every
message's figures (``qsim run --stream``).

This is DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch
with relative-error guarantees", VLDB 2019): values fall in logarithmic buckets
``(gamma^(i-1), gamma^i]`` with ``gamma = (1 + a) / (1 - a)``, and a quantile is answered with the
bucket's midpoint ``2 gamma^i / (gamma + 1)``, within relative error ``a`` of the exact order
statistic. Values at or below :data:`ZERO` (a wait of exactly zero, say) are counted apart and
answered as zero. Count, sum (so the mean), minimum and maximum are exact. Values are added in
numpy batches; memory grows with the logarithm of the value range, not with the count.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ZERO", "LogSketch"]

ZERO = 1e-9
"""Values at or below this (seconds) count as zero."""


class LogSketch:
    """Quantiles within ``relative_accuracy`` of the exact ones, in bounded memory."""

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError("relative_accuracy must be between 0 and 1")
        self.relative_accuracy = relative_accuracy
        self.gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self.gamma)
        self.bins: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, values: np.ndarray) -> None:
        """Add a batch of non-negative values."""
        if values.size == 0:
            return
        self.count += int(values.size)
        self.sum += float(values.sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        positive = values[values > ZERO]
        self.zeros += int(values.size - positive.size)
        keys, counts = np.unique(
            np.ceil(np.log(positive) / self._log_gamma).astype(np.int64), return_counts=True
        )
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            self.bins[key] = self.bins.get(key, 0) + count

    def merge(self, other: LogSketch) -> None:
        """Add everything ``other`` holds (same accuracy)."""
        if other.gamma != self.gamma:
            raise ValueError("sketches of different accuracy cannot be merged")
        for key, count in other.bins.items():
            self.bins[key] = self.bins.get(key, 0) + count
        self.zeros += other.zeros
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float:
        """The exact mean."""
        return self.sum / self.count if self.count else math.nan

    def fraction_at_most(self, value: float) -> float:
        """The fraction of values at or below ``value`` (within the bucket resolution)."""
        if self.count == 0:
            return math.nan
        below = self.zeros + sum(
            count
            for key, count in self.bins.items()
            if 2 * self.gamma**key / (self.gamma + 1) <= value
        )
        return below / self.count

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 <= q <= 1), within the relative accuracy."""
        if self.count == 0:
            return math.nan
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                value = 2 * self.gamma**key / (self.gamma + 1)
                return min(max(value, self.min), self.max)
        return self.max
