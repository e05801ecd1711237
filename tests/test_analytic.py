"""qsim.theory and qsim.analytic against known values: Erlang C tables, M/M/1 and M/M/c
closed forms, Pollaczek-Khinchine, and the scenario -> station mapping."""

import math

import pytest
from conftest import scenario_from

from qsim.analytic import build_model
from qsim.distributions import REGISTRY
from qsim.slo import parse_slo
from qsim.theory import FIGURES, Station, erlang_c, smallest_replicas


def distribution(**data):
    """A validated distribution of seconds from its YAML form."""
    return REGISTRY[data["dist"]].model_validate(data)


EXPONENTIAL = distribution(dist="exponential", mean=0.1)


def erlang_c_factorials(c, a):
    """Erlang C in its textbook form: (a^c / c!) (c / (c - a)) over the same plus sum a^k / k!."""
    queued = a**c / math.factorial(c) * c / (c - a)
    return queued / (sum(a**k / math.factorial(k) for k in range(c)) + queued)


@pytest.mark.parametrize(
    ("c", "a", "expected"),
    [(1, 0.7, 0.7), (2, 1.0, 1 / 3), (10, 8.0, 0.4092), (5, 4.0, 0.5541)],
)
def test_erlang_c_matches_table_values(c, a, expected):
    """Erlang C tables (and M/M/1: C = rho; M/M/2 at a = 1: 1/3), to four places."""
    assert erlang_c(c, a) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("c", "a"), [(3, 2.1), (8, 7.2), (40, 35.0), (100, 97.0)])
def test_erlang_c_recursion_equals_the_factorial_form(c, a):
    """The stable Erlang B recursion gives the factorial formula's value."""
    assert erlang_c(c, a) == pytest.approx(erlang_c_factorials(c, a), rel=1e-9)


def test_mm1_latency_quantile_is_exponential():
    """M/M/1 sojourn time is Exp(mu - lambda): p90 = ln 10 / (mu - lambda)."""
    station = Station(6.0, 1.0, EXPONENTIAL, 1)
    assert FIGURES["latency", "p90"](station) == pytest.approx(math.log(10) / 4.0, rel=1e-6)


def test_mmc_wait_quantile_follows_erlang_c():
    """P(W > t) = C e^{-(c mu - lambda) t}: the p99 wait is ln(C / 0.01) / (c mu - lambda)."""
    station = Station(21.0, 1.0, EXPONENTIAL, 3)
    c = erlang_c(3, 2.1)
    assert FIGURES["wait", "p99"](station) == pytest.approx(math.log(c / 0.01) / 9.0, rel=1e-6)
    assert FIGURES["wait", "p50"](station) == 0.0  # fewer than half wait at all (C < 0.5)


def test_mmc_latency_tail_matches_numerical_convolution():
    """P(W + S > t) in closed form equals the convolution of the wait law with Exp(mu),
    integrated numerically (M/M/3, and c mu - lambda = mu, the degenerate case)."""
    for rate, servers in ((21.0, 3), (20.0, 3)):
        station = Station(rate, 1.0, EXPONENTIAL, servers)
        c, theta, mu, t = station.wait_probability, station.theta, 10.0, 0.4
        step = 1e-5
        grid = [step * (i + 0.5) for i in range(int(t / step))]
        inside = sum(theta * math.exp(-theta * w) * math.exp(-mu * (t - w)) for w in grid) * step
        expected = (1 - c) * math.exp(-mu * t) + c * (math.exp(-theta * t) + inside)
        assert station.latency_tail(t) == pytest.approx(expected, rel=1e-6)


def test_sampled_service_tail_agrees_with_the_closed_form():
    """A gamma with cv 1 is exponential: the sampled latency integral gives the closed form's
    p99 within the sampling error of 2^17 draws."""
    gamma = distribution(dist="gamma", mean=0.1, cv=1.0)
    exact = FIGURES["latency", "p99"](Station(21.0, 1.0, EXPONENTIAL, 3))
    sampled = FIGURES["latency", "p99"](Station(21.0, 1.0, gamma, 3))
    assert sampled == pytest.approx(exact, rel=0.02)


def test_allen_cunneen_is_exact_pollaczek_khinchine_for_one_server():
    """With c = 1 and Poisson arrivals Allen-Cunneen is P-K: Wq = lambda E[S^2] / (2 (1 - rho)),
    for constant (M/D/1) and gamma cv 1.5 service."""
    for service, cv in ((distribution(dist="constant", value=0.1), 0.0),
                        (distribution(dist="gamma", mean=0.1, cv=1.5), 1.5)):  # fmt: skip
        station = Station(7.0, 1.0, service, 1)
        pk = 7.0 * 0.1**2 * (1 + cv**2) / (2 * (1 - 0.7))
        assert station.method == "allen-cunneen"
        assert station.wait_mean() == pytest.approx(pk, rel=1e-9)


def test_unstable_station_has_infinite_figures():
    """At or above c workers' capacity the wait grows without bound."""
    station = Station(30.0, 1.0, EXPONENTIAL, 3)
    assert not station.stable
    assert FIGURES["latency", "p99"](station) == math.inf


def test_smallest_replicas_is_the_first_count_meeting_the_test():
    """The search returns the first stable count meeting the test (p99 latency < 0.53 s at
    20/s, 100 ms service: 3 replicas give 0.589 s, 4 give 0.476 s)."""
    slo = parse_slo("p99 latency < 0.53s")

    def meets(station):
        return slo.holds(FIGURES["latency", "p99"](station))

    assert smallest_replicas(lambda n: Station(20.0, 1.0, EXPONENTIAL, n), meets) == 4


SCENARIO = """
name: m
duration: 100s
producers:
  - {name: a, to: q, rate: 10/s}
  - {name: b, to: q, interarrival: {dist: gamma, mean: 100ms, cv: 2}}
  - {name: s, to: q, schedule: [{at: 0s, rate: 5/s}, {at: 50s, rate: 20/s}]}
  - {name: other, to: r, rate: 99/s}
queues: [{name: q}, {name: r}]
consumers:
  - {name: c, queue: q, replicas: 2, concurrency: 3, prefetch: 1,
     service_time: {dist: exponential, mean: 50ms}}
  - {name: d, queue: r, prefetch: 10, service_time: 1ms}
"""


def test_model_merges_the_producers_of_the_pools_queue():
    """Rates add up (a schedule at its peak); cv^2 is rate-weighted: (10 * 1 + 10 * 4 + 20 * 1)
    / 40; a replica is ``concurrency`` workers."""
    model = build_model(scenario_from(SCENARIO), 0)
    assert model is not None
    assert model.rate == pytest.approx(40.0)
    assert model.ca2 == pytest.approx(70 / 40)
    assert model.method == "allen-cunneen"
    assert model.station(2.0, 4).servers == 12
    assert model.station(2.0, 4).rate == pytest.approx(80.0)
    assert any(note.startswith("schedule:") for note in model.notes)


def test_model_names_what_theory_misses():
    """Prefetch above 1 is flagged with why it matters."""
    model = build_model(scenario_from(SCENARIO), 1)
    assert model is not None
    assert any(note.startswith("prefetch: 10 per replica") for note in model.notes)


def test_queue_fed_through_an_exchange_has_no_model():
    """Theory does not follow routing: no estimate rather than a wrong one."""
    text = """
    name: x
    duration: 10s
    producers: [{name: p, to: ex, rate: 5/s}]
    exchanges: [{name: ex, type: fanout, bindings: [{queue: q}]}]
    queues: [{name: q}]
    consumers: [{name: c, queue: q, service_time: 10ms}]
    """
    assert build_model(scenario_from(text), 0) is None


def test_smallest_replicas_is_none_when_even_no_waiting_fails():
    """The p99 of exponential 100 ms service alone is 0.46 s: p99 latency < 0.3 s is out of
    reach at any count."""
    slo = parse_slo("p99 latency < 0.3s")

    def meets(station):
        return slo.holds(FIGURES["latency", "p99"](station))

    assert smallest_replicas(lambda n: Station(20.0, 1.0, EXPONENTIAL, n), meets) is None
