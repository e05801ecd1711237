"""``qsim fit``'s phase-type candidates: the k-phase hyper-exponential and the hyper-Erlang by EM.

Samples come from seeded numpy Generators, 2,000 of them (as in test_fit.py). Tolerances:

* a fitted mean against the sample mean: 4 standard errors of the sample mean, ``4 s / sqrt(n)``;
* "the log-likelihood never falls": each EM step may fall by float rounding only, 1e-12 of the
  log-likelihood (a sum of 2,000 terms, each exact to about 1e-16 of itself).
"""

import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import scenario_from
from test_fit import (
    SCENARIO,
    STANDARD_ERRORS,
    TRUE_PARAMETERS,
    draw,
    fit_json,
    standard_errors,
    write_column,
)

from qsim.cli import main
from qsim.fit.families import FAMILIES
from qsim.fit.hypererlang import (
    FrozenHyperErlang,
    em,
    fit_hypererlang_em,
    from_parameters,
    quantile_start,
    starts,
)
from qsim.fit.hyperexponential import fit_hyperexponential, fit_hyperexponential_k

ROUNDING = 1e-12
EM_FAMILIES = ("hyperexponential", "hyperexponential-3", "hypererlang")
PHASE_FAMILIES = ("hyperexponential-3", "hypererlang")
THREE_BRANCHES = FrozenHyperErlang(
    np.array([0.2, 0.5, 0.3]), np.array([1.0, 0.3, 0.05]), np.array([10.0, 4.0, 2.0])
)


def three_branch_sample(rng: np.random.Generator, n: int = 2000) -> np.ndarray:
    """A multi-modal hyper-Erlang: 10 stages around 1 s, 4 around 300 ms, 2 around 50 ms."""
    return THREE_BRANCHES.rvs(n, rng)


def rises_only(log_likelihoods: list[float]) -> bool:
    steps = np.diff(log_likelihoods)
    return bool(np.all(steps >= -ROUNDING * np.abs(np.array(log_likelihoods[1:]))))


@pytest.mark.parametrize("orders", ["fixed", "integer", "real"])
@pytest.mark.parametrize("family", PHASE_FAMILIES)
def test_the_log_likelihood_never_falls_across_em_iterations(family, orders):
    """EM's M-step maximises over all parameters (orders too, integer or real), so each
    iteration's log-likelihood is at least the one before, from every start the fit uses."""
    x = draw(family, np.random.default_rng(7))
    for branches in (2, 3):
        weights, means = quantile_start(x, branches)
        begins = [FrozenHyperErlang(weights, means, np.ones(branches)), *starts(x, branches)]
        for start in begins:
            fit = em(x, start, orders)
            assert len(fit.log_likelihoods) > 2
            assert rises_only(fit.log_likelihoods), (branches, start.orders)


def test_a_three_branch_hyper_erlang_is_recovered_and_wins(tmp_path):
    """A three-mode sample: the fit finds three branches, each parameter within 4 standard
    errors of the true one (an order: of a real gamma shape, plus 1/2), and wins by BIC."""
    x = three_branch_sample(np.random.default_rng(1))
    fitted = FAMILIES["hypererlang"].fit(x)
    true = {"p1": 0.2, "mean1": 1.0, "k1": 10, "p2": 0.5, "mean2": 0.3, "k2": 4, "mean3": 0.05}
    true["k3"] = 2
    assert fitted.keys() == true.keys()
    errors = standard_errors("hypererlang", fitted, x)
    for name, value in true.items():
        rounding = 0.5 if name.startswith("k") else 0.0
        assert abs(fitted[name] - value) <= STANDARD_ERRORS * errors[name] + rounding, name
    result = fit_json(write_column(tmp_path / "times.csv", x), "--bootstrap", "49")
    assert result["best"] == "hypererlang"
    assert len(result["candidates"][0]["distribution"]["phases"]) == 3


def test_the_fit_is_at_least_as_likely_as_the_law_the_sample_came_from():
    """Finding the maximum: on samples of known laws the fitted log-likelihood is not below
    the true law's refined by EM (which starts where the search cannot know to start), give
    or take 1 (a likelihood ratio of e: far inside sampling error, where twice the
    log-likelihood ratio of nested fits varies by chi-square with several degrees of freedom)."""
    laws = [from_parameters(TRUE_PARAMETERS["hypererlang"]), THREE_BRANCHES]
    for seed, law in enumerate(laws):
        x = law.rvs(2000, np.random.default_rng(seed))
        fit, _ = fit_hypererlang_em(x)
        refined = em(x, law, "integer")
        assert fit.log_likelihood >= refined.log_likelihood - 1.0, seed


def test_the_two_phase_hyper_exponential_is_the_k_phase_fit_with_two_phases():
    """One EM for every count of phases: the two-phase keys name the k-phase fit's figures."""
    x = draw("hyperexponential", np.random.default_rng(2))
    two, k = fit_hyperexponential(x), fit_hyperexponential_k(x, 2)
    assert (two["p_long"], two["mean_long"], two["mean_short"]) == (k["p1"], k["mean1"], k["mean2"])


def test_bic_counts_each_order_as_a_parameter(tmp_path):
    """m branches: m - 1 probabilities, m means and m orders, 3m - 1 in all; the 3-phase
    hyper-exponential 2k - 1 = 5."""
    path = write_column(tmp_path / "times.csv", draw("hypererlang", np.random.default_rng(3)))
    candidates = {c["dist"]: c for c in fit_json(path, "--bootstrap", "0")["candidates"]}
    n = 2000
    for name, count in (
        ("hyperexponential", 3),
        ("hyperexponential-3", 5),
        ("hypererlang", 3 * len(candidates["hypererlang"]["distribution"]["phases"]) - 1),
    ):
        c = candidates[name]
        assert c["bic"] == pytest.approx(count * math.log(n) - 2 * c["log_likelihood"], rel=1e-12)
        assert len(c["parameters"]) == count


@pytest.mark.parametrize("family", PHASE_FAMILIES)
def test_the_snippet_passes_qsim_validate_and_keeps_the_sample_mean(tmp_path, family):
    """The winner written as a scenario is accepted by ``qsim validate``, and its mean is within
    4 standard errors of the sample mean (EM's M-step keeps the sample mean exactly)."""
    x = draw(family, np.random.default_rng(3))
    result = fit_json(write_column(tmp_path / "times.csv", x), "--bootstrap", "0")
    assert result["best"] == family
    service_time = result["snippet"].removeprefix("service_time: ")
    scenario = tmp_path / "fitted.yaml"
    scenario.write_text(SCENARIO.format(arrivals="rate: 1/s", service_time=service_time))
    validated = CliRunner().invoke(main, ["validate", str(scenario)])
    assert validated.exit_code == 0, validated.output
    half_width = 4 * x.std(ddof=1) / math.sqrt(len(x))
    assert abs(result["candidates"][0]["mean"] - x.mean()) <= half_width


def test_on_exponential_data_the_exponential_still_wins(tmp_path):
    """Every EM family contains the exponential (equal means, one stage); BIC's penalty for
    their extra parameters (ln 2000 = 7.6 each) ranks each below it and the exponential first."""
    path = write_column(tmp_path / "times.csv", draw("exponential", np.random.default_rng(3)))
    result = fit_json(path, "--bootstrap", "49")
    bic = {c["dist"]: c["bic"] for c in result["candidates"]}
    assert result["best"] == "exponential"
    assert all(bic["exponential"] < bic[name] for name in EM_FAMILIES)


def test_small_branch_probabilities_are_written_so_they_sum_to_one():
    """A branch below 10% keeps 4 significant digits; the last probability is 1 minus the
    others as written, so the loader's sum-to-1 check passes (0.02513 + 0.97487)."""
    written = FAMILIES["hyperexponential"].written(
        {"p_long": 0.025131, "mean_long": 2.0, "mean_short": 0.1}
    )
    assert [phase["p"] for phase in written["phases"]] == [0.02513, 0.97487]
    text = SCENARIO.format(arrivals="rate: 1/s", service_time=written)
    mean = 0.02513 * 2.0 + 0.97487 * 0.1
    assert scenario_from(text).consumers[0].service_time.mean == pytest.approx(mean)


def test_too_few_values_for_ten_per_parameter_leave_the_phase_type_candidates_out(tmp_path):
    """On 40 values (fewer than 10 per parameter of a 5-parameter fit) BIC's large-sample
    penalty cannot hold a hyper-Erlang back, so it is not a candidate; from 50 it is."""
    x = draw("hypererlang", np.random.default_rng(4), 50)
    names = {
        n: {
            c["dist"]
            for c in fit_json(write_column(tmp_path / f"{n}.csv", x[:n]), "--bootstrap", "0")[
                "candidates"
            ]
        }
        for n in (40, 50)
    }
    assert not names[40] & set(PHASE_FAMILIES)
    assert set(PHASE_FAMILIES) <= names[50]


def test_a_fit_the_scenario_loader_refuses_is_left_out_with_its_reason(tmp_path):
    """Modes at 1 ms and 100 s give phase rates 100,000 times apart, more than the loader's
    phase-type grid takes (10,000): those fits are listed as left out, with the loader's words,
    instead of crashing ``qsim fit`` (which they did, the two-phase one included)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.gamma(30, 0.001 / 30, 1000), rng.exponential(100, 1000)])
    result = fit_json(write_column(tmp_path / "far.csv", x), "--bootstrap", "0")
    left = {entry["dist"]: entry["reason"] for entry in result["unloadable"]}
    assert set(left) == set(EM_FAMILIES)
    assert all("phase rates too far apart" in reason for reason in left.values())
    assert not set(left) & {c["dist"] for c in result["candidates"]}
