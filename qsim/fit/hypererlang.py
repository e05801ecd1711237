"""Mixtures of Erlangs (hyper-Erlang) fitted by expectation-maximisation (EM); the
hyper-exponential is the case where every branch has one stage.

A hyper-Erlang takes branch ``i`` with probability ``p_i``: an Erlang of ``k_i`` stages and total
mean ``mean_i`` (rate ``lambda_i = k_i / mean_i`` per stage). Its density is
``sum_i p_i lambda_i^k_i x^(k_i - 1) exp(-lambda_i x) / (k_i - 1)!``. Hyper-Erlangs come
arbitrarily close to any distribution on ``[0, inf)`` (they are dense in that class, as the
paper below recalls), and capture cv below 1 (one branch of many stages), above 1 (a mix of
fast and slow branches) and several modes (Thuemmler, Buchholz and Telek 2006, "A novel
approach for fitting probability distributions to measured data with phase-type
distributions"; their G-FIT algorithm is BuTools' ``PHFromTrace``).

EM (Dempster, Laird and Rubin 1977): the E-step gives sample ``x_j`` the probability ``w_ij``
that it came from branch ``i``; the M-step maximises the expected complete-data log-likelihood,
``p_i = mean_j w_ij`` and ``lambda_i = k_i sum_j w_ij / sum_j w_ij x_j`` (G-FIT's M-step, so
``mean_i`` is the ``w``-weighted sample mean). G-FIT fixes the orders ``k_i`` and tries every
structure of a given total number of phases. Here the orders are found instead: with
``S0 = sum_j w_ij``, ``S1 = sum_j w_ij x_j`` and ``SL = sum_j w_ij ln x_j``, the expected
log-likelihood of branch ``i`` at its best rate is
``S0 (k ln(k S0 / S1) - k - ln Gamma(k)) + (k - 1) SL``, which the M-step can also maximise
over the order: over real ``k >= 1`` (a mixture of gammas, whose likelihood is smooth in the
shapes) or over the integers ``1..MAX_ORDER``. Either way the M-step maximises over all
parameters, so the likelihood never falls. :func:`fit_hypererlang_em` runs the real-shape EM
from two starts, rounds each shape down or up to the most likely orders, and finishes by EM
with those orders fixed; a bootstrap refit (:func:`refit`) runs the integer M-step from the fit.

Iterations stop when the log-likelihood rises by less than :data:`TOLERANCE` of itself or after
the iteration limit. Branches are reported longest mean first, so a fit is unique.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

__all__ = [
    "BRANCHES",
    "MAX_ITERATIONS",
    "MAX_ORDER",
    "TOLERANCE",
    "EMFit",
    "FrozenHyperErlang",
    "branch_parameters",
    "em",
    "fit_hypererlang",
    "fit_hypererlang_em",
    "fit_hyperexponential_phases",
    "from_parameters",
    "quantile_start",
    "refit",
    "starts",
]

TOLERANCE = 1e-8
"""EM stops when the log-likelihood rises by less than this fraction of itself."""
MAX_ITERATIONS = 200
"""EM stops after this many iterations (on data with cv <= 1 hyper-exponential phases merge
slowly)."""
NEWTON_STEPS = 6
"""Newton steps for a gamma shape from Minka's start (within 1.5% already: quadratic after)."""
ROUNDING_ITERATIONS = 20
"""EM iterations that rank the roundings of real shapes to orders (then the best converges)."""
KMEANS_ROUNDS = 50
"""Most rounds of the k-means that gives one of EM's starts."""
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


def _best_shapes(s0: np.ndarray, s1: np.ndarray, sl: np.ndarray, top: int) -> np.ndarray:
    """Each branch's real shape ``a`` in ``[1, top]`` maximising the same expression (a gamma
    branch): the root of ``ln a - digamma(a) = ln(S1 / S0) - SL / S0`` (the weighted gamma
    likelihood equation), from Minka's (2002) approximation by Newton's method, clipped."""
    target = np.maximum(np.log(s1 / s0) - sl / s0, 1e-12)
    a = (3 - target + np.sqrt((target - 3) ** 2 + 24 * target)) / (12 * target)
    for _ in range(NEWTON_STEPS):
        gap = np.log(a) - special.digamma(a) - target
        a = np.maximum(a - gap / (1 / a - special.polygamma(1, a)), a / 2)
    return np.asarray(np.clip(a, 1.0, float(top)), dtype=float)


Orders = Literal["fixed", "integer", "real"]
_M_STEP = {"integer": _best_orders, "real": _best_shapes}


def em(
    x: np.ndarray,
    start: FrozenHyperErlang,
    orders: Orders = "fixed",
    iterations: int = MAX_ITERATIONS,
) -> EMFit:
    """EM from ``start`` on positive samples ``x``. ``orders``: kept as they start (``fixed``),
    chosen by the M-step among ``1..MAX_ORDER`` (``integer``), or real shapes in that range
    (``real``: a mixture of gammas, which :func:`fit_hypererlang_em` rounds).

    Stops early if a branch loses all its weight (the law has one branch fewer: the model
    before that step is kept)."""
    x = np.asarray(x, dtype=float)
    logs = np.log(x)
    fit = EMFit(start)
    previous = -np.inf
    for _ in range(iterations):
        parts = fit.model._log_parts(x, logs)
        top = parts.max(axis=0)
        w = np.exp(parts - top)
        density = w.sum(axis=0)  # over exp(top)
        likelihood = float(top.sum() + np.log(density).sum())
        fit.log_likelihoods.append(likelihood)
        if likelihood - previous <= TOLERANCE * abs(likelihood):
            break
        previous = likelihood
        w /= density  # P(branch i | x_j)
        s0 = w.sum(axis=1)
        if np.any(s0 <= 0.0) or np.any(s0 >= len(x)):  # one branch left
            break
        s1 = w @ x
        shape = fit.model.orders
        if orders != "fixed":
            shape = _M_STEP[orders](s0, s1, w @ logs, MAX_ORDER)
        fit.model = FrozenHyperErlang(s0 / len(x), s1 / s0, shape)
    return fit


REFIT_ITERATIONS = 50
"""EM iterations of a bootstrap refit, started at the fit the draw came from (on the 3-phase
test sample the KS distance of a refit moves by less than 1e-4 after 50 iterations)."""
FEWEST_PER_PARAMETER = 10
"""Three branches (8 parameters) are tried from 80 values on."""
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
    """The ``phases``-phase hyper-exponential: the most likely of EM from
    :func:`quantile_start`, from each of :func:`starts`, and from the weights and means of
    the mixture of gammas fitted from each of those (on a 3-phase test sample EM from the
    first three stopped at a log-likelihood 16 below the one from a mixture of gammas)."""
    weights, means = quantile_start(x, phases)
    begin = [(weights, means)]
    for start in starts(x, phases):
        gammas = em(x, start, "real").model
        begin += [(start.weights, start.means), (gammas.weights, gammas.means)]
    return max(
        (em(x, FrozenHyperErlang(w, m, np.ones(phases))) for w, m in begin),
        key=lambda f: f.log_likelihood,
    )


def _grouped(x: np.ndarray, group: np.ndarray, branches: int) -> FrozenHyperErlang:
    """A start from a partition of the samples: each group's share, mean and gamma shape
    ``mean^2 / variance`` (clipped to ``1..MAX_ORDER``); an empty group takes the whole."""
    rows = []
    for g in range(branches):
        part = x[group == g] if np.any(group == g) else x
        shape = part.mean() ** 2 / part.var() if part.size > 1 and part.var() > 0 else 1.0
        rows.append((part.size / x.size, part.mean(), min(max(shape, 1.0), MAX_ORDER)))
    weights, means, shapes = (np.array(column) for column in zip(*rows, strict=True))
    return FrozenHyperErlang(weights / weights.sum(), means, shapes)


def starts(x: np.ndarray, branches: int) -> list[FrozenHyperErlang]:
    """Where the mixture-of-gammas EM starts: groups between consecutive quantiles, and the
    clusters of one-dimensional k-means on ``ln x`` (from the same quantiles), which separate
    modes where quantiles cut through them."""
    x = np.asarray(x, dtype=float)
    logs = np.log(x)
    cuts = np.quantile(x, np.arange(1, branches) / branches)
    by_quantile = np.searchsorted(cuts, x, side="left")
    centres = np.quantile(logs, (np.arange(branches) + 0.5) / branches)
    by_cluster = by_quantile
    for _ in range(KMEANS_ROUNDS):
        by_cluster = np.argmin(np.abs(logs[:, None] - centres[None, :]), axis=1)
        moved = np.array(
            [logs[by_cluster == g].mean() if np.any(by_cluster == g) else centres[g]
             for g in range(branches)]
        )  # fmt: skip
        if np.allclose(moved, centres):
            break
        centres = moved
    return [_grouped(x, by_quantile, branches), _grouped(x, by_cluster, branches)]


def _rounded(x: np.ndarray, fit: EMFit) -> EMFit:
    """The most likely hyper-Erlang whose orders are the real shapes of ``fit`` rounded down
    or up: each of the ``2^m`` choices gets :data:`ROUNDING_ITERATIONS` of EM with its orders
    fixed, and the most likely of them EM to convergence."""
    model = fit.model
    choices = itertools.product(
        *({max(math.floor(a), 1), min(math.ceil(a), MAX_ORDER)} for a in model.orders)
    )
    short = max(
        (
            em(x, FrozenHyperErlang(model.weights, model.means, np.array(k, dtype=float)), "fixed",
               ROUNDING_ITERATIONS)
            for k in choices
        ),
        key=lambda f: f.log_likelihood,
    )  # fmt: skip
    rest = em(x, short.model)
    return EMFit(rest.model, [*short.log_likelihoods, *rest.log_likelihoods[1:]])


def fit_hypererlang_em(x: np.ndarray) -> tuple[EMFit, float]:
    """The hyper-Erlang with the lowest BIC over :data:`BRANCHES` (``m`` branches count
    ``3m - 1`` parameters: ``m - 1`` probabilities, ``m`` means, ``m`` orders); with its BIC.

    For each ``m``: EM for a mixture of gammas (real shapes) from each of :func:`starts`; the
    most likely one's shapes rounded by :func:`_rounded`."""
    x = np.asarray(x, dtype=float)
    best: tuple[EMFit, float] | None = None
    for m in BRANCHES:
        if m > 2 and len(x) < FEWEST_PER_PARAMETER * (3 * m - 1):
            continue  # two branches are always tried (the family needs that many values)
        gammas = max(
            (em(x, s, orders="real") for s in starts(x, m)), key=lambda f: f.log_likelihood
        )
        fit = _rounded(x, gammas)
        bic = (3 * m - 1) * float(np.log(len(x))) - 2 * fit.log_likelihood
        if best is None or bic < best[1]:
            best = (fit, bic)
    assert best is not None
    return best


def refit(x: np.ndarray, params: dict[str, float]) -> dict[str, float]:
    """Parameters of the same form as ``params`` refitted to ``x`` by EM started from them
    (orders free if ``params`` has them), at most :data:`REFIT_ITERATIONS` iterations: the
    parametric bootstrap's refit of each draw from the fitted law."""
    erlangs = any(key.startswith("k") for key in params)
    start = from_parameters(params)
    fit = em(x, start, "integer" if erlangs else "fixed", iterations=REFIT_ITERATIONS)
    return branch_parameters(fit, orders=erlangs)


def fit_hypererlang(x: np.ndarray) -> dict[str, float]:
    """Maximum-likelihood hyper-Erlang parameters (``p1, mean1, k1, ...``) of positive samples."""
    return branch_parameters(fit_hypererlang_em(x)[0], orders=True)
