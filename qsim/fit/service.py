"""Fitting service times: maximum-likelihood fits ranked by a bootstrapped Kolmogorov-Smirnov test.

How the winner is chosen (``docs/fitting.md`` explains why):

1. each family of :data:`~qsim.fit.families.FAMILIES` is fitted by maximum likelihood;
2. its Kolmogorov-Smirnov distance ``D`` to the sample gets a p-value from a parametric bootstrap
   (draw from the fitted distribution, refit, recompute ``D``), because the textbook p-value
   assumes known parameters and is far too optimistic for fitted ones (Lilliefors' problem);
3. the families the test does not reject (p >= :data:`ALPHA`) are ranked by BIC, which prefers
   the simpler of nested families (exponential inside gamma and Weibull) on equal fit;
4. if the test rejects every family, the empirical distribution (resampling the data) wins.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from qsim.distributions import Distribution
from qsim.errors import QsimError
from qsim.fit.families import FAMILIES, Family
from qsim.fit.measurements import Column
from qsim.fit.snippet import flow_mapping
from qsim.scenario.fields import TimeDistribution
from qsim.units import MAX_DURATION

__all__ = ["ALPHA", "BOOTSTRAP_DRAWS", "check_durations", "fit_service_times", "ks_distance"]

ALPHA = 0.05
"""A family whose goodness-of-fit p-value is below this is rejected."""
BOOTSTRAP_DRAWS = 200
"""Default number of parametric-bootstrap samples behind each p-value."""
MIN_CV = 1e-3
"""Samples whose cv is below this are constants (and break the fits' numerics)."""
_TINY = float(np.finfo(float).tiny)
_AS_SCENARIO: TypeAdapter[Distribution[float]] = TypeAdapter(TimeDistribution)


def ks_distance(ordered: np.ndarray, cdf: Any) -> float:
    """Kolmogorov-Smirnov distance between the empirical CDF of ``ordered`` (sorted) and ``cdf``."""
    n = len(ordered)
    f = cdf(ordered)
    above = np.arange(1, n + 1) / n - f
    below = f - np.arange(n) / n
    return float(max(above.max(), below.max()))


def _p_value(
    family: Family, params: dict[str, float], d: float, n: int, rng: np.random.Generator, draws: int
) -> float:
    """P(D* >= d) over samples drawn from the fitted distribution and refitted (Monte Carlo
    p-value, ``(1 + hits) / (1 + draws)``); without draws, the known-parameter Kolmogorov
    p-value."""
    if draws == 0:
        return float(stats.kstwo.sf(d, n))
    fitted, hits = family.frozen(params), 0
    for _ in range(draws):
        sample = np.sort(np.maximum(fitted.rvs(size=n, random_state=rng), _TINY))
        hits += ks_distance(sample, family.frozen(family.refitted(sample, params)).cdf) >= d
    return (1 + hits) / (1 + draws)


def _scenario_figures(written: dict[str, Any]) -> dict[str, Any]:
    """Load the written distribution as the scenario loader does: its exact mean and cv."""
    loaded = _AS_SCENARIO.validate_python(written)
    return {"distribution": written, "mean": loaded.mean, "cv": loaded.cv}


def _loader_reason(exc: ValidationError) -> str:
    """The scenario loader's own words for why it refuses a fitted distribution."""
    return "; ".join(str(error["msg"]) for error in exc.errors())


def _candidate(
    family: Family, x: np.ndarray, rng: np.random.Generator, draws: int
) -> dict[str, Any]:
    params = family.fit(x)
    fitted = family.frozen(params)
    d = ks_distance(x, fitted.cdf)
    log_likelihood = float(np.sum(fitted.logpdf(x)))
    k, n = len(params), len(x)
    p = _p_value(family, params, d, n, rng, draws)
    return {
        "dist": family.name,
        "parameters": params,
        **_scenario_figures(family.written(params)),
        "ks_statistic": d,
        "p_value": p,
        "log_likelihood": log_likelihood,
        "aic": 2 * k - 2 * log_likelihood,
        "bic": k * math.log(n) - 2 * log_likelihood,
        "plausible": p >= ALPHA,
    }


def _empirical(column: Column, seconds_per_unit: float) -> dict[str, Any]:
    """Resampling the data: by file when the loader can read it so (first column, seconds),
    else the values in seconds, in file order."""
    x = np.asarray(column.values, dtype=float) * seconds_per_unit
    written: dict[str, Any] = {"dist": "empirical"}
    if column.first and seconds_per_unit == 1.0:
        written["file"] = str(column.path)
    else:
        written["values"] = [f"{v:.6g}" for v in x]
    return {
        "dist": "empirical",
        "parameters": {},
        "distribution": written,
        "mean": float(x.mean()),
        "cv": float(x.std() / x.mean()),  # as the empirical distribution's (population) cv
        "ks_statistic": None,
        "p_value": None,
        "log_likelihood": None,
        "aic": None,
        "bic": None,
        "plausible": True,
    }


def _ranked(fits: list[dict[str, Any]], empirical: dict[str, Any]) -> list[dict[str, Any]]:
    """Families the test keeps, by BIC; then the empirical fallback; then the rejected, by BIC."""
    fits = sorted(fits, key=lambda c: (not c["plausible"], c["bic"]))
    kept = [c for c in fits if c["plausible"]]
    return [*kept, empirical, *fits[len(kept) :]]


def check_durations(column: Column) -> None:
    """Service times must be above zero (every family has support above zero), at least two,
    and not (nearly) all equal: a spread below :data:`MIN_CV` is a constant."""
    for index, value in enumerate(column.values):
        if value <= 0:
            raise QsimError(
                f"{column.where(index)}: service times must be above zero, got {value:g}"
            )
    if len(column.values) < 2:
        raise QsimError(f"{column.path}: one value only; fitting needs at least two")
    cv = float(np.std(column.values) / np.mean(column.values))
    if cv < MIN_CV:
        raise QsimError(
            f"{column.path}: the values hardly vary (cv {cv:.2g}); "
            f"use a constant service time instead of fitting"
        )


def fit_service_times(
    column: Column, seconds_per_unit: float, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS
) -> dict[str, Any]:
    """Fit every family to ``column`` (values in units of ``seconds_per_unit`` seconds, checked
    by :func:`check_durations`) and rank them; JSON-ready, with the winner's scenario snippet."""
    longest = int(np.argmax(np.asarray(column.values)))
    if column.values[longest] * seconds_per_unit > MAX_DURATION:
        where = column.where(longest)
        raise QsimError(f"{where}: a service time above 100 years (3.16e9 s) is not one qsim fits")
    check_durations(column)
    x = np.sort(np.asarray(column.values, dtype=float) * seconds_per_unit)
    fits, unloadable = [], []
    for family in FAMILIES.values():
        if len(x) >= family.fewest:
            try:
                fits.append(_candidate(family, x, rng, draws))
            except ValidationError as exc:  # e.g. phase rates too far apart for the loader
                unloadable.append({"dist": family.name, "reason": _loader_reason(exc)})
    empirical = _empirical(column, seconds_per_unit)
    ranked = _ranked(fits, empirical)
    best = ranked[0]
    return {
        "file": str(column.path),
        "count": len(x),
        "sample": {
            "mean": float(x.mean()),
            "cv": float(x.std() / x.mean()),
            "min": float(x[0]),
            "median": float(np.median(x)),
            "max": float(x[-1]),
        },
        "method": {
            "fit": "maximum likelihood, location fixed at 0",
            "test": "kolmogorov-smirnov",
            "p_value": "parametric bootstrap"
            if draws
            else "asymptotic (optimistic: fitted parameters)",
            "bootstrap_draws": draws,
            "alpha": ALPHA,
            "rank": "BIC among families the test keeps; empirical if it rejects them all",
        },
        "candidates": ranked,
        "unloadable": unloadable,
        "best": best["dist"],
        "snippet": f"service_time: {flow_mapping(best['distribution'])}",
    }
