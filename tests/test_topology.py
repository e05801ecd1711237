"""Topologies: exchanges route as RabbitMQ's do (exchanges.md), pools publish onward, and flows
measure a whole chain end to end."""

from __future__ import annotations

import math

import pytest
from conftest import run_model as run
from conftest import scenario_from

from qsim.engine.routing import topic_matches
from qsim.engine.simulation import Model
from qsim.summary import replication_figures


def published(model: Model) -> dict[str, int]:
    """Messages each queue received."""
    return {q.name: q.published for q in model.queues}


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("*.order", "eu.order", True),
        ("*.order", "eu.order.new", False),
        ("*.order", "order", False),
        ("#", "anything.at.all", True),
        ("#", "", True),
        ("eu.#", "eu", True),
        ("eu.#", "eu.order.new", True),
        ("#.new", "eu.order.new", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y", False),
        ("a.*.c", "a.x.c", True),
        ("a.*.c", "a.c", False),
    ],
)
def test_topic_patterns_match_like_rabbitmq(pattern, key, matches):
    """``*`` stands for exactly one word, ``#`` for zero or more."""
    words = tuple(key.split(".")) if key else ()
    assert topic_matches(tuple(pattern.split(".")), words) is matches


def test_direct_exchange_routes_by_exact_key_and_counts_unroutable(tmp_path):
    """A key no binding matches is unroutable: counted by the producer, dropped by the broker."""
    model = run(
        """
        name: direct
        duration: 10s
        producers:
          - {name: eu, to: x, routing_key: eu, trace: trace.csv}
          - {name: apac, to: x, routing_key: apac, trace: trace.csv}
        exchanges:
          - {name: x, type: direct, bindings: [{queue: eu-orders, key: eu}]}
        queues: [{name: eu-orders}]
        """,
        tmp_path,
        "0 1 2",
    )
    apac = model.producers[1].publisher
    assert (published(model), apac.unroutable, apac.routed) == ({"eu-orders": 3}, 3, 0)


def test_fanout_copies_each_message_to_every_bound_queue(tmp_path):
    """Three messages to a fanout with two bindings: each queue receives three."""
    model = run(
        """
        name: fanout
        duration: 10s
        producers: [{name: p, to: x, trace: trace.csv}]
        exchanges:
          - {name: x, type: fanout, bindings: [{queue: a}, {queue: b}]}
        queues: [{name: a}, {name: b}]
        """,
        tmp_path,
        "0 1 2",
    )
    publisher = model.producers[0].publisher
    assert (published(model), publisher.routed, publisher.copies) == ({"a": 3, "b": 3}, 3, 6)


def test_a_queue_bound_twice_receives_one_copy(tmp_path):
    """Two matching bindings to the same queue still deliver one copy (exchanges.md)."""
    model = run(
        """
        name: twice
        duration: 10s
        producers: [{name: p, to: x, routing_key: eu.order, trace: trace.csv}]
        exchanges:
          - {name: x, type: topic, bindings: [{queue: a, key: "eu.*"}, {queue: a, key: "#"}]}
        queues: [{name: a}]
        """,
        tmp_path,
    )
    assert published(model) == {"a": 1}


def test_weighted_routing_keys_split_traffic_by_weight():
    """keys {eu: 0.7, us: 0.3} over 10,000 messages: eu receives 70% within 4 sigma."""
    model = Model(
        scenario_from(
            """
            name: weighted
            duration: 100s
            producers:
              - {name: p, to: x, rate: 100/s, count: 10000,
                 routing_key: {keys: {eu.order: 7, us.order: 3}}}
            exchanges:
              - name: x
                type: topic
                bindings: [{queue: eu, key: "eu.*"}, {queue: us, key: "us.*"}]
            queues: [{name: eu}, {name: us}]
            """
        ),
        0,
    )
    model.run()
    eu = published(model)["eu"]
    assert abs(eu - 7000) <= 4 * math.sqrt(10000 * 0.7 * 0.3)


PIPELINE = """
    name: pipeline
    duration: 100s
    producers: [{name: orders-service, to: orders, trace: trace.csv}]
    queues: [{name: orders}, {name: deliveries}, {name: notifications}]
    consumers:
      - {name: delivery, queue: orders, prefetch: 1, service_time: 1s,
         publish: [{to: deliveries}]}
      - {name: courier, queue: deliveries, prefetch: 1, service_time: 2s,
         publish: [{to: notifications, count: 2}]}
      - {name: notify, queue: notifications, prefetch: 1, service_time: 0.5s}
    """


def test_a_pool_publishes_onward_after_processing(tmp_path):
    """One order becomes one delivery and two notifications."""
    model = run(PIPELINE, tmp_path)
    assert published(model) == {"orders": 1, "deliveries": 1, "notifications": 2}


def test_a_flow_ends_at_the_last_ack_of_the_chain(tmp_path):
    """1 s + 2 s, then two notifications of 0.5 s one after the other: 4 s end to end."""
    model = run(PIPELINE, tmp_path)
    flows = replication_figures(model._results())["flows"]["orders-service"]
    assert (flows["completed"], flows["latency_s"]["max"]) == (1, pytest.approx(4.0))


def test_a_flow_fails_when_any_branch_is_lost(tmp_path):
    """A fanout copy dropped by a full queue fails the flow though the other copy is acked."""
    model = run(
        """
        name: partial
        duration: 10s
        producers: [{name: p, to: x, trace: trace.csv}]
        exchanges: [{name: x, type: fanout, bindings: [{queue: a}, {queue: full}]}]
        queues:
          - {name: a}
          - {name: full, max_length: 0, overflow: reject-publish}
        consumers: [{name: c, queue: a, prefetch: 1, service_time: 1s}]
        """,
        tmp_path,
    )
    flows = replication_figures(model._results())["flows"]["p"]
    assert (flows["completed"], flows["failed"], flows["open"]) == (0, 1, 0)


def test_publish_probability_thins_the_onward_stream():
    """probability 0.25 on 8,000 messages: about 2,000 go onward (within 4 sigma)."""
    model = Model(
        scenario_from(
            """
            name: thin
            duration: 1000s
            producers: [{name: p, to: a, rate: 20/s, count: 8000}]
            queues: [{name: a}, {name: b}]
            consumers:
              - {name: c, queue: a, replicas: 2, prefetch: 1, service_time: 10ms,
                 publish: [{to: b, probability: 0.25}]}
            """
        ),
        0,
    )
    model.run()
    assert abs(published(model)["b"] - 2000) <= 4 * math.sqrt(8000 * 0.25 * 0.75)
