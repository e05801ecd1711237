"""The two-phase hyper-exponential fitted by expectation-maximisation (EM).

A mixture of two exponentials has no closed-form maximum-likelihood estimate; EM (Dempster,
Laird and Rubin 1977; for phase-type fitting, Asmussen, Nerman and Olsson 1996) climbs the
likelihood: the E-step gives each sample the probability ``w`` that it came from the long phase,
the M-step sets ``p`` to the mean of ``w`` and each phase's mean to its ``w``-weighted sample
mean. The likelihood never falls; iterations stop when it rises by less than
:data:`TOLERANCE` (relative) or after :data:`MAX_ITERATIONS`. Phases are named ``long`` and
``short`` (by their means), so that a fit is unique and its parameters comparable.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_ITERATIONS", "TOLERANCE", "FrozenHyperExponential", "fit_hyperexponential"]

TOLERANCE = 1e-8
"""EM stops when the log-likelihood rises by less than this fraction of itself."""
MAX_ITERATIONS = 200
"""EM stops after this many iterations (on data with cv <= 1 the two phases merge slowly)."""


class FrozenHyperExponential:
    """A two-phase hyper-exponential with the ``scipy.stats`` methods the fitting uses."""

    def __init__(self, p_long: float, mean_long: float, mean_short: float) -> None:
        self.p = min(max(p_long, 0.0), 1.0)
        self.means = np.array([mean_long, mean_short])
        self.weights = np.array([self.p, 1.0 - self.p])

    def _log_parts(self, x: np.ndarray) -> np.ndarray:
        """``log(weight_i f_i(x))`` for each phase (rows) and sample (columns)."""
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)[:, None]
        scaled = np.asarray(x, dtype=float)[None, :] / self.means[:, None]
        return np.asarray(log_w - np.log(self.means)[:, None] - scaled, dtype=float)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """The log density at each ``x``."""
        long, short = self._log_parts(x)
        return np.asarray(np.logaddexp(long, short), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The distribution function at each ``x``."""
        x = np.asarray(x, dtype=float)
        return np.asarray(
            1.0 - self.weights @ np.exp(-x[None, :] / self.means[:, None]), dtype=float
        )

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """``size`` draws (bootstrap samples)."""
        chosen = random_state.random(size) >= self.p  # 0: long, 1: short
        return np.asarray(random_state.exponential(self.means[chosen.astype(int)]), dtype=float)


def fit_hyperexponential(x: np.ndarray) -> dict[str, float]:
    """Maximum-likelihood ``p_long``, ``mean_long`` and ``mean_short`` of positive samples by
    EM, started from the means of the samples above and below the median."""
    x = np.asarray(x, dtype=float)
    median = float(np.median(x))
    above, below = x[x > median], x[x <= median]
    long_mean = float(above.mean()) if above.size else float(x.mean())
    short_mean = float(below.mean()) if below.size else float(x.mean())
    model = FrozenHyperExponential(0.5, long_mean, short_mean)
    previous = -math.inf
    for _ in range(MAX_ITERATIONS):
        parts = model._log_parts(x)
        total = np.logaddexp(parts[0], parts[1])
        likelihood = float(total.sum())
        if likelihood - previous <= TOLERANCE * abs(likelihood):
            break
        previous = likelihood
        w = np.exp(parts[0] - total)  # P(long phase | x)
        p = float(w.mean())
        if p <= 0.0 or p >= 1.0:  # one phase left: an exponential
            break
        model = FrozenHyperExponential(
            p, float((w * x).sum() / w.sum()), float(((1 - w) * x).sum() / (1 - w).sum())
        )
    mean_long, mean_short = (float(m) for m in model.means)
    if mean_short > mean_long:
        return {"p_long": 1 - model.p, "mean_long": mean_short, "mean_short": mean_long}
    return {"p_long": model.p, "mean_long": mean_long, "mean_short": mean_short}
