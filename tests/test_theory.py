"""Statistical validation of the engine against exact queueing theory.

Method. Each check simulates ``R`` independent replications of a scenario with a fixed seed
(replication ``r`` draws from its own random streams), measures one figure per replication over
the window after the warm-up (a mean wait, a latency percentile, a blocked fraction) and combines
them with :func:`qsim.stats.mean_interval` into a Student-t interval at the 99% level (R = 20
replications, so 19 degrees of freedom). Replication figures are themselves averages over tens of
thousands of messages, so they are close to normal and the t interval is sound.

Tolerances. Every check asserts two things:

1. The exact value lies inside the 99% interval. With fixed seeds the test is deterministic; the
   level only says how lucky a seed has to be: after a reseed a correct engine fails one given
   check about 1% of the time.
2. The interval's half-width is below ``MAX_HALF_WIDTH`` (6%) of the exact value, so the check
   has power: an engine off by about 10% lands outside the interval. Run lengths are chosen for
   an expected half-width of 1.5-4.5% (checked over six seeds), leaving room for the width's
   own seed-to-seed variation.

Biases the interval does not cover are kept far below the half-widths: the start from an empty
system (the warm-up spans many relaxation times, about ``1 / (mu (1 - sqrt(rho))^2)`` for
M/M/1), messages still queued at the end (not recorded; a bias of order W / window), and the
O(1/n) bias of sample percentiles. The M/M/c/K blocked fraction uses the whole-run counters
(the queue's ``rejected`` / ``published``), whose start-up transient is about a second in 500.

All scenarios serve at ``MU`` = 10 messages/s per consumer (mean service 100 ms). Runs shared by
two tests (mean and percentile of the same scenario) are simulated once.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
from conftest import scenario_from

from qsim.engine import simulate
from qsim.stats import mean_interval
from qsim.summary import replication_figures
from qsim.theory import erlang_c

R = 20
"""Replications per scenario."""
LEVEL = 0.99
"""Confidence level of every interval."""
MAX_HALF_WIDTH = 0.06
"""Largest allowed interval half-width, relative to the exact value."""
MEAN_SERVICE = 0.1
MU = 1 / MEAN_SERVICE
EXPONENTIAL = "{dist: exponential, mean: 100ms}"


# -- exact formulas ----------------------------------------------------------------------------
def mm1_wait(lam: float, mu: float) -> float:
    """M/M/1 mean wait in queue: Wq = rho / (mu - lambda)."""
    return lam / mu / (mu - lam)


def mm1_latency_quantile(lam: float, mu: float, q: float) -> float:
    """M/M/1 FIFO sojourn time is Exp(mu - lambda): its q-quantile is -ln(1 - q) / (mu - lambda)."""
    return -math.log(1 - q) / (mu - lam)


def mmc_wait(lam: float, mu: float, c: int) -> float:
    """M/M/c mean wait in queue: Wq = C(c, a) / (c mu - lambda), Erlang C from qsim.theory
    (checked against the factorial form and tables in test_analytic.py)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmck_blocking(lam: float, mu: float, c: int, k: int) -> float:
    """M/M/c/K blocking probability P_K (= the fraction of arrivals refused, by PASTA).

    p_n is proportional to a^n / n! for n <= c and to a^n / (c! c^(n-c)) for c < n <= K.
    """
    a = lam / mu
    p = [a**n / math.factorial(min(n, c)) / c ** max(n - c, 0) for n in range(k + 1)]
    return p[k] / sum(p)


def pk_wait(lam: float, mean: float, cv: float) -> float:
    """Pollaczek-Khinchine M/G/1 mean wait: Wq = lambda E[S^2] / (2 (1 - rho)).

    E[S^2] = var + mean^2 = mean^2 (1 + cv^2).
    """
    return lam * mean**2 * (1 + cv**2) / (2 * (1 - lam * mean))


def cobham_waits(rates: list[float], mean: float, cv: float) -> list[float]:
    """Cobham: mean waits of non-preemptive priority M/G/1, classes given highest first.

    W_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k)), W0 = sum_i lambda_i E[S_i^2] / 2, and sigma_k
    the load of classes 1..k (those with priority >= class k's). Here all share one service time.
    """
    w0 = sum(rates) * mean**2 * (1 + cv**2) / 2
    sigma = [0.0]
    for lam in rates:
        sigma.append(sigma[-1] + lam * mean)
    return [w0 / ((1 - sigma[k]) * (1 - sigma[k + 1])) for k in range(len(rates))]


# -- simulation --------------------------------------------------------------------------------
@functools.cache
def replications(text: str) -> list[dict[str, Any]]:
    """Per-replication summary figures (``qsim.summary.replication_figures``) of a scenario."""
    scenario = scenario_from(text)
    return [replication_figures(simulate(scenario, r)) for r in range(scenario.replications)]


def one_queue(
    rate: float,
    service: str,
    *,
    duration: float,
    warmup: float,
    replicas: int = 1,
    prefetch: int = 1,
    queue: str = "",
) -> list[dict[str, Any]]:
    """Replications of one Poisson producer -> queue ``q`` (extra keys in ``queue``) -> a pool."""
    return replications(
        f"""
        name: theory
        seed: 11
        duration: {duration}s
        warmup: {warmup}s
        replications: {R}
        producers: [{{name: p, to: q, rate: {rate}/s}}]
        queues: [{{name: q{queue}}}]
        consumers:
          - name: c
            queue: q
            replicas: {replicas}
            prefetch: {prefetch}
            service_time: {service}
        """
    )


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean of the replication values and its 99% Student-t interval (low, high)."""
    mean, bounds = mean_interval(values, LEVEL)
    assert mean is not None and bounds is not None
    return mean, *bounds


def assert_matches(values: list[float], exact: float) -> None:
    """The exact value lies in the 99% interval, and the interval is tight enough to mean it."""
    mean, low, high = interval(values)
    shown = f"simulated {mean:.5g} [{low:.5g}, {high:.5g}], exact {exact:.5g}"
    assert low <= exact <= high, shown
    assert (high - low) / 2 < MAX_HALF_WIDTH * exact, f"interval too wide: {shown}"


def figures_of(figures: list[dict[str, Any]], producer: str | None) -> list[dict[str, Any]]:
    """Each replication's figures of queue ``q``, or of ``producer``."""
    if producer is None:
        return [f["queues"]["q"] for f in figures]
    return [f["producers"][producer] for f in figures]


def wait_means(figures: list[dict[str, Any]], producer: str | None = None) -> list[float]:
    """Each replication's mean wait in queue ``q`` (or of one producer's messages)."""
    return [f["wait_s"]["mean"] for f in figures_of(figures, producer)]


# -- checks ------------------------------------------------------------------------------------
MM1_RUNS = {0.6: (3000, 100), 0.85: (5500, 500)}
"""rho -> (duration, warm-up) in seconds of the M/M/1 runs. At rho 0.85 a 7,500 s window gave
half-widths of 2.8% (mean wait) and 2.4% (p90) of the exact values; 5,000 s gives about
2.8% x sqrt(7500 / 5000) = 3.4% (measured 3.6% and 3.0%; a 3,600 s window measured 4.9%, too
close to the bound), the warm-up 30 relaxation times."""


def mm1(rho: float) -> list[dict[str, Any]]:
    """Replications of M/M/1 at utilisation ``rho``: one consumer, prefetch 1."""
    duration, warmup = MM1_RUNS[rho]
    return one_queue(rho * MU, EXPONENTIAL, duration=duration, warmup=warmup)


@pytest.mark.parametrize("rho", list(MM1_RUNS))
def test_mm1_mean_wait_matches_exact(rho):
    """M/M/1 (Poisson in, one exponential consumer with prefetch 1): Wq = rho / (mu - lambda)."""
    assert_matches(wait_means(mm1(rho)), mm1_wait(rho * MU, MU))


@pytest.mark.parametrize("rho", list(MM1_RUNS))
def test_mm1_p90_latency_matches_exact(rho):
    """M/M/1 FIFO sojourn time is Exp(mu - lambda): p90 latency = ln(10) / (mu - lambda)."""
    p90 = [f["latency_s"]["p90"] for f in figures_of(mm1(rho), None)]
    assert_matches(p90, mm1_latency_quantile(rho * MU, MU, 0.9))


def test_mmc_mean_wait_matches_erlang_c():
    """M/M/3 at rho 0.7 (3 replicas, prefetch 1): Wq = C(3, a) / (3 mu - lambda), Erlang C."""
    lam, c = 21.0, 3
    figures = one_queue(lam, EXPONENTIAL, replicas=c, duration=2000, warmup=100)
    assert_matches(wait_means(figures), mmc_wait(lam, MU, c))


def test_mmck_blocking_matches_exact():
    """3 consumers with prefetch 1 and a queue of 5 ready messages that rejects publishes when
    full is M/M/3/8: the refused fraction rejected / published equals P_8 (offered load 3.5)."""
    lam, c = 35.0, 3
    figures = one_queue(
        lam,
        EXPONENTIAL,
        replicas=c,
        queue=", max_length: 5, overflow: reject-publish",
        duration=500,
        warmup=50,
    )
    refused = [f["queues"]["q"]["rejected"] / f["queues"]["q"]["published"] for f in figures]
    assert_matches(refused, mmck_blocking(lam, MU, c, c + 5))


def test_md1_mean_wait_matches_pollaczek_khinchine():
    """M/D/1 at rho 0.7 (constant 100 ms service): Wq = lambda E[S^2] / (2 (1 - rho))."""
    lam = 7.0
    figures = one_queue(lam, "100ms", duration=1500, warmup=100)
    assert_matches(wait_means(figures), pk_wait(lam, MEAN_SERVICE, cv=0.0))


def test_mg1_mean_wait_matches_pollaczek_khinchine():
    """M/G/1 at rho 0.7 with gamma service, cv 1.5: Wq = lambda E[S^2] / (2 (1 - rho)),
    E[S^2] = mean^2 (1 + cv^2)."""
    lam, cv = 7.0, 1.5
    service = f"{{dist: gamma, mean: 100ms, cv: {cv}}}"
    figures = one_queue(lam, service, duration=4000, warmup=200)
    assert_matches(wait_means(figures), pk_wait(lam, MEAN_SERVICE, cv))


def test_mh21_mean_wait_matches_pollaczek_khinchine():
    """M/H2/1 at rho 0.5, the issue's two-phase hyper-exponential scaled to a 100 ms mean
    (p 0.25 of 200 ms, 0.75 of 66.7 ms: E[S^2] = 2 sum p m^2 = 0.02667, SCV 1.67):
    Wq = lambda E[S^2] / (2 (1 - rho)) = 133.4 ms."""
    lam, phases = 5.0, [(0.25, 0.2), (0.75, 0.0667)]
    service = "{dist: hyperexponential, phases: [{p: 0.25, mean: 200ms}, {p: 0.75, mean: 66.7ms}]}"
    mean = sum(p * m for p, m in phases)
    second = sum(2 * p * m * m for p, m in phases)
    figures = one_queue(lam, service, duration=4000, warmup=100)
    assert_matches(wait_means(figures), lam * second / (2 * (1 - lam * mean)))


PRIORITY_RATES = {"high": 3.0, "low": 4.0}
"""Publish rates of the two priority classes, highest priority first (total rho 0.7)."""


@pytest.mark.parametrize("producer", list(PRIORITY_RATES))
def test_priority_class_mean_wait_matches_cobham(producer):
    """A priority queue with two producers (priority 2 and 1) and one exponential consumer with
    prefetch 1 is a non-preemptive priority M/M/1: each producer's mean wait follows Cobham."""
    high, low = PRIORITY_RATES.values()
    figures = replications(
        f"""
        name: priorities
        seed: 11
        duration: 5000s
        warmup: 200s
        replications: {R}
        producers:
          - {{name: high, to: q, rate: {high}/s, priority: 2}}
          - {{name: low, to: q, rate: {low}/s, priority: 1}}
        queues: [{{name: q, max_priority: 2}}]
        consumers:
          - {{name: c, queue: q, prefetch: 1, service_time: {EXPONENTIAL}}}
        """
    )
    exact = dict(zip(PRIORITY_RATES, cobham_waits([high, low], MEAN_SERVICE, cv=1.0), strict=True))
    assert_matches(wait_means(figures, producer), exact[producer])


def test_large_prefetch_worsens_p99_latency_under_high_variance_service():
    """With lognormal service (cv 3) and 4 consumers at rho 0.7, prefetch 50 parks messages
    behind long jobs in a consumer's buffer: p99 latency is clearly worse than with prefetch 1."""
    service = "{dist: lognormal, mean: 100ms, cv: 3}"
    p99 = {}
    for prefetch in (1, 50):
        figures = one_queue(28.0, service, replicas=4, prefetch=prefetch, duration=1000, warmup=100)
        p99[prefetch] = interval([f["latency_s"]["p99"] for f in figures_of(figures, None)])
    (mean_1, low_1, high_1), (mean_50, low_50, high_50) = p99[1], p99[50]
    half_widths = (high_1 - low_1) / 2 + (high_50 - low_50) / 2
    assert mean_50 - mean_1 > half_widths, p99
