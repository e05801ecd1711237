"""Phase-type service times: exact moments two ways, an exact distribution function, a quantile
function that inverts it, and bad matrices refused in one located line with exit status 2.

The sampling checks (mean within 5 standard errors, cv, KS of ``ppf`` against ``sample``) run
for every family in tests/test_distributions.py; here is what only phase-type has: a closed
form and the matrix formula ``E[X^k] = k! alpha (-T)^-k 1`` for the same moments.
"""

import math

import numpy as np
import pytest
import scipy.linalg
from click.testing import CliRunner
from conftest import scenario_error, write_scenario
from pydantic import TypeAdapter

from qsim.cli import main
from qsim.scenario.fields import TimeDistribution

TIMES = TypeAdapter(TimeDistribution)

NAMED = {
    "hyperexponential": {"phases": [{"p": 0.25, "mean": "2s"}, {"p": 0.75, "mean": "667ms"}]},
    "hypererlang": {"phases": [{"p": 0.6, "mean": 0.1, "k": 2}, {"p": 0.4, "mean": 1, "k": 3}]},
    "hypoexponential": {"means": ["100ms", "300ms", "50ms"]},
    "coxian": {"phases": [{"mean": 0.1, "next": 0.4}, {"mean": 0.2, "next": 0.5}, {"mean": 1}]},
}

GOOD = """\
name: ph
duration: 10s
producers: [{name: p, to: q, rate: 1/s}]
queues: [{name: q}]
consumers:
  - name: c
    queue: q
    service_time:
      dist: phasetype
      initial: [0.5, 0.5]
      generator:
        - [-10, 5]
        - [1, -4]
"""


def times(dist: str, **data):
    """A validated time distribution from its written form."""
    return TIMES.validate_python({"dist": dist, **data})


@pytest.mark.parametrize("name", list(NAMED))
def test_closed_form_moments_equal_the_matrix_formula(name):
    """Mean and variance in closed form (sums over phases) and by ``k! alpha (-T)^-k 1`` from
    the family's own (alpha, T) agree to rounding."""
    family = times(name, **NAMED[name])
    law = family.law
    assert family.mean == pytest.approx(law.moment(1), rel=1e-12)
    assert family.variance == pytest.approx(law.moment(2) - law.moment(1) ** 2, rel=1e-12)


def test_the_h2_of_the_issue_has_its_textbook_moments():
    """p = 0.25 of mean 2s, 0.75 of 667ms: E[S] = 1.00025 s, E[S^2] = 2 (0.25 * 4 + 0.75 *
    0.667^2) = 2.6673335, so SCV = E[S^2] / E[S]^2 - 1 = 1.66600..."""
    h2 = times("hyperexponential", **NAMED["hyperexponential"])
    assert h2.mean == pytest.approx(1.00025, rel=1e-12)
    assert h2.cv**2 == pytest.approx(2.6673335 / 1.00025**2 - 1, rel=1e-12)


def test_a_general_phase_type_with_a_coxian_matrix_is_that_coxian():
    """The same chain written as a matrix has the Coxian's closed-form moments and survival."""
    coxian = times("coxian", **NAMED["coxian"])
    alpha, generator = coxian.representation()
    general = times("phasetype", initial=list(alpha), generator=[list(r) for r in generator])
    assert (general.mean, general.variance) == pytest.approx(
        (coxian.mean, coxian.variance), rel=1e-12
    )
    x = np.array([0.05, 0.3, 2.0])
    assert general.cdf(x) == pytest.approx(coxian.cdf(x), rel=1e-13)


@pytest.mark.parametrize("name", list(NAMED))
def test_the_distribution_function_is_alpha_exp_tx_one(name):
    """``F(x) = 1 - alpha exp(T x) 1``, against scipy's matrix exponential, from the body of
    the distribution to the far tail (relative error of the survival below 1e-12)."""
    family = times(name, **NAMED[name])
    alpha, generator = (np.array(a, dtype=float) for a in family.representation())
    x = family.mean * np.array([0.001, 0.1, 0.5, 1.0, 3.0, 10.0])
    exact = [alpha @ scipy.linalg.expm(generator * v) @ np.ones(len(alpha)) for v in x]
    assert family.law.survival(x) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("name", list(NAMED))
def test_the_quantile_function_inverts_the_distribution_function(name):
    """``F(ppf(u)) = u`` to float precision, vectorised and one at a time alike."""
    family = times(name, **NAMED[name])
    u = np.array([1e-9, 0.01, 0.25, 0.5, 0.9, 0.999, 1 - 1e-12])
    x = family.ppf(u)
    assert family.cdf(x) == pytest.approx(u, rel=1e-12, abs=1e-15)
    assert [family.quantile()(v) for v in u] == pytest.approx(x, rel=1e-12)


def test_phase_rates_too_far_apart_are_refused_in_one_line(tmp_path):
    """The quantile grid needs a step per fastest phase over the slowest's tail: rates 10^6
    apart would take millions of steps, so the scenario is refused, not slowly run."""
    error = scenario_error(tmp_path, GOOD, "[1, -4]", "[0, -0.00001]")
    assert error == "scenario.yaml:8: consumers[0].service_time: phase rates too far apart " + (
        "(over 10,000 times)"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[1, -4]",
            "[5, -4]",
            "scenario.yaml:13: consumers[0].service_time.generator[1]: row sums to 1: a "
            "sub-generator's rows must sum to <= 0 (the shortfall is the phase's exit rate)",
        ),
        (
            "[-10, 5]",
            "[-10, -5]",
            "scenario.yaml:12: consumers[0].service_time.generator[0][1]: rates between phases "
            "must be >= 0, got -5",
        ),
        (
            "[-10, 5]",
            "[0, 5]",
            "scenario.yaml:12: consumers[0].service_time.generator[0][0]: the diagonal rate "
            "must be below zero, got 0",
        ),
        (
            "- [-10, 5]\n        - [1, -4]",
            "- [-10, 10]\n        - [4, -4]",
            "scenario.yaml:12: consumers[0].service_time.generator[0]: phase 1 can never "
            "finish (no path to a phase with an exit rate)",
        ),
        (
            "[0.5, 0.5]",
            "[0.5, 0.6]",
            "scenario.yaml:10: consumers[0].service_time.initial: the initial probabilities "
            "must sum to 1, got 1.1",
        ),
        (
            "[0.5, 0.5]",
            "[1, 0, 0]",
            "scenario.yaml:8: consumers[0].service_time: initial has 3 phases and the generator 2",
        ),
    ],
    ids=["row-sum", "negative-rate", "diagonal", "never-finishes", "initial-sum", "sizes"],
)
def test_a_bad_phase_type_is_one_located_line(tmp_path, old, new, expected):
    assert scenario_error(tmp_path, GOOD, old, new) == expected


def test_hyperexponential_probabilities_that_do_not_sum_to_one_are_refused(tmp_path):
    text = GOOD.replace(
        "      dist: phasetype\n      initial: [0.5, 0.5]\n      generator:\n"
        "        - [-10, 5]\n        - [1, -4]\n",
        "      dist: hyperexponential\n      phases: [{p: 0.3, mean: 2s}, {p: 0.6, mean: 1s}]\n",
    )
    error = scenario_error(tmp_path, text, "name: ph", "name: ph")
    assert error == (
        "scenario.yaml:10: consumers[0].service_time.phases: the phases' probabilities p must "
        "sum to 1, got 0.9"
    )


def test_qsim_validate_refuses_a_bad_sub_generator_with_exit_status_2(tmp_path, monkeypatch):
    """The command line: one line on stderr, exit status 2, no traceback."""
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path, GOOD.replace("[1, -4]", "[5, -4]"))
    result = CliRunner().invoke(main, ["validate", "scenario.yaml"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "generator[1]: row sums to 1" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_coxian_whose_next_is_zero_before_the_end_is_refused():
    with pytest.raises(Exception, match="next is 0, so phase 2 is never reached"):
        times("coxian", phases=[{"mean": 1}, {"mean": 2}])
    assert math.isfinite(times("coxian", phases=[{"mean": 1, "next": 1}, {"mean": 2}]).mean)
