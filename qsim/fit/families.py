"""Candidate families of service-time distributions, fitted by maximum likelihood.

Each :class:`Family` fits its parameters to positive samples (location fixed at zero), gives the
fitted distribution as a ``scipy.stats`` frozen distribution (for the likelihood, the CDF of the
goodness-of-fit test and bootstrap draws) and writes it in scenario syntax. Looked up in
:data:`FAMILIES` by the ``dist`` name they are written as; ``hyperexponential-3`` is written as
a ``hyperexponential`` of three phases (``hyperexponential`` keeps its two).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from qsim.fit.hypererlang import fit_hypererlang, from_parameters, refit
from qsim.fit.hyperexponential import (
    FrozenHyperExponential,
    fit_hyperexponential,
    fit_hyperexponential_k,
    refit_hyperexponential,
)
from qsim.fit.snippet import scenario_duration, scenario_number

__all__ = ["FAMILIES", "Family"]

Params = dict[str, float]
PER_PARAMETER = 10
"""Values per fitted parameter the hyper-exponential-3 and hyper-Erlang candidates need."""
LOG_SHAPE_LIMIT = 12.0
"""Weibull shapes are sought between exp(-12) and exp(12) and held at those bounds."""


@dataclass(frozen=True)
class Family:
    """A parametric family: how to fit it, evaluate it, and write it in a scenario."""

    name: str
    fit: Callable[[np.ndarray], Params]
    """Maximum-likelihood parameters (scipy's native ones) of positive samples."""
    frozen: Callable[[Params], Any]
    """The scipy.stats frozen distribution with these parameters."""
    written: Callable[[Params], dict[str, Any]]
    """The distribution in scenario syntax, e.g. ``{dist: gamma, mean: 201.3ms, cv: 0.7071}``."""
    fewest: int = 2
    """Fewest values the family is fitted to (:data:`PER_PARAMETER` per parameter for the
    phase-type families; with fewer, BIC's large-sample penalty does not hold them back)."""
    refit: Callable[[np.ndarray, Params], Params] | None = None
    """How the bootstrap refits a draw from the fit with these parameters; None: by ``fit``.
    The EM-fitted families restart EM from the fit instead of their multi-start search."""

    def refitted(self, x: np.ndarray, params: Params) -> Params:
        """Parameters fitted to bootstrap draw ``x`` from the fit with ``params``."""
        return self.fit(x) if self.refit is None else self.refit(x, params)

    @property
    def parameter_count(self) -> int:
        """How many parameters are fitted (for the information criteria)."""
        return len(self.fit(np.array([1.0, 2.0])))


def _fit_exponential(x: np.ndarray) -> Params:
    return {"scale": float(np.mean(x))}


def _fit_gamma(x: np.ndarray) -> Params:
    shape, _, scale = stats.gamma.fit(x, floc=0)
    return {"shape": float(shape), "scale": float(scale)}


def _fit_lognormal(x: np.ndarray) -> Params:
    logs = np.log(x)
    return {"mu": float(np.mean(logs)), "sigma": float(np.std(logs))}


def _fit_weibull(x: np.ndarray) -> Params:
    """The shape solves the profile-likelihood equation (one root, found by Brent's method,
    which is about 50 times faster than scipy's general ``weibull_min.fit``); the scale follows."""
    logs = np.log(x)
    top = float(logs.max())

    def score(log_shape: float) -> float:
        shape = math.exp(log_shape)
        weights = np.exp(shape * (logs - top))  # x**shape, rescaled against overflow
        return float(1 / shape + logs.mean() - (weights * logs).sum() / weights.sum())

    low, high = -LOG_SHAPE_LIMIT, LOG_SHAPE_LIMIT
    if score(high) > 0 or score(low) < 0:  # (nearly) constant or absurdly spread data
        log_shape = high if score(high) > 0 else low
    else:
        log_shape = optimize.brentq(score, low, high, xtol=1e-12)
    shape = math.exp(log_shape)
    scale = math.exp(top) * float(np.mean(np.exp(shape * (logs - top)))) ** (1 / shape)
    return {"shape": shape, "scale": scale}


def _lognormal_written(p: Params) -> dict[str, str | float]:
    mean = math.exp(p["mu"] + p["sigma"] ** 2 / 2)
    cv = math.sqrt(math.expm1(p["sigma"] ** 2))
    return {"dist": "lognormal", "mean": scenario_duration(mean), "cv": scenario_number(cv)}


def _gamma_written(p: Params) -> dict[str, str | float]:
    mean = p["shape"] * p["scale"]
    cv = 1 / math.sqrt(p["shape"])
    return {"dist": "gamma", "mean": scenario_duration(mean), "cv": scenario_number(cv)}


def _probabilities(first: list[float]) -> list[float]:
    """All but the last probability to 4 significant digits, the last 1 minus their sum as
    written (to 12 decimals), so the written ones sum to 1 as the loader requires."""
    written = [scenario_number(p) for p in first]
    return [*written, round(1.0 - math.fsum(written), 12)]


def _hyperexponential_written(p: Params) -> dict[str, Any]:
    """Two phases, long first (see :func:`_probabilities`)."""
    p_long, p_short = _probabilities([p["p_long"]])
    return {
        "dist": "hyperexponential",
        "phases": [
            {"p": p_long, "mean": scenario_duration(p["mean_long"])},
            {"p": p_short, "mean": scenario_duration(p["mean_short"])},
        ],
    }


def _branches_written(p: Params, dist: str) -> dict[str, Any]:
    """``p1, mean1[, k1], ...`` as ``phases: [{p, mean[, k]}, ...]``, longest first."""
    count = sum(key.startswith("mean") for key in p)
    probabilities = _probabilities([p[f"p{i}"] for i in range(1, count)])
    phases: list[dict[str, Any]] = []
    for i, probability in enumerate(probabilities, start=1):
        phase: dict[str, Any] = {"p": probability, "mean": scenario_duration(p[f"mean{i}"])}
        if f"k{i}" in p:
            phase["k"] = int(p[f"k{i}"])
        phases.append(phase)
    return {"dist": dist, "phases": phases}


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "exponential",
            _fit_exponential,
            lambda p: stats.expon(scale=p["scale"]),
            lambda p: {"dist": "exponential", "mean": scenario_duration(p["scale"])},
        ),
        Family(
            "gamma",
            _fit_gamma,
            lambda p: stats.gamma(p["shape"], scale=p["scale"]),
            _gamma_written,
        ),
        Family(
            "lognormal",
            _fit_lognormal,
            lambda p: stats.lognorm(p["sigma"], scale=math.exp(p["mu"])),
            _lognormal_written,
        ),
        Family(
            "weibull",
            _fit_weibull,
            lambda p: stats.weibull_min(p["shape"], scale=p["scale"]),
            lambda p: {
                "dist": "weibull",
                "shape": scenario_number(p["shape"]),
                "scale": scenario_duration(p["scale"]),
            },
        ),
        Family(
            "hyperexponential",
            fit_hyperexponential,
            lambda p: FrozenHyperExponential(p["p_long"], p["mean_long"], p["mean_short"]),
            _hyperexponential_written,
            refit=refit_hyperexponential,
        ),
        Family(
            "hyperexponential-3",
            lambda x: fit_hyperexponential_k(x, 3),
            from_parameters,
            lambda p: _branches_written(p, "hyperexponential"),
            5 * PER_PARAMETER,
            refit,
        ),
        Family(
            "hypererlang",
            fit_hypererlang,
            from_parameters,
            lambda p: _branches_written(p, "hypererlang"),
            5 * PER_PARAMETER,
            refit,
        ),
    )
}
"""Candidate families by the ``dist`` name a scenario gives them."""
