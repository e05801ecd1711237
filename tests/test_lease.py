"""Lease queues (SQS, SQS FIFO, Pub/Sub, Service Bus, JetStream): each test states one rule of
the pull-with-lease model (``docs/semantics.md``, "Lease-based brokers") with a scenario small
enough to reason about.

Statistical checks follow tests/test_theory.py: ``R`` replications with fixed seeds, a 99%
Student-t interval that must contain the exact value and be narrow enough to mean it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
from conftest import scenario_from
from test_theory import assert_matches

from qsim.engine import simulate
from qsim.summary import replication_figures

R = 20
"""Replications per statistical check."""


@functools.cache
def replications(text: str, count: int = R) -> list[dict[str, Any]]:
    """Per-replication summary figures of an inline scenario (run once, shared)."""
    scenario = scenario_from(text)
    return [replication_figures(simulate(scenario, r)) for r in range(count)]


def lease_of(figures: dict[str, Any], queue: str = "q") -> dict[str, Any]:
    """The ``lease`` block of ``queue`` in one replication's figures."""
    block: dict[str, Any] = figures["queues"][queue]["lease"]
    return block


def lognormal_tail(mean: float, cv: float, t: float) -> float:
    """P(S > t) for a lognormal S of this mean and coefficient of variation."""
    sigma = math.sqrt(math.log1p(cv * cv))
    mu = math.log(mean) - sigma * sigma / 2
    return 0.5 * math.erfc((math.log(t) - mu) / (sigma * math.sqrt(2)))


# -- lease expiry: duplicates and the dead-letter queue --------------------------------------
ONE_POLLER = """
    name: lease-expiry
    duration: 2000s
    producers: [{{name: p, to: q, rate: 5/s}}]
    queues:
      - {{name: q, type: sqs, lease: {lease}, {limit}}}
      - {{name: dlq, type: sqs}}
    consumers:
      - {{name: c, queue: q, concurrency: 1000, batch: 10, wait: 20s, service_time: {service}}}
    """
SERVICES = {
    "exponential": ("{dist: exponential, mean: 2s}", math.exp(-3.0 / 2.0)),
    "lognormal": ("{dist: lognormal, mean: 2s, cv: 1.5}", lognormal_tail(2.0, 1.5, 3.0)),
}
"""Service time S and P(S > T) for the lease T = 3 s."""


@pytest.mark.parametrize("service", SERVICES)
def test_a_message_is_received_again_exactly_when_its_processing_outlasts_the_lease(service):
    """One replica, service time S, lease T = 3 s: the fraction of messages received more
    than once is P(S > T). Exact here because the replica never runs out of slots (1,000
    against about 5/s x 3 s in flight) and always has a long poll waiting: a message is
    received the instant it is sent, and again the instant its lease lapses, when a fresh
    processing starts. So it is received a second time iff its first processing outlasts T;
    the first consumer's late delete finds it received again and deletes nothing (SQS's old
    receipt handle). Each attempt is independent, so duplicates per message are p / (1 - p)."""
    text, p = SERVICES[service]
    runs = replications(ONE_POLLER.format(lease="3s", limit="dead_letter: dlq", service=text))
    blocks = [lease_of(f) for f in runs]
    first_receives = [b["received"] - b["duplicates"] for b in blocks]
    assert_matches([b["redelivered"] / n for b, n in zip(blocks, first_receives, strict=True)], p)
    assert_matches(
        [b["duplicates"] / n for b, n in zip(blocks, first_receives, strict=True)], p / (1 - p)
    )


def test_max_receives_moves_a_fraction_p_to_the_k_to_the_dead_letter_queue():
    """With ``max_receives: k`` the message moves to the dead-letter queue when its k-th lease
    lapses unsettled. In the one-replica scenario above each receive starts a fresh, independent
    processing exactly at the previous lapse, so a message moves iff its first k processings
    all outlast the lease: P(moved) = P(S > T)^k = (e^{-T/E[S]})^k for exponential S. Here
    T = E[S] = 2 s and k = 3: e^{-3}, about 5%. Sized from the interval: 2,000 s runs gave a
    half-width of 2.7% of e^{-3}; 900 s gives 2.7% x sqrt(2000 / 900) = 4.0% (measured 3.9%)."""
    text = ONE_POLLER.replace("duration: 2000s", "duration: 900s").format(
        lease="2s", limit="max_receives: 3, dead_letter: dlq",
        service="{dist: exponential, mean: 2s}",
    )  # fmt: skip
    blocks = [lease_of(f) for f in replications(text)]
    moved = [b["dead_lettered"] / (b["deleted"] + b["dead_lettered"]) for b in blocks]
    assert_matches(moved, math.exp(-3.0))
    dlq = [f["queues"]["dlq"]["published"] for f in replications(text)]
    assert dlq == [b["dead_lettered"] for b in blocks]


# -- SQS FIFO: one message group at a time ---------------------------------------------------
FIFO = """
    name: fifo
    duration: {duration}
    warmup: 60s
    producers: [{{name: p, to: q, rate: {rate}, key: {key}}}]
    queues: [{{name: q, type: sqs-fifo}}]
    consumers:
      - {{name: c, queue: q, replicas: {replicas}, wait: 20s,
         service_time: {{dist: exponential, mean: 100ms}}}}
    """


@pytest.mark.parametrize("replicas", [1, 4])
def test_one_message_group_is_processed_at_one_over_the_mean_service_time(replicas):
    """Every message in one group (``key: order-1``) and 20/s offered against 10/s of service:
    while a message of the group is in flight no other is handed out, so the group is served
    one message at a time, back to back (a waiting long poll gets the next at the delete):
    throughput 1 / E[S] = 10/s whatever the replicas."""
    fifo = FIFO.format(rate="20/s", key="order-1", replicas=replicas, duration="600s")
    runs = replications(fifo, 10)
    assert_matches([f["queues"]["q"]["throughput_per_s"] for f in runs], 10.0)


def test_many_message_groups_are_processed_in_parallel_by_the_replicas():
    """1,000 groups and 60/s offered: 4 replicas each work a group of their own, so the
    throughput is 4 / E[S] = 40/s (a group is rarely blocked: at most 4 of 1,000 in flight).

    The replicas are always busy, so each replication's throughput is a count of about 5,600
    completions over the 140 s window, whose spread is at most a Poisson count's, 1.3%: 10
    such runs give a 99% half-width of at most 3.25 x 1.3% / sqrt(10) = 1.4% (measured 0.9%),
    far inside the 6% bound; 600 s runs cost three times as much for an interval no check
    needs."""
    fifo = FIFO.format(rate="60/s", key="{uniform: 1000}", replicas=4, duration="200s")
    runs = replications(fifo, 10)
    assert_matches([f["queues"]["q"]["throughput_per_s"] for f in runs], 40.0)


# -- long and short polling ------------------------------------------------------------------
POLLING = """
    name: polling
    duration: 20000s
    producers: [{{name: p, to: q, rate: {rate}}}]
    queues: [{{name: q, type: sqs}}]
    consumers: [{{name: c, queue: q, batch: 10, wait: {wait}, service_time: 0s}}]
    """


def test_long_polling_returns_empty_once_per_wait_without_a_message():
    """Long polling (wait W = 20 s) at lambda = 0.02/s, processing taking no time: after each
    message the replica polls again at once, and the next message comes after X ~ Exp(lambda),
    in which floor(X / W) receives return empty. So empty receives per second are
    lambda E[floor(X / W)] = lambda e^{-lambda W} / (1 - e^{-lambda W}), about 0.041/s."""
    lam, wait = 0.02, 20.0
    exact = lam * math.exp(-lam * wait) / (1 - math.exp(-lam * wait))
    runs = replications(POLLING.format(rate="0.02/s", wait="20s"))
    assert_matches([lease_of(f)["empty_receives_per_s"] for f in runs], exact)


def test_short_polling_returns_empty_once_per_pause():
    """Short polling (wait 0) pauses ``empty_pause`` (1 s by default) after an empty receive;
    a receive that finds a message is followed at once (processing takes no time) by one that
    finds none. So every pause holds exactly one empty receive: 1 per second, 25 times the long
    poller's count at the same rate."""
    figures = replications(POLLING.format(rate="0.02/s", wait="0s"), 1)[0]
    assert lease_of(figures)["empty_receives"] == pytest.approx(20000, abs=1)


# -- what a late delete does, heartbeats, partial batches ------------------------------------
LATE = """
    name: late
    duration: 100s
    producers: [{{name: p, to: q, rate: 1/s, count: 1}}]
    queues: [{{name: q, type: {kind}, lease: {lease}, {extra}}}]
    consumers: [{{name: c, queue: q, wait: 20s, service_time: 7s{pool}}}]
    """


def late(kind: str, lease: str = "5s", extra: str = "", pool: str = "") -> dict[str, Any]:
    """The lease block of one message processed for 7 s by one replica."""
    text = LATE.format(kind=kind, lease=lease, extra=extra or "delay: 0s", pool=pool)
    return lease_of(replication_figures(simulate(scenario_from(text), 0)))


def test_sqs_deletes_late_when_nobody_received_the_message_since():
    """Lease 5 s, processing 7 s, one replica busy meanwhile: the message is visible again at
    5 s but nobody receives it before the delete at 7 s, whose receipt handle is still the
    latest: it is deleted (DeleteMessage), with no duplicate."""
    block = late("sqs")
    assert (block["lease_expiries"], block["late_deletes"], block["deleted"]) == (1, 1, 1)
    assert block["duplicates"] == 0


def test_service_bus_refuses_a_settlement_after_the_lock_is_lost():
    """The same on Service Bus: the complete at 7 s fails (MessageLockLostException), the
    message is received again, and so on until MaxDeliveryCount (10 by default) exhausts it."""
    block = late("servicebus", lease="5s")
    assert (block["deleted"], block["late_deletes"], block["exhausted"]) == (0, 0, 1)
    assert block["received"] == 10


def test_jetstream_takes_a_late_ack_even_after_redelivering_the_message():
    """JetStream acks by stream sequence: with two replicas, the message lapses at 5 s and
    the idle replica receives it again; the first replica's ack at 7 s removes it from the
    pending set all the same (nats-server ``processAckMsg``), and the second one's ack at 12 s
    finds nothing."""
    text = LATE.format(kind="jetstream", lease="5s", extra="delay: 0s", pool=", replicas: 2")
    block = lease_of(replication_figures(simulate(scenario_from(text), 0)))
    assert (block["duplicates"], block["late_deletes"], block["deleted"]) == (1, 1, 1)
    assert block["stale_deletes"] == 1


def test_sqs_ignores_a_late_delete_once_another_consumer_received_the_message():
    """The same on SQS snowballs: at 5 s the idle replica receives the message again, so the
    first replica's delete at 7 s holds an old receipt handle and does nothing; at 10 s the
    second lease lapses and the first replica, free again, receives it; and so on. Every
    processing (7 s) outlasts the lease (5 s) and every delete is stale: received every 5 s
    (20 times in 100 s), never deleted."""
    text = LATE.format(kind="sqs", lease="5s", extra="delay: 0s", pool=", replicas: 2")
    block = lease_of(replication_figures(simulate(scenario_from(text), 0)))
    assert (block["received"], block["deleted"], block["late_deletes"]) == (20, 0, 0)
    assert block["stale_deletes"] == 19


def test_a_heartbeat_keeps_the_lease_while_the_message_is_worked_on():
    """Extending the lease every 2 s (lease 5 s), the 7 s processing never loses it."""
    block = late("sqs", pool=", heartbeat: 2s")
    assert (block["lease_expiries"], block["deleted"], block["duplicates"]) == (0, 1, 0)
    assert block["heartbeats"] == 3  # at 2, 4 and 6 s (ChangeMessageVisibility calls)


def test_a_partial_batch_response_returns_a_failed_message_at_once():
    """A message that always fails, ``max_receives: 3``: with ``partial_batch`` each failure
    returns it at once (3 receives in 21 s, no lease lapses), then it moves to the
    dead-letter queue."""
    text = """
        name: partial
        duration: 100s
        producers: [{name: p, to: q, rate: 1/s, count: 1}]
        queues:
          - {name: q, type: sqs, lease: 30s, max_receives: 3, dead_letter: dlq}
          - {name: dlq, type: sqs}
        consumers:
          - {name: c, queue: q, wait: 20s, service_time: 7s, partial_batch: true,
             failures: {poison: 1.0}}
        """
    block = lease_of(replication_figures(simulate(scenario_from(text), 0)))
    assert (block["returned"], block["lease_expiries"], block["dead_lettered"]) == (3, 0, 1)


def test_a_poison_message_fails_at_every_receive():
    """``poison: 0.5``: half the messages fail whenever they are processed, so exactly those
    reach the dead-letter queue after ``max_receives: 3`` (not half of a half of a half)."""
    text = """
        name: poison
        duration: 2000s
        producers: [{name: p, to: q, rate: 1/s}]
        queues:
          - {name: q, type: sqs, lease: 30s, max_receives: 3, dead_letter: dlq}
          - {name: dlq, type: sqs}
        consumers:
          - {name: c, queue: q, replicas: 2, wait: 20s, service_time: 100ms,
             partial_batch: true, failures: {poison: 0.5}}
        """
    runs = replications(text, 10)
    moved = [lease_of(f)["dead_lettered"] / f["queues"]["q"]["published"] for f in runs]
    assert_matches(moved, 0.5)


# -- delay, retention, in-flight limit -------------------------------------------------------
def test_a_delay_hides_each_new_message_for_that_long():
    """``delay: 10s``: no message is processed sooner than 10 s after it was sent, and by
    Little's law about lambda x 10 s = 20 messages are hidden at a time."""
    text = """
        name: delay
        duration: 2000s
        producers: [{name: p, to: q, rate: 2/s}]
        queues: [{name: q, type: sqs, delay: 10s}]
        consumers: [{name: c, queue: q, replicas: 2, wait: 20s, service_time: 10ms}]
        """
    result = simulate(scenario_from(text), 0)
    assert result.records["wait"].min() >= 10.0 - 1e-9
    delayed = lease_of(replication_figures(result))["delayed"]["mean"]
    assert delayed == pytest.approx(20.0, rel=0.1)


def test_retention_drops_messages_that_old_wherever_they_are():
    """Retention 60 s on a JetStream queue nobody reads: every message older than 60 s at the
    end has expired; the younger ones are still visible."""
    text = """
        name: retention
        duration: 600s
        producers: [{name: p, to: q, interarrival: 1s, arrivals: constant}]
        queues: [{name: q, type: jetstream, retention: 60s}]
        """
    figures = replication_figures(simulate(scenario_from(text), 0))
    block = lease_of(figures)
    assert block["expired"] + block["visible"]["final"] == figures["queues"]["q"]["published"]
    assert block["visible"]["final"] in (59, 60, 61)


def test_max_in_flight_caps_what_the_replicas_hold():
    """JetStream's MaxAckPending 5: however many slots the replicas have, at most 5 messages
    are in flight."""
    text = """
        name: in-flight
        duration: 300s
        producers: [{name: p, to: q, rate: 10/s}]
        queues: [{name: q, type: jetstream, max_in_flight: 5}]
        consumers:
          - {name: c, queue: q, replicas: 3, concurrency: 20, batch: 10, wait: 5s,
             service_time: 1s}
        """
    block = lease_of(replication_figures(simulate(scenario_from(text), 0)))
    assert block["in_flight"]["max"] == 5


def test_theory_says_what_one_fifo_queue_misses_on_a_lease_queue():
    """``qsim capacity`` compares with Erlang C: on a lease queue it names the lease (a long
    job runs again) and the batch, and no prefetch note (a poller has none)."""
    from qsim.analytic import build_model

    text = ONE_POLLER.format(lease="3s", limit="delay: 0s", service="1s").replace(
        "batch: 10", "batch: 5"
    )
    model = build_model(scenario_from(text), 0)
    assert model is not None
    keys = [note.split(":")[0] for note in model.notes]
    assert "lease" in keys and "batch" in keys and "prefetch" not in keys


FIFO_QUOTA = """
    name: fifo-quota
    duration: 20s
    warmup: 5s
    producers: [{{name: p, to: q, rate: 4000/s, key: {{uniform: 100000}}}}]
    queues: [{{name: q, type: sqs-fifo}}]
    consumers:
      - {{name: c, queue: q, replicas: 20, batch: {batch}, wait: 20s, service_time: 1ms}}
    """


@pytest.mark.parametrize(("batch", "throughput"), [(1, 300.0), (10, 3000.0)])
def test_a_fifo_queue_answers_300_receives_per_second(batch, throughput):
    """SQS FIFO's quota: 300 ReceiveMessage calls per second (without high throughput mode).
    20 replicas could take 20,000 messages per second; the queue answers one receive every
    1/300 s, so one message per receive makes 300/s, ten per receive 3,000/s (the backlog of
    4,000/s never runs dry, and 100,000 groups leave ten messages of distinct groups visible)."""
    figures = replication_figures(simulate(scenario_from(FIFO_QUOTA.format(batch=batch))))
    assert figures["queues"]["q"]["throughput_per_s"] == pytest.approx(throughput, rel=0.01)


def test_a_replica_with_many_free_slots_takes_a_large_backlog_without_recursing():
    """After an outage 3,000 messages are visible at once and the replica has 5,000 free
    slots: it receives them one per receive, back to back (a loop, not a call chain)."""
    text = """
        name: backlog
        duration: 6s
        producers: [{name: p, to: q, rate: 1000/s, arrivals: constant}]
        queues: [{name: q, type: sqs, lease: 1m}]
        consumers: [{name: c, queue: q, concurrency: 5000, wait: 20s, service_time: 10s}]
        outages: [{at: 1s, for: 3s}]
        """
    block = lease_of(replication_figures(simulate(scenario_from(text), 0)))
    assert block["in_flight"]["final"] == block["received"] >= 5000


def _outstanding(
    extra: str, replicas: int = 2, lease: str = "600s", work: str = "1s", batch: int = 10
) -> Any:
    """A backlog of 200 messages at once on a Pub/Sub subscription, ``work`` each."""
    return (
        simulate(
            scenario_from(f"""
        name: outstanding
        duration: 100s
        producers: [{{name: p, to: q, rate: 1000/s, count: 200}}]
        queues: [{{name: q, type: pubsub, lease: {lease}}}]
        consumers: [{{name: c, queue: q, replicas: {replicas}, batch: {batch},
                     service_time: {{dist: constant, value: {work}}}{extra}}}]
        """),
            0,
        )
        .queues[0]
        .lease
    )


def test_a_replica_receives_ahead_up_to_max_outstanding_and_no_further():
    """Pub/Sub flow control, Service Bus prefetch: on a backlog each of 2 replicas holds exactly
    max_outstanding (25) received-but-unsettled messages, 50 in flight; without it a replica
    receives only when its buffer is empty, so at most one batch (10) each: 20."""
    ahead, plain = _outstanding(", max_outstanding: 25"), _outstanding("")
    assert (ahead.in_flight.max, plain.in_flight.max) == (50, 20)
    assert ahead.deleted == plain.deleted  # the same work gets done, 2 a second


def test_leases_of_messages_received_ahead_run_while_they_wait_unless_extended():
    """One replica holding 10 ahead with 2 s jobs and an 11 s lease (Pub/Sub's least is 10 s):
    the sixth to tenth of the first 10 end at 12 to 20 s, after their leases lapse at 11 s, so
    at least 5 leases lapse (a Service Bus lock, too, runs from the moment a message is
    prefetched); a heartbeat every 2 s extends them all, and receiving one at a time lapses
    none."""
    ahead = ", max_outstanding: 10"
    lapsing = _outstanding(ahead, replicas=1, lease="11s", work="2s")
    extended = _outstanding(ahead + ", heartbeat: 2s", replicas=1, lease="11s", work="2s")
    one_by_one = _outstanding("", replicas=1, lease="11s", work="2s", batch=1)
    assert lapsing.lease_expiries >= 5  # (48 here: after the first fill each waits 18 s)
    assert (extended.lease_expiries, extended.duplicates) == (0, 0)
    assert (one_by_one.lease_expiries, one_by_one.duplicates) == (0, 0)
