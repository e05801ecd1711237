"""Mixtures, shifts and truncations of any distribution: exact moments, and mixture weights that
do not sum to 1 refused in one located line with exit status 2."""

import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import scenario_error, write_scenario
from pydantic import TypeAdapter

from qsim.cli import main
from qsim.distributions import Distribution
from qsim.scenario.fields import TimeDistribution

TIMES = TypeAdapter(TimeDistribution)

GOOD = """\
name: mix
duration: 10s
producers: [{name: p, to: q, rate: 1/s}]
queues: [{name: q}]
consumers:
  - name: c
    queue: q
    service_time:
      dist: mixture
      weights: [0.9, 0.1]
      of:
        - {dist: exponential, mean: 100ms}
        - {dist: shifted, shift: 1s, of: {dist: exponential, mean: 2s}}
"""


def test_mixture_moments_are_the_weighted_moments_of_its_components():
    """0.9 Exp(0.1) + 0.1 (1 + Exp(2)): E = 0.09 + 0.3 = 0.39; E[S^2] = 0.9 * 0.02 + 0.1 *
    (4 + 9) = 1.318 (a shifted exponential's second moment is var + mean^2 = 4 + 3^2)."""
    mixture = TIMES.validate_python(
        {
            "dist": "mixture",
            "weights": [0.9, 0.1],
            "of": [
                {"dist": "exponential", "mean": 0.1},
                {"dist": "shifted", "shift": 1, "of": {"dist": "exponential", "mean": 2}},
            ],
        }
    )
    assert (mixture.mean, mixture.variance) == pytest.approx((0.39, 1.318 - 0.39**2), rel=1e-12)


def test_a_truncated_exponential_has_its_closed_form_mean():
    """Exp(1) given X <= 2: E = 1 - 2 e^-2 / (1 - e^-2) (quadrature to 1e-10)."""
    truncated = TIMES.validate_python(
        {"dist": "truncated", "of": {"dist": "exponential", "mean": 1}, "high": 2}
    )
    assert truncated.mean == pytest.approx(1 - 2 * math.exp(-2) / (1 - math.exp(-2)), rel=1e-9)


def test_mixture_weights_that_do_not_sum_to_one_are_one_located_line(tmp_path):
    error = scenario_error(tmp_path, GOOD, "[0.9, 0.1]", "[0.9, 0.2]")
    assert error == (
        "scenario.yaml:10: consumers[0].service_time.weights: the mixture weights must sum to 1,"
        " got 1.1"
    )


def test_an_error_inside_a_component_is_located_at_its_own_key(tmp_path):
    error = scenario_error(tmp_path, GOOD, "shift: 1s", "shift: 1 parsec")
    assert error.startswith("scenario.yaml:13: consumers[0].service_time.of[1].shift: ")


def test_qsim_validate_refuses_bad_mixture_weights_with_exit_status_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path, GOOD.replace("[0.9, 0.1]", "[0.5, 0.1]"))
    result = CliRunner().invoke(main, ["validate", "scenario.yaml"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "must sum to 1, got 0.6" in result.stderr


def test_a_mixture_of_constants_jumps_where_its_weights_say():
    """0.3 of 1s and 0.7 of 2s: the quantile is 1s up to u = 0.3 and 2s above, batched and one
    at a time (the least x with F(x) >= u, at a jump of the distribution function)."""
    mixture = TIMES.validate_python({"dist": "mixture", "weights": [0.3, 0.7], "of": ["1s", "2s"]})
    u = [0.0, 0.1, 0.3, 0.31, 0.9]
    expected = [1.0, 1.0, 1.0, 2.0, 2.0]
    assert mixture.ppf(np.array(u)) == pytest.approx(expected, rel=1e-12)
    assert [mixture.quantile()(v) for v in u] == pytest.approx(expected, rel=1e-12)


def test_the_fallback_distribution_function_inverts_the_quantile_function():
    """A family without its own ``cdf`` (mixtures and truncations need one) gets it by bisection
    on ``ppf``: for the gamma it equals the closed form to float precision."""
    gamma = TIMES.validate_python({"dist": "gamma", "mean": 0.2, "cv": 0.5})
    x = np.array([0.0, 0.05, 0.2, 0.6, 2.0])
    assert Distribution.cdf(gamma, x) == pytest.approx(gamma.cdf(x), abs=1e-15)
