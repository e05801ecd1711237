"""Distributions a scenario names with ``dist``: draws agree with their exact ``mean`` and ``cv``.

Every registered distribution is parsed from a scenario file (so its parameters go through the
unit parsers) and sampled 200,000 times with an explicit, seeded numpy Generator.

Tolerances:

* mean: 5 standard errors of the sample mean, ``5 * sqrt(variance / n)``, from the exact variance.
* cv: 7 % relative. The relative standard error of a sample standard deviation is about
  ``sqrt((kurtosis - 1) / 4n)``; the heaviest tail below (Pareto, alpha 4.5, kurtosis ~149) gives
  1.4 % at n = 200,000, every other case under 0.8 %, and the error of the mean adds under 0.3 %.
  7 % is therefore at least 5 standard errors for every case. Parameters are chosen so that every
  variance (and, for the cv's own error, every fourth moment) is finite.
"""

import math
import pickle
import re
import textwrap

import numpy as np
import pytest
import scipy.stats
from conftest import scenario_from

from qsim.distributions import REGISTRY, _normal_ppf
from qsim.errors import ScenarioError
from qsim.scenario import load_scenario

DRAWS = 200_000
CV_RELATIVE_TOLERANCE = 0.07

SERVICE_TIMES_CSV = """\
seconds
0.010
0.020
0.020
0.050
0.400
"""

CASES = {
    "constant": "{dist: constant, value: 250ms}",
    "exponential": "{dist: exponential, mean: 200ms}",
    "uniform": "{dist: uniform, low: 100ms, high: 300ms}",
    "lognormal": "{dist: lognormal, mean: 200ms, cv: 1.0}",
    "gamma": "{dist: gamma, mean: 200ms, cv: 0.5}",
    "erlang": "{dist: erlang, k: 3, mean: 300ms}",
    "weibull": "{dist: weibull, shape: 1.5, scale: 200ms}",
    "pareto": "{dist: pareto, alpha: 4.5, scale: 100ms}",
    "normal-truncated-at-zero": "{dist: normal, mean: 1s, sd: 0.8s}",
    "empirical-values": "{dist: empirical, values: [10ms, 20ms, 20ms, 50ms, 400ms]}",
    "empirical-file": "{dist: empirical, file: service-times.csv}",
    "triangular": "{dist: triangular, low: 50ms, mode: 100ms, high: 400ms}",
    "loguniform": "{dist: loguniform, low: 10ms, high: 10s}",
    "loglogistic": "{dist: loglogistic, scale: 200ms, shape: 6}",
    "hyperexponential": (
        "{dist: hyperexponential, phases: [{p: 0.25, mean: 2s}, {p: 0.75, mean: 667ms}]}"
    ),
    "hypererlang": (
        "{dist: hypererlang, phases: [{p: 0.6, mean: 100ms, k: 2}, {p: 0.4, mean: 1s, k: 3}]}"
    ),
    "hypoexponential": "{dist: hypoexponential, means: [100ms, 300ms, 50ms]}",
    "coxian": (
        "{dist: coxian, phases: [{mean: 100ms, next: 0.4}, {mean: 100ms, next: 0.5}, {mean: 1s}]}"
    ),
    "mixture": (
        "{dist: mixture, weights: [0.8, 0.2], of: [{dist: exponential, mean: 100ms},"
        " {dist: lognormal, mean: 1s, cv: 0.5}]}"
    ),
    "shifted": "{dist: shifted, shift: 50ms, of: {dist: gamma, mean: 200ms, cv: 0.5}}",
    "truncated": "{dist: truncated, of: {dist: lognormal, mean: 200ms, cv: 1.5}, high: 1s}",
    "phasetype": (
        "{dist: phasetype, initial: [0.5, 0.3, 0.2],"
        " generator: [[-10, 5, 1], [0, -3, 2], [0.5, 0, -1]]}"
    ),
    "poisson": "{dist: poisson, mean: 3}",
    "geometric": "{dist: geometric, p: 0.3}",
    "binomial": "{dist: binomial, n: 12, p: 0.25}",
    "pmf": "{dist: pmf, values: [1s, 2s, 5s], probs: [0.5, 0.3, 0.2]}",
}


def scenario_text(service_time: str) -> str:
    """A one-pool scenario whose consumers take ``service_time`` per message."""
    return textwrap.dedent(
        """\
        name: distributions
        duration: 1s
        producers: [{name: p, to: q, rate: 1/s}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, service_time: SERVICE_TIME}]
        """
    ).replace("SERVICE_TIME", service_time)


@pytest.fixture(params=list(CASES.values()), ids=list(CASES))
def distribution(request, write_file):
    """Each case, loaded from a scenario file next to ``service-times.csv``."""
    write_file("service-times.csv", SERVICE_TIMES_CSV)
    path = write_file("scenario.yaml", scenario_text(request.param))
    return load_scenario(path).consumers[0].service_time


def draws(distribution) -> np.ndarray:
    return distribution.sample(np.random.default_rng(20240601), DRAWS)


def service_time_error(service_time: str) -> ScenarioError:
    """The error loading a scenario whose consumers take ``service_time``."""
    with pytest.raises(ScenarioError) as caught:
        scenario_from(scenario_text(service_time))
    return caught.value


def test_the_cases_cover_every_registered_distribution():
    """A newly registered distribution must be added to this table."""
    named = {re.search(r"dist: (\w+)", spec)[1] for spec in CASES.values()}
    assert named == set(REGISTRY)


def test_sample_mean_is_within_five_standard_errors_of_the_exact_mean(distribution):
    sample = draws(distribution)
    standard_error = math.sqrt(distribution.variance / DRAWS)
    assert sample.mean() == pytest.approx(distribution.mean, abs=5 * standard_error + 1e-12)


def test_sample_cv_is_within_seven_percent_of_the_exact_cv(distribution):
    sample = draws(distribution)
    sample_cv = sample.std() / sample.mean()
    assert sample_cv == pytest.approx(distribution.cv, rel=CV_RELATIVE_TOLERANCE, abs=1e-12)


def test_draws_are_never_negative(distribution):
    """Every distribution describes a non-negative quantity (a time, a size, a priority)."""
    assert draws(distribution).min() >= 0


def test_sample_returns_the_requested_number_of_draws(distribution):
    assert draws(distribution).shape == (DRAWS,)


def test_the_quantile_function_maps_uniforms_onto_the_distribution(distribution):
    """Inverse transform (what gives each message its own service time) draws the same law as
    ``sample``: a two-sample Kolmogorov-Smirnov test at the 0.1 % level (a fixed seed, so the
    verdict is fixed; a wrong quantile function fails it with p far below 1e-10)."""
    uniforms = np.random.default_rng(7).random(20_000)
    inverse = distribution.ppf(uniforms)
    assert scipy.stats.ks_2samp(inverse, draws(distribution)[:20_000]).pvalue > 1e-3


def test_the_scalar_quantile_function_is_the_vectorised_one(distribution):
    """``quantile()`` (one message's draw at a time) and ``ppf`` (a batch) agree."""
    uniforms = np.random.default_rng(8).random(50)
    quantile = distribution.quantile()
    scalar = [quantile(u) for u in uniforms]
    assert scalar == pytest.approx(distribution.ppf(uniforms), rel=1e-12, abs=1e-300)


def test_the_quantile_function_is_monotone_and_finite_on_the_unit_interval(distribution):
    """Larger ``u`` never means less work, so variants compare like with like."""
    quantile = distribution.quantile()
    values = [quantile(u) for u in (0.0, 1e-12, 0.1, 0.5, 0.9, 0.999999, 1.0 - 2**-53)]
    assert values == sorted(values)
    assert all(math.isfinite(v) and v >= 0 for v in values)


def test_the_normal_is_truncated_at_zero_and_its_exact_moments_say_so():
    """mean 1s, sd 0.8s: redrawing negatives lifts the mean to ~1.163s (scipy's truncnorm)."""
    normal = scenario_from(scenario_text(CASES["normal-truncated-at-zero"])).consumers[0]
    truncated = scipy.stats.truncnorm(a=-1 / 0.8, b=math.inf, loc=1.0, scale=0.8)
    assert (normal.service_time.mean, normal.service_time.cv) == pytest.approx(
        (truncated.mean(), truncated.std() / truncated.mean()), rel=1e-9
    )


def test_an_empirical_file_is_read_relative_to_the_scenario_folder(write_file):
    """``file: service-times.csv`` is found next to the scenario, whatever the working folder;
    a header line is skipped."""
    write_file("service-times.csv", SERVICE_TIMES_CSV)
    path = write_file("scenario.yaml", scenario_text(CASES["empirical-file"]))
    assert load_scenario(path).consumers[0].service_time.values == (0.01, 0.02, 0.02, 0.05, 0.4)


def test_empirical_values_carry_the_unit_of_the_field():
    empirical = scenario_from(scenario_text(CASES["empirical-values"])).consumers[0]
    assert empirical.service_time.values == pytest.approx((0.01, 0.02, 0.02, 0.05, 0.4))


@pytest.mark.parametrize(
    ("service_time", "value"),
    [("250ms", 0.25), ("2s", 2.0), ("0.5", 0.5), ("3", 3.0)],
)
def test_a_bare_duration_means_a_constant(service_time, value):
    """``service_time: 250ms`` is shorthand for ``{dist: constant, value: 250ms}``."""
    pool = scenario_from(scenario_text(service_time)).consumers[0]
    assert pool.service_time.model_dump() == {"dist": "constant", "value": value}


def test_an_unknown_dist_lists_the_known_names():
    error = service_time_error("{dist: exponentail, mean: 200ms}")
    known = ", ".join(REGISTRY)
    assert error.message == f"unknown distribution 'exponentail'; known: {known}"


def test_a_mapping_without_a_dist_key_is_an_error_that_lists_the_known_names():
    error = service_time_error("{mean: 200ms}")
    known = ", ".join(REGISTRY)
    assert (error.path, error.message) == (
        ("consumers", 0, "service_time"),
        f"expected a 'dist' key naming one of: {known}",
    )


def test_every_distribution_pickles_by_reference(distribution):
    """Process pools and Dask send scenarios to workers by pickle: nested phases included."""
    assert pickle.loads(pickle.dumps(distribution)) == distribution


def test_the_normal_inverse_is_the_standard_library_s_bit_for_bit():
    """Lognormal and normal service times come from AS241 evaluated on whole arrays: every
    double equals what ``statistics.NormalDist().inv_cdf`` gives for it (so runs are the same
    as when each value was computed by the library), across both tails, the region edges and
    the clipped ends 0 and 1."""
    from statistics import NormalDist

    edges = [0.0, 1e-300, 1e-9, 0.075, 0.0749999, 0.5, 0.925, 0.9250001, 1 - 1e-16, 1.0]
    u = np.concatenate([edges, np.random.default_rng(11).uniform(size=300_000)])
    inverse = NormalDist().inv_cdf
    expected = [inverse(p) for p in np.clip(u, 1e-300, 1.0 - 1e-16).tolist()]
    assert _normal_ppf(u).tobytes() == np.array(expected, dtype=float).tobytes()
