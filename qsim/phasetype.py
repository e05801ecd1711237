"""Phase-type service times: hyper-exponential, hyper-Erlang, hypo-exponential, Coxian and the
general phase-type distribution given by an initial vector and a sub-generator matrix.

Each is a time to absorption of a Markov chain (:mod:`qsim.phaselaw`), so each has an exact
distribution function, quantile function (numerical inversion, to float precision) and moments;
the named families also give their mean and variance in closed form, which the tests hold
against the matrix formula. Parameters follow Ciw's (``ciw.dists.HyperExponential``,
``HyperErlang``, ``Coxian``, ``PhaseType``) but are written as means in the field's unit, like
qsim's other families; the general ``phasetype`` takes rates per second (per byte for sizes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qsim.distributions import Distribution, Part, Q, register
from qsim.phaselaw import PhaseLaw, phase_law
from qsim.spec import Number, PositiveCount, Probability, fail

__all__ = ["Coxian", "HyperErlang", "HyperExponential", "Hypoexponential", "PhaseType"]

Matrix = tuple[tuple[float, ...], ...]
WEIGHT_TOLERANCE = 1e-9
"""How far probabilities meant to sum to 1 may be off (rounding in a written scenario)."""


def check_sum_to_one(weights: list[float] | tuple[float, ...], what: str) -> None:
    """A one-line error unless ``weights`` sum to 1 (within :data:`WEIGHT_TOLERANCE`)."""
    total = math.fsum(weights)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise fail(f"{what} must sum to 1, got {total:.6g}")


class _PhaseType(Distribution[Q]):
    """A distribution with a phase-type representation ``(alpha, T)``."""

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        """The initial vector ``alpha`` and sub-generator ``T`` (rates per base unit)."""
        raise NotImplementedError  # every registered subclass overrides this

    @property
    def law(self) -> PhaseLaw:
        """The law of this chain (cached per distinct distribution)."""
        return phase_law(*self.representation())

    def check_consistent(self) -> None:
        """A one-line error if the parameters do not make one chain (before it is built)."""

    @model_validator(mode="after")
    def _tractable(self) -> _PhaseType[Q]:
        self.check_consistent()
        try:
            self.law  # noqa: B018  (builds the grid once, at load time)
        except ValueError as exc:
            raise fail(str(exc)) from None
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.law.sample(rng, n)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.law.ppf(u)

    def quantile(self) -> Callable[[float], float]:
        return self.law.quantile

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.law.cdf(x)

    @property
    def mean(self) -> float:
        return self.law.moment(1)

    @property
    def variance(self) -> float:
        return self.law.moment(2) - self.law.moment(1) ** 2


class Branch(Part[Q]):
    """One branch of a hyper-exponential: taken with probability ``p``, of mean ``mean``."""

    p: Probability
    mean: Q
    _positive = field_validator("mean")(lambda v: _above_zero(v, "mean"))


class ErlangBranch(Branch[Q]):
    """One branch of a hyper-Erlang: ``k`` exponential phases of total mean ``mean``."""

    k: PositiveCount


class CoxianPhase(Part[Q]):
    """One phase of a Coxian: mean ``mean``; then on to the next phase with probability
    ``next`` (the last phase has none), else done."""

    mean: Q
    next: Probability = 0.0
    _positive = field_validator("mean")(lambda v: _above_zero(v, "mean"))


def _check_absorbing(generator: Matrix) -> None:
    """A one-line error unless every phase can reach one with an exit rate (else the chain may
    never finish and ``-T`` is singular)."""
    size = len(generator)
    finishing = {i for i in range(size) if math.fsum(generator[i]) < 0}
    while True:
        more = {i for i in range(size) for j in finishing if generator[i][j] > 0} - finishing
        if not more:
            break
        finishing |= more
    stuck = [i for i in range(size) if i not in finishing]
    if stuck:
        raise fail(
            f"phase {stuck[0] + 1} can never finish (no path to a phase with an exit rate)",
            at=(stuck[0],),
        )


def _above_zero(value: float, what: str) -> float:
    if value <= 0:
        raise fail(f"{what} must be above zero, got {value!r}")
    return value


def _diagonal(means: list[float]) -> list[list[float]]:
    return [[-1.0 / m if i == j else 0.0 for j in range(len(means))] for i, m in enumerate(means)]


def _frozen(rows: list[list[float]]) -> Matrix:
    return tuple(tuple(row) for row in rows)


class _Branches(_PhaseType[Q]):
    """A choice of branches whose probabilities sum to 1."""

    phases: tuple[Branch[Q], ...] = Field(min_length=1)

    @field_validator("phases")
    @classmethod
    def _weights(cls, phases: tuple[Branch[Q], ...]) -> tuple[Branch[Q], ...]:
        check_sum_to_one([b.p for b in phases], "the phases' probabilities p")
        return phases


@register
class HyperExponential(_Branches[Q]):
    """With probability ``p`` of each phase, an exponential of that phase's ``mean`` (cv above
    1: mostly quick work with an occasional long job)."""

    name: ClassVar[str] = "hyperexponential"
    dist: Literal["hyperexponential"]

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        return tuple(b.p for b in self.phases), _frozen(_diagonal([b.mean for b in self.phases]))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        means = np.array([b.mean for b in self.phases])
        chosen = rng.choice(len(means), n, p=[b.p for b in self.phases])
        return rng.exponential(means[chosen])

    @property
    def mean(self) -> float:
        return math.fsum(b.p * b.mean for b in self.phases)

    @property
    def variance(self) -> float:
        return math.fsum(2 * b.p * b.mean**2 for b in self.phases) - self.mean**2


@register
class HyperErlang(_Branches[Q]):
    """With probability ``p`` of each phase, an Erlang of ``k`` stages and total ``mean``."""

    name: ClassVar[str] = "hypererlang"
    dist: Literal["hypererlang"]
    phases: tuple[ErlangBranch[Q], ...] = Field(min_length=1)

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        alpha: list[float] = []
        rows: list[list[float]] = []
        size = sum(b.k for b in self.phases)
        for b in self.phases:
            alpha += [b.p] + [0.0] * (b.k - 1)
            for stage in range(b.k):
                row = [0.0] * size
                row[len(rows)] = -b.k / b.mean
                if stage < b.k - 1:
                    row[len(rows) + 1] = b.k / b.mean
                rows.append(row)
        return tuple(alpha), _frozen(rows)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        chosen = rng.choice(len(self.phases), n, p=[b.p for b in self.phases])
        k = np.array([b.k for b in self.phases])[chosen]
        return rng.gamma(k, np.array([b.mean / b.k for b in self.phases])[chosen])

    @property
    def mean(self) -> float:
        return math.fsum(b.p * b.mean for b in self.phases)

    @property
    def variance(self) -> float:
        second = math.fsum(b.p * b.mean**2 * (1 + 1 / b.k) for b in self.phases)
        return second - self.mean**2


@register
class Hypoexponential(_PhaseType[Q]):
    """The sum of exponential stages of the given ``means``, one after another."""

    name: ClassVar[str] = "hypoexponential"
    dist: Literal["hypoexponential"]
    means: tuple[Q, ...] = Field(min_length=1)

    _positive = field_validator("means")(lambda v: tuple(_above_zero(m, "every mean") for m in v))

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        rows = _diagonal(list(self.means))
        for i in range(len(rows) - 1):
            rows[i][i + 1] = 1.0 / self.means[i]
        return (1.0,) + (0.0,) * (len(rows) - 1), _frozen(rows)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return sum((rng.exponential(m, n) for m in self.means), np.zeros(n))

    @property
    def mean(self) -> float:
        return math.fsum(self.means)

    @property
    def variance(self) -> float:
        return math.fsum(m * m for m in self.means)


@register
class Coxian(_PhaseType[Q]):
    """Phases in series, each of its own ``mean``; after each, on to the next phase with
    probability ``next``, else done (any phase-type distribution with a real spectrum is one)."""

    name: ClassVar[str] = "coxian"
    dist: Literal["coxian"]
    phases: tuple[CoxianPhase[Q], ...] = Field(min_length=1)

    @field_validator("phases")
    @classmethod
    def _reachable(cls, phases: tuple[CoxianPhase[Q], ...]) -> tuple[CoxianPhase[Q], ...]:
        if phases[-1].next > 0:
            raise fail("the last phase has no next phase", at=(len(phases) - 1, "next"))
        for i, phase in enumerate(phases[:-1]):
            if phase.next == 0:
                raise fail(f"next is 0, so phase {i + 2} is never reached", at=(i, "next"))
        return phases

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        rows = _diagonal([p.mean for p in self.phases])
        for i, phase in enumerate(self.phases[:-1]):
            rows[i][i + 1] = phase.next / phase.mean
        return (1.0,) + (0.0,) * (len(rows) - 1), _frozen(rows)

    def _moments(self) -> tuple[float, float]:
        """``E[X]`` and ``E[X^2]`` from the last phase back: ``X_i = E_i + B_i X_{i+1}`` with
        ``E_i`` exponential and ``B_i`` Bernoulli(``next``), all independent."""
        first = second = 0.0
        for phase in reversed(self.phases):
            m, q = phase.mean, phase.next
            first, second = m + q * first, 2 * m * m + 2 * m * q * first + q * second
        return first, second

    @property
    def mean(self) -> float:
        return self._moments()[0]

    @property
    def variance(self) -> float:
        first, second = self._moments()
        return second - first**2


@register
class PhaseType(_PhaseType[Q]):
    """The time to absorption from ``initial`` phase probabilities under the sub-generator
    ``generator``: off-diagonal rates ``>= 0``, diagonal ``< 0``, each row summing to ``<= 0``
    (what a row falls short of zero is that phase's exit rate). Rates are per second."""

    name: ClassVar[str] = "phasetype"
    dist: Literal["phasetype"]
    initial: tuple[Probability, ...] = Field(min_length=1)
    generator: tuple[tuple[Number, ...], ...] = Field(min_length=1)

    @field_validator("initial")
    @classmethod
    def _initial(cls, initial: tuple[float, ...]) -> tuple[float, ...]:
        check_sum_to_one(initial, "the initial probabilities")
        return initial

    @field_validator("generator")
    @classmethod
    def _sub_generator(cls, generator: Matrix) -> Matrix:
        for i, row in enumerate(generator):
            if len(row) != len(generator):
                raise fail(f"a {len(generator)}x{len(generator)} matrix needs rows of "
                           f"{len(generator)} rates, got {len(row)}", at=(i,))  # fmt: skip
            if row[i] >= 0:
                raise fail(f"the diagonal rate must be below zero, got {row[i]:g}", at=(i, i))
            for j, rate in enumerate(row):
                if j != i and rate < 0:
                    raise fail(f"rates between phases must be >= 0, got {rate:g}", at=(i, j))
            total = math.fsum(row)
            if total > WEIGHT_TOLERANCE * abs(row[i]):
                raise fail(
                    f"row sums to {total:g}: a sub-generator's rows must sum to <= 0 "
                    "(the shortfall is the phase's exit rate)",
                    at=(i,),
                )

        _check_absorbing(generator)
        return generator

    def check_consistent(self) -> None:
        if len(self.initial) != len(self.generator):
            raise fail(
                f"initial has {len(self.initial)} phases and the generator {len(self.generator)}"
            )

    def representation(self) -> tuple[tuple[float, ...], Matrix]:
        return tuple(self.initial), self.generator
