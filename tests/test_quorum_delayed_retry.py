"""RabbitMQ 4.3's delayed retry on quorum queues (``delayed_retry: {type, min, max}``): a
returned message of the type waits ``min x max(1, delivery count)``, capped at ``max``, then goes
to the returns (rabbitmq-queue-types-facts.md A7). Each test states its timeline."""

import pytest
from conftest import counts, run_model, run_once, scenario_error

FAILING = """
    name: s
    duration: 30s
    producers: [{{name: p, to: work, trace: trace.csv}}]
    queues:
      - {{name: work, type: quorum, delivery_limit: {limit}, dead_letter: dlq,
         delayed_retry: {retry}}}
      - {{name: dlq}}
    consumers:
      - {{name: c, queue: work, service_time: 0.5s,
         failures: {{nack_probability: 1, method: {method}}}}}
"""


def _failing(retry: str, method: str = "reject", limit: int = 3) -> str:
    return FAILING.format(retry=retry, method=method, limit=limit)


def _queue(model, name):
    return next(q for q in model.queues if q.name == name)


def test_failed_returns_wait_min_times_the_delivery_count_up_to_max(tmp_path):
    """Rejected every time, limit 3, 0.5 s processing, waits 1 x count capped at 2.5 s:
    delivered at 0, 1.5 (wait 1), 4.0 (wait 2), 7.0 (wait 2.5, not 3); its 4th return exceeds
    the limit at 7.5 and is dead-lettered then, without a wait."""
    model = run_model(_failing("{type: failed, min: 1s, max: 2.5s}"), tmp_path)
    work, dlq = _queue(model, "work"), _queue(model, "dlq")
    assert (work.delivered, work.over_limit, work.delayed.started) == (4, 1, 3)
    assert dlq.ready.peek().published_at == pytest.approx(7.5)


def test_without_max_the_wait_stays_min(tmp_path):
    """max defaults to min: every wait 1 s, so delivered at 0, 1.5, 3.0, 4.5, over at 5.0."""
    model = run_model(_failing("{type: failed, min: 1s}"), tmp_path)
    assert _queue(model, "dlq").ready.peek().published_at == pytest.approx(5.0)


def test_type_failed_leaves_nacks_alone_and_type_returned_delays_them(tmp_path):
    """A 4.3 nack does not count: with type failed it is back at once (the 30 s run delivers
    it 60 times, every 0.5 s); with type returned it waits min x max(1, 0) = 2 s each time
    (delivered at 0, 2.5, 5.0, ..., 27.5: 12 times); nothing goes over the limit."""
    undelayed = run_model(_failing("{type: failed, min: 2s}", method="nack"), tmp_path)
    assert _queue(undelayed, "work").delivered == 60
    delayed = run_model(_failing("{type: returned, min: 2s}", method="nack"), tmp_path)
    work = _queue(delayed, "work")
    assert (work.delivered, work.over_limit, work.delayed.started) == (12, 0, 12)


def test_held_messages_are_counted_in_the_books():
    """Crashes return what a replica held (counted): with type all those wait; the queue's
    counts say how many waited (delayed_retries) and wait at the end (delayed_final), and
    the run's own books (every message in one state) hold."""
    result = run_once("""
        name: s
        duration: 60s
        producers: [{name: p, to: work, rate: 20/s}]
        queues: [{name: work, type: quorum, delayed_retry: {type: all, min: 5s}}]
        consumers:
          - {name: c, queue: work, replicas: 2, prefetch: 10, service_time: 80ms,
             crash: {mtbf: {dist: exponential, mean: 5s}, restart: 1s}}
        """)
    work = counts(result, "work")
    assert work["delayed_retries"] > 0
    assert work["delayed_final"] <= work["delayed_retries"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("type: quorum, delivery_limit: 3", "type: classic",
         "delayed_retry needs type: quorum"),
        ("min: 1s}", "min: 0s}", "queues[0].delayed_retry.min: expected a value above zero"),
        ("min: 1s}", "min: 2s, max: 1s}", "max (1s) must be at least min (2s)"),
        ("{type: failed, min: 1s}", "{type: failed}", "queues[0].delayed_retry.min: missing"),
        ("type: failed,", "type: sometimes,", "queues[0].delayed_retry.type:"),
    ],
)  # fmt: skip
def test_bad_delayed_retry_is_one_located_line(tmp_path, old, new, expected):
    """Refusals name file, line and key."""
    (tmp_path / "trace.csv").write_text("0\n", encoding="utf-8")
    error = scenario_error(tmp_path, _failing("{type: failed, min: 1s}"), old, new)
    assert error.startswith("scenario.yaml:")
    assert expected in error
