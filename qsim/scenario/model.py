"""The whole scenario, and the checks that span its sections."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from qsim.errors import known_hint
from qsim.scenario import awslambda, kafka, retry
from qsim.scenario import lease as presets
from qsim.scenario.broker import Network, Outage
from qsim.scenario.consumer import ConsumerPool
from qsim.scenario.prices import Prices, check_prices
from qsim.scenario.producer import Producer
from qsim.scenario.queue import Queue
from qsim.scenario.resources import Resource
from qsim.scenario.scaling import PARTITIONED_QUEUE_TYPES, SQS_QUEUE_TYPES
from qsim.scenario.topology import Exchange
from qsim.spec import (
    AUTO,
    ClockTime,
    Count,
    Name,
    Number,
    PositiveDuration,
    ReplicationCount,
    Spec,
    Warmup,
    fail,
)

if TYPE_CHECKING:
    from qsim.yamlsource import YamlSource

__all__ = ["Scenario", "check_scenario"]

KeyPath = tuple[str | int, ...]


class Slo(Spec):
    """A service-level objective: ``percentile`` of latency within ``latency``; optionally a
    ``backlog`` level whose excursions are timed (how long a burst takes to drain). It covers
    the ``queues`` named, or every queue when none are (a dead-letter queue worked off by hand
    rarely shares the objective of the queue it serves)."""

    latency: PositiveDuration
    percentile: Number = 99.0
    backlog: Count | None = None
    queues: tuple[Name, ...] = ()

    @field_validator("percentile")
    @classmethod
    def _a_percentile(cls, percentile: float) -> float:
        if not 0 < percentile <= 100:
            raise fail(f"expected a percentile above 0 and at most 100, got {percentile:g}")
        return percentile

    def covers(self, queue: str) -> bool:
        """Whether the objective applies to ``queue``."""
        return not self.queues or queue in self.queues


class Scenario(Spec):
    """A whole system: producers publish to queues (directly or through exchanges), consumer
    pools work them off and may publish onward; the broker may fail."""

    name: Name
    description: str = ""
    seed: Count = 1
    duration: PositiveDuration
    warmup: Warmup = 0.0
    replications: ReplicationCount = 1
    sample_interval: PositiveDuration | None = None
    start: ClockTime | None = None  # the clock time t = 0 stands for (reports' time axes)
    producers: tuple[Producer, ...] = Field(min_length=1)
    exchanges: tuple[Exchange, ...] = ()
    queues: tuple[Queue, ...] = Field(min_length=1)
    consumers: tuple[ConsumerPool, ...] = ()
    outages: tuple[Outage, ...] = ()
    network: Network | None = None
    slo: Slo | None = None
    prices: Prices | None = None
    resources: dict[Name, Resource] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _kafka_defaults(cls, data: Any) -> Any:
        """Producers and pools of kafka topics get the Kafka client's defaults, Lambda pools
        their receive settings, pools of lease queues their type's preset; pools with ``retry``
        their retry and parking queues."""
        data = retry.expand(data)
        return presets.fill_defaults(awslambda.fill_defaults(kafka.fill_defaults(data)))

    @field_validator("warmup")
    @classmethod
    def _warmup_inside_run(cls, warmup: Warmup, info: ValidationInfo) -> Warmup:
        duration = info.data.get("duration")
        if warmup != AUTO and duration is not None and warmup >= duration:
            raise fail(f"got {warmup:g}s, which must be shorter than duration ({duration:g}s)")
        return warmup

    @property
    def auto_warmup(self) -> bool:
        """Whether the warm-up is detected per replication (``warmup: auto``)."""
        return self.warmup == AUTO

    @property
    def fixed_warmup(self) -> float:
        """The warm-up in seconds, as the engine sees it: ``auto`` must be resolved first
        (:func:`qsim.runner.replicate` does, per replication)."""
        if isinstance(self.warmup, str):
            raise ValueError("warmup: auto must be resolved to seconds before simulating")
        return self.warmup

    @property
    def timeseries_interval(self) -> float:
        """Seconds between backlog samples: ``sample_interval`` or 1/500 of the run."""
        return self.sample_interval or self.duration / 500


def unknown_name(kind: str, name: str, known: Sequence[str]) -> str:
    """``unknown queue 'x' (did you mean 'y'?); known: ...``: a reference to nothing."""
    return f"unknown {kind} {name!r}{known_hint(name, known)}"


def _queue_references(scenario: Scenario) -> Iterable[tuple[KeyPath, str]]:
    """Every key that must name a queue, with its path."""
    for i, queue in enumerate(scenario.queues):
        if queue.dead_letter is not None:
            yield ("queues", i, "dead_letter"), queue.dead_letter
    for i, pool in enumerate(scenario.consumers):
        yield ("consumers", i, "queue"), pool.queue
    for i, exchange in enumerate(scenario.exchanges):
        for j, binding in enumerate(exchange.bindings):
            yield ("exchanges", i, "bindings", j, "queue"), binding.queue
    for i, name in enumerate(scenario.slo.queues if scenario.slo else ()):
        yield ("slo", "queues", i), name


def _check_resources(scenario: Scenario, source: YamlSource) -> None:
    """Every name in a pool's ``uses`` is one of the scenario's ``resources``, once; Lambda
    pools use none."""
    known = list(scenario.resources)
    for i, pool in enumerate(scenario.consumers):
        for j, name in enumerate(pool.uses):
            path = ("consumers", i, "uses", j)
            if name not in scenario.resources:
                raise source.error(path, unknown_name("resource", name, known))
            if name in pool.uses[:j]:
                raise source.error(path, f"{name!r} is listed twice")
        if pool.uses and pool.scaling.policy == "lambda":
            message = (
                "a Lambda pool cannot use resources yet (AWS bills and times out an invocation "
                "while it waits for a connection or a token, which qsim does not model)"
            )
            raise source.error(("consumers", i, "uses"), message)


def _publish_targets(scenario: Scenario) -> Iterable[tuple[KeyPath, str, bool]]:
    """Every ``to`` (a queue or an exchange), its path and whether it has a routing key."""
    for i, producer in enumerate(scenario.producers):
        yield ("producers", i, "to"), producer.to, producer.routing_key is not None
    for i, pool in enumerate(scenario.consumers):
        for j, step in enumerate(pool.publish):
            yield ("consumers", i, "publish", j, "to"), step.to, step.routing_key is not None


def _check_unique_names(scenario: Scenario, source: YamlSource) -> None:
    for section in ("producers", "queues", "exchanges", "consumers"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(scenario, section)):
            if item.name in seen:
                raise source.error((section, i, "name"), f"duplicate name {item.name!r}")
            seen.add(item.name)
    queues = {q.name for q in scenario.queues}
    for i, exchange in enumerate(scenario.exchanges):
        if exchange.name in queues:
            message = f"{exchange.name!r} names both a queue and an exchange; `to:` needs one"
            raise source.error(("exchanges", i, "name"), message)


def _check_auto_warmup(scenario: Scenario, source: YamlSource) -> None:
    """``warmup: auto`` needs enough backlog samples for MSER-5 to judge."""
    from qsim.warmup import MIN_SAMPLES

    samples = math.floor(scenario.duration / scenario.timeseries_interval + 1e-9)
    if scenario.auto_warmup and samples < MIN_SAMPLES:
        message = (
            f"auto needs at least {MIN_SAMPLES} backlog samples to detect the warm-up, "
            f"but duration / sample_interval gives {samples}: shorten sample_interval"
        )
        raise source.error(("warmup",), message)


STREAM_READER_REFUSALS: tuple[tuple[str, Callable[[ConsumerPool], bool], str], ...] = (
    ("prefetch", lambda pool: pool.prefetch == 0,
     "a stream consumer needs prefetch above 0 (RabbitMQ refuses 0 with 406)"),
    ("ack", lambda pool: pool.ack == "auto",
     "a stream consumer needs ack: manual (RabbitMQ refuses automatic acknowledgement with 540)"),
    ("consumer_timeout", lambda pool: pool.consumer_timeout is not None,
     "streams have no consumer timeout (RabbitMQ 4.3 refuses x-consumer-timeout with 406)"),
    ("scaling", lambda pool: pool.scaling.policy != "fixed",
     "autoscaling a pool that reads a stream is not supported yet (each replica reads every "
     "message, and the scaler's metrics are a queue's)"),
    ("publish", lambda pool: bool(pool.publish),
     "a pool that reads a stream cannot publish onward yet (each replica and each re-read "
     "would publish again, and a flow must end once)"),
)  # fmt: skip
"""What a pool reading a stream may not set, in the order checked (RabbitMQ checks prefetch
before the ack mode, rabbit_stream_queue.erl ``consume/3``): key, test, message."""


def _check_stream_readers(scenario: Scenario, source: YamlSource) -> None:
    """Pools reading a stream obey its consumer rules; ``offset`` is for them only."""
    types = {queue.name: queue.type for queue in scenario.queues}
    for i, pool in enumerate(scenario.consumers):
        kind = types[pool.queue]
        if kind != "stream":
            if pool.offset is not None:
                message = f"offset needs a stream to read, and {pool.queue!r} is a {kind} queue"
                raise source.error(("consumers", i, "offset"), message)
            continue
        for key, refused, message in STREAM_READER_REFUSALS:
            if refused(pool):
                raise source.error(("consumers", i, key), message)


def _check_partitioned_scalers(scenario: Scenario, source: YamlSource) -> None:
    """``kafka_lag`` reads a Kafka topic's partition lags, which RabbitMQ queues do not have."""
    types = {queue.name: queue.type for queue in scenario.queues}
    for i, pool in enumerate(scenario.consumers):
        kind = types[pool.queue]
        if pool.scaling.policy == "kafka_lag" and kind not in PARTITIONED_QUEUE_TYPES:
            message = (
                f"policy kafka_lag reads a Kafka topic's partition lags, "
                f"and {pool.queue!r} is a {kind} queue"
            )
            raise source.error(("consumers", i, "scaling", "policy"), message)
        if pool.scaling.policy == "aws_sqs_queue" and kind not in SQS_QUEUE_TYPES:
            message = (
                f"policy aws_sqs_queue reads an SQS queue's message counts, "
                f"and {pool.queue!r} is a {kind} queue"
            )
            raise source.error(("consumers", i, "scaling", "policy"), message)


KAFKA_READER_REFUSALS: tuple[tuple[str, Callable[[ConsumerPool], bool], str], ...] = (
    ("prefetch", lambda pool: pool.prefetch != 0,
     "prefetch is a RabbitMQ setting: a Kafka consumer polls up to max_poll_records"),
    ("ack", lambda pool: pool.ack == "auto",
     "ack is a RabbitMQ setting: a Kafka consumer commits offsets (commit: auto|batch|record)"),
    ("consumer_timeout", lambda pool: pool.consumer_timeout is not None,
     "consumer_timeout is a RabbitMQ setting: a Kafka consumer has max_poll_interval"),
    ("offset", lambda pool: pool.offset is not None,
     "offset is a stream setting: a Kafka group starts at its committed offsets, else at "
     "auto_offset_reset"),
    ("concurrency", lambda pool: pool.concurrency != 1,
     "a Kafka consumer processes its records one at a time in partition order (concurrency "
     "with per-key ordering is not modelled)"),
    ("failures", lambda pool: not pool.failures.requeue,
     "a failed Kafka record is retried in place: say retries: N (and dead_letter_topic) "
     "instead of requeue: false"),
    ("publish", lambda pool: bool(pool.publish),
     "a pool that reads a kafka topic cannot publish onward yet (a duplicate processing would "
     "publish again, and a flow must end once)"),
)  # fmt: skip
"""What a pool reading a kafka topic may not set: key, test, message."""


def _check_kafka_producers(scenario: Scenario, source: YamlSource) -> None:
    types = {queue.name: queue.type for queue in scenario.queues}
    for i, producer in enumerate(scenario.producers):
        kind = types.get(producer.to)
        if kind == "kafka":
            continue
        for key in kafka.PRODUCER_KEYS:
            if key == "key" and kind == "sqs-fifo":
                continue  # a FIFO queue's MessageGroupId
            if getattr(producer, key) is not None:
                message = f"{key} needs `to` to be a kafka topic ({producer.to!r} is not one)"
                if key == "key":
                    message = (
                        f"key needs `to` to be a kafka topic or an sqs-fifo queue "
                        f"({producer.to!r} is neither)"
                    )
                raise source.error(("producers", i, key), message)


def _check_kafka_bindings(scenario: Scenario, source: YamlSource) -> None:
    topics = {queue.name for queue in scenario.queues if queue.type == "kafka"}
    for i, exchange in enumerate(scenario.exchanges):
        for j, binding in enumerate(exchange.bindings):
            if binding.queue in topics:
                message = f"{binding.queue!r} is a kafka topic: producers write to it with `to`"
                raise source.error(("exchanges", i, "bindings", j, "queue"), message)


def _check_kafka_readers(scenario: Scenario, source: YamlSource) -> None:
    """Pools reading a kafka topic obey its consumer rules; Kafka keys are for them only."""
    types = {queue.name: queue.type for queue in scenario.queues}
    groups: dict[tuple[str, str], str] = {}
    for i, pool in enumerate(scenario.consumers):
        kind = types[pool.queue]
        if kind != "kafka":
            for key in kafka.POOL_KEYS:
                if getattr(pool, key) is not None:
                    message = (
                        f"{key} needs a kafka topic to read, and {pool.queue!r} is a {kind} queue"
                    )
                    raise source.error(("consumers", i, key), message)
            continue
        for key, refused, message in KAFKA_READER_REFUSALS:
            if refused(pool):
                raise source.error(("consumers", i, key), message)
        group = (pool.queue, pool.group or pool.name)
        if group in groups:
            message = f"pools {groups[group]!r} and {pool.name!r} are one group: give each its own"
            raise source.error(("consumers", i, "group"), message)
        groups[group] = pool.name
        target = pool.dead_letter_topic
        if target is not None and (types.get(target) != "kafka" or target == pool.queue):
            message = f"dead_letter_topic must name another kafka topic, got {target!r}"
            raise source.error(("consumers", i, "dead_letter_topic"), message)


LEASE_READER_REFUSALS: tuple[tuple[str, Callable[[ConsumerPool], bool], str], ...] = (
    ("prefetch", lambda pool: pool.prefetch != 0,
     "prefetch is a RabbitMQ setting: a replica of a lease queue receives up to batch messages"),
    ("ack", lambda pool: pool.ack == "auto",
     "ack is a RabbitMQ setting: a lease-queue consumer deletes each message it processed"),
    ("consumer_timeout", lambda pool: pool.consumer_timeout is not None,
     "consumer_timeout is a RabbitMQ setting: a lease queue has its lease"),
    ("offset", lambda pool: pool.offset is not None, "offset is a stream setting"),
    ("failures", lambda pool: not pool.failures.requeue,
     "a failed message on a lease queue returns (by lease expiry, or at once with "
     "partial_batch) until max_receives moves it to dead_letter: requeue: false has no meaning"),
    ("publish", lambda pool: bool(pool.publish),
     "a pool that reads a lease queue cannot publish onward yet (a duplicate processing would "
     "publish again, and a flow must end once)"),
)  # fmt: skip
"""What a pool reading a lease queue may not set: key, test, message."""


def _check_lease_readers(scenario: Scenario, source: YamlSource) -> None:
    """Pools reading a lease queue poll within their provider's limits; the lease keys are for
    them only."""
    queues = {queue.name: queue for queue in scenario.queues}
    for i, pool in enumerate(scenario.consumers):
        queue = queues[pool.queue]
        if not queue.is_lease:
            for key in presets.POOL_KEYS:
                if getattr(pool, key) is not None:
                    types = ", ".join(presets.LEASE_TYPES)
                    message = f"{key} needs a lease queue ({types}); {pool.queue!r} is {queue.type}"
                    raise source.error(("consumers", i, key), message)
            continue
        for key, refused, message in LEASE_READER_REFUSALS:
            if refused(pool):
                raise source.error(("consumers", i, key), message)
        _check_lease_pool(scenario, source, i, pool, queue)


def _check_lease_pool(
    scenario: Scenario, source: YamlSource, i: int, pool: ConsumerPool, queue: Queue
) -> None:
    kind = queue.type
    preset = presets.PRESETS[kind]
    for key in ("batch", "wait"):
        value = getattr(pool, key)
        message = None if value is None else presets.out_of_range(kind, key, value)
        if message is not None:
            raise source.error(("consumers", i, key), message)
    if pool.wait == 0 and pool.empty_pause == 0:
        message = "short polling (wait 0) needs an empty_pause above zero, or it never stops"
        raise source.error(("consumers", i, "empty_pause"), message)
    if pool.heartbeat is not None and queue.lease is not None and pool.heartbeat >= queue.lease:
        message = (
            f"heartbeat ({pool.heartbeat:g}s) must be shorter than the lease ({queue.lease:g}s), "
            "or the lease lapses before it is extended"
        )
        raise source.error(("consumers", i, "heartbeat"), message)
    if pool.partial_batch and not preset.partial_batch:
        raise source.error(("consumers", i, "partial_batch"), f"{kind} has no partial batches")


def _check_resend(scenario: Scenario, source: YamlSource) -> None:
    """A producer's ``resend`` comes with ``resend_after`` and goes to an SQS queue."""
    queues = {queue.name: queue for queue in scenario.queues}
    for i, producer in enumerate(scenario.producers):
        target = queues.get(producer.to)
        if producer.resend_after is not None and producer.resend is None:
            message = "resend_after needs resend (the probability that a message is resent)"
            raise source.error(("producers", i, "resend_after"), message)
        if producer.resend is None:
            continue
        if producer.resend_after is None:
            message = "resend needs resend_after (how long after its send a message is resent)"
            raise source.error(("producers", i, "resend"), message)
        if target is None or target.type not in presets.RESEND_TYPES:
            kind = "an exchange" if target is None else f"a {target.type} queue"
            if target is not None and target.type == "kafka":
                kind = "a kafka topic"
            message = (
                "resend needs an sqs or sqs-fifo queue (the types whose deduplication is "
                f"modelled); "
                f"{producer.to!r} is {kind}"
            )
            raise source.error(("producers", i, "resend"), message)


def _check_lease_topology(scenario: Scenario, source: YamlSource) -> None:
    """A FIFO queue's messages carry a group id (the producer's ``key``); dead-letter queues
    are of the source's type (an SQS FIFO queue's must be FIFO too)."""
    queues = {queue.name: queue for queue in scenario.queues}
    for i, producer in enumerate(scenario.producers):
        target = queues.get(producer.to)
        if target is not None and target.type == "sqs-fifo" and producer.key is None:
            message = (
                f"{producer.to!r} is an sqs-fifo queue: give key (its MessageGroupId; "
                "a FIFO queue refuses a message without one)"
            )
            raise source.error(("producers", i, "to"), message)
    for i, producer in enumerate(scenario.producers):
        target = queues.get(producer.to)
        for key in ("ttl", "priority"):
            if target is not None and target.is_lease and getattr(producer, key) is not None:
                message = (
                    f"{key} is a RabbitMQ message property; {producer.to!r} is a {target.type} "
                    "queue (its retention and delay apply to every message)"
                )
                raise source.error(("producers", i, key), message)
    for i, pool in enumerate(scenario.consumers):
        for j, step in enumerate(pool.publish):
            target = queues.get(step.to)
            if target is not None and target.type == "sqs-fifo":
                message = f"{step.to!r} is an sqs-fifo queue: a publish step gives no group id"
                raise source.error(("consumers", i, "publish", j, "to"), message)
    for i, exchange in enumerate(scenario.exchanges):
        for j, binding in enumerate(exchange.bindings):
            target = queues.get(binding.queue)
            if target is not None and target.is_lease:
                message = (
                    f"{binding.queue!r} is a {target.type} queue: producers send to it with `to`"
                )
                raise source.error(("exchanges", i, "bindings", j, "queue"), message)
    for i, queue in enumerate(scenario.queues):
        target = queues.get(queue.dead_letter) if queue.dead_letter else None
        if target is None or (not queue.is_lease and not target.is_lease):
            continue
        if target.type != queue.type or target.name == queue.name:
            message = (
                f"the dead_letter of a {queue.type} queue must be another {queue.type} queue, "
                f"and {target.name!r} is {'itself' if target.name == queue.name else target.type}"
            )
            raise source.error(("queues", i, "dead_letter"), message)


def check_scenario(scenario: Scenario, source: YamlSource) -> None:
    """Cross-section checks: unique names, references to queues and exchanges that exist,
    enough samples for ``warmup: auto``, what a pool reading a stream may set, scalers
    that need a partitioned topic, and prices that apply to something."""
    _check_unique_names(scenario, source)
    _check_auto_warmup(scenario, source)
    check_prices(scenario, source)
    queues = [q.name for q in scenario.queues]
    for path, name in _queue_references(scenario):
        if name not in queues:
            raise source.error(path, unknown_name("queue", name, queues))
    exchanges = [e.name for e in scenario.exchanges]
    for path, name, keyed in _publish_targets(scenario):
        if name not in queues and name not in exchanges:
            raise source.error(path, unknown_name("queue or exchange", name, queues + exchanges))
        if keyed and name in queues:
            message = "routing_key needs `to` to be an exchange (a queue is reached by its name)"
            raise source.error((*path[:-1], "routing_key"), message)
    _check_resources(scenario, source)
    retry.check_retries(scenario, source)
    _check_stream_readers(scenario, source)
    _check_kafka_producers(scenario, source)
    _check_kafka_bindings(scenario, source)
    _check_kafka_readers(scenario, source)
    _check_partitioned_scalers(scenario, source)
    _check_lease_topology(scenario, source)
    _check_resend(scenario, source)
    _check_lease_readers(scenario, source)
    awslambda.check_lambda_pools(scenario, source)
