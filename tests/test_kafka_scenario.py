"""Kafka keys in a scenario: the Java client's defaults filled in, and every bad use one located
line, ``FILE:LINE: key.path: message`` (as tests/test_scenario_errors.py checks for the rest).
Line numbers count from the first line of :data:`GOOD`."""

from pathlib import Path

import pytest
from conftest import scenario_error, write_scenario

from qsim.engine.kafka.assignors import ASSIGNORS
from qsim.scenario import load_scenario
from qsim.scenario.kafka import ASSIGNOR_NAMES

GOOD = """\
name: clicks
duration: 10s
producers:
  - name: web
    to: clicks
    rate: 5/s
    key: {uniform: 100}
queues:
  - name: clicks
    type: kafka
    partitions: 3
  - name: orders
consumers:
  - name: counter
    queue: clicks
    service_time: 10ms
  - name: shipper
    queue: orders
    service_time: 10ms
"""


write = write_scenario


def error_in(tmp_path: Path, old: str, new: str) -> str:
    """The one-line error of :data:`GOOD` with ``old`` replaced by ``new``."""
    return scenario_error(tmp_path, GOOD, old, new)


def test_a_kafka_pool_and_producer_get_the_java_clients_defaults(tmp_path):
    """Unset keys take the documented defaults; the RabbitMQ pool gains no Kafka key."""
    scenario = load_scenario(write(tmp_path, GOOD))
    counter, shipper = scenario.consumers
    topic = scenario.queues[0]
    assert (counter.group, counter.assignor, counter.max_poll_records, counter.commit) == (
        "counter", "range", 500, "auto",
    )  # fmt: skip
    assert (counter.auto_commit_interval, counter.session_timeout) == (5.0, 45.0)
    assert (counter.heartbeat_interval, counter.max_poll_interval) == (3.0, 300.0)
    assert (topic.max_age, topic.max_bytes, topic.segment_bytes) == (604_800.0, None, 2.0**30)
    assert (scenario.producers[0].linger, scenario.producers[0].batch_size) == (0.005, 16384)
    assert (shipper.group, shipper.max_poll_records, shipper.commit) == (None, None, None)


def test_the_scenario_and_the_engine_know_the_same_assignors():
    assert set(ASSIGNOR_NAMES) == set(ASSIGNORS)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("partitions: 3", "partitions: 0",
         "scenario.yaml:11: queues[0].partitions: expected a whole number >= 1, got 0"),
        ("    partitions: 3\n", "",
         "scenario.yaml:9: queues[0].partitions: a kafka topic needs partitions (1 or more)"),
        ("key: {uniform: 100}", "key: {uniform: 0}",
         "scenario.yaml:7: producers[0].key.uniform: expected a whole number from 1 to "
         "10000000, got 0"),
        ("queue: clicks\n", "queue: clicks\n    assignor: cooperative-stiky\n",
         "scenario.yaml:16: consumers[0].assignor: unknown assignor 'cooperative-stiky' "
         "(did you mean 'cooperative-sticky'?); known: range, roundrobin, cooperative-sticky"),
        ("queue: orders\n", "queue: orders\n    group: shippers\n",
         "scenario.yaml:19: consumers[1].group: group needs a kafka topic to read, and "
         "'orders' is a classic queue"),
        ("partitions: 3\n", "partitions: 3\n    message_ttl: 1s\n",
         "scenario.yaml:9: queues[0]: message_ttl is not a kafka topic setting (Kafka has no "
         "TTL, dead-letter exchange, priorities, length limit, delivery limit or single active "
         "consumer)"),
        ("partitions: 3\n", "partitions: 3\n    single_active_consumer: true\n",
         "scenario.yaml:9: queues[0]: single_active_consumer is not a kafka topic setting"),
        ("  - name: orders\n", "  - name: orders\n    partitions: 2\n",
         "scenario.yaml:12: queues[1]: partitions needs type: kafka (a RabbitMQ queue has no "
         "partitions)"),
        ("queue: clicks\n", "queue: clicks\n    prefetch: 10\n",
         "scenario.yaml:16: consumers[0].prefetch: prefetch is a RabbitMQ setting: a Kafka "
         "consumer polls up to max_poll_records"),
        ("queue: clicks\n", "queue: clicks\n    ack: auto\n",
         "scenario.yaml:16: consumers[0].ack: ack is a RabbitMQ setting: a Kafka consumer "
         "commits offsets (commit: auto|batch|record)"),
        ("queue: clicks\n", "queue: clicks\n    concurrency: 4\n",
         "scenario.yaml:16: consumers[0].concurrency: a Kafka consumer processes its records "
         "one at a time in partition order (concurrency with per-key ordering is not "
         "modelled)"),
        ("to: clicks\n", "to: orders\n",
         "scenario.yaml:7: producers[0].key: key needs `to` to be a kafka topic or an "
         "sqs-fifo queue ('orders' is neither)"),
        ("queue: clicks\n", "queue: clicks\n    dead_letter_topic: orders\n",
         "scenario.yaml:16: consumers[0].dead_letter_topic: dead_letter_topic must name another "
         "kafka topic, got 'orders'"),
    ],
    ids=[
        "partitions-0", "partitions-missing", "keys-0", "unknown-assignor", "group-on-rabbitmq",
        "ttl", "sac", "partitions-on-rabbitmq", "prefetch", "ack-auto", "concurrency",
        "key-to-a-queue", "dead-letter-to-a-queue",
    ],
)  # fmt: skip
def test_a_bad_kafka_key_is_one_located_line(tmp_path, old, new, expected):
    assert error_in(tmp_path, old, new).startswith(expected)
