"""Queueing theory for c parallel servers: Erlang C (M/M/c, exact) and Allen-Cunneen (G/G/c).

A :class:`Station` is one queue served by ``servers`` identical workers (replicas x concurrency)
with arrivals at ``rate`` (squared coefficient of variation ``ca2``) and a service-time
distribution. With offered load ``a = rate * E[S]`` below ``servers``:

- Erlang C: an arrival waits with probability ``C(c, a)``, and a waiting arrival waits
  ``Exp(theta)``, ``theta = c mu - lambda``: ``P(W > t) = C(c, a) exp(-theta t)`` (exact for
  Poisson arrivals and exponential service, FIFO).
- Allen-Cunneen: for other arrivals and service, the mean wait of M/M/c times
  ``(ca2 + cs2) / 2``; the wait keeps the Erlang-C shape (probability ``C`` of waiting, then
  exponential) with that mean, i.e. ``theta`` divided by ``(ca2 + cs2) / 2``. An approximation
  (Allen 1990, *Probability, Statistics and Queueing Theory*, 2nd ed., section 6.4).

Latency is wait plus service, independent of each other: ``P(T > t) = (1 - C) P(S > t) +
C P(E_theta + S > t)``. With exponential service that is a closed form (exact M/M/c sojourn);
otherwise the expectation over S is taken on a fixed set of draws of S (seeded, so it is the same
every time). Quantiles are found by bisection on these tails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qsim.distributions import Distribution

__all__ = ["FIGURES", "Station", "erlang_c", "smallest_replicas"]

SERVICE_DRAWS = 1 << 17
"""Draws of a non-exponential service time used to integrate the latency tail."""


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a`` (1 at or above ``c``).

    Through the Erlang B recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, stable for large c:
    ``C = c B(c) / (c - a (1 - B(c)))``.
    """
    if a >= c:
        return 1.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def _quantile(tail: Any, q: float) -> float:
    """The smallest t with ``tail(t) <= 1 - q``, by bisection (``tail`` decreasing)."""
    target = 1 - q
    if tail(0.0) <= target:
        return 0.0
    high = 1.0
    while tail(high) > target:
        high *= 2
        if high > 1e12:
            return math.inf
    low = 0.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (low, mid) if tail(mid) <= target else (mid, high)
        if high - low <= 1e-9 * high:
            break
    return high


@dataclass(frozen=True)
class Station:
    """A queue with ``servers`` workers, arrivals at ``rate`` (cv^2 ``ca2``) and ``service``
    (a :class:`~qsim.distributions.Distribution` with ``mean``, ``cv`` and ``sample``)."""

    rate: float
    ca2: float
    service: Distribution[Any]
    servers: int
    _draws: Any = field(default=None, compare=False, repr=False)

    @property
    def exact(self) -> bool:
        """Whether Erlang C is exact here: Poisson arrivals and exponential service."""
        return self.ca2 == 1.0 and self.service.name == "exponential"

    @property
    def method(self) -> str:
        """``erlang-c`` (exact) or ``allen-cunneen`` (approximation)."""
        return "erlang-c" if self.exact else "allen-cunneen"

    @property
    def load(self) -> float:
        """Offered load a = lambda E[S], in busy workers."""
        return self.rate * self.service.mean

    @property
    def stable(self) -> bool:
        """Whether the workers keep up: a < c."""
        return self.load < self.servers

    @property
    def utilization(self) -> float:
        """Busy fraction of the workers, a / c (capped at 1)."""
        return min(1.0, self.load / self.servers)

    @property
    def wait_probability(self) -> float:
        """Probability of waiting at all: Erlang C."""
        return erlang_c(self.servers, self.load)

    @property
    def theta(self) -> float:
        """Decay rate of the conditional wait: c mu - lambda, over (ca2 + cs2) / 2 if not exact."""
        base = self.servers / self.service.mean - self.rate
        return base if self.exact else base / ((self.ca2 + self.service.cv**2) / 2)

    def wait_tail(self, t: float) -> float:
        """P(W > t)."""
        return self.wait_probability * math.exp(-self.theta * t) if self.stable else 1.0

    def wait_mean(self) -> float:
        """E[W] = C / theta."""
        return self.wait_probability / self.theta if self.stable else math.inf

    def _service_draws(self) -> np.ndarray:
        if self._draws is None:
            draws = self.service.sample(np.random.default_rng(20_260_101), SERVICE_DRAWS)
            object.__setattr__(self, "_draws", np.sort(draws))
        return np.asarray(self._draws)

    def latency_tail(self, t: float) -> float:
        """P(T > t) for T = W + S."""
        if not self.stable:
            return 1.0
        c, theta = self.wait_probability, self.theta
        if self.service.name == "exponential":
            mu = 1 / self.service.mean
            after = math.exp(-mu * t)
            if math.isclose(theta, mu):
                both = (1 + mu * t) * after
            else:
                both = (mu * math.exp(-theta * t) - theta * after) / (mu - theta)
            return (1 - c) * after + c * both
        draws = self._service_draws()
        beyond = float(np.mean(draws > t))
        both = float(np.mean(np.exp(-theta * np.clip(t - draws, 0.0, None))))
        return (1 - c) * beyond + c * both


def _wait_quantile(q: float) -> Any:
    return lambda s: _quantile(s.wait_tail, q) if s.stable else math.inf


def _latency_quantile(q: float) -> Any:
    return lambda s: _quantile(s.latency_tail, q) if s.stable else math.inf


FIGURES: dict[tuple[str, str | None], Any] = {
    ("wait", "mean"): lambda s: s.wait_mean(),
    ("latency", "mean"): lambda s: s.wait_mean() + s.service.mean,
    ("backlog", "mean"): lambda s: s.rate * s.wait_mean(),  # Little: Lq = lambda Wq
    ("utilization", None): lambda s: s.utilization,
    ("throughput", None): lambda s: s.rate if s.stable else s.servers / s.service.mean,
}
"""Steady-state figures by (metric, summary statistic key)."""
for _key, _p in {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}.items():
    FIGURES["wait", _key] = _wait_quantile(_p)
    FIGURES["latency", _key] = _latency_quantile(_p)


def smallest_replicas(
    station_for: Callable[[int], Station], meets: Callable[[Station], bool], limit: int = 10_000
) -> int | None:
    """The smallest replica count n for which ``meets(station_for(n))`` holds, or None if even
    ``limit`` replicas (next to no waiting) do not. Bisection: the figures only improve with n."""
    if not meets(station_for(limit)):
        return None
    low = 0  # below the answer: unstable or not meeting
    high = limit
    while high - low > 1:
        middle = (low + high) // 2
        station = station_for(middle)
        if station.stable and meets(station):
            high = middle
        else:
            low = middle
    return high
