"""Kafka's keys in a scenario: the defaults of a topic, of a producer writing to one and of a
pool reading one, each the Apache Kafka 4.x broker's or Java client's documented default, and
what a Kafka topic or its readers refuse (``docs/semantics.md``, "Kafka").

The defaults are filled into the scenario's data before validation (:func:`fill_defaults`), for
producers and pools of a ``type: kafka`` topic only, so the resolved scenario shows the values
simulated and a RabbitMQ pool gains no Kafka keys.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = [
    "ASSIGNOR_NAMES",
    "POOL_DEFAULTS",
    "POOL_KEYS",
    "PRODUCER_DEFAULTS",
    "PRODUCER_KEYS",
    "RETENTION_MS",
    "SEGMENT_BYTES",
    "Assignor",
    "CommitMode",
    "OffsetReset",
    "fill_defaults",
]

Assignor = Literal["range", "roundrobin", "cooperative-sticky"]
ASSIGNOR_NAMES: tuple[str, ...] = get_args(Assignor)
"""Partition assignors by name; the engine implements each (``qsim.engine.kafka.assignors``)."""
CommitMode = Literal["auto", "batch", "record"]
OffsetReset = Literal["latest", "earliest"]

RETENTION_MS = 604_800.0
"""A topic's ``retention.ms`` default, in seconds: 604800000 ms, 7 days (log.retention.hours
168; kafka.apache.org/documentation/#topicconfigs_retention.ms). ``retention.bytes`` defaults
to -1, no limit: ``max_bytes`` unset."""
SEGMENT_BYTES = 1_073_741_824.0
"""A topic's ``segment.bytes`` default: 1 GiB (#topicconfigs_segment.bytes)."""

PRODUCER_DEFAULTS: dict[str, Any] = {
    "linger": "5ms",  # linger.ms: 5 since Kafka 4.0 (KIP-1030; 0 before)
    "batch_size": 16_384,  # batch.size, bytes
}
"""A producer's batching defaults (kafka.apache.org/documentation/#producerconfigs)."""
PRODUCER_KEYS = ("key", *PRODUCER_DEFAULTS)

POOL_DEFAULTS: dict[str, Any] = {
    "assignor": "range",  # partition.assignment.strategy: [RangeAssignor, CooperativeSticky...]
    "max_poll_records": 500,  # max.poll.records
    "commit": "auto",  # enable.auto.commit: true
    "auto_commit_interval": "5s",  # auto.commit.interval.ms: 5000
    "session_timeout": "45s",  # session.timeout.ms: 45000 since Kafka 3.0 (KIP-735)
    "heartbeat_interval": "3s",  # heartbeat.interval.ms: 3000
    "max_poll_interval": "300s",  # max.poll.interval.ms: 300000
    "auto_offset_reset": "latest",  # auto.offset.reset: latest
    "rebalance_time": "1s",  # qsim's: the JoinGroup/SyncGroup round, not a client setting
}
"""A Kafka consumer's defaults (kafka.apache.org/documentation/#consumerconfigs). ``group``
defaults to the pool's name; ``retries`` (none: retry forever) and ``dead_letter_topic`` to
none."""
POOL_KEYS = ("group", *POOL_DEFAULTS, "retries", "dead_letter_topic")


def _kafka_topics(data: dict[str, Any]) -> set[str]:
    queues = data.get("queues")
    if not isinstance(queues, list | tuple):
        return set()
    return {
        q["name"] for q in queues
        if isinstance(q, dict) and q.get("type") == "kafka" and isinstance(q.get("name"), str)
    }  # fmt: skip


def _filled(items: Any, target: str, topics: set[str], defaults: dict[str, Any]) -> Any:
    if not isinstance(items, list | tuple):
        return items
    return [
        {**defaults, **item} if isinstance(item, dict) and item.get(target) in topics else item
        for item in items
    ]


def fill_defaults(data: Any) -> Any:
    """The scenario's raw data with the Kafka defaults filled into every producer writing to,
    and every pool reading, a ``type: kafka`` topic (keys the file sets are kept)."""
    if not isinstance(data, dict):
        return data
    topics = _kafka_topics(data)
    if not topics:
        return data
    data = dict(data)
    if "producers" in data:
        data["producers"] = _filled(data["producers"], "to", topics, PRODUCER_DEFAULTS)
    if "consumers" in data:
        pools = _filled(data["consumers"], "queue", topics, POOL_DEFAULTS)
        data["consumers"] = [
            {"group": pool.get("name"), **pool}
            if isinstance(pool, dict) and pool.get("queue") in topics else pool
            for pool in pools
        ]  # fmt: skip
    return data
