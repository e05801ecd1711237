"""Topologies: exchanges route as RabbitMQ's do (exchanges.md), pools publish onward, and flows
measure a whole chain end to end."""

from __future__ import annotations

import math
from collections import Counter
from typing import get_args

import pytest
from conftest import run_model as run
from conftest import scenario_from

from qsim.engine.consistent_hash import bucket
from qsim.engine.keys import key_chooser
from qsim.engine.routing import ROUTERS, topic_matches
from qsim.engine.simulation import Model
from qsim.scenario.topology import ExchangeType
from qsim.streams import stream
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


def test_every_exchange_type_a_scenario_names_has_a_router():
    """One registry: the types the scenario accepts are the types the engine routes."""
    assert set(get_args(ExchangeType)) == set(ROUTERS)


# --- x-consistent-hash ----------------------------------------------------------------------


def hashed(weights: str, routing_key: str, messages: int) -> Model:
    """``messages`` messages through a consistent-hash exchange over queues ``a`` and ``b`` with
    binding weights ``"A:B"``, run once."""
    a, b = weights.split(":")
    producer = f"{{name: p, to: x, rate: 1/s, count: {messages}, routing_key: {routing_key}}}"
    bindings = f"[{{queue: a, key: {a}}}, {{queue: b, key: {b}}}]"
    model = Model(
        scenario_from(
            f"""
            name: hashed
            duration: {2 * messages}s
            producers: [{producer}]
            exchanges: [{{name: x, type: x-consistent-hash, bindings: {bindings}}}]
            queues: [{{name: a}}, {{name: b}}]
            """
        ),
        0,
    )
    model.run()
    return model


def test_consistent_hash_sends_each_key_to_one_queue_as_worked_out_by_hand(tmp_path):
    """Weights 1 and 1 make two buckets, a's and b's. Keys "0" and "1" hash to bucket 1 and key
    "2" to bucket 0 (tests/test_consistent_hash.py), so three messages of each key give
    a: 3 and b: 6, every message to exactly one queue."""
    model = run(
        """
        name: by-hand
        duration: 10s
        producers:
          - {name: k0, to: x, routing_key: "0", trace: trace.csv}
          - {name: k1, to: x, routing_key: "1", trace: trace.csv}
          - {name: k2, to: x, routing_key: "2", trace: trace.csv}
        exchanges:
          - {name: x, type: x-consistent-hash, bindings: [{queue: a, key: 1}, {queue: b, key: 1}]}
        queues: [{name: a}, {name: b}]
        """,
        tmp_path,
        "0 1 2",
    )
    assert published(model) == {"a": 3, "b": 6}


@pytest.mark.parametrize(("weights", "share_of_a"), [("1:1", 0.5), ("1:3", 0.25)])
def test_consistent_hash_with_many_keys_splits_by_binding_weight(weights, share_of_a):
    """20,000 messages, each with one of a million keys: a's share is its share of the ring
    (weights 1:1 -> 50%, 1:3 -> 25%) within 4 sigma of the binomial count."""
    n = 20_000
    a = published(hashed(weights, "{uniform: 1000000}", n))["a"]
    assert abs(a - n * share_of_a) <= 4 * math.sqrt(n * share_of_a * (1 - share_of_a))


def test_consistent_hash_with_three_keys_splits_by_which_queue_each_key_hashes_to():
    """Three keys equally likely, weights 1:1: keys "0" and "1" go to b, "2" to a, so b gets
    about two thirds, far outside a 50/50 split; exactly the draws of keys "0" and "1"."""
    n = 3_000
    model = hashed("1:1", "{uniform: 3}", n)
    choose = key_chooser(
        model.scenario.producers[0].routing_key,
        stream(model.scenario.seed, 0, "producer:p:routing"),
    )
    draws = Counter(choose() for _ in range(n))
    expected = {"a": 0, "b": 0}
    for key, count in draws.items():
        expected["ab"[bucket(key, 2)]] += count
    b = published(model)["b"]
    assert (published(model), abs(b - n / 2) > 4 * math.sqrt(n / 4)) == (expected, True)


def test_consistent_hash_without_bindings_is_unroutable(tmp_path):
    """No buckets on the ring: the message is unroutable, as the plugin returns no queue."""
    model = run(
        """
        name: empty-ring
        duration: 10s
        producers: [{name: p, to: x, routing_key: order.1, trace: trace.csv}]
        exchanges: [{name: x, type: x-consistent-hash}]
        queues: [{name: a}]
        """,
        tmp_path,
        "0 1",
    )
    assert (published(model), model.producers[0].publisher.unroutable) == ({"a": 0}, 2)


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
