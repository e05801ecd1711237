"""Discrete distributions: whole-numbered draws, chiefly batch sizes
(``batch: {dist: geometric, mean: 3}`` on a producer).

- ``poisson`` (``mean``): 0, 1, 2, ... with ``P(k) = e^-m m^k / k!``.
- ``geometric`` (``mean`` or ``p``): the number of trials up to and including the first success,
  1, 2, ... with ``P(k) = (1 - p)^(k - 1) p``, ``0 < p <= 1``, mean ``1 / p``: numpy's
  convention (``Generator.geometric``: "supported on the positive integers, k = 1, 2, ...") and
  scipy's (``scipy.stats.geom``: "for k >= 1, 0 < p <= 1"). Ciw's ``Geometric(prob)`` draws
  with numpy's, so the same law.
- ``binomial`` (``n``, ``p``): successes in ``n`` trials, 0 to ``n``.
- ``pmf`` (``values``, ``probs``): each of ``values`` with its probability (Ciw's ``Pmf``:
  values not negative, probabilities summing to 1).

A value is a whole number of the field's base unit: a message count for ``batch``, seconds for a
time, bytes for a size (``pmf`` values carry units: ``values: [1s, 5s]``). Each family keeps a
table of its values with their cumulative probabilities (where its tail is below
:data:`TAIL`); ``ppf(u)`` is the smallest value whose distribution function reaches ``u``, by
binary search in that table (geometric: in closed form), so common random numbers work as for
the continuous families. ``sample`` uses numpy's own samplers, an independent way to the same
law (the tests compare the two). Nothing here imports scipy: start-up time matters.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qsim.distributions import Distribution, Q, register
from qsim.phasetype import check_sum_to_one
from qsim.spec import PositiveCount, Probability, fail

__all__ = ["Binomial", "Discrete", "Geometric", "Pmf", "Poisson", "Table"]

TAIL = 1e-18
"""Probability a family's table may leave out at either end (below float resolution of 1)."""
MAX_TABLE = 2_000_000
"""Most values a table may hold; a family that would need more is refused at load time."""
SPREAD = 40.0
"""Standard deviations either side of the mean a Poisson or binomial table spans: beyond that
the tail is below ``exp(-40^2 / 2)`` by Chernoff's bound, far below :data:`TAIL`."""


@dataclass(frozen=True)
class Table:
    """A finite law: distinct ``values`` in increasing order, each with probability above zero,
    and their cumulative probabilities ``cdf`` (the last exactly 1)."""

    values: np.ndarray
    probs: np.ndarray
    cdf: np.ndarray

    @classmethod
    def of(cls, values: Any, probs: Any) -> Table:
        """The table of ``values`` with weights ``probs`` (merged where a value repeats, zero
        weights dropped, normalised to sum 1)."""
        values, probs = np.asarray(values, dtype=float), np.asarray(probs, dtype=float)
        distinct, where = np.unique(values, return_inverse=True)
        summed = np.bincount(where, weights=probs, minlength=distinct.size).astype(float)
        kept = summed > 0
        weights = summed[kept] / math.fsum(summed[kept].tolist())
        cdf = np.cumsum(weights)
        cdf[-1] = 1.0
        return cls(distinct[kept], weights, cdf)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The smallest value whose cumulative probability reaches each ``u``."""
        index = np.searchsorted(self.cdf, np.asarray(u, dtype=float), side="left")
        return np.asarray(self.values[np.minimum(index, self.values.size - 1)], dtype=float)

    def cdf_at(self, x: np.ndarray) -> np.ndarray:
        """``P(draw <= x)`` at each ``x``."""
        index = np.searchsorted(self.values, np.asarray(x, dtype=float), side="right")
        return np.where(index > 0, self.cdf[np.maximum(index - 1, 0)], 0.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (numpy's weighted choice, not the ``ppf``)."""
        return np.asarray(rng.choice(self.values, n, p=self.probs), dtype=float)

    def moment(self, k: int) -> float:
        """``E[X^k]``, summed exactly (``math.fsum``)."""
        return math.fsum((self.probs * self.values**k).tolist())

    @property
    def mean(self) -> float:
        return self.moment(1)

    @property
    def variance(self) -> float:
        mean = self.mean
        return math.fsum((self.probs * (self.values - mean) ** 2).tolist())

    def kept(self, low: float, high: float | None) -> Table:
        """This law given ``low < draw <= high`` (renormalised)."""
        inside = (self.values > low) & (True if high is None else self.values <= high)
        if not inside.any():
            raise fail("the truncation keeps no probability of the distribution")
        return Table.of(self.values[inside], self.probs[inside])


@functools.lru_cache(maxsize=256)
def table_of(dist: Discrete[Any]) -> Table:
    """The table of ``dist`` (built once per distinct distribution)."""
    return dist.build_table()


def _window(mean: float, sd: float, top: float = math.inf) -> np.ndarray:
    """Whole numbers from ``mean - SPREAD sd`` to ``mean + SPREAD sd`` (within 0 and ``top``)."""
    low = max(0.0, math.floor(mean - SPREAD * sd - SPREAD))
    high = min(top, math.ceil(mean + SPREAD * sd + SPREAD))
    if high - low + 1 > MAX_TABLE:
        spread = f"mean {mean:g}, sd {sd:g}"
        raise fail(f"too spread to tabulate ({spread}): at most {MAX_TABLE:,} values")
    return np.arange(low, high + 1, dtype=float)


def _log_factorial(k: np.ndarray) -> np.ndarray:
    """``log(k!)`` at each whole ``k`` (the standard library's ``lgamma``)."""
    return np.fromiter((math.lgamma(v + 1.0) for v in k.tolist()), dtype=float, count=k.size)


class Discrete(Distribution[Q]):
    """A distribution on whole numbers with a finite :class:`Table` (where its tail is below
    :data:`TAIL`)."""

    splits: ClassVar[bool] = True  # numpy's weighted choice, poisson, geometric, binomial

    def build_table(self) -> Table:
        """The values and probabilities (each subclass tabulates its own)."""
        raise NotImplementedError  # every registered subclass overrides this

    @property
    def table(self) -> Table:
        """The table (built on first use, once per distinct distribution; a family that
        would need too large a one is refused where it is validated)."""
        return table_of(self)

    @property
    def smallest(self) -> float:
        """The smallest value drawn with probability above zero."""
        return float(self.table.values[0])

    def probability(self, value: float) -> float:
        """``P(draw = value)``."""
        index = np.searchsorted(self.table.values, value)
        hit = index < self.table.values.size and self.table.values[index] == value
        return float(self.table.probs[index]) if hit else 0.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.table.ppf(u)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.table.cdf_at(x)


@register
class Poisson(Discrete[Q]):
    """Poisson with the given ``mean`` (above zero): 0, 1, 2, ..."""

    name: ClassVar[str] = "poisson"
    dist: Literal["poisson"]
    mean_: Q = Field(alias="mean")

    @field_validator("mean_")
    @classmethod
    def _positive_mean(cls, mean: float) -> float:
        if not mean > 0:
            raise fail(f"mean must be above zero, got {mean!r}")
        return mean

    @model_validator(mode="after")
    def _tabulates(self) -> Poisson[Q]:
        self.table  # noqa: B018  (built once, at load time: too large a table is refused here)
        return self

    def build_table(self) -> Table:
        m = float(self.mean_)
        k = _window(m, math.sqrt(m))
        return Table.of(k, np.exp(k * math.log(m) - m - _log_factorial(k)))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.poisson(float(self.mean_), n).astype(float)

    @property
    def mean(self) -> float:
        return float(self.mean_)

    @property
    def variance(self) -> float:
        return float(self.mean_)


@register
class Geometric(Discrete[Q]):
    """Trials up to and including the first success, each a success with probability ``p``
    (``0 < p <= 1``), or given by its ``mean`` (at least 1, ``p = 1 / mean``): 1, 2, ...
    numpy's and scipy's convention (see the module doc)."""

    name: ClassVar[str] = "geometric"
    dist: Literal["geometric"]
    p: Probability | None = None
    mean_: Q | None = Field(default=None, alias="mean")

    @model_validator(mode="after")
    def _one_parameter(self) -> Geometric[Q]:
        if (self.p is None) == (self.mean_ is None):
            raise fail("give either p or mean (mean = 1 / p)")
        if self.p is not None and self.p <= 0:
            raise fail(f"p must be above zero (at most 1), got {self.p!r}", ("p",))
        if self.mean_ is not None and not self.mean_ >= 1:
            at_least = "mean must be at least 1 (values are 1, 2, ...)"
            raise fail(f"{at_least}, got {self.mean_!r}", ("mean",))
        return self

    @property
    def success(self) -> float:
        """The success probability ``p``."""
        return float(self.p) if self.p is not None else 1.0 / float(self.mean_ or 1.0)

    def build_table(self) -> Table:
        """1 up to where ``(1 - p)^k`` falls below :data:`TAIL` (used by truncations only)."""
        p = self.success
        top = 1 if p >= 1 else math.ceil(math.log(TAIL) / math.log1p(-p))
        if top > MAX_TABLE:
            raise fail(f"p {p:g} is too small to tabulate: at most {MAX_TABLE:,} values")
        k = np.arange(1, top + 1, dtype=float)
        return Table.of(k, p * np.exp((k - 1) * math.log1p(-p)) if p < 1 else np.ones(1))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.geometric(self.success, n).astype(float)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """``ceil(log(1 - u) / log(1 - p))``, at least 1: the smallest k with ``1 - (1 -
        p)^k >= u``."""
        p = self.success
        if p >= 1:
            return np.ones(len(u))
        trials = np.ceil(np.log1p(-np.asarray(u, dtype=float)) / math.log1p(-p))
        return np.asarray(np.maximum(1.0, trials), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        k = np.floor(np.maximum(np.asarray(x, dtype=float), 0.0))
        if self.success >= 1:
            return np.asarray(k >= 1, dtype=float)
        return np.asarray(-np.expm1(k * math.log1p(-self.success)), dtype=float)

    @property
    def mean(self) -> float:
        return 1.0 / self.success

    @property
    def variance(self) -> float:
        return (1.0 - self.success) / self.success**2


@register
class Binomial(Discrete[Q]):
    """Successes in ``n`` independent trials, each with probability ``p`` (``0 < p <= 1``):
    0 to ``n``."""

    name: ClassVar[str] = "binomial"
    dist: Literal["binomial"]
    n: PositiveCount
    p: Probability

    @field_validator("p")
    @classmethod
    def _positive_p(cls, p: float) -> float:
        if p <= 0:
            raise fail(f"p must be above zero (at most 1), got {p!r}")
        return p

    @model_validator(mode="after")
    def _tabulates(self) -> Binomial[Q]:
        self.table  # noqa: B018  (built once, at load time: too large a table is refused here)
        return self

    def build_table(self) -> Table:
        n, p = self.n, float(self.p)
        if p >= 1:
            return Table.of([n], [1.0])
        k = _window(n * p, math.sqrt(n * p * (1 - p)), top=n)
        log_choose = math.lgamma(n + 1.0) - _log_factorial(k) - _log_factorial(n - k)
        return Table.of(k, np.exp(log_choose + k * math.log(p) + (n - k) * math.log1p(-p)))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.binomial(self.n, float(self.p), n).astype(float)

    @property
    def mean(self) -> float:
        return self.n * float(self.p)

    @property
    def variance(self) -> float:
        return self.n * float(self.p) * (1.0 - float(self.p))


@register
class Pmf(Discrete[Q]):
    """Each of ``values`` (not negative) with the probability at the same place in ``probs``
    (summing to 1): a general discrete law, Ciw's ``Pmf``."""

    name: ClassVar[str] = "pmf"
    dist: Literal["pmf"]
    values: tuple[Q, ...] = Field(min_length=1)
    probs: tuple[Probability, ...] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _not_negative(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        for i, value in enumerate(values):
            if value < 0:
                raise fail(f"values must not be negative, got {value!r}", (i,))
        return values

    @field_validator("probs")
    @classmethod
    def _sum_to_one(cls, probs: tuple[float, ...]) -> tuple[float, ...]:
        check_sum_to_one(probs, "the probabilities")
        return probs

    @model_validator(mode="after")
    def _paired(self) -> Pmf[Q]:
        if len(self.values) != len(self.probs):
            raise fail(f"{len(self.probs)} probabilities for {len(self.values)} values")
        self.table  # noqa: B018  (built once, at load time)
        return self

    def build_table(self) -> Table:
        return Table.of(self.values, self.probs)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.table.sample(rng, n)

    @property
    def mean(self) -> float:
        return self.table.mean

    @property
    def variance(self) -> float:
        return self.table.variance
