"""Broker semantics, each shown by a small deterministic scenario (RabbitMQ 4.x behaviour).

Publish times come from trace files so that every count below follows by hand from the rules
in ``docs/semantics.md``; the comment on each test does the arithmetic.
"""

from __future__ import annotations

import pytest
from conftest import run_model as run
from conftest import scenario_from

from qsim.engine.simulation import Model

TEN_AT_ONCE = "0 0 0 0 0 0 0 0 0 0"


def test_prefetch_limits_unacked_deliveries_per_consumer(tmp_path):
    """10 messages, one consumer with prefetch 3 and 1 s jobs: at 2.5 s, 2 acked, 3 unacked."""
    model = run(
        """
        name: prefetch
        duration: 2.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 3, service_time: 1s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q = model.queues[0]
    assert (q.acked, q.unacked, len(q.ready)) == (2, 3, 5)


def test_prefetch_zero_means_unlimited_so_everything_is_delivered(tmp_path):
    """Prefetch 0 (the RabbitMQ default) pushes every ready message to the consumer."""
    model = run(
        """
        name: unlimited
        duration: 2.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 0, service_time: 1s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q = model.queues[0]
    assert (q.acked, q.unacked, len(q.ready)) == (2, 8, 0)


def test_dispatch_is_round_robin_across_consumers(tmp_path):
    """6 messages, 3 consumers with unlimited prefetch: each gets 2, so 3 are acked at 1.5 s."""
    model = run(
        """
        name: round-robin
        duration: 1.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, replicas: 3, prefetch: 0, service_time: 1s}]
        """,
        tmp_path,
        "0 0 0 0 0 0",
    )
    assert [len(c.subscription.unacked) for c in model.consumers] == [1, 1, 1]


def test_concurrency_processes_several_messages_at_once(tmp_path):
    """One replica with concurrency 4 and prefetch 4 finishes 4 one-second jobs by 1.5 s."""
    model = run(
        """
        name: concurrency
        duration: 1.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 4, concurrency: 4, service_time: 1s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    assert model.queues[0].acked == 4


def test_requeued_message_returns_to_the_head(tmp_path):
    """A rejected-with-requeue message is redelivered before messages published after it."""
    model = run(
        """
        name: requeue
        duration: 1.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 1s,
             failures: {nack_probability: 1.0, requeue: true}}
        """,
        tmp_path,
        "0 0.5",
    )
    # t=0: A delivered; t=0.5: B waits; t=1: A rejected, requeued at the head, delivered again.
    q = model.queues[0]
    in_flight = len(model.consumers[0].subscription.unacked)
    assert (q.redelivered, in_flight, [m.published_at for m in q.ready]) == (1, 1, [0.5])


def test_drop_head_drops_the_oldest_and_dead_letters_it(tmp_path):
    """max_length 3 with drop-head keeps the 3 newest of 10; the 7 oldest go to the DLQ."""
    model = run(
        """
        name: drop-head
        duration: 20s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, max_length: 3, dead_letter: dlq}
          - {name: dlq}
        """,
        tmp_path,
        "0 1 2 3 4 5 6 7 8 9",
    )
    q, dlq = model.queues
    kept = [m.published_at for m in q.ready]
    assert (q.dropped, q.dead_lettered, dlq.published, kept) == (7, 7, 7, [7.0, 8.0, 9.0])


def test_reject_publish_refuses_the_newest(tmp_path):
    """max_length 3 with reject-publish keeps the 3 oldest and refuses 7; nothing dead-letters."""
    model = run(
        """
        name: reject-publish
        duration: 20s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, max_length: 3, overflow: reject-publish, dead_letter: dlq}
          - {name: dlq}
        """,
        tmp_path,
        "0 1 2 3 4 5 6 7 8 9",
    )
    q, dlq = model.queues
    kept = [m.published_at for m in q.ready]
    assert (q.rejected, dlq.published, kept) == (7, 0, [0.0, 1.0, 2.0])


def test_reject_publish_dlx_refuses_and_dead_letters(tmp_path):
    """reject-publish-dlx refuses the 7 newest and forwards them to the dead-letter queue."""
    model = run(
        """
        name: reject-publish-dlx
        duration: 20s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, max_length: 3, overflow: reject-publish-dlx, dead_letter: dlq}
          - {name: dlq}
        """,
        tmp_path,
        "0 1 2 3 4 5 6 7 8 9",
    )
    q, dlq = model.queues
    assert (q.rejected, q.dead_lettered, dlq.published) == (7, 7, 7)


def test_max_length_counts_ready_messages_only(tmp_path):
    """With 2 consumers holding one unacked each, max_length 2 still admits 2 ready messages."""
    model = run(
        """
        name: ready-only
        duration: 0.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q, max_length: 2, overflow: reject-publish}]
        consumers: [{name: c, queue: q, replicas: 2, prefetch: 1, service_time: 1s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q = model.queues[0]
    assert (q.unacked, len(q.ready), q.rejected) == (2, 2, 6)


def test_queue_ttl_expires_waiting_messages_and_dead_letters_them(tmp_path):
    """message_ttl 2s with one slow consumer: the first is delivered, the other 9 expire."""
    model = run(
        """
        name: ttl
        duration: 5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, message_ttl: 2s, dead_letter: dlq}
          - {name: dlq}
        consumers: [{name: c, queue: q, prefetch: 1, service_time: 10s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q, dlq = model.queues
    assert (q.delivered, q.expired, dlq.published) == (1, 9, 9)


def test_expired_message_behind_the_head_still_counts_until_it_reaches_the_head(tmp_path):
    """A 1 s-TTL message behind a 100 s-TTL one is only removed when it reaches the head."""
    text = """
        name: ttl-head
        duration: {duration}
        producers:
          - {{name: long, to: q, trace: long.csv, ttl: 100s}}
          - {{name: short, to: q, trace: short.csv, ttl: 1s}}
        queues: [{{name: q}}]
        """
    (tmp_path / "long.csv").write_text("0\n", encoding="utf-8")
    (tmp_path / "short.csv").write_text("1\n", encoding="utf-8")
    early = Model(scenario_from(text.format(duration="50s"), tmp_path), 0)
    early.run()
    late = Model(scenario_from(text.format(duration="150s"), tmp_path), 0)
    late.run()
    before, after = early.queues[0], late.queues[0]
    assert (len(before.ready), before.expired, len(after.ready), after.expired) == (2, 0, 0, 2)


def test_per_message_ttl_lower_than_queue_ttl_wins(tmp_path):
    """Queue TTL 100 s, message TTL 1 s: the message expires after 1 s."""
    model = run(
        """
        name: ttl-min
        duration: 5s
        producers: [{name: p, to: q, trace: trace.csv, ttl: 1s}]
        queues: [{name: q, message_ttl: 100s}]
        """,
        tmp_path,
        "0",
    )
    assert model.queues[0].expired == 1


def test_nack_without_requeue_dead_letters_with_reason_rejected(tmp_path):
    """Every message rejected without requeue is counted nacked and forwarded to the DLQ."""
    model = run(
        """
        name: nack
        duration: 20s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, dead_letter: dlq}
          - {name: dlq}
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 0.1s,
             failures: {nack_probability: 1.0, requeue: false}}
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q, dlq = model.queues
    assert (q.nacked, q.dead_lettered, len(dlq.ready)) == (10, 10, 10)


def test_nack_without_dead_letter_target_discards(tmp_path):
    """Without dead_letter a rejected message is discarded: nacked, not dead-lettered."""
    model = run(
        """
        name: discard
        duration: 20s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 0.1s,
             failures: {nack_probability: 1.0, requeue: false}}
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q = model.queues[0]
    assert (q.nacked, q.dead_lettered) == (10, 0)


def test_delivery_limit_removes_a_message_returned_more_times_than_the_limit(tmp_path):
    """delivery_limit 3 and a consumer that always requeues: 4 deliveries, then dead-lettered."""
    model = run(
        """
        name: poison
        duration: 100s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues:
          - {name: q, delivery_limit: 3, dead_letter: dlq}
          - {name: dlq}
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 1s,
             failures: {nack_probability: 1.0, requeue: true}}
        """,
        tmp_path,
        "0 0",
    )
    q, dlq = model.queues
    assert (q.delivered, q.redelivered, q.over_limit, dlq.published) == (8, 6, 2, 2)


def test_priority_delivers_higher_priority_first(tmp_path):
    """A high-priority message published after two low ones is processed before them."""
    text = """
        name: priority
        duration: 10s
        producers:
          - {name: low, to: q, trace: low.csv, priority: 1}
          - {name: high, to: q, trace: high.csv, priority: 5}
        queues: [{name: q, max_priority: 5}]
        consumers: [{name: c, queue: q, prefetch: 1, service_time: 1s}]
        """
    (tmp_path / "low.csv").write_text("0\n0.1\n0.2\n", encoding="utf-8")
    (tmp_path / "high.csv").write_text("0.3\n", encoding="utf-8")
    model = Model(scenario_from(text, tmp_path), 0)
    model.run()
    records = model.recorder.arrays()
    start_of = dict(
        zip(records["published_at"], records["published_at"] + records["wait"], strict=True)
    )
    # busy 0..1 with the first low one; then high (published 0.3) at 1, lows at 2 and 3
    assert (start_of[0.3], start_of[0.1], start_of[0.2]) == pytest.approx((1.0, 2.0, 3.0))


def test_priority_does_not_reorder_prefetched_messages(tmp_path):
    """With prefetch 10 the low ones are already in the consumer's buffer: no reordering."""
    text = """
        name: priority-prefetch
        duration: 10s
        producers:
          - {name: low, to: q, trace: low.csv, priority: 1}
          - {name: high, to: q, trace: high.csv, priority: 5}
        queues: [{name: q, max_priority: 5}]
        consumers: [{name: c, queue: q, prefetch: 10, service_time: 1s}]
        """
    (tmp_path / "low.csv").write_text("0\n0.1\n0.2\n", encoding="utf-8")
    (tmp_path / "high.csv").write_text("0.3\n", encoding="utf-8")
    model = Model(scenario_from(text, tmp_path), 0)
    model.run()
    records = model.recorder.arrays()
    start_of = dict(
        zip(records["published_at"], records["published_at"] + records["wait"], strict=True)
    )
    assert start_of[0.3] == pytest.approx(3.0)


def test_auto_ack_counts_acked_on_delivery_and_ignores_prefetch(tmp_path):
    """ack: auto: all 10 are acked when sent (confirms.md), though only 2 are processed by 2.5s."""
    model = run(
        """
        name: auto-ack
        duration: 2.5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 1, ack: auto, service_time: 1s}]
        """,
        tmp_path,
        TEN_AT_ONCE,
    )
    q = model.queues[0]
    assert (q.acked, q.unacked, len(model.recorder.latency)) == (10, 0, 2)


def test_dead_letter_cycle_without_rejection_drops_the_message(tmp_path):
    """a expires into b, b expires back into a: the second hop is a cycle and is dropped."""
    model = run(
        """
        name: cycle
        duration: 10s
        producers: [{name: p, to: a, trace: trace.csv}]
        queues:
          - {name: a, message_ttl: 1s, dead_letter: b}
          - {name: b, message_ttl: 1s, dead_letter: a}
        """,
        tmp_path,
        "0",
    )
    a, b = model.queues
    assert (a.dead_lettered, b.expired, b.dead_lettered, a.published) == (1, 1, 0, 1)


def test_retry_with_delay_cycles_when_a_rejection_starts_it(tmp_path):
    """Rejected into a delay queue whose TTL dead-letters back: the retry pattern loops."""
    model = run(
        """
        name: retry
        duration: 10.5s
        producers: [{name: p, to: work, trace: trace.csv}]
        queues:
          - {name: work, dead_letter: delay}
          - {name: delay, message_ttl: 1s, dead_letter: work}
        consumers:
          - {name: c, queue: work, prefetch: 1, service_time: 1s,
             failures: {nack_probability: 1.0, requeue: false}}
        """,
        tmp_path,
        "0",
    )
    work, _ = model.queues
    # every 2 s: 1 s of work, rejected, 1 s in the delay queue, back to work
    assert work.published == 6


def test_trace_replays_publish_times_exactly(tmp_path):
    """Publish times from a trace file are used as they are."""
    model = run(
        """
        name: trace
        duration: 10s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        """,
        tmp_path,
        "0.5 1.25 7",
    )
    assert [m.published_at for m in model.queues[0].ready] == [0.5, 1.25, 7.0]


def test_count_stops_a_producer_after_that_many_messages(tmp_path):
    """count: 5 publishes five messages and no more."""
    model = run(
        """
        name: count
        duration: 100s
        producers: [{name: p, to: q, rate: 10/s, count: 5}]
        queues: [{name: q}]
        """,
        tmp_path,
    )
    assert model.producers[0].published == 5


def test_constant_arrivals_are_evenly_spaced(tmp_path):
    """arrivals: constant at 2/s publishes at 0.5 s, 1 s, 1.5 s, ..."""
    model = run(
        """
        name: constant
        duration: 2.2s
        producers: [{name: p, to: q, rate: 2/s, arrivals: constant}]
        queues: [{name: q}]
        """,
        tmp_path,
    )
    assert [m.published_at for m in model.queues[0].ready] == [0.5, 1.0, 1.5, 2.0]


def test_prefetched_messages_are_processed_in_delivery_order(tmp_path):
    """prefetch 2, one worker: the buffered message runs before the one the ack makes room for."""
    model = run(
        """
        name: buffer-order
        duration: 10s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 2, service_time: 1s}]
        """,
        tmp_path,
        "0 0.1 0.2",
    )
    records = model.recorder.arrays()
    order = records["published_at"].argsort()
    starts = (records["published_at"] + records["wait"])[order]
    assert list(starts) == pytest.approx([0.0, 1.0, 2.0])
