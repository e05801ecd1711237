"""The law of a phase-type distribution: the time until a finite Markov chain is absorbed.

A phase-type distribution PH(alpha, T) starts in transient phase ``i`` with probability
``alpha[i]``, stays in phase ``i`` for an exponential time of rate ``-T[i, i]``, then moves to
phase ``j`` at rate ``T[i, j]`` or finishes at the exit rate ``-sum_j T[i, j]`` (Neuts 1981;
Ciw's ``PhaseType`` takes the same chain with the absorbing state as a last row). Then

* survival ``S(x) = alpha exp(T x) 1``, distribution function ``F = 1 - S``;
* moments ``E[X^k] = k! alpha (-T)^-k 1``.

:class:`PhaseLaw` evaluates ``S`` exactly and vectorised: on a grid of step ``h = 1 / r`` (``r``
the fastest phase rate) it keeps ``alpha exp(T x_j)`` (one matrix exponential, multiplied on)
and, within a step, the Taylor series ``exp(T d) 1 = sum_m d^m T^m 1 / m!``, whose terms are
below ``2^m / m!`` because ``|T h| <= 2``: :data:`TERMS` of them reach float precision. The
quantile function is Newton's method on that series inside the bracketing grid step.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["MAX_STEPS", "TAIL", "TERMS", "PhaseLaw", "phase_law"]

TERMS = 26
"""Taylor terms within a grid step: ``2^26 / 26!`` is below ``1e-18``."""
TAIL = 1e-18
"""The grid ends where the survival falls below this (``u`` is at most ``1 - 2^-53``)."""
MAX_STEPS = 400_000
"""Grid steps allowed: phase rates more than about 10,000 times apart are refused."""
NEWTON_STEPS = 60
"""Most Newton iterations of the quantile function: quadratic convergence near the root, and
about 20 where a flat start (an Erlang-like ``F(x) ~ x^k`` at tiny ``u``) halves its way in."""


class PhaseLaw:
    """Survival, distribution and quantile functions, moments and draws of PH(alpha, T)."""

    def __init__(self, alpha: np.ndarray, generator: np.ndarray) -> None:
        self.alpha = alpha
        self.generator = generator
        self.step = 1.0 / float(np.max(-np.diag(generator)))
        self._coefficients = self._grid()
        self.survival_grid = self._coefficients[:, 0]

    def _grid(self) -> np.ndarray:
        """Row ``j``: ``alpha exp(T x_j) T^m 1 / m!`` for ``m < TERMS`` (``x_j = j h``)."""
        from scipy.linalg import expm  # imported here: it costs every process ~0.4 s

        one_step = expm(self.generator * self.step)
        state, rows = self.alpha, [self.alpha]
        while state.sum() > TAIL:
            if len(rows) > MAX_STEPS:
                raise ValueError("phase rates too far apart (over 10,000 times)")
            state = state @ one_step
            rows.append(state)
        powers = [np.ones(len(self.alpha))]
        for m in range(1, TERMS):
            powers.append(self.generator @ powers[-1] / m)
        return np.array(rows) @ np.array(powers).T

    def _series(self, j: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mass ``P = S(x_j) - S(x_j + d)`` and its derivative, the density (Horner on the
        Taylor series without its constant term, so no digits cancel)."""
        c = self._coefficients[j]
        value, slope = c[:, TERMS - 1], np.zeros(len(j))
        for m in range(TERMS - 2, 0, -1):
            slope = slope * d + value
            value = value * d + c[:, m]
        return -value * d, -(slope * d + value)

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid step ``j``, offset ``d`` into it and the mass ``P`` from ``x_j`` to ``x``."""
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        j = np.minimum((x / self.step).astype(np.int64), len(self.survival_grid) - 1)
        d = x - j * self.step
        mass, _ = self._series(j, d)
        return j, d, mass

    def survival(self, x: np.ndarray) -> np.ndarray:
        """``P(X > x)`` at each ``x`` (0 past the grid, where it is below :data:`TAIL`)."""
        j, d, mass = self._split(x)
        return np.where(d > self.step, 0.0, np.clip(self.survival_grid[j] - mass, 0.0, 1.0))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``P(X <= x)``, from ``F(x_j) = 1 - S(x_j)`` (0 in the first step: small ``x`` keep
        their relative precision)."""
        j, d, mass = self._split(x)
        below = np.where(j == 0, 0.0, 1.0 - self.survival_grid[j])
        return np.where(d > self.step, 1.0, np.clip(below + mass, 0.0, 1.0))

    def _remaining(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The step ``j`` that brackets the ``u`` quantile and the mass ``u - F(x_j)`` still
        to go (as ``S(x_j) - (1 - u)`` for ``u`` above one half: the tail keeps its digits)."""
        grid = self.survival_grid
        j = np.clip(np.searchsorted(-grid, u - 1.0, side="right") - 1, 0, len(grid) - 2)
        below = np.where(j == 0, 0.0, 1.0 - grid[j])
        rest = np.where(u < 0.5, u - below, grid[j] - (1.0 - u))
        return j, np.maximum(rest, 0.0)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The ``x`` with ``F(x) = u``: Newton on the offset within the bracketing grid step,
        kept inside the step, until every offset has settled."""
        j, rest = self._remaining(np.asarray(u, dtype=float))
        h, grid = self.step, self.survival_grid
        width = grid[j] - grid[j + 1]
        d = h * np.clip(np.divide(rest, width, out=np.ones(len(j)), where=width > 0), 0.0, 1.0)
        active = np.arange(len(j))
        for _ in range(NEWTON_STEPS):
            mass, density = self._series(j[active], d[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                moved = np.clip(d[active] - (mass - rest[active]) / density, 0.0, h)
            moved = np.where(np.isfinite(moved), moved, d[active])
            settled = np.abs(moved - d[active]) <= 1e-15 * (j[active] * h + moved)
            d[active] = moved
            active = active[~settled]
            if not active.size:
                break
        return np.asarray(j * h + d, dtype=float)

    def quantile(self, u: float) -> float:
        """:meth:`ppf` of one ``u`` in plain floats (a message's own draw, one at a time)."""
        grid = self.survival_grid
        j = int(np.clip(np.searchsorted(-grid, u - 1.0, side="right") - 1, 0, len(grid) - 2))
        below = 0.0 if j == 0 else 1.0 - float(grid[j])
        rest = max(u - below if u < 0.5 else float(grid[j]) - (1.0 - u), 0.0)
        h, row = self.step, self._rows[j]
        width = float(grid[j] - grid[j + 1])
        d = h * min(max(rest / width, 0.0), 1.0) if width > 0 else 0.0
        for _ in range(NEWTON_STEPS):
            value, slope = row[-1], 0.0
            for c in reversed(row[1:-1]):
                slope = slope * d + value
                value = value * d + c
            mass, density = -value * d, -(slope * d + value)
            if density <= 0.0:
                break
            moved = min(max(d - (mass - rest) / density, 0.0), h)
            if abs(moved - d) <= 1e-15 * (j * h + moved):
                d = moved
                break
            d = moved
        return j * h + d

    @functools.cached_property
    def _rows(self) -> list[list[float]]:
        rows: list[list[float]] = self._coefficients.tolist()
        return rows

    def moment(self, k: int) -> float:
        """``E[X^k] = k! alpha (-T)^-k 1`` by ``k`` linear solves."""
        vector = np.ones(len(self.alpha))
        for _ in range(k):
            vector = np.linalg.solve(-self.generator, vector)
        return float(math.factorial(k) * self.alpha @ vector)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` absorption times of the chain itself, simulated jump by jump (independent of
        the quantile function, which the tests compare them with)."""
        rates = -np.diag(self.generator)
        jumps = self.generator / rates[:, None] + np.eye(len(rates))
        exits = 1.0 - jumps.sum(axis=1)
        onward = np.cumsum(np.column_stack([jumps, exits]), axis=1)
        phase = np.minimum(
            np.searchsorted(np.cumsum(self.alpha), rng.random(n), side="right"), len(rates) - 1
        )
        total = np.zeros(n)
        alive = np.arange(n)
        while alive.size:
            here = phase[alive]
            total[alive] += rng.exponential(1.0 / rates[here])
            chosen = (rng.random(alive.size)[:, None] > onward[here]).sum(axis=1)
            phase[alive] = chosen
            alive = alive[chosen < len(rates)]
        return total


@functools.lru_cache(maxsize=128)
def phase_law(alpha: tuple[float, ...], generator: tuple[tuple[float, ...], ...]) -> PhaseLaw:
    """The (cached) law of PH(alpha, T): its grid is built once per distinct distribution."""
    return PhaseLaw(np.array(alpha, dtype=float), np.array(generator, dtype=float))
