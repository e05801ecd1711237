"""``qsim fit --arrivals``: a two-state MMPP fitted to interarrival times, against Poisson by BIC.

Publishes come from qsim's own arrival engine with seeded Generators. Tolerance for fitted
parameters: 4 standard errors from the observed information (minus the Hessian of the
log-likelihood, by central differences in the logs of the parameters) of the sample.
"""

import math

import numpy as np
import pytest
import yaml
from test_fit import fit_json, write_column

from qsim.engine.arrivals import arrival_times
from qsim.fit.mmpp import fit_mmpp, mmpp_log_likelihood
from qsim.scenario import Producer

STANDARD_ERRORS = 4
BURSTS = [{"rate": "50/s", "mean_stay": "10s"}, {"rate": "5/s", "mean_stay": "20s"}]
TRUE = {"rates": [50.0, 5.0], "mean_stays": [10.0, 20.0]}


def publishes(arrivals: dict, seed: int, until: float = 600.0) -> np.ndarray:
    """Publish times in ``[0, until)`` of a producer with these ``arrivals`` keys."""
    spec = Producer.model_validate({"name": "p", "to": "q", **arrivals})
    times = []
    for t in arrival_times(spec, np.random.default_rng(seed)):
        if t >= until:
            break
        times.append(t)
    return np.array(times)


def log_standard_errors(rates, stays, gaps) -> np.ndarray:
    """Standard errors of ln(rate_1, rate_2, 1/stay_1, 1/stay_2) from the observed information."""
    point = np.log([*rates, *(1 / np.array(stays))])
    step = 1e-3

    def ll(theta):
        value = np.exp(theta)
        return mmpp_log_likelihood(value[:2], value[2:], gaps)

    hessian = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            total = 0.0
            for si, sj, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                shifted = point.copy()
                shifted[i] += si * step
                shifted[j] += sj * step
                total += sign * ll(shifted)
            hessian[i, j] = total / (4 * step * step)
    return np.sqrt(np.diag(np.linalg.inv(-hessian)))


def test_an_mmpp_whose_states_share_a_rate_has_the_poisson_likelihood():
    """The matrix likelihood reduces to Poisson's, n ln(rate) - rate sum(t), when both states
    publish at the same rate, whatever the switching."""
    gaps = np.random.default_rng(1).exponential(0.05, 500)
    poisson = 500 * math.log(20.0) - 20.0 * gaps.sum()
    value = mmpp_log_likelihood(np.array([20.0, 20.0]), np.array([0.3, 2.0]), gaps)
    assert value == pytest.approx(poisson, rel=1e-10)


def test_a_known_mmpp_is_recovered_and_beats_poisson():
    """Ten minutes of bursts (50/s for 10 s, 5/s for 20 s): each fitted rate and mean stay is
    within 4 standard errors (on the log scale) of the true one, and BIC prefers the MMPP."""
    gaps = np.diff(publishes({"mmpp": BURSTS}, seed=1))
    fit = fit_mmpp(gaps)
    assert fit is not None and fit["better_than_poisson"]
    errors = log_standard_errors(fit["rates"], fit["mean_stays"], gaps)
    fitted = np.log([*fit["rates"], *(1 / np.array(fit["mean_stays"]))])
    true = np.log([*TRUE["rates"], *(1 / np.array(TRUE["mean_stays"]))])
    assert np.all(np.abs(fitted - true) <= STANDARD_ERRORS * errors), (fitted, true, errors)


def test_on_poisson_publishes_bic_prefers_poisson(tmp_path):
    """A Poisson producer at 20/s: the MMPP's three extra parameters (3 ln n = 28) are not
    worth their gain in likelihood."""
    path = write_column(tmp_path / "published.csv", publishes({"rate": "20/s"}, seed=2), "t")
    assert fit_json("--arrivals", path)["mmpp"]["better_than_poisson"] is False


def test_the_mmpp_snippet_loads_as_a_producer_with_the_fitted_figures(tmp_path):
    """Pasted into a producer, ``mmpp: [...]`` has the fitted rates and mean stays (to the 4
    significant digits written)."""
    path = write_column(tmp_path / "published.csv", publishes({"mmpp": BURSTS}, seed=3), "t")
    fit = fit_json("--arrivals", path)["mmpp"]
    spec = Producer.model_validate({"name": "p", "to": "q", **yaml.safe_load(fit["snippet"])})
    states = spec.mmpp.states
    assert [s.rate for s in states] == pytest.approx(fit["rates"], rel=1e-3)
    assert [s.mean_stay for s in states] == pytest.approx(fit["mean_stays"], rel=1e-3)


def test_too_few_publishes_fit_no_mmpp(tmp_path):
    """Fewer than 100 gaps are too few for four parameters: no MMPP is fitted."""
    path = write_column(tmp_path / "published.csv", np.arange(1, 62) * 1.0, "t")
    assert fit_json("--arrivals", path)["mmpp"] is None
