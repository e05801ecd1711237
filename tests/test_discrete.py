"""Discrete families (poisson, geometric, binomial, pmf) and the batch sizes they give.

- Exactness: ``ppf``, ``cdf``, mean and variance equal scipy's for the same law (scipy's
  discrete ``ppf`` is also the smallest k with ``cdf(k) >= u``).
- Goodness of fit: 200,000 draws, by ``sample`` and by ``ppf`` of uniforms, binned by value
  (values expected fewer than 5 times pooled into one bin), against the exact pmf. Pearson's
  statistic then follows a chi-square law with bins - 1 degrees of freedom; each check fails
  above that law's 1 - 1e-4 quantile (a false alarm of 1e-4 per check; the seeds are fixed, so
  the verdict is too). A wrong pmf or quantile function fails it by orders of magnitude.
- Batch sizes: every accepted form draws at least 1 (a batch of 0 would publish nothing, an
  arrival no figure counts), and a law that can draw 0 is refused in one line, exit status 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner
from conftest import scenario_error, scenario_from, write_scenario
from pydantic import TypeAdapter

from qsim.cli import main
from qsim.scenario.fields import NumberDistribution, TimeDistribution

COUNTS = TypeAdapter(NumberDistribution)
TIMES = TypeAdapter(TimeDistribution)
DRAWS = 200_000
FALSE_ALARM = 1e-4
"""Probability that a correct law fails one goodness-of-fit check."""

LAWS = {
    "poisson": ({"dist": "poisson", "mean": 3.5}, scipy.stats.poisson(3.5)),
    "poisson-large-mean": ({"dist": "poisson", "mean": 2500}, scipy.stats.poisson(2500)),
    "geometric-p": ({"dist": "geometric", "p": 0.3}, scipy.stats.geom(0.3)),
    "geometric-mean": ({"dist": "geometric", "mean": 4}, scipy.stats.geom(0.25)),
    "geometric-p-1": (
        {"dist": "geometric", "p": 1},
        scipy.stats.rv_discrete(values=([1], [1.0])),  # scipy's geom warns at p = 1
    ),
    "binomial": ({"dist": "binomial", "n": 12, "p": 0.25}, scipy.stats.binom(12, 0.25)),
    "binomial-large-n": (
        {"dist": "binomial", "n": 10_000, "p": 0.4},
        scipy.stats.binom(10_000, 0.4),
    ),
    "pmf": (
        {"dist": "pmf", "values": [1, 2, 5], "probs": [0.5, 0.3, 0.2]},
        scipy.stats.rv_discrete(values=([1, 2, 5], [0.5, 0.3, 0.2])),
    ),
}
"""Each family as a scenario gives it, and the same law in scipy."""


@pytest.fixture(params=list(LAWS.values()), ids=list(LAWS))
def law(request):
    """A qsim distribution and scipy's frozen law for it."""
    spec, reference = request.param
    return COUNTS.validate_python(spec), reference


def exact_pmf(dist, values: np.ndarray) -> np.ndarray:
    """``P(X = v)`` for each whole ``v``, from qsim's own distribution function."""
    return dist.cdf(values) - dist.cdf(values - 1)


def chi_square_p_value(draws: np.ndarray, dist) -> float:
    """Pearson's test of ``draws`` against ``dist``'s exact pmf (sparse bins pooled)."""
    values, counts = np.unique(draws, return_counts=True)
    support = np.arange(0, max(values.max(), dist.ppf(np.array([1 - 1e-12]))[0]) + 1)
    expected = exact_pmf(dist, support) * draws.size
    observed = np.zeros(support.size)
    observed[np.searchsorted(support, values)] = counts
    dense = expected >= 5
    bins_observed = [*observed[dense], observed[~dense].sum()]
    bins_expected = [*expected[dense], draws.size - expected[dense].sum()]
    if bins_expected[-1] < 5:  # too little left over for a bin of its own: into the last dense
        left_observed, left_expected = bins_observed.pop(), bins_expected.pop()
        bins_observed[-1] += left_observed
        bins_expected[-1] += left_expected
    if len(bins_expected) < 2:  # a law of one value: every draw must be it
        return 1.0 if np.all(draws == support[dense][0]) else 0.0
    statistic = sum((o - e) ** 2 / e for o, e in zip(bins_observed, bins_expected, strict=True))
    return float(scipy.stats.chi2.sf(statistic, len(bins_expected) - 1))


def test_the_quantile_function_is_scipys_smallest_k_reaching_u(law):
    """ppf(u) = min{k : cdf(k) >= u}, value for value with scipy, on 20,000 uniforms."""
    dist, reference = law
    u = np.random.default_rng(11).random(20_000)
    assert np.array_equal(dist.ppf(u), reference.ppf(u))


def test_the_distribution_function_is_scipys(law):
    """cdf at whole values and between them, to 1e-12."""
    dist, reference = law
    low, high = reference.ppf(1e-9), reference.ppf(1 - 1e-9)
    x = np.concatenate([np.arange(low - 2, high + 2), np.arange(low - 2, high + 2) + 0.5])
    assert dist.cdf(x) == pytest.approx(reference.cdf(x), abs=1e-12)


def test_mean_and_variance_are_exact(law):
    dist, reference = law
    assert (dist.mean, dist.variance) == pytest.approx(
        (reference.mean(), reference.var()), rel=1e-12
    )


@pytest.mark.parametrize("how", ["sample", "ppf"])
def test_draws_fit_the_exact_pmf(law, how):
    """Chi-square goodness of fit of ``sample`` and of ``ppf`` of uniforms (module doc)."""
    dist, _ = law
    rng = np.random.default_rng(2026)
    draws = dist.sample(rng, DRAWS) if how == "sample" else dist.ppf(rng.random(DRAWS))
    assert np.array_equal(draws, np.round(draws)), "whole numbers only"
    assert chi_square_p_value(draws, dist) > FALSE_ALARM


def test_a_wrong_law_fails_the_fit_by_far():
    """The check has power: Poisson(3.5) draws against Poisson(3.6)."""
    draws = COUNTS.validate_python({"dist": "poisson", "mean": 3.5}).sample(
        np.random.default_rng(2026), DRAWS
    )
    near = COUNTS.validate_python({"dist": "poisson", "mean": 3.6})
    assert chi_square_p_value(draws, near) < 1e-10


def test_zero_truncated_poisson_has_its_exact_moments():
    """truncated (low 0) of Poisson(m): E[X] = m / (1 - e^-m), E[X^2] = (m + m^2) / (1 - e^-m),
    and P(X = k) = e^-m m^k / (k! (1 - e^-m)) for k >= 1, never 0."""
    m = 1.5
    dist = COUNTS.validate_python({"dist": "truncated", "of": {"dist": "poisson", "mean": m}})
    kept = -math.expm1(-m)
    assert dist.mean == pytest.approx(m / kept, rel=1e-12)
    assert dist.variance == pytest.approx((m + m * m) / kept - (m / kept) ** 2, rel=1e-12)
    k = np.arange(0, 30)
    expected = np.where(k >= 1, scipy.stats.poisson(m).pmf(k) / kept, 0.0)
    assert exact_pmf(dist, k) == pytest.approx(expected, abs=1e-15)
    draws = dist.sample(np.random.default_rng(5), DRAWS)
    assert draws.min() == 1
    assert chi_square_p_value(draws, dist) > FALSE_ALARM
    assert chi_square_p_value(dist.ppf(np.random.default_rng(6).random(DRAWS)), dist) > FALSE_ALARM


def test_a_pmf_of_durations_carries_units():
    """As a service time: values: [1s, 5s] are seconds; mean and variance from them."""
    dist = TIMES.validate_python({"dist": "pmf", "values": ["1s", "5s"], "probs": [0.9, 0.1]})
    assert dist.values == (1.0, 5.0)
    assert (dist.mean, dist.variance) == pytest.approx((1.4, 0.9 * 0.16 + 0.1 * 12.96))


def test_a_pmf_merges_repeated_values():
    dist = COUNTS.validate_python({"dist": "pmf", "values": [2, 1, 2], "probs": [0.25, 0.5, 0.25]})
    assert dist.ppf(np.array([0.4, 0.6])).tolist() == [1.0, 2.0]
    assert dist.mean == pytest.approx(1.5)


# -- batch sizes ---------------------------------------------------------------------------------
BATCHES = {
    "geometric": "{dist: geometric, mean: 3}",
    "pmf": "{dist: pmf, values: [1, 2, 10], probs: [0.6, 0.3, 0.1]}",
    "shifted-poisson": "{dist: shifted, shift: 1, of: {dist: poisson, mean: 2}}",
    "zero-truncated-poisson": "{dist: truncated, of: {dist: poisson, mean: 0.2}}",
    "zero-truncated-binomial": "{dist: truncated, of: {dist: binomial, n: 5, p: 0.1}}",
}


def batch_law(batch: str):
    """The batch-size distribution of a one-producer scenario with ``batch``."""
    return (
        scenario_from(
            f"""
        name: batches
        duration: 10s
        producers: [{{name: p, to: q, rate: 1/s, batch: {batch}}}]
        queues: [{{name: q}}]
        """
        )
        .producers[0]
        .batch
    )


@pytest.mark.parametrize("batch", BATCHES.values(), ids=list(BATCHES))
def test_an_accepted_batch_law_never_draws_below_one(batch):
    """Whole numbers of at least 1 by ``sample`` and by ``ppf``, to the ends of (0, 1)."""
    dist = batch_law(batch)
    draws = dist.sample(np.random.default_rng(3), DRAWS)
    ends = dist.ppf(np.array([0.0, 1e-300, 0.5, 1 - 2**-53]))
    assert draws.min() >= 1 and ends.min() >= 1
    assert np.array_equal(draws, np.round(draws)) and np.array_equal(ends, np.round(ends))


def test_a_poisson_batch_publishes_its_mean_times_the_arrivals():
    """1 + Poisson(2) batches at 5/s for 2,000 s: messages within 4 standard deviations of
    arrivals x E[X] (a compound Poisson count: variance rate x E[X^2] x duration = 10,000 x 10)."""
    from qsim.engine.simulation import Model

    model = Model(
        scenario_from(
            f"""
            name: compound
            duration: 2000s
            producers: [{{name: p, to: q, rate: 5/s, batch: {BATCHES["shifted-poisson"]}}}]
            queues: [{{name: q}}]
            """
        ),
        0,
    )
    model.run()
    published = len(model.queues[0].ready)
    assert abs(published - 10_000 * 3) <= 4 * math.sqrt(10_000 * (2 + 9))


BATCH_SCENARIO = """\
name: batches
duration: 10s
producers:
  - name: checkout
    to: orders
    rate: 5/s
    batch: {dist: geometric, mean: 3}
queues:
  - name: orders
"""


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            "{dist: poisson, mean: 3}",
            "batch sizes must be at least 1, but poisson gives 0 with probability 0.0498: use "
            "{dist: shifted, shift: 1, of: {dist: poisson, ...}} (1 + poisson) or "
            "{dist: truncated, of: {dist: poisson, ...}} (given at least 1)",
        ),
        (
            "{dist: binomial, n: 4, p: 0.5}",
            "batch sizes must be at least 1, but binomial gives 0 with probability 0.0625: use "
            "{dist: shifted, shift: 1, of: {dist: binomial, ...}} (1 + binomial) or "
            "{dist: truncated, of: {dist: binomial, ...}} (given at least 1)",
        ),
        (
            "{dist: pmf, values: [0, 1], probs: [0.25, 0.75]}",
            "batch sizes must be at least 1, but pmf gives 0 with probability 0.25",
        ),
        (
            "{dist: pmf, values: [1, 2.5], probs: [0.5, 0.5]}",
            "batch sizes must be whole numbers of at least 1",
        ),
        (
            "{dist: shifted, shift: 0.5, of: {dist: poisson, mean: 3}}",
            "batch sizes must be whole numbers of at least 1",
        ),
    ],
)
def test_a_batch_law_that_can_give_zero_or_a_fraction_is_one_located_line(tmp_path, new, expected):
    message = scenario_error(tmp_path, BATCH_SCENARIO, "{dist: geometric, mean: 3}", new)
    assert message == f"scenario.yaml:7: producers[0].batch: {expected}"


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            "{dist: pmf, values: [1, 2], probs: [0.5, 0.6]}",
            "producers[0].batch.probs: the probabilities must sum to 1, got 1.1",
        ),
        (
            "{dist: pmf, values: [1, 2, 3], probs: [0.5, 0.5]}",
            "producers[0].batch: 2 probabilities for 3 values",
        ),
        (
            "{dist: pmf, values: [1, -2], probs: [0.5, 0.5]}",
            "producers[0].batch.values[1]: values must not be negative, got -2.0",
        ),
        (
            "{dist: poisson, mean: -1}",
            "producers[0].batch.mean: mean must be above zero, got -1.0",
        ),
        (
            "{dist: geometric, p: 1.5}",
            "producers[0].batch.p: expected a probability between 0 and 1, got 1.5",
        ),
        (
            "{dist: geometric, p: 0}",
            "producers[0].batch.p: p must be above zero (at most 1), got 0.0",
        ),
        (
            "{dist: geometric, mean: 0.5}",
            "producers[0].batch.mean: mean must be at least 1 (values are 1, 2, ...), got 0.5",
        ),
        (
            "{dist: geometric, p: 0.5, mean: 2}",
            "producers[0].batch: give either p or mean (mean = 1 / p)",
        ),
        (
            "{dist: binomial, n: 0, p: 0.5}",
            "producers[0].batch.n: expected a whole number >= 1, got 0",
        ),
        (
            "{dist: binomial, n: 10, p: 0}",
            "producers[0].batch.p: p must be above zero (at most 1), got 0.0",
        ),
    ],
)
def test_bad_parameters_exit_with_status_2_in_one_line(tmp_path, new, expected):
    """``qsim validate``: exit status 2 and one line naming file, line and key."""
    path = write_scenario(tmp_path, BATCH_SCENARIO.replace("{dist: geometric, mean: 3}", new))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"qsim: {path}:7: {expected}\n"
