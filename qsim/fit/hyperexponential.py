"""The hyper-exponential fitted by expectation-maximisation (EM): the hyper-Erlang fit of
:mod:`qsim.fit.hypererlang` with every branch one exponential stage.

A mixture of exponentials has no closed-form maximum-likelihood estimate; EM (Dempster, Laird
and Rubin 1977; for phase-type fitting, Asmussen, Nerman and Olsson 1996) climbs the likelihood:
the E-step gives each sample the probability that it came from each phase, the M-step sets each
phase's ``p`` to the mean of those probabilities and its mean to the weighted sample mean. The
likelihood never falls; iterations stop when it rises by less than
:data:`~qsim.fit.hypererlang.TOLERANCE` (relative) or after
:data:`~qsim.fit.hypererlang.MAX_ITERATIONS`. EM starts from equal weights and the means of the
samples between consecutive quantiles (two phases: above and below the median). The two-phase
fit names its phases ``long`` and ``short`` (by their means); ``k`` phases are ``p1, mean1, ...``
longest first, so that a fit is unique and its parameters comparable.
"""

from __future__ import annotations

import numpy as np

from qsim.fit.hypererlang import (
    MAX_ITERATIONS,
    TOLERANCE,
    FrozenHyperErlang,
    branch_parameters,
    fit_hyperexponential_phases,
    refit,
)

__all__ = [
    "MAX_ITERATIONS",
    "TOLERANCE",
    "FrozenHyperExponential",
    "fit_hyperexponential",
    "fit_hyperexponential_k",
    "refit_hyperexponential",
]


class FrozenHyperExponential(FrozenHyperErlang):
    """A two-phase hyper-exponential: ``p_long`` of mean ``mean_long``, else ``mean_short``."""

    def __init__(self, p_long: float, mean_long: float, mean_short: float) -> None:
        p = min(max(p_long, 0.0), 1.0)
        super().__init__(np.array([p, 1.0 - p]), np.array([mean_long, mean_short]), np.ones(2))
        self.p = p


def fit_hyperexponential(x: np.ndarray) -> dict[str, float]:
    """Maximum-likelihood ``p_long``, ``mean_long`` and ``mean_short`` of positive samples."""
    (p_long, mean_long, _), (_, mean_short, _) = fit_hyperexponential_phases(x, 2).branches()
    return {"p_long": p_long, "mean_long": mean_long, "mean_short": mean_short}


def refit_hyperexponential(x: np.ndarray, params: dict[str, float]) -> dict[str, float]:
    """The two-phase fit's parameters refitted to bootstrap draw ``x`` by EM from ``params``
    (:func:`~qsim.fit.hypererlang.refit`)."""
    moved = refit(x, {"p1": params["p_long"], "mean1": params["mean_long"],
                      "mean2": params["mean_short"]})  # fmt: skip
    return {"p_long": moved["p1"], "mean_long": moved["mean1"], "mean_short": moved["mean2"]}


def fit_hyperexponential_k(x: np.ndarray, phases: int) -> dict[str, float]:
    """Maximum-likelihood ``p1, mean1, ..., mean<phases>`` (longest first) of positive samples:
    ``2 phases - 1`` parameters."""
    return branch_parameters(fit_hyperexponential_phases(x, phases), orders=False)
