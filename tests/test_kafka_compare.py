"""``qsim compare`` with a RabbitMQ and a Kafka version of one workload: variants of one file
switch the queue's type, and ``null`` removes what the other broker refuses."""

from conftest import SCENARIOS

from qsim.compare import compare, load_variants
from qsim.scenario import with_overrides
from qsim.scenario.variants import apply_override

FILE = SCENARIOS / "rabbitmq-vs-kafka.yaml"


def test_a_null_override_removes_the_key():
    """``consumers.workers.prefetch: null`` deletes the key, so its default applies."""
    data = {"consumers": [{"name": "workers", "prefetch": 1, "replicas": 4}]}
    apply_override(data, "consumers.workers.prefetch", None)
    assert data == {"consumers": [{"name": "workers", "replicas": 4}]}


def test_a_variant_turns_the_queue_into_a_kafka_topic():
    """The base is a classic queue with prefetch 1; the kafka variants read a topic of 4 and 8
    partitions, with the Java client's defaults filled in and RabbitMQ's prefetch gone."""
    base, variants = load_variants(FILE)
    assert base.queues[0].type == "classic" and base.consumers[0].prefetch == 1
    kafka = {v.name: v.scenario for v in variants if v.name.startswith("kafka")}
    assert {n: s.queues[0].partitions for n, s in kafka.items()} == {"kafka-4": 4, "kafka-8": 8}
    pool = kafka["kafka-4"].consumers[0]
    assert (pool.max_poll_records, pool.commit, pool.prefetch) == (500, "auto", 0)


def test_rabbitmq_and_kafka_run_side_by_side_on_the_same_events():
    """Common random numbers: every variant publishes the very same events; only the kafka
    summaries carry the topic's ``kafka`` block and the pool's ``group``; 4 partitions with one
    consumer each (M/M/1 at 0.8) wait longer than one queue shared by 4 (M/M/4 at 0.8)."""
    _, variants = load_variants(FILE)
    short = lambda s: with_overrides(s, duration=150.0, replications=2)  # noqa: E731
    runs = compare(variants[:2], short)["variants"]
    rabbit, kafka = runs["rabbitmq"], runs["kafka-4"]
    assert rabbit["queues"]["events"]["published"] == kafka["queues"]["events"]["published"]
    assert "kafka" not in rabbit["queues"]["events"] and "kafka" in kafka["queues"]["events"]
    assert "group" in kafka["consumers"]["workers"]
    wait = lambda s: s["queues"]["events"]["wait_s"]["mean"]  # noqa: E731
    assert wait(kafka) > wait(rabbit)
