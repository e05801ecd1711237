"""Bursty, batch and smoothly time-varying arrivals against exact theory.

Method, as in test_theory.py: ``R`` independent replications, one mean wait each after the
warm-up, a 99% Student-t interval that must hold the exact value and be narrow enough
(``MAX_HALF_WIDTH``) to mean it. Each exact value is derived twice, independently, and the two
derivations must agree to 1e-6 before the simulator is held against them:

- M^X/M/1 (Poisson batches of X messages, one exponential consumer, prefetch 1): a closed form
  (the batch as one customer of M/G/1, plus the batch-mates served before a message) and the
  numerical stationary distribution of the queue-length chain; for batches resampled from a
  list, geometric on 1, 2, ... and zero-truncated Poisson.
- MMPP/M/1: the stationary distribution of the (messages, state) chain solved directly on a
  truncated state space, and by the matrix-geometric method (Neuts: pi_{n+1} = pi_n R).

Counts of a non-homogeneous Poisson process in disjoint windows are independent Poisson with
mean the integral of the rate: each within 4 standard deviations (a false alarm below 1e-4 per
window).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any

import numpy as np
import pytest
from conftest import scenario_error, scenario_from, write_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from qsim.engine import simulate
from qsim.engine.simulation import Model
from qsim.estimate import published
from qsim.loadscale import scale_load
from qsim.stats import mean_interval
from qsim.summary import replication_figures

LEVEL = 0.99
MAX_HALF_WIDTH = 0.08
"""Largest allowed interval half-width, relative to the exact value."""
MU = 10.0
"""Service rate of the one consumer (mean service 100 ms)."""


# -- exact theory ------------------------------------------------------------------------------
def mx_m1_wait(lam: float, sizes: Pmf, mu: float) -> float:
    """M^X/M/1 mean wait in queue of a message, closed form. A batch waits as one M/G/1
    customer whose service B is the sum of its X exponential services, E[B^2] = (E[X] + E[X^2])
    / mu^2, so Wb = lam E[B^2] / (2 (1 - rho)) (Pollaczek-Khinchine); a message then waits for
    the batch-mates served before it, (E[X^2] - E[X]) / (2 E[X]) of them on average (a message
    is in a batch of size k with probability k p_k / E[X], at a uniform position). Only the
    batch's first two moments enter, given here in closed form where the law has one."""
    ex, ex2 = sizes.moments
    rho = lam * ex / mu
    batch_wait = lam * (ex + ex2) / mu**2 / (2 * (1 - rho))
    return float(batch_wait + (ex2 - ex) / (2 * ex) / mu)


def mx_m1_wait_by_chain(lam: float, sizes: Pmf, mu: float, levels: int = 600) -> float:
    """M^X/M/1 mean wait from the stationary distribution of the number in system (a batch of
    k arrives at rate lam p_k, one leaves at mu), truncated at ``levels`` where the tail is
    below 1e-12, and Little's law: Wq = (L - P(busy)) / (lam E[X]), E[X] summed from the pmf."""
    q = np.zeros((levels, levels))
    for n in range(levels):
        for k, p in zip(sizes.values, sizes.probs, strict=True):
            q[n, min(n + int(k), levels - 1)] += lam * p
        if n:
            q[n, n - 1] += mu
        q[n, n] -= q[n].sum()
    pi = stationary(q)
    queued = float(np.arange(levels) @ pi) - (1 - pi[0])
    return queued / (lam * math.fsum(k * p for k, p in zip(sizes.values, sizes.probs, strict=True)))


@dataclasses.dataclass(frozen=True)
class Pmf:
    """A batch-size law for the theory: its pmf (``values``, ``probs``, cut where the tail is
    below 1e-15) and its first two moments ``(E[X], E[X^2])`` in closed form."""

    values: tuple[int, ...]
    probs: tuple[float, ...]
    moments: tuple[float, float]


def resampled(sizes: list[int]) -> Pmf:
    """Batch sizes drawn uniformly from ``sizes`` (an ``empirical`` batch)."""
    x = np.array(sizes, dtype=float)
    values, counts = np.unique(sizes, return_counts=True)
    probs = tuple(float(c) / len(sizes) for c in counts)
    return Pmf(tuple(int(v) for v in values), probs, (float(x.mean()), float((x**2).mean())))


def geometric(p: float) -> Pmf:
    """Geometric on 1, 2, ...: P(k) = (1 - p)^(k - 1) p, E[X] = 1 / p, E[X^2] = (2 - p) / p^2."""
    values = tuple(range(1, 1 + math.ceil(math.log(1e-15) / math.log1p(-p))))
    probs = tuple(p * (1 - p) ** (k - 1) for k in values)
    return Pmf(values, probs, (1 / p, (2 - p) / p**2))


def zero_truncated_poisson(m: float) -> Pmf:
    """Poisson(m) given at least 1: P(k) = e^-m m^k / (k! (1 - e^-m)), E[X] = m / (1 - e^-m),
    E[X^2] = (m + m^2) / (1 - e^-m)."""
    kept = -math.expm1(-m)
    values = tuple(range(1, 60))
    probs = tuple(math.exp(k * math.log(m) - m - math.lgamma(k + 1)) / kept for k in values)
    return Pmf(values, probs, (m / kept, (m + m * m) / kept))


def stationary(q: np.ndarray) -> np.ndarray:
    """pi with pi Q = 0 and sum 1 (one balance equation replaced by the normalisation)."""
    system = q.T.copy()
    system[-1] = 1.0
    rhs = np.zeros(len(q))
    rhs[-1] = 1.0
    return np.linalg.solve(system, rhs)


def two_state(rates: tuple[float, float], stays: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Generator D of a two-state modulating chain and the diagonal of its rates."""
    d = np.array([[-1 / stays[0], 1 / stays[0]], [1 / stays[1], -1 / stays[1]]])
    return d, np.diag(rates)


def mmpp_m1_wait_by_chain(d: np.ndarray, lam: np.ndarray, mu: float, levels: int = 400) -> float:
    """MMPP/M/1 mean wait: the (messages, state) chain solved on ``levels`` levels; Wq = L /
    mean rate - 1 / mu."""
    m = len(d)
    q = np.zeros((levels * m, levels * m))
    for n in range(levels):
        block = slice(n * m, (n + 1) * m)
        q[block, block] += d
        if n + 1 < levels:
            q[block, (n + 1) * m : (n + 2) * m] += lam
        if n:
            q[block, (n - 1) * m : n * m] += mu * np.eye(m)
    np.fill_diagonal(q, 0.0)
    np.fill_diagonal(q, -q.sum(axis=1))
    pi = stationary(q).reshape(levels, m)
    mean_rate = float(pi.sum(axis=0) @ np.diag(lam))
    return float(np.arange(levels) @ pi.sum(axis=1)) / mean_rate - 1 / mu


def mmpp_m1_wait_matrix_geometric(d: np.ndarray, lam: np.ndarray, mu: float) -> float:
    """MMPP/M/1 mean wait by the matrix-geometric method: R is the minimal solution of
    A0 + R A1 + R^2 A2 = 0 (up, local, down blocks), pi_0 solves pi_0 (D - Lambda + mu R) = 0
    with pi_0 (I - R)^-1 1 = 1, and L = pi_0 R (I - R)^-2 1."""
    m = len(d)
    eye = np.eye(m)
    a0, a1, a2 = lam, d - lam - mu * eye, mu * eye
    r = np.zeros((m, m))
    for _ in range(100_000):
        nxt = -(a0 + r @ r @ a2) @ np.linalg.inv(a1)
        if np.abs(nxt - r).max() < 1e-15:
            break
        r = nxt
    boundary = d - lam + r @ a2
    inverse = np.linalg.inv(eye - r)
    system = np.column_stack([boundary[:, :-1], inverse @ np.ones(m)])
    rhs = np.zeros(m)
    rhs[-1] = 1.0
    pi0 = np.linalg.solve(system.T, rhs)
    level_sum = pi0 @ inverse
    mean_rate = float(level_sum @ np.diag(lam))
    queue_length = float(pi0 @ r @ inverse @ inverse @ np.ones(m))
    return queue_length / mean_rate - 1 / mu


# -- simulation --------------------------------------------------------------------------------
@functools.cache
def waits(producer: str, replications: int, duration: float, warmup: float) -> list[float]:
    """Each replication's mean wait in queue ``q`` fed by ``producer`` (inline YAML keys)."""
    scenario = scenario_from(
        f"""
        name: bursty-theory
        seed: 7
        duration: {duration}s
        warmup: {warmup}s
        replications: {replications}
        producers: [{{name: p, to: q, {producer}}}]
        queues: [{{name: q}}]
        consumers:
          - {{name: c, queue: q, prefetch: 1, service_time: {{dist: exponential, mean: 100ms}}}}
        """
    )
    figures = [replication_figures(simulate(scenario, r)) for r in range(replications)]
    return [f["queues"]["q"]["wait_s"]["mean"] for f in figures]


def assert_matches(values: list[float], exact: float) -> None:
    """The exact value lies in the 99% interval, and the interval is tight enough to mean it."""
    mean, bounds = mean_interval(values, LEVEL)
    assert mean is not None and bounds is not None
    low, high = bounds
    shown = f"simulated {mean:.5g} [{low:.5g}, {high:.5g}], exact {exact:.5g}"
    assert low <= exact <= high, shown
    assert (high - low) / 2 < MAX_HALF_WIDTH * exact, f"interval too wide: {shown}"


def publish_times(text: str) -> np.ndarray:
    """Publish times of every message of an inline scenario without consumers."""
    model = Model(scenario_from(text), 0)
    model.run()
    return np.array([m.published_at for m in model.queues[0].ready])


def within_poisson_band(count: float, mean: float, dispersion: float = 1.0) -> bool:
    """Whether ``count`` is within 4 standard deviations of ``mean`` (variance ``dispersion``
    times the mean)."""
    return abs(count - mean) <= 4 * math.sqrt(dispersion * mean)


# -- the theory agrees with itself -------------------------------------------------------------
BATCH_SIZES = [1, 1, 2, 4]
"""Batch sizes of the M^X/M/1 check: E[X] = 2, E[X^2] = 5.5."""
BATCH_RATE = 3.0
"""Batches per second: rho = 3 * 2 / 10 = 0.6."""
DISCRETE_BATCHES = {
    "{dist: geometric, p: 0.5}": geometric(0.5),
    "{dist: truncated, of: {dist: poisson, mean: 1.5}}": zero_truncated_poisson(1.5),
}
"""Batch laws of the discrete families, by their scenario text: E[X] = 2 and 1.93 (rho 0.6
and 0.58 at BATCH_RATE)."""
MMPP = ((12.0, 2.0), (0.5, 0.5))
"""Rates (/s) and mean stays (s) of the MMPP/M/1 check: mean rate 7/s, rho 0.7."""


def test_mx_m1_closed_form_matches_its_chain():
    """The M^X/M/1 closed form and the numerically solved chain agree (0.36875 s here)."""
    closed = mx_m1_wait(BATCH_RATE, resampled(BATCH_SIZES), MU)
    assert closed == pytest.approx(0.15 + 3.5 / 16)  # rho/(mu(1-rho)) + batch-mates' share
    chain = mx_m1_wait_by_chain(BATCH_RATE, resampled(BATCH_SIZES), MU)
    assert chain == pytest.approx(closed, rel=1e-6)


@pytest.mark.parametrize("sizes", DISCRETE_BATCHES.values(), ids=list(DISCRETE_BATCHES))
def test_mx_m1_closed_form_matches_its_chain_for_discrete_batch_laws(sizes):
    """For geometric and zero-truncated Poisson batches too: the closed form from the law's
    moments and the chain from its pmf agree (geometric p = 0.5: 0.3 + 0.1 = 0.4 s)."""
    closed = mx_m1_wait(BATCH_RATE, sizes, MU)
    assert mx_m1_wait_by_chain(BATCH_RATE, sizes, MU) == pytest.approx(closed, rel=1e-6)


def test_mmpp_m1_chain_matches_matrix_geometric_solution():
    """The truncated chain and the matrix-geometric method give the same MMPP/M/1 wait, and
    with both states at one rate it is M/M/1's rho / (mu - lambda)."""
    d, lam = two_state(*MMPP)
    direct = mmpp_m1_wait_by_chain(d, lam, MU)
    assert mmpp_m1_wait_matrix_geometric(d, lam, MU) == pytest.approx(direct, rel=1e-6)
    d, lam = two_state((7.0, 7.0), MMPP[1])
    assert mmpp_m1_wait_matrix_geometric(d, lam, MU) == pytest.approx(0.7 / (MU - 7.0))


# -- the simulator agrees with the theory ------------------------------------------------------
def test_batch_arrivals_mean_wait_matches_mx_m1():
    """Poisson batches of 1, 1, 2 or 4 messages at 3/s into one exponential consumer:
    the mean wait of a message is the M^X/M/1 value."""
    producer = f"rate: {BATCH_RATE}/s, batch: {{dist: empirical, values: {BATCH_SIZES}}}"
    exact = mx_m1_wait(BATCH_RATE, resampled(BATCH_SIZES), MU)
    assert_matches(waits(producer, 16, 1200, 50), exact)


@pytest.mark.parametrize(
    ("batch", "sizes"), DISCRETE_BATCHES.items(), ids=["geometric", "zero-truncated-poisson"]
)
def test_discrete_batch_laws_mean_wait_matches_mx_m1(batch, sizes):
    """Poisson arrivals at 3/s of geometric (p = 0.5) or zero-truncated Poisson (mean 1.5)
    batches into one exponential consumer: the mean wait of a message is the M^X/M/1 value."""
    producer = f"rate: {BATCH_RATE}/s, batch: {batch}"
    assert_matches(waits(producer, 16, 1200, 50), mx_m1_wait(BATCH_RATE, sizes, MU))


def test_mmpp_mean_wait_matches_mmpp_m1():
    """A two-state MMPP (12/s and 2/s, 0.5 s mean stays) into one exponential consumer: the
    mean wait is the MMPP/M/1 value (0.451 s, nearly twice M/M/1's 0.233 s at 7/s)."""
    (high, low), (stay_high, stay_low) = MMPP
    producer = (
        f"mmpp: [{{rate: {high}/s, mean_stay: {stay_high}s}}, "
        f"{{rate: {low}/s, mean_stay: {stay_low}s}}]"
    )
    d, lam = two_state(*MMPP)
    assert_matches(waits(producer, 20, 2400, 50), mmpp_m1_wait_by_chain(d, lam, MU))


def test_profile_thinning_reproduces_the_rate_function_counts():
    """A triangle 0 -> 100/s over 100 s -> 0 at 200 s, repeated every 250 s: the counts in
    every 25 s window of three periods are Poisson with mean the integral of the rate."""
    times = publish_times(
        """
        name: thinning
        duration: 750s
        producers:
          - name: p
            to: q
            profile:
              points: [{at: 0s, rate: 0}, {at: 100s, rate: 100/s}, {at: 200s, rate: 0}]
              period: 250s
        queues: [{name: q}]
        """
    )
    edges = np.arange(0.0, 751.0, 25.0)
    counts = np.histogram(times, bins=edges)[0]
    rate = np.interp(edges, [0, 100, 200, 250], [0, 100, 0, 0], period=250)
    expected = (rate[:-1] + rate[1:]) / 2 * 25  # exact: the rate is linear in each window
    assert all(within_poisson_band(n, m) for n, m in zip(counts, expected, strict=True))


def test_mmpp_publishes_its_mean_rate_with_its_dispersion():
    """On/off bursts (200/s for 1 s on average, silent for 4 s): 40/s in the long run; counts
    over 1000 s lie within 4 sd of 40,000, the variance being the MMPP's dispersion times the
    mean (two states: 1 + 2 (l1 - l2)^2 a b / ((a + b)^3 mean rate), 257 here)."""
    text = """
        name: onoff
        duration: 1000s
        producers:
          - {name: p, to: q, mmpp: [{rate: 200/s, mean_stay: 1s}, {rate: 0, mean_stay: 4s}]}
        queues: [{name: q}]
        """
    spec = scenario_from(text).producers[0].mmpp
    assert spec is not None
    a, b, mean = 1.0, 0.25, 40.0
    assert spec.mean_rate == pytest.approx(mean)
    assert spec.dispersion == pytest.approx(1 + 2 * 200.0**2 * a * b / ((a + b) ** 3 * mean))
    assert within_poisson_band(publish_times(text).size, mean * 1000, spec.dispersion)


def test_a_batch_shares_its_publish_instant_and_count_caps_messages():
    """batch: 5 publishes five messages at each arrival; count: 12 stops after the twelfth
    message, inside the third batch."""
    times = publish_times(
        """
        name: batches
        duration: 100s
        producers: [{name: p, to: q, rate: 1/s, batch: 5, count: 12}]
        queues: [{name: q}]
        """
    )
    assert times.size == 12
    assert len(set(times[:5])) == 1 and len(set(times[5:10])) == 1 and times[10] == times[11]
    assert times[4] < times[5] < times[10]


def test_a_batch_leaves_the_arrival_instants_as_they_were():
    """Common random numbers: the batch sizes come from a stream of their own, so a producer's
    arrival instants with ``batch`` are exactly those without it."""
    base = """
        name: crn
        duration: 60s
        producers:
          - {name: p, to: q, mmpp: [{rate: 20/s, mean_stay: 2s}, {rate: 1/s, mean_stay: 5s}]}
        queues: [{name: q}]
        """
    batched = base.replace(
        "mean_stay: 5s}]", "mean_stay: 5s}], batch: {dist: empirical, values: [1, 3]}"
    )
    single, grouped = publish_times(base), publish_times(batched)
    assert grouped.size > single.size
    assert np.array_equal(np.unique(grouped), single)


def test_load_scaling_and_estimates_follow_the_new_processes():
    """--load 2x doubles every MMPP state's and profile point's rate; the expected counts are
    the mean rate times the duration, the integral of the profile, times the mean batch."""
    scenario = scenario_from(
        """
        name: scaled
        duration: 100s
        producers:
          - {name: m, to: q, mmpp: [{rate: 30/s, mean_stay: 1s}, {rate: 10/s, mean_stay: 3s}]}
          - {name: p, to: q, profile: [{at: 0s, rate: 0}, {at: 50s, rate: 10/s}], batch: 3}
        queues: [{name: q}]
        """
    )
    mmpp, profile = scenario.producers
    assert published(mmpp, 100) == pytest.approx(15.0 * 100)  # pi = (1/4, 3/4)
    assert published(profile, 100) == pytest.approx((250 + 500) * 3)
    doubled = scale_load(scenario, 2.0)
    assert [published(p, 100) for p in doubled.producers] == pytest.approx([3000, 4500])


# -- bad input: one located line ---------------------------------------------------------------
BURSTY = """\
name: bursty
duration: 10s
producers:
  - name: checkout
    to: orders
    mmpp:
      states:
        - {rate: 200/s, mean_stay: 30s}
        - {rate: 20/s, mean_stay: 5m}
        - {rate: 0, mean_stay: 1m}
      transitions:
        - [0, 0.5, 0.5]
        - [1, 0, 0]
        - [0.5, 0.5, 0]
    batch: 5
queues:
  - name: orders
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[1, 0, 0]",
            "[0.9, 0, 0]",
            "scenario.yaml:13: producers[0].mmpp.transitions[1]: row 1 sums to 0.9, not 1",
        ),
        (
            "[1, 0, 0]",
            "[0, 1, 0]",
            "scenario.yaml:13: producers[0].mmpp.transitions[1]: row 1: a state cannot move to "
            "itself (give a longer mean_stay)",
        ),
        (
            "[1, 0, 0]",
            "[1, 0]",
            "scenario.yaml:13: producers[0].mmpp.transitions[1]: expected 3 probabilities, "
            "one per state, got 2",
        ),
        (
            "[0, 0.5, 0.5]",
            "[0, 1.5, -0.5]",
            "scenario.yaml:12: producers[0].mmpp.transitions[0][1]: expected a probability "
            "between 0 and 1, got 1.5",
        ),
        (
            "{rate: 20/s, mean_stay: 5m}",
            "{rate: -20/s, mean_stay: 5m}",
            "scenario.yaml:9: producers[0].mmpp.states[1].rate: ",
        ),
        (
            "{rate: 20/s, mean_stay: 5m}",
            "{rate: 20/s, mean_stay: 0s}",
            "scenario.yaml:9: producers[0].mmpp.states[1].mean_stay: expected a value above "
            "zero, got '0s'",
        ),
        (
            "    batch: 5\n",
            "    batch: 2.5\n",
            "scenario.yaml:15: producers[0].batch: batch sizes must be whole numbers of at least 1",
        ),
        (
            "    batch: 5\n",
            "    batch: {dist: lognormal, mean: 3, cv: 1}\n",
            "scenario.yaml:15: producers[0].batch: batch sizes must be whole numbers: use one "
            "of constant, empirical, pmf, geometric, poisson, binomial, shifted, truncated, "
            "got lognormal",
        ),
    ],
)
def test_bad_mmpp_or_batch_is_one_located_line(tmp_path, old, new, expected):
    """A bad matrix row, rate, stay or batch names file, line and key in one line."""
    message = scenario_error(tmp_path, BURSTY, old, new)
    assert message.startswith(expected), message
    assert "\n" not in message


PROFILED = """\
name: daily
duration: 10s
producers:
  - name: checkout
    to: orders
    profile: {file: day.csv, period: 24h}
queues:
  - name: orders
"""


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("time,rate\n0,10/s\n6h,oops\n", "day.csv:3: expected time,rate (e.g. 6h,120/s)"),
        ("0,10/s\n6h,-5/s\n", "day.csv:2: expected time,rate (e.g. 6h,120/s)"),
        ("0,10/s\n6h\n", "day.csv:2: expected time,rate (e.g. 6h,120/s), got '6h'"),
        ("0,10/s\n6h,20/s\n5h,20/s\n", "day.csv:3: times must increase, got '5h' after 21600s"),
        ("time,rate\n", "day.csv: no time,rate rows found"),
        ("0,10/s\n24h,20/s\n", "every point must lie within the period (86400s), got at 86400s"),
    ],
)
def test_a_bad_profile_csv_is_one_located_line(tmp_path, csv, expected):
    """A CSV row that is not ``time,rate``, out of order or past the period: one line naming
    the scenario's line and key and the CSV's line."""
    (tmp_path / "day.csv").write_text(csv, encoding="utf-8")
    message = scenario_error(tmp_path, PROFILED, "day.csv", "day.csv")
    assert message.startswith("scenario.yaml:6: producers[0].profile: "), message
    assert expected in message and "\n" not in message


def test_a_bad_transition_matrix_exits_with_status_2(tmp_path):
    """``qsim validate`` of a matrix whose row does not sum to 1: exit status 2, one line."""
    from click.testing import CliRunner

    from qsim.cli import main

    path = write_scenario(tmp_path, BURSTY.replace("[1, 0, 0]", "[0.9, 0, 0]"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("row 1 sums to 0.9, not 1")
    assert result.stderr.count("\n") == 1


ONE_PRODUCER = """\
name: short
duration: 10s
producers:
  - name: checkout
    to: orders
    rate: 1/s
queues:
  - name: orders
"""


@pytest.mark.parametrize(
    ("process", "expected"),
    [
        (
            "profile: []",
            "scenario.yaml:6: producers[0].profile: a profile needs at least one point",
        ),
        (
            "profile: [{at: 10s, rate: 1/s}, {at: 5s, rate: 2/s}]",
            "scenario.yaml:6: producers[0].profile[1].at: points must be in increasing order",
        ),
        (
            "mmpp: [{rate: 1/s, mean_stay: 1s}]",
            "scenario.yaml:6: producers[0].mmpp: an mmpp needs at least two states",
        ),
        (
            "profile: [{at: 0s, rate: 1/s}]\n    arrivals: constant",
            "scenario.yaml:4: producers[0]: profile arrivals are Poisson: arrivals: constant "
            "does not apply",
        ),
    ],
)
def test_a_short_or_unordered_process_is_one_located_line(tmp_path, process, expected):
    """One MMPP state, no profile point, points out of order, or a Poisson-only process asked
    to be evenly spaced: one located line."""
    message = scenario_error(tmp_path, ONE_PRODUCER, "rate: 1/s", process)
    assert message.startswith(expected), message


def test_a_daily_profile_csv_reads_times_and_rates_with_units(tmp_path):
    """A CSV with a header, a comment and units: 10/s at 0, 100/s at 6 h and 12 h; over a 24 h
    period the rate ramps up for 6 h, holds for 6 h, and falls back to 10/s over the last 12 h
    (the last point joins the first a period later): one day's count is that integral."""
    (tmp_path / "day.csv").write_text(
        "time,rate\n# night\n0,10/s\n6h, 6000/min\n12h,100\n", encoding="utf-8"
    )
    path = write_scenario(tmp_path, PROFILED)
    from qsim.scenario import load_scenario

    profile = load_scenario(path).producers[0].profile
    assert profile is not None
    assert [(p.at, p.rate) for p in profile.points] == [(0, 10), (21600, 100), (43200, 100)]
    hours = 3600
    day = (10 + 100) / 2 * 6 * hours + 100 * 6 * hours + (100 + 10) / 2 * 12 * hours
    assert profile.expected(24 * hours) == pytest.approx(day)
    assert profile.expected(48 * hours) == pytest.approx(2 * day)


def test_capacity_theory_sees_the_mean_rate_and_dispersion_and_says_so():
    """The analytic model of a queue fed by an MMPP with batches of 3: rate = mean rate x 3,
    cv^2 = 3 x the MMPP's dispersion + Var X / E[X] (0 for a constant batch), both noted."""
    from qsim.analytic import build_model

    scenario = scenario_from(
        """
        name: theory-notes
        duration: 100s
        producers:
          - name: m
            to: q
            mmpp: [{rate: 30/s, mean_stay: 1s}, {rate: 10/s, mean_stay: 3s}]
            batch: 3
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 1, replicas: 80, service_time: 1s}]
        """
    )
    mmpp = scenario.producers[0].mmpp
    assert mmpp is not None
    model = build_model(scenario, 0)
    assert model is not None
    assert model.rate == pytest.approx(45.0)
    assert model.ca2 == pytest.approx(3 * mmpp.dispersion)
    assert any(note.startswith("mmpp: ") and "batch: " in note for note in model.notes)


# -- any valid process: ordered times, balanced books -------------------------------------------
RATES = st.integers(0, 40)
POINTS = st.lists(st.tuples(st.integers(1, 8), RATES), min_size=1, max_size=5)
"""(gap in seconds to the previous point, rate) pairs of a profile."""


def profile_text(points: list[tuple[int, int]], periodic: bool) -> str:
    """A ``profile:`` value with points at the running sums of the gaps (the first at gap - 1)."""
    at = [sum(gap for gap, _ in points[: i + 1]) - 1 for i in range(len(points))]
    items = ", ".join(f"{{at: {t}s, rate: {r}/s}}" for t, (_, r) in zip(at, points, strict=True))
    period = f", period: {at[-1] + 3}s" if periodic else ""
    return f"{{points: [{items}]{period}}}"


PROCESSES = st.one_of(
    st.builds(profile_text, POINTS, st.booleans()).map(lambda p: f"profile: {p}"),
    st.lists(st.tuples(RATES, st.integers(1, 5)), min_size=2, max_size=3).map(
        lambda states: (
            "mmpp: [" + ", ".join(f"{{rate: {r}/s, mean_stay: {s}s}}" for r, s in states) + "]"
        )
    ),
)
BATCHES = st.one_of(
    st.just(""),
    st.integers(1, 4).map(lambda n: f", batch: {n}"),
    st.lists(st.integers(1, 6), min_size=1, max_size=4).map(
        lambda v: f", batch: {{dist: empirical, values: {v}}}"
    ),
)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(process=PROCESSES, batch=BATCHES, count=st.one_of(st.none(), st.integers(1, 200)))
def test_any_process_publishes_in_order_and_every_message_ends_somewhere(process, batch, count):
    """Random profiles and MMPPs, with or without batches and a count: publish times never go
    back, count caps them, the run publishes exactly them, and published = acked + ready +
    unacked at the end."""
    capped = f", count: {count}" if count else ""
    scenario = scenario_from(
        f"""
        name: property
        duration: 20s
        producers: [{{name: p, to: q, {process}{batch}{capped}}}]
        queues: [{{name: q}}]
        consumers: [{{name: c, queue: q, replicas: 2, service_time: 20ms}}]
        """
    )
    times = publish_times_of(scenario)
    assert np.all(np.diff(times) >= 0) and (times.size == 0 or times[0] >= 0)
    assert count is None or times.size <= count
    queue = simulate(scenario).queues[0]
    assert queue.counts["published"] == times.size  # the engine publishes every time drawn
    ends = queue.counts["acked"] + queue.backlog_final + queue.unacked_final
    assert queue.counts["published"] == ends


def publish_times_of(scenario: Any) -> np.ndarray:
    """The first 20 s of a producer's publish times, drawn as the run draws them."""
    from qsim.engine.arrivals import arrival_times
    from qsim.streams import stream

    times = arrival_times(scenario.producers[0], stream(scenario.seed, 0, "producer:p:arrivals"))
    return np.fromiter(itertools.takewhile(lambda t: t < scenario.duration, times), dtype=float)


def test_the_json_schema_accepts_every_form_of_the_new_keys():
    """Editors validate with schema/scenario.schema.json: a profile from a file (no points), a
    bare list of points, an MMPP as a list or with transitions, and a batch all pass."""
    import json

    import jsonschema
    import yaml
    from conftest import ROOT

    schema = json.loads((ROOT / "schema" / "scenario.schema.json").read_text(encoding="utf-8"))
    document = yaml.safe_load(
        """
        name: forms
        duration: 10s
        producers:
          - {name: p, to: q, profile: {file: day.csv, period: 24h}, batch: 3}
          - {name: o, to: q, profile: [{at: 0s, rate: 1/s}]}
          - {name: m, to: q, mmpp: [{rate: 1/s, mean_stay: 1s}, {rate: 0, mean_stay: 3s}]}
          - name: n
            to: q
            mmpp:
              states: [{rate: 1/s, mean_stay: 1s}, {rate: 2/s, mean_stay: 3s}]
              transitions: [[0, 1], [1, 0]]
            batch: {dist: empirical, values: [1, 2]}
        queues: [{name: q}]
        """
    )
    jsonschema.validate(document, schema)
