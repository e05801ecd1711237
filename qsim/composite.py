"""Distributions built from other ones: a weighted ``mixture``, a ``shifted`` and a
``truncated`` version of any registered distribution (nesting allowed).

Their components (``of``) are distributions of the same quantity, validated like the field
itself; :func:`qsim.distributions.distribution_of` binds ``Component`` to that union. Ciw has
the mixture (``ciw.dists.MixtureDistribution``: weights must sum to 1) and adds distributions
by arithmetic; qsim writes the one such sum a service time needs, a fixed shift, by name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qsim.discrete import Discrete, Table
from qsim.distributions import Distribution, Q, register
from qsim.phasetype import check_sum_to_one
from qsim.spec import Probability, fail

if TYPE_CHECKING:
    Component = Distribution[Any]

__all__ = ["Mixture", "Shifted", "Truncated", "invert"]

INVERSION_STEPS = 200
"""Most bracket-shrinking steps of :func:`invert` (every other one halves the bracket)."""


def invert(cdf: Any, u: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The least ``x`` in ``[low, high]`` with ``cdf(x) >= u``, for each ``u``: regula falsi
    steps alternating with halvings (fast where ``cdf`` is smooth, sure where it jumps), until
    each bracket is a few ulps wide. Needs ``cdf(low) <= u <= cdf(high)``."""
    low, high = np.array(low, dtype=float), np.array(high, dtype=float)
    f_low, f_high = cdf(low), cdf(high)
    active = np.flatnonzero(high > low)
    for step in range(INVERSION_STEPS):
        if not active.size:
            break
        a, b, fa, fb = low[active], high[active], f_low[active], f_high[active]
        if step % 2:
            middle = (a + b) / 2
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                middle = a + (b - a) * (u[active] - fa) / (fb - fa)
            middle = np.where((middle > a) & (middle < b), middle, (a + b) / 2)
        f_middle = cdf(middle)
        below = f_middle < u[active]
        low[active] = np.where(below, middle, a)
        f_low[active] = np.where(below, f_middle, fa)
        high[active] = np.where(below, b, middle)
        f_high[active] = np.where(below, fb, f_middle)
        wide = high[active] - low[active] > 4 * np.finfo(float).eps * high[active]
        active = active[wide]
    return high


@register
class Mixture(Distribution[Q]):
    """With probability ``weights[i]``, a draw of ``of[i]`` (a mixture of any distributions)."""

    name: ClassVar[str] = "mixture"
    dist: Literal["mixture"]
    weights: tuple[Probability, ...] = Field(min_length=1)
    of: tuple[Component, ...] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _sum_to_one(cls, weights: tuple[float, ...]) -> tuple[float, ...]:
        check_sum_to_one(weights, "the mixture weights")
        return weights

    @model_validator(mode="after")
    def _paired(self) -> Mixture[Q]:
        if len(self.weights) != len(self.of):
            raise fail(f"{len(self.weights)} weights for {len(self.of)} distributions")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        chosen = rng.choice(len(self.of), n, p=self.weights)
        out = np.empty(n)
        for i, component in enumerate(self.of):
            picked = chosen == i
            out[picked] = component.sample(rng, int(picked.sum()))
        return out

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return sum((w * c.cdf(x) for w, c in zip(self.weights, self.of, strict=True)), 0 * x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverts the mixture's distribution function; its ``u`` quantile lies between the
        smallest and largest ``u`` quantile of the components, which bracket the search."""
        u = np.asarray(u, dtype=float)
        quantiles = np.array([c.ppf(u) for c in self.of])
        return invert(self.cdf, u, quantiles.min(axis=0), quantiles.max(axis=0))

    def quantile(self) -> Callable[[float], float]:
        """One ``u`` at a time: Brent's method (scipy's ``brentq``) in the same bracket."""
        from scipy.optimize import brentq  # imported here: it costs every process ~0.4 s

        def quantile(u: float) -> float:
            ends = np.array([u])
            bounds = [float(c.ppf(ends)[0]) for c in self.of]
            low, high = min(bounds), max(bounds)

            def gap(x: float) -> float:
                return float(self.cdf(np.array([x]))[0]) - u

            if high <= low or gap(low) >= 0:  # the least x with F(x) >= u: a jump at low
                return low
            return float(brentq(gap, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps))

        return quantile

    @property
    def mean(self) -> float:
        return math.fsum(w * c.mean for w, c in zip(self.weights, self.of, strict=True))

    @property
    def variance(self) -> float:
        pairs = zip(self.weights, self.of, strict=True)
        second = math.fsum(w * (c.variance + c.mean**2) for w, c in pairs if w > 0)
        return second - self.mean**2


@register
class Shifted(Distribution[Q]):
    """``shift`` plus a draw of ``of`` (a fixed minimum time, e.g. a network round trip)."""

    name: ClassVar[str] = "shifted"
    dist: Literal["shifted"]
    shift: Q
    of: Component

    @field_validator("shift")
    @classmethod
    def _non_negative(cls, shift: float) -> float:
        if shift < 0:
            raise fail(f"the shift must not be negative, got {shift!r}")
        return shift

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.of.sample(rng, n) + self.shift

    @property
    def split_invariant(self) -> bool:
        """As its component's draws."""
        return self.of.split_invariant

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.of.ppf(u) + self.shift

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.of.cdf(np.asarray(x, dtype=float) - self.shift)

    @property
    def mean(self) -> float:
        return self.of.mean + self.shift

    @property
    def variance(self) -> float:
        return self.of.variance


@register
class Truncated(Distribution[Q]):
    """A draw of ``of`` given that it lies above ``low`` and at most ``high`` (no ``high``:
    unbounded). Drawn by inverse transform within ``(F(low), F(high)]``; mean and variance by
    adaptive quadrature of the distribution function (scipy's ``quad``). Of a discrete family
    (:mod:`qsim.discrete`), its table of values restricted to ``(low, high]``, exactly: with the
    default ``low: 0``, the zero-truncated law (a Poisson batch size given it is at least 1)."""

    name: ClassVar[str] = "truncated"
    splits: ClassVar[bool] = True  # one uniform per value, or a discrete table's choice
    dist: Literal["truncated"]
    of: Component
    low: Q = 0.0  # type: ignore[assignment]
    high: Q | None = None

    @model_validator(mode="after")
    def _keeps_mass(self) -> Truncated[Q]:
        if self.high is not None and self.high <= self.low:
            raise fail(f"high ({self.high:g}) must be above low ({self.low:g})")
        if self._bounds[1] <= self._bounds[0]:
            raise fail("the truncation keeps no probability of the distribution")
        self.kept  # noqa: B018  (a discrete family's truncated table, built at load time)
        return self

    @property
    def kept(self) -> Table | None:
        """Of a discrete family, the table of its values in ``(low, high]``; else None."""
        return _kept(self) if isinstance(self.of, Discrete) else None

    @property
    def _bounds(self) -> tuple[float, float]:
        """``F(low)`` and ``F(high)`` of the untruncated distribution."""
        ends = np.array([self.low, math.inf if self.high is None else self.high])
        below, above = self.of.cdf(ends)
        return float(below), 1.0 if self.high is None else float(above)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if (kept := self.kept) is not None:
            return kept.sample(rng, n)
        return self.ppf(rng.random(n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        if (kept := self.kept) is not None:
            return kept.ppf(u)
        below, above = self._bounds
        top = math.inf if self.high is None else self.high
        inside = self.of.ppf(below + (above - below) * np.asarray(u))
        return np.asarray(np.clip(inside, self.low, top), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if (kept := self.kept) is not None:
            return kept.cdf_at(x)
        below, above = self._bounds
        return np.clip((self.of.cdf(x) - below) / (above - below), 0.0, 1.0)

    def _moment(self, k: int) -> float:
        """``E[X^k] = low^k + k * integral of x^(k-1) P(X > x) from low to high``."""
        from scipy.integrate import quad  # imported here: it costs every process ~0.4 s

        top = math.inf if self.high is None else self.high

        def tail(x: float) -> float:
            return k * x ** (k - 1) * (1.0 - float(self.cdf(np.array([x]))[0]))

        area, _ = quad(tail, self.low, top, limit=200, epsabs=0.0, epsrel=1e-10)
        return float(self.low**k + area)

    @property
    def mean(self) -> float:
        if (kept := self.kept) is not None:
            return kept.mean
        if self.high is None and not math.isfinite(self.of.mean):
            return math.inf
        return self._moment(1)

    @property
    def variance(self) -> float:
        if (kept := self.kept) is not None:
            return kept.variance
        if self.high is None and not math.isfinite(self.of.variance):
            return math.inf
        return max(self._moment(2) - self._moment(1) ** 2, 0.0)


@functools.lru_cache(maxsize=256)
def _kept(truncated: Truncated[Any]) -> Table:
    """The table of a truncated discrete family (once per distinct truncation)."""
    assert isinstance(truncated.of, Discrete)
    return truncated.of.table.kept(float(truncated.low), truncated.high)
