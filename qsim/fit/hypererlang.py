"""Mixtures of Erlangs (hyper-Erlang) fitted by expectation-maximisation (EM); the
hyper-exponential is the case where every branch has one stage.

A hyper-Erlang takes branch ``i`` with probability ``p_i``: an Erlang of ``k_i`` stages and total
mean ``mean_i`` (rate ``lambda_i = k_i / mean_i`` per stage). Its density is
``sum_i p_i lambda_i^k_i x^(k_i - 1) exp(-lambda_i x) / (k_i - 1)!``. Every phase-type law is a
limit of such mixtures, and they capture cv below 1 (one branch of many stages), above 1 (a mix
of fast and slow branches) and several modes (Thuemmler, Buchholz and Telek 2006, "A novel
approach for fitting probability distributions to measured data with phase-type
distributions"; their G-FIT algorithm is BuTools' ``PHFromTrace``).

EM (Dempster, Laird and Rubin 1977): the E-step gives sample ``x_j`` the probability ``w_ij``
that it came from branch ``i``; the M-step maximises the expected complete-data log-likelihood,
``p_i = mean_j w_ij`` and ``lambda_i = k_i sum_j w_ij / sum_j w_ij x_j`` (G-FIT's M-step, so
``mean_i`` is the ``w``-weighted sample mean). G-FIT fixes the orders ``k_i`` and tries every
structure of a given total; here, with ``free_orders``, the M-step also maximises over each
integer ``k_i`` in ``1..MAX_ORDER``: with ``S0 = sum_j w_ij``, ``S1 = sum_j w_ij x_j`` and
``SL = sum_j w_ij ln x_j`` the expected log-likelihood of branch ``i`` at its best rate is
``S0 (k ln(k S0 / S1) - k - ln (k-1)!) + (k - 1) SL``, evaluated for every ``k``. The M-step
still maximises over all parameters, so the likelihood never falls (the EM property), and one
run finds the orders that a search over structures would try one by one.

Iterations stop when the log-likelihood rises by less than :data:`TOLERANCE` of itself or after
the iteration limit. Branches are reported longest mean first, so a fit is unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

__all__ = [
    "MAX_ITERATIONS",
    "MAX_ORDER",
    "TOLERANCE",
    "EMFit",
    "FrozenHyperErlang",
    "em",
    "quantile_start",
]

TOLERANCE = 1e-8
"""EM stops when the log-likelihood rises by less than this fraction of itself."""
MAX_ITERATIONS = 200
"""EM stops after this many iterations (on data with cv <= 1 hyper-exponential phases merge
slowly)."""
MAX_ORDER = 30
"""Largest number of stages of a branch: cv 0.18. More stages put phase rates so far apart
that the scenario loader's phase-type grid grows large (qsim.phaselaw)."""


class FrozenHyperErlang:
    """A mixture of Erlangs with the ``scipy.stats`` methods the fitting uses."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, orders: np.ndarray) -> None:
        self.weights = np.clip(np.asarray(weights, dtype=float), 0.0, 1.0)
        self.means = np.asarray(means, dtype=float)
        self.orders = np.asarray(orders, dtype=float)
        self.rates = self.orders / self.means

    def _log_parts(self, x: np.ndarray, logs: np.ndarray | None = None) -> np.ndarray:
        """``log(p_i f_i(x))`` for each branch (rows) and sample (columns)."""
        x = np.asarray(x, dtype=float)
        k, rate = self.orders[:, None], self.rates[:, None]
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)[:, None]
        constant = log_w + k * np.log(rate) - special.gammaln(k)
        stages = special.xlogy(k - 1, x[None, :]) if logs is None else (k - 1) * logs[None, :]
        return np.asarray(constant + stages - rate * x[None, :], dtype=float)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """The log density at each ``x``."""
        return np.asarray(np.logaddexp.reduce(self._log_parts(x), axis=0), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The distribution function at each ``x``."""
        x = np.asarray(x, dtype=float)
        stages = special.gammainc(self.orders[:, None], self.rates[:, None] * x[None, :])
        return np.asarray(self.weights @ stages, dtype=float)

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """``size`` draws (bootstrap samples)."""
        bounds = np.cumsum(self.weights)[:-1]
        chosen = np.searchsorted(bounds, random_state.random(size), side="right")
        if np.all(self.orders == 1):  # exponentials: the stream the 2-phase fit always drew
            return np.asarray(random_state.exponential(self.means[chosen]), dtype=float)
        k = self.orders[chosen]
        return np.asarray(random_state.gamma(k, self.means[chosen] / k), dtype=float)


@dataclass
class EMFit:
    """An EM result: the fitted law and the log-likelihood of each model EM visited."""

    model: FrozenHyperErlang
    log_likelihoods: list[float] = field(default_factory=list)

    @property
    def log_likelihood(self) -> float:
        return self.log_likelihoods[-1]

    def branches(self) -> list[tuple[float, float, int]]:
        """``(p, mean, k)`` of each branch, longest mean first."""
        m = self.model
        rows = zip(m.weights.tolist(), m.means.tolist(), m.orders.astype(int).tolist(), strict=True)
        return sorted(rows, key=lambda row: -row[1])


def quantile_start(x: np.ndarray, branches: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal weights and the means of the samples between consecutive ``1/branches`` quantiles
    (two branches: above and at or below the median); an empty group takes the overall mean."""
    x = np.asarray(x, dtype=float)
    cuts = np.quantile(x, np.arange(1, branches) / branches)
    group = np.searchsorted(cuts, x, side="left")
    means = np.array(
        [x[group == g].mean() if np.any(group == g) else x.mean() for g in range(branches)]
    )
    return np.full(branches, 1.0 / branches), means[::-1]


def _best_orders(s0: np.ndarray, s1: np.ndarray, sl: np.ndarray, top: int) -> np.ndarray:
    """Each branch's order maximising its expected complete-data log-likelihood at its best
    rate, ``S0 (k ln(k S0 / S1) - k - ln (k-1)!) + (k - 1) SL`` over ``k = 1..top``."""
    k = np.arange(1, top + 1, dtype=float)[None, :]
    s0, s1, sl = s0[:, None], s1[:, None], sl[:, None]
    q = s0 * (k * np.log(k * s0 / s1) - k - special.gammaln(k)) + (k - 1) * sl
    return np.asarray(np.argmax(q, axis=1) + 1, dtype=float)


def em(
    x: np.ndarray,
    start: FrozenHyperErlang,
    free_orders: bool = False,
    iterations: int = MAX_ITERATIONS,
) -> EMFit:
    """EM from ``start`` on positive samples ``x``; orders fixed unless ``free_orders``.

    Stops early if a branch loses all its weight (the law has one branch fewer: the model
    before that step is kept)."""
    x = np.asarray(x, dtype=float)
    logs = np.log(x)
    fit = EMFit(start)
    previous = -np.inf
    for _ in range(iterations):
        parts = fit.model._log_parts(x, logs)
        total = np.logaddexp.reduce(parts, axis=0)
        likelihood = float(total.sum())
        fit.log_likelihoods.append(likelihood)
        if likelihood - previous <= TOLERANCE * abs(likelihood):
            break
        previous = likelihood
        w = np.exp(parts - total)  # P(branch i | x_j)
        s0 = w.sum(axis=1)
        if np.any(s0 <= 0.0) or np.any(s0 >= len(x)):  # one branch left
            break
        s1 = w @ x
        orders = _best_orders(s0, s1, w @ logs, MAX_ORDER) if free_orders else fit.model.orders
        fit.model = FrozenHyperErlang(s0 / len(x), s1 / s0, orders)
    return fit


REFIT_ITERATIONS = 50
"""EM iterations of a bootstrap refit, started at the fit the draw came from (the KS distance
of a refit moves by less than 1e-3 after that; measured in docs/fitting.md)."""
BRANCHES = (2, 3)
"""Branch counts the hyper-Erlang fit tries (one branch is an Erlang, inside the gamma)."""


def branch_parameters(fit: EMFit, orders: bool) -> dict[str, float]:
    """``p1, mean1[, k1], p2, ...`` longest mean first; the last ``p`` is left out (it is 1
    minus the others), so the count of keys is the count of fitted parameters."""
    params: dict[str, float] = {}
    rows = fit.branches()
    for i, (p, mean, k) in enumerate(rows, start=1):
        if i < len(rows):
            params[f"p{i}"] = p
        params[f"mean{i}"] = mean
        if orders:
            params[f"k{i}"] = float(k)
    return params


def from_parameters(params: dict[str, float]) -> FrozenHyperErlang:
    """The law written by :func:`branch_parameters` (orders 1 where there is no ``k``)."""
    count = sum(key.startswith("mean") for key in params)
    weights = [params[f"p{i}"] for i in range(1, count)]
    weights.append(1.0 - sum(weights))
    means = [params[f"mean{i}"] for i in range(1, count + 1)]
    orders = [params.get(f"k{i}", 1.0) for i in range(1, count + 1)]
    return FrozenHyperErlang(np.array(weights), np.array(means), np.array(orders))


def fit_hyperexponential_phases(x: np.ndarray, phases: int) -> EMFit:
    """The ``phases``-phase hyper-exponential by EM from :func:`quantile_start`."""
    weights, means = quantile_start(x, phases)
    return em(x, FrozenHyperErlang(weights, means, np.ones(phases)))


def starts(x: np.ndarray, branches: int) -> list[FrozenHyperErlang]:
    """Where EM with free orders starts: :func:`quantile_start` with one stage per branch, and
    with each branch's order matched to its quantile group's cv (``round(1 / cv^2)``). EM with
    integer orders has local maxima (an order is only moved to the best one for the current
    weights); the two starts find the global one on the tests' samples (from one start alone,
    a known two-branch hyper-Erlang was fitted with log-likelihood 67 below the true law's)."""
    x = np.sort(np.asarray(x, dtype=float))
    weights, means = quantile_start(x, branches)
    groups = [g for g in np.array_split(x, branches)[::-1]]
    matched = [
        min(max(round(g.mean() ** 2 / g.var()), 1), MAX_ORDER) if g.size > 1 and g.var() > 0 else 1
        for g in groups
    ]
    return [
        FrozenHyperErlang(weights, means, np.ones(branches)),
        FrozenHyperErlang(weights, means, np.array(matched, dtype=float)),
    ]


def fit_hypererlang_em(x: np.ndarray) -> tuple[EMFit, float]:
    """The hyper-Erlang with the lowest BIC over :data:`BRANCHES` (``m`` branches count
    ``3m - 1`` parameters: ``m - 1`` probabilities, ``m`` means, ``m`` orders), each the most
    likely of EM with free orders from each of :func:`starts`; with its BIC."""
    x = np.asarray(x, dtype=float)
    best: tuple[EMFit, float] | None = None
    for m in BRANCHES:
        fit = max(
            (em(x, start, free_orders=True) for start in starts(x, m)),
            key=lambda f: f.log_likelihood,
        )
        bic = (3 * m - 1) * float(np.log(len(x))) - 2 * fit.log_likelihood
        if best is None or bic < best[1]:
            best = (fit, bic)
    assert best is not None
    return best


def refit(x: np.ndarray, params: dict[str, float]) -> dict[str, float]:
    """Parameters of the same form as ``params`` refitted to ``x`` by EM started from them
    (orders free if ``params`` has them), at most :data:`REFIT_ITERATIONS` iterations: the
    parametric bootstrap's refit of each draw from the fitted law."""
    orders = any(key.startswith("k") for key in params)
    fit = em(x, from_parameters(params), free_orders=orders, iterations=REFIT_ITERATIONS)
    return branch_parameters(fit, orders=orders)


def fit_hypererlang(x: np.ndarray) -> dict[str, float]:
    """Maximum-likelihood hyper-Erlang parameters (``p1, mean1, k1, ...``) of positive samples."""
    return branch_parameters(fit_hypererlang_em(x)[0], orders=True)
