"""A two-state Markov-modulated Poisson process (MMPP) fitted to interarrival times by maximum
likelihood, ranked against a Poisson process by BIC.

An MMPP in state ``i`` publishes at rate ``rate_i`` and leaves the state at rate
``1 / mean_stay_i``. Its interarrival times are a Markovian arrival process with
``D0 = Q - diag(rate)`` and ``D1 = diag(rate)`` (``Q`` the generator of the states), so the
likelihood of gaps ``t_1..t_n`` is ``phi exp(D0 t_1) D1 ... exp(D0 t_n) D1 1`` with ``phi``
the state at an arrival in equilibrium, ``pi D1 / (pi D1 1)`` (Rydén 1996, "An EM algorithm for
estimation in Markov-modulated Poisson processes", Computational Statistics & Data Analysis
21; Fischer and Meier-Hellstern 1993, "The MMPP cookbook"). Rydén maximises it by EM; here
the likelihood itself is evaluated exactly and vectorised (``exp(D0 t)`` of a 2x2 matrix from
its two real eigenvalues, the product of the ``n`` matrices by pairwise multiplication with
rescaling) and maximised over the logs of the four parameters by Nelder-Mead, which reaches the
same maximum. The MMPP has 4 parameters, the Poisson process 1; BIC ``k ln n - 2 ln L``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize

from qsim.fit.snippet import flow_mapping, scenario_duration, scenario_number

__all__ = ["FEWEST_GAPS", "MOST_GAPS", "fit_mmpp", "mmpp_log_likelihood"]

FEWEST_GAPS = 100
"""Fewer interarrival times than this are not fitted (4 parameters need many more)."""
MOST_GAPS = 20_000
"""Only the first this many interarrival times are fitted (about 2 s; the standard errors of
the fit are then a few per cent)."""


def mmpp_log_likelihood(rates: np.ndarray, leave: np.ndarray, gaps: np.ndarray) -> float:
    """Log-likelihood of interarrival ``gaps`` under the two-state MMPP with ``rates`` and
    rates of leaving each state ``leave`` (``1 / mean_stay``)."""
    d0 = np.array([[-(leave[0] + rates[0]), leave[0]], [leave[1], -(leave[1] + rates[1])]])
    half = (d0[0, 0] - d0[1, 1]) / 2
    spread = math.sqrt(half * half + leave[0] * leave[1])
    top = (d0[0, 0] + d0[1, 1]) / 2 + spread
    low = top - 2 * spread
    identity = np.eye(2)
    upper = (d0 - low * identity) / (top - low)  # spectral projectors: exp(D0 t) =
    lower = (d0 - top * identity) / (low - top)  #   e^(top t) upper + e^(low t) lower
    gaps = np.asarray(gaps, dtype=float)
    decay = np.exp((low - top) * gaps)[:, None, None]
    mats = (upper[None] + decay * lower[None]) * rates[None, None, :]  # times D1 on the right
    log_scale = top * float(gaps.sum())
    while len(mats) > 1:
        if len(mats) % 2:
            mats = np.concatenate([mats, identity[None]])
        mats = mats[0::2] @ mats[1::2]
        norms = mats.max(axis=(1, 2))
        if np.any(norms <= 0):
            return -math.inf
        mats /= norms[:, None, None]
        log_scale += float(np.log(norms).sum())
    stationary = np.array([leave[1], leave[0]]) * rates
    phi = stationary / stationary.sum()
    total = float(phi @ mats[0] @ np.ones(2))
    return log_scale + math.log(total) if total > 0 else -math.inf


def _poisson_log_likelihood(gaps: np.ndarray) -> float:
    rate = 1.0 / float(gaps.mean())
    return len(gaps) * math.log(rate) - rate * float(gaps.sum())


def fit_mmpp(gaps: np.ndarray) -> dict[str, Any] | None:
    """The maximum-likelihood two-state MMPP of interarrival ``gaps`` (seconds), busier state
    first, with both BICs, from the first :data:`MOST_GAPS` gaps; None with fewer than
    :data:`FEWEST_GAPS`."""
    gaps = np.asarray(gaps, dtype=float)[:MOST_GAPS]
    n = len(gaps)
    if n < FEWEST_GAPS or gaps.mean() <= 0:
        return None
    rate = 1.0 / float(gaps.mean())

    def cost(theta: np.ndarray) -> float:
        value = np.exp(theta)
        return -mmpp_log_likelihood(value[:2], value[2:], gaps)

    best = None
    for ratio, stay in ((3.0, 30.0), (10.0, 300.0)):  # busy/quiet rates; stays in mean gaps
        start = np.log([rate * math.sqrt(ratio), rate / math.sqrt(ratio), rate / stay, rate / stay])
        found = optimize.minimize(
            cost,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000},
        )
        if best is None or found.fun < best.fun:
            best = found
    assert best is not None
    value = np.exp(best.x)
    order = np.argsort(-value[:2])
    rates, leave = value[:2][order], value[2:][order]
    log_likelihood = -float(best.fun)
    poisson = _poisson_log_likelihood(gaps)
    bic = 4 * math.log(n) - 2 * log_likelihood
    poisson_bic = math.log(n) - 2 * poisson
    return {
        "gaps_used": n,
        "rates": rates.tolist(),
        "mean_stays": (1.0 / leave).tolist(),
        "log_likelihood": log_likelihood,
        "bic": bic,
        "poisson_log_likelihood": poisson,
        "poisson_bic": poisson_bic,
        "better_than_poisson": bic < poisson_bic,
        "snippet": "mmpp: ["
        + ", ".join(
            flow_mapping({"rate": f"{scenario_number(r)}/s", "mean_stay": scenario_duration(1 / q)})
            for r, q in zip(rates.tolist(), leave.tolist(), strict=True)
        )
        + "]",
    }
