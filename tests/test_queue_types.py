"""RabbitMQ 4.3 queue types on the push delivery model: quorum queues' delivery limit and what
counts toward it, their returns and priorities, their consumer timeout, and single active
consumers. Each rule is shown by a scenario small enough to check by hand."""

from __future__ import annotations

import pytest
from conftest import run_model as run
from conftest import scenario_from

from qsim.errors import ScenarioError

POISON = """
    name: poison
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues:
      - {{name: q, type: quorum, dead_letter: dlq{limit}}}
      - {{name: dlq}}
    consumers:
      - {{name: c, queue: q, prefetch: 1, service_time: 1s,
         failures: {{poison: 1.0, method: {method}}}}}
    """


def test_a_quorum_queue_dead_letters_a_poison_message_after_20_counted_returns_by_default(
    tmp_path,
):
    """Default limit 20 (4.0+), removed when its count exceeds the limit: delivered 21 times
    (one 1 s attempt each), dead-lettered at 21 s with reason delivery_limit."""
    model = run(POISON.format(duration="30s", limit="", method="reject"), tmp_path)
    q, dlq = model.queues
    assert (q.delivered, q.over_limit, dlq.published) == (21, 1, 1)


def test_a_quorum_queue_does_not_count_nacks_toward_the_limit(tmp_path):
    """RabbitMQ 4.3 counts basic.reject, not basic.nack: a poison message nacked every second
    is never dead-lettered, however long the run."""
    model = run(POISON.format(duration="60s", limit="", method="nack"), tmp_path)
    q, dlq = model.queues
    assert (q.delivered, q.over_limit, dlq.published) == (60, 0, 0)


def test_an_explicit_delivery_limit_counts_crashes_too(tmp_path):
    """Limit 1, a 1 s job, a replica that crashes 0.5 s after each start: the crash at 0.5 s
    returns the message (count 1, kept), it is delivered again at the restart (0.6 s), and the
    crash at 1.1 s is its second counted return: removed, dead-lettered."""
    text = """
        name: crashes
        duration: 10s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q, type: quorum, delivery_limit: 1, dead_letter: dlq}, {name: dlq}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 1s,
             crash: {mtbf: 0.5s, restart: 0.1s}}
        """
    model = run(text, tmp_path)
    q, dlq = model.queues
    assert (q.delivered, q.over_limit, dlq.published) == (2, 1, 1)


def test_delivery_limit_minus_one_turns_the_limit_off(tmp_path):
    """A negative limit means none: the poison message loops for the whole run."""
    model = run(
        POISON.format(duration="30s", limit=", delivery_limit: -1", method="reject"), tmp_path
    )
    assert (model.queues[0].delivered, model.queues[0].over_limit) == (30, 0)


PRIORITIES = """
    name: priorities
    duration: 100s
    producers:
      - {{name: low, to: q, trace: low.csv{low}}}
      - {{name: high, to: q, trace: high.csv, priority: 9}}
    queues: [{{name: q, type: quorum}}]
    consumers: [{{name: c, queue: q, prefetch: 1, service_time: 10s}}]
    """


def _order(tmp_path, low: str) -> list[str]:
    """Which producer's message each completion came from, in completion order."""
    (tmp_path / "low.csv").write_text("0\n0.1\n0.2\n", encoding="utf-8")
    (tmp_path / "high.csv").write_text("0.3\n", encoding="utf-8")
    model = run(PRIORITIES.format(low=low), tmp_path)
    names = [p.name for p in model.scenario.producers]
    return [names[i] for i in model.recorder.producer]


def test_a_quorum_queue_serves_higher_priorities_first(tmp_path):
    """The first low message is delivered at once; at 10 s the high one (priority 9, above the
    unset priority's 4) jumps the two low ones waiting."""
    assert _order(tmp_path, low="") == ["low", "high", "low", "low"]


def test_a_message_without_priority_counts_as_4_in_a_quorum_queue(tmp_path):
    """Low messages with priority 3, then one without: the unset one counts as 4 (a classic
    priority queue would count it as 0) and jumps the two low ones still waiting."""
    text = PRIORITIES.replace(", priority: 9}}", "}}").format(low=", priority: 3")
    (tmp_path / "low.csv").write_text("0\n0.1\n0.2\n", encoding="utf-8")
    (tmp_path / "high.csv").write_text("0.3\n", encoding="utf-8")
    model = run(text, tmp_path)
    names = [p.name for p in model.scenario.producers]
    assert [names[i] for i in model.recorder.producer] == ["low", "high", "low", "low"]


def test_quorum_returns_are_served_before_every_priority(tmp_path):
    """A returned message goes to the returns list, ahead of ready messages of any priority:
    the low message rejected at 1 s is redelivered before the high one published at 0.5 s."""
    text = """
        name: returns
        duration: 2.5s
        producers:
          - {name: low, to: q, trace: low.csv}
          - {name: high, to: q, trace: high.csv, priority: 30}
        queues: [{name: q, type: quorum, delivery_limit: 5}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 1s,
             failures: {nack_probability: 1.0}}
        """
    (tmp_path / "low.csv").write_text("0\n", encoding="utf-8")
    (tmp_path / "high.csv").write_text("0.5\n", encoding="utf-8")
    model = run(text, tmp_path)
    q = model.queues[0]
    held = next(iter(model.consumers[0].subscription.unacked))
    assert (q.redelivered, held.producer) == (2, 0)


TIMEOUT = """
    name: timeout
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q, type: {kind}}}]
    consumers:
      - {{name: c, queue: q, prefetch: 2, service_time: 10s, consumer_timeout: 5s}}
    """


def test_a_quorum_consumer_timeout_returns_only_the_timed_out_message(tmp_path):
    """4.3: both deliveries time out at 5 s (delivered at 0), each returned alone, without
    counting toward the limit; the channel stays open (no closure)."""
    model = run(TIMEOUT.format(duration="6s", kind="quorum"), tmp_path, "0 0")
    q = model.queues[0]
    figures = q.pool_figures("c")
    assert (figures["consumer_timeouts"], figures["channel_closures"], q.over_limit) == (2, 0, 0)


def test_a_classic_consumer_timeout_closes_the_channel(tmp_path):
    """Classic queues keep RabbitMQ 4.2's rule: the channel closes and both are requeued."""
    model = run(TIMEOUT.format(duration="6s", kind="classic"), tmp_path, "0 0")
    figures = model.queues[0].pool_figures("c")
    assert (figures["consumer_timeouts"], figures["channel_closures"]) == (1, 1)


SAC = """
    name: sac
    duration: {duration}
    producers: [{{name: p, to: q, rate: 10/s, arrivals: constant}}]
    queues: [{{name: q, type: {kind}, single_active_consumer: true}}]
    consumers:
      - {{name: c, queue: q, replicas: 3, prefetch: 1, service_time: 0.5s{crash}}}
    """


@pytest.mark.parametrize("kind", ["classic", "quorum"])
def test_single_active_consumer_works_at_one_replicas_pace(tmp_path, kind):
    """Three replicas, one active: 0.5 s per message gives 2 per second over 100 s (199 acked
    by then: the first starts at 0.1 s), whatever the other two could do."""
    model = run(SAC.format(duration="100s", kind=kind, crash=""), tmp_path)
    busy = [w.busy for w in model.consumers]
    assert (model.queues[0].acked, sorted(busy)) == (199, [0, 0, 1])


def test_single_active_consumer_hands_over_when_the_active_one_crashes(tmp_path):
    """Two pools on one queue: `first` registers first and is active; it crashes at 10.05 s
    (19 acked by then, the 20th in work) and stays down; `second` takes over at once, gets
    the returned message first and keeps one replica's pace: 19 + 179 = 198 by 100 s."""
    text = """
        name: handover
        duration: 100s
        producers: [{name: p, to: q, rate: 10/s, arrivals: constant}]
        queues: [{name: q, type: quorum, single_active_consumer: true}]
        consumers:
          - {name: first, queue: q, prefetch: 1, service_time: 0.5s,
             crash: {mtbf: 10.05s, restart: 1000s}}
          - {name: second, queue: q, prefetch: 1, service_time: 0.5s}
        """
    model = run(text, tmp_path)
    q = model.queues[0]
    first, second = model.pools
    assert (first.crashes, q.redelivered, q.acked, second.busy_time > 89) == (1, 1, 198, True)


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ("{name: q, type: classic, delivery_limit: 3}", "delivery_limit needs type: quorum"),
        ("{name: q, type: quorum, max_priority: 5}", "max_priority is not a quorum queue"),
        ("{name: q, type: quorum, durable: false}", "quorum queues are always durable"),
        (
            "{name: q, type: quorum, max_length: 1, overflow: reject-publish-dlx}",
            "reject-publish-dlx",
        ),
        ("{name: q, type: stream, message_ttl: 1s}", "message_ttl is not a stream argument"),
        ("{name: q, type: stream, single_active_consumer: true}", "single_active_consumer is not"),
        ("{name: q, max_age: 1h}", "max_age needs type: stream"),
        (
            "{name: q, type: lazy}",
            "should be 'classic', 'quorum', 'stream', 'kafka', 'sqs', 'sqs-fifo', 'pubsub', "
            "'servicebus' or 'jetstream'",
        ),
    ],
)
def test_each_queue_type_refuses_what_rabbitmq_refuses(queue, message):
    """One line naming the queue, with RabbitMQ's reason."""
    text = f"""
        name: refused
        duration: 1s
        producers: [{{name: p, to: q, rate: 1/s}}]
        queues: [{queue}]
        """
    with pytest.raises(ScenarioError, match=message):
        scenario_from(text)


def test_a_delivery_limit_without_a_type_makes_a_quorum_queue():
    """Scenarios written before queue types meant a quorum queue (the only type with a limit)."""
    text = """
        name: legacy
        duration: 1s
        producers: [{name: p, to: q, rate: 1/s}]
        queues: [{name: q, delivery_limit: 3}]
        """
    assert scenario_from(text).queues[0].type == "quorum"


def test_work_on_a_message_a_quorum_timeout_took_back_publishes_nothing(tmp_path):
    """The 2 s job outlives the 1 s timeout: the message returns at 1 s, past its 0.5 s TTL,
    and expires (its flow fails). The job that ends at 2 s no longer holds a delivery, so its
    onward publish is void: the flow ends once, and `next` gets nothing."""
    text = """
        name: void
        duration: 5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q, type: quorum, message_ttl: 0.5s}, {name: next}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 2s, consumer_timeout: 1s,
             publish: [{to: next}]}
        """
    model = run(text, tmp_path)
    q, after = model.queues
    failed = model.recorder.flows_failed[0]
    assert (q.expired, failed, len(model.recorder.flow_latency), after.published) == (1, 1, 0, 0)
