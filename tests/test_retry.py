"""Consumer-side retry with back-off (retry queues with a TTL that dead-letter back to the work
queue, then a parking queue) and failure windows (a downstream outage). The rules are in
``docs/retries.md``; each test states its arithmetic."""

import math
import textwrap
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import counts, run_model, run_once, scenario_error, scenario_from
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import (
    PROPERTIES,
    assert_runs_balances_and_reloads,
    crashes,
    delayed_retries,
    load,
    maybe,
    millis,
    outage_specs,
    time_distributions,
)

from qsim.cli import main
from qsim.engine.simulation import Model
from qsim.runner import run_scenario
from qsim.scenario import Retry, Scenario
from qsim.scenario.retry import BACKOFF, BACKOFFS

Z99 = 2.576  # two-sided 99% normal quantile

RETRYING = """
    name: retrying
    duration: {duration}
    seed: {seed}
    producers: [{{name: p, to: work, rate: 40/s, count: {count}}}]
    queues: [{{name: work}}]
    consumers:
      - name: c
        queue: work
        replicas: 8
        prefetch: 5
        service_time: {{dist: exponential, mean: 50ms}}
        failures: {{nack_probability: {p}}}
        retry: {{max_attempts: {k}, backoff: fixed, initial: 200ms}}
"""


def _retrying(p: float, k: int, count: int, seed: int = 1, duration: str = "300s") -> str:
    return RETRYING.format(p=p, k=k, count=count, seed=seed, duration=duration)


def _pool_retry(result, pool: str = "c"):
    return next(run.retry for run in result.pools if run.name == pool)


def test_backoff_policies_give_each_level_its_wait():
    """fixed: initial every time; linear: initial + step (n - 1); exponential: initial x
    multiplier^(n - 1), capped at max; one wait per level, max_attempts - 1 levels."""
    assert Retry(max_attempts=4, backoff="fixed", initial=3).delays == (3, 3, 3)
    assert Retry(max_attempts=4, backoff="linear", initial=1, step=5).delays == (1, 6, 11)
    assert Retry(max_attempts=4, backoff="linear", initial=2).delays == (2, 4, 6)
    exponential = Retry(max_attempts=6, initial=1, multiplier=3, max=30)
    assert exponential.delays == (1, 3, 9, 27, 30)
    assert Retry(max_attempts=1).delays == ()


def test_every_backoff_name_has_a_policy():
    """The scenario's names (the Backoff literal) and the registry agree."""
    assert set(BACKOFF) == set(BACKOFFS)


def test_the_loader_expands_retry_into_ttl_queues_that_lead_back_and_a_parking_queue():
    """retry: {max_attempts: 4, initial: 1s, multiplier: 2, max: 3s} on a pool of ``orders``:
    orders.retry.1..3 with message_ttl 1s, 2s, 3s (4s capped) and dead_letter orders, and
    orders.parking."""
    scenario = scenario_from("""
        name: s
        duration: 10s
        producers: [{name: p, to: orders, rate: 1/s}]
        queues: [{name: orders}]
        consumers:
          - {name: c, queue: orders, service_time: 10ms, failures: {nack_probability: 0.5},
             retry: {max_attempts: 4, initial: 1s, multiplier: 2, max: 3s}}
        """)
    added = {q.name: (q.message_ttl, q.dead_letter) for q in scenario.queues[1:]}
    assert added == {
        "orders.retry.1": (1.0, "orders"),
        "orders.retry.2": (2.0, "orders"),
        "orders.retry.3": (3.0, "orders"),
        "orders.parking": (None, None),
    }


def test_the_resolved_scenario_loads_again_to_the_same_queues():
    """The summary carries the resolved scenario (retry queues included): loading it again
    declares them once, not twice."""
    scenario = scenario_from(_retrying(0.5, 3, 10))
    again = Scenario.model_validate(scenario.model_dump(by_alias=True))
    assert again.queues == scenario.queues


def test_parked_fraction_is_p_to_the_k_and_deliveries_per_message_match_theory():
    """Each attempt fails with p = 0.5 on its own, at most k = 3 attempts: a message is parked
    with probability p^k = 0.125, and its deliveries D = min(Geometric(1 - p), k) have mean
    (1 - p^k) / (1 - p) = 1.75. N = 4,000 messages, all settled by the end (the last is
    published at 100 s; three attempts and two 200 ms waits take about a second): the parked
    count is Binomial(N, p^k), the mean of D has variance Var(D) / N; both within 99%."""
    p, k, n = 0.5, 3, 4000
    result = run_once(_retrying(p, k, n))
    retry = _pool_retry(result)
    assert retry.messages == n
    parked = p**k
    assert abs(retry.parked - n * parked) <= Z99 * math.sqrt(n * parked * (1 - parked))
    pmf = {d: p ** (d - 1) * (1 - p) for d in range(1, k)} | {k: p ** (k - 1)}
    mean = sum(d * q for d, q in pmf.items())
    assert mean == pytest.approx((1 - p**k) / (1 - p))
    variance = sum((d - mean) ** 2 * q for d, q in pmf.items())
    assert abs(retry.amplification - mean) <= Z99 * math.sqrt(variance / n)


def test_books_balance_every_rejection_is_retried_or_parked():
    """Every failed attempt left the work queue for a retry level or parking; every level's
    messages came back to the work queue; nothing is left anywhere but in parking. The
    attempt-n level holds what failed attempt n: Binomial(N, p^n) expected, here exact books:
    the messages retried at level n + 1 are those of level n that failed again."""
    result = run_once(_retrying(0.3, 4, 2000, seed=2))
    retry = _pool_retry(result)
    work = counts(result, "work")
    assert work["nacked"] == work["dead_lettered"] == sum(retry.retried) + retry.parked
    for level, sent in enumerate(retry.retried, start=1):
        queue = counts(result, f"work.retry.{level}")
        assert queue["published"] == queue["expired"] == queue["dead_lettered"] == sent
    assert counts(result, "work.parking")["published"] == retry.parked
    assert work["acked"] + retry.parked == retry.messages
    assert retry.deliveries == retry.messages + sum(retry.retried)


def test_each_retry_waits_its_level_ttl(tmp_path):
    """One message that fails every time (p = 1), 4 attempts, exponential waits 1, 2, 4 s and
    a 0.5 s processing: published at 0, parked at 4 x 0.5 + 1 + 2 + 4 = 9 s."""
    model = run_model(
        """
        name: s
        duration: 30s
        producers: [{name: p, to: work, trace: trace.csv}]
        queues: [{name: work}]
        consumers:
          - {name: c, queue: work, service_time: 0.5s, failures: {nack_probability: 1},
             retry: {max_attempts: 4, initial: 1s, multiplier: 2}}
        """,
        tmp_path,
    )
    parking = next(q for q in model.queues if q.name == "work.parking")
    assert parking.published == 1
    assert parking.ready.peek().published_at == pytest.approx(9.0)


def test_with_max_attempts_1_the_first_failure_parks():
    """No retry levels: a failed message goes straight to parking."""
    result = run_once(_retrying(1.0, 1, 50))
    retry = _pool_retry(result)
    assert (retry.retried, retry.parked, retry.deliveries) == ([], 50, 50)


def test_processings_ending_in_a_failure_window_fail_with_its_probability():
    """Constant arrivals every 0.1 s and a 30 ms processing: exactly 100 processings end in
    [10 s, 20 s), all failing (fail: 1), and none outside (nack_probability 0)."""
    result = run_once("""
        name: s
        duration: 30s
        producers: [{name: p, to: work, rate: 10/s, arrivals: constant}]
        queues: [{name: work}]
        consumers:
          - {name: c, queue: work, service_time: 30ms,
             failures: {requeue: false, windows: [{from: 10s, to: 20s, fail: 1}]}}
        """)
    assert counts(result, "work")["nacked"] == 100


def test_a_retry_storm_amplifies_load_during_an_outage_and_parks_what_outlasts_it():
    """fail 0.9 from 60 s to 120 s: messages published in the outage need up to 5 attempts,
    those whose retries all fall inside it are parked; outside it nothing fails. So parked
    messages are at most those published in the window (40/s x 60 s = 2,400) and deliveries
    per message exceed 1 by the retried share."""
    text = """
        name: storm
        duration: 300s
        producers: [{name: p, to: work, rate: 40/s}]
        queues: [{name: work}]
        consumers:
          - {name: c, queue: work, replicas: 8, prefetch: 5,
             service_time: {dist: exponential, mean: 50ms},
             failures: {windows: [{from: 60s, to: 120s, fail: 0.9}]},
             retry: {max_attempts: 5, initial: 1s, multiplier: 2}}
        """
    summary = run_scenario(scenario_from(text))
    retry = summary["consumers"]["c"]["retry"]
    assert retry["delays_s"] == [1.0, 2.0, 4.0, 8.0]
    assert 0 < retry["parked"] < 2400 * 1.1
    assert retry["amplification"] == pytest.approx(retry["deliveries"] / retry["messages"])
    assert retry["amplification"] > 1.2


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("initial: 200ms", "initial: -1s", "consumers[0].retry.initial: expected a duration"),
        ("initial: 200ms", "initial: 0s", "retry.initial: expected a value above zero"),
        ("max_attempts: 3", "max_attempts: 0", "consumers[0].retry.max_attempts: expected a whole"),
        ("backoff: fixed", "backoff: fibonacci", "consumers[0].retry.backoff: "),
        ("backoff: fixed", "backoff: fixed, multiplier: 3", "multiplier is for backoff: expon"),
        ("nack_probability: 0.5", "nack_probability: 0.5, requeue: true",
         "consumers[0].failures.requeue: a pool with retry rejects without requeue"),
        ("initial: 200ms}", "initial: 200ms, parking: work.retry.1}",
         "consumers[0].retry.parking: parking must be a queue of its own"),
        ("queues: [{name: work}]", "queues: [{name: work}, {name: work.parking, type: stream}]",
         "parking queue 'work.parking' must be classic or quorum, got stream"),
        ("queues: [{name: work}]", "queues: [{name: work, type: stream}]",
         "consumers[0].retry: retry needs a classic or quorum queue"),
        ("queues: [{name: work}]",
         "queues: [{name: work}, {name: work.retry.1, message_ttl: 5s, dead_letter: work}]",
         "queues[1].message_ttl: retry queue 'work.retry.1' needs message_ttl 0.2s"),
    ],
)  # fmt: skip
def test_bad_retry_settings_are_one_located_line(tmp_path, old, new, expected):
    """Each refusal names file, line and key (exit status 2 at the command line)."""
    good = _retrying(0.5, 3, 10)
    error = scenario_error(tmp_path, good, old, new)
    assert error.startswith("scenario.yaml:")
    assert expected in error
    assert "\n" not in error


def test_bad_failure_windows_are_refused(tmp_path):
    """A window that ends before it starts, and windows that overlap."""
    good = _retrying(0.5, 3, 10)
    old = "failures: {nack_probability: 0.5}"
    reversed_window = "failures: {windows: [{from: 20s, to: 10s, fail: 0.5}]}"
    assert "to (10s) must be after from (20s)" in scenario_error(
        tmp_path, good, old, reversed_window
    )
    overlapping = (
        "failures: {windows: [{from: 0s, to: 20s, fail: 0.5}, {from: 10s, to: 30s, fail: 1}]}"
    )
    assert "failure windows overlap" in scenario_error(tmp_path, good, old, overlapping)


def test_a_second_pool_on_the_work_queue_is_refused(tmp_path):
    """The retry's levels belong to one consumer: another pool's rejections would take them."""
    good = _retrying(0.5, 3, 10)
    old = "    consumers:\n"
    new = "    consumers:\n      - {name: other, queue: work, service_time: 10ms}\n"
    error = scenario_error(tmp_path, good, old, new)
    assert "a pool with retry must be the only consumer of 'work'" in error


def test_the_engine_routes_by_the_x_death_count():
    """After its n-th rejection a message goes to level n while n < max_attempts (Model's
    route, not only the figures)."""
    model = Model(scenario_from(_retrying(0.5, 3, 1)), 0)
    route = model.retries["c"]
    assert [route.target(n).name for n in (1, 2, 3)] == [
        "work.retry.1", "work.retry.2", "work.parking",
    ]  # fmt: skip


@st.composite
def retry_scenario_data(draw: st.DrawFn) -> dict[str, Any]:
    """A work queue (classic or quorum) with a retrying pool, random failures (a window too),
    back-off, crashes, consumer timeouts and broker outages; a second producer to an unrelated
    queue keeps the dead-letter books honest."""
    duration = draw(st.integers(5, 20))
    kind = draw(st.sampled_from(["classic", "quorum"]))
    probabilities = st.sampled_from([0.0, 0.3, 0.7, 1.0])
    pool: dict[str, Any] = {
        "name": "c",
        "queue": "work",
        "replicas": draw(st.integers(0, 3)),
        "prefetch": draw(st.integers(0, 4)),
        "service_time": draw(time_distributions(20, 500)),
        "failures": {
            "nack_probability": draw(probabilities),
            "poison": draw(st.sampled_from([0.0, 0.2])),
            "method": draw(st.sampled_from(["reject", "nack"])),
            "windows": [{"from": "2s", "to": f"{duration // 2 + 2}s", "fail": draw(probabilities)}],
        },
        "retry": {
            "max_attempts": draw(st.integers(1, 4)),
            "backoff": draw(st.sampled_from(BACKOFFS)),
            "initial": draw(millis(10, 3000)),
        },
    }
    maybe(draw, pool, "crash", crashes())
    maybe(draw, pool, "consumer_timeout", millis(100, 2000))
    delayed: dict[str, Any] = {}
    if kind == "quorum":
        maybe(draw, delayed, "delayed_retry", delayed_retries())
    return {
        "name": "random-retry",
        "seed": draw(st.integers(0, 2**16)),
        "duration": f"{duration}s",
        "producers": [{"name": "p", "to": "work", "rate": f"{draw(st.integers(1, 40))}/s"}],
        "queues": [{"name": "work", "type": kind, **delayed}],
        "consumers": [pool],
        "outages": draw(st.lists(outage_specs(duration), max_size=1)),
    }


@settings(PROPERTIES, max_examples=12)
@given(retry_scenario_data().map(load))
def test_random_retry_scenarios_run_with_balanced_books_and_reload(scenario):
    """On random retrying pools (crashes, timeouts, outages, quorum delivery limits): the run's
    own books hold (every rejection retried or parked), every figure is >= 0, the books
    recomputed from the results balance, and the resolved scenario reloads to the same one."""
    assert_runs_balances_and_reloads(scenario)


def test_qsim_run_refuses_a_bad_retry_in_one_stderr_line_with_status_2(tmp_path):
    """At the command line: ``qsim: FILE:LINE: key: message`` on stderr, exit status 2."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent(_retrying(0.5, 3, 10)).replace("max_attempts: 3", "max_attempts: 0")
    )
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"qsim: {path}:14: consumers[0].retry.max_attempts: expected a whole number >= 1, got 0"
    ]
