"""Queues: their type, limits, overflow, TTL, dead-lettering, priorities, durability.

RabbitMQ has three queue types (qsim follows RabbitMQ 4.3; ``docs/semantics.md`` says where
4.0-4.2 differ). Each refuses what the real broker refuses at declaration:

- ``classic`` (the default): no delivery limit (``x-delivery-limit`` is a 406 on a classic queue,
  classic-queues.md#features).
- ``quorum``: a delivery limit of 20 by default since 4.0, negative for none
  (quorum-queues/index.md#poison-message-handling); always durable; no ``x-max-priority``
  (priorities are built in: 32 levels in 4.3); ``reject-publish-dlx`` is not a quorum overflow
  mode (RabbitMQ accepts it and silently drops the head: qsim refuses it instead); 4.3's
  ``delayed_retry`` (returned messages wait before they are served again) is theirs alone.
- ``stream``: an append-only log read at offsets (streams.md); no TTL, dead-lettering, priorities,
  length limit in messages, overflow, delivery limit or single active consumer; always durable.

And one Kafka type (Apache Kafka 4.x, :mod:`qsim.scenario.kafka`):

- ``kafka``: a topic of ``partitions`` logs (required, at least 1) read by consumer groups; the
  same retention keys as a stream (``max_age`` is retention.ms, 7 days by default; ``max_bytes``
  retention.bytes per partition, none by default; ``segment_bytes`` segment.bytes, 1 GiB), and
  none of RabbitMQ's queue arguments.

And five lease types, one pull-with-lease model (:mod:`qsim.scenario.lease` holds each type's
defaults and limits as data):

- ``sqs``, ``sqs-fifo``, ``pubsub``, ``servicebus``, ``jetstream``: ``lease``, ``max_receives``
  (none for no limit), ``dead_letter`` (a queue of the same type), ``retention``, ``delay``,
  ``max_in_flight``, each within its provider's range; none of RabbitMQ's queue arguments.

A queue that gives ``delivery_limit`` without a ``type`` is a quorum queue (only quorum queues
have one; scenarios written before queue types meant that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from qsim.scenario import kafka
from qsim.scenario import lease as presets
from qsim.spec import (
    Count,
    Duration,
    Name,
    PositiveCount,
    PositiveDuration,
    PriorityLevel,
    Size,
    Spec,
    fail,
    whole,
)

if TYPE_CHECKING:
    DeliveryLimit = int
    MaxReceives = int | None
else:
    DeliveryLimit = whole(-1)
    """A delivery limit: 0 or more counted returns, or -1 for none."""


def _max_receives(value: Any) -> int | None:
    """A lease queue's receive limit: a whole number from 1, or ``none`` / -1 for none."""
    if value is None or value == "none" or (value == -1 and not isinstance(value, bool)):
        return None
    whole_number = isinstance(value, int) and not isinstance(value, bool)
    if not whole_number and isinstance(value, float) and value.is_integer():
        value, whole_number = int(value), True
    if not whole_number or value < 1:
        raise fail(f"expected a whole number >= 1, or none (or -1) for no limit, got {value!r}")
    return int(value)


if not TYPE_CHECKING:
    MaxReceives = Annotated[
        int | None,
        BeforeValidator(_max_receives),
        WithJsonSchema(
            {"anyOf": [{"type": "integer", "minimum": -1}, {"enum": ["none"]}, {"type": "null"}]}
        ),
    ]

__all__ = ["OVERFLOW_MODES", "QUEUE_TYPES", "DelayedRetry", "Overflow", "Queue", "QueueType"]

Overflow = Literal["drop-head", "reject-publish", "reject-publish-dlx"]
OVERFLOW_MODES: tuple[str, ...] = get_args(Overflow)
"""Overflow modes by name; the engine implements each (``qsim.engine.queue.OVERFLOW``)."""

QueueType = Literal[
    "classic", "quorum", "stream", "kafka", "sqs", "sqs-fifo", "pubsub", "servicebus", "jetstream"
]
QUEUE_TYPES: tuple[str, ...] = get_args(QueueType)
"""Queue types by name; the engine builds each (``qsim.engine.kinds.QUEUE_TYPES``)."""

QUORUM_DELIVERY_LIMIT = 20
"""The quorum queues' default delivery limit since RabbitMQ 4.0 (rabbit_quorum_queue.erl
``DEFAULT_DELIVERY_LIMIT``)."""

SEGMENT_BYTES = 500_000_000.0
"""A stream segment's default size (osiris ``DEFAULT_MAX_SEGMENT_SIZE_B``): retention removes
whole segments."""

_NOT_ON_STREAMS = (
    "message_ttl", "dead_letter", "max_priority", "max_length", "overflow", "delivery_limit",
    "single_active_consumer", "delayed_retry",
)  # fmt: skip
_STREAM_ONLY = ("max_age", "max_bytes", "segment_bytes")
_NOT_ON_KAFKA = _NOT_ON_STREAMS
_NOT_ON_LEASE = (
    "message_ttl", "max_priority", "max_length", "overflow", "delivery_limit", "delayed_retry",
    "single_active_consumer", "max_age", "max_bytes", "segment_bytes", "partitions",
)  # fmt: skip
_LEASE_ALTERNATIVE = {
    "message_ttl": "retention", "delivery_limit": "max_receives", "max_age": "retention",
}  # fmt: skip


class DelayedRetry(Spec):
    """RabbitMQ 4.3's delayed retry of a quorum queue (``x-delayed-retry-type``, ``-min``,
    ``-max``; off by default): a returned message of ``type`` (``failed``: the returns that count
    toward the delivery limit, a reject or a crash; ``returned``: those that do not, a nack;
    ``all``) waits ``min x max(1, delivery count)``, capped at ``max`` (``min`` when not given),
    then goes to the queue's returns, served first. Its delivery count grows before it waits
    (rabbitmq-queue-types-facts.md A7: rabbit_fifo.erl ``should_delay``,
    ``calculate_ready_at``)."""

    type: Literal["all", "failed", "returned"]
    min: PositiveDuration
    max: PositiveDuration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DelayedRetry:
        if self.max is not None and self.max < self.min:
            raise fail(f"max ({self.max:g}s) must be at least min ({self.min:g}s)", at=("max",))
        return self

    def applies(self, counted: bool) -> bool:
        """Whether a return (``counted`` toward the delivery limit or not) is delayed."""
        return self.type == "all" or (self.type == "failed") == counted

    def delay(self, delivery_count: int) -> float:
        """Seconds a returned message with this delivery count waits."""
        cap = self.min if self.max is None else self.max  # max defaults to min: a constant wait
        return min(self.min * max(1, delivery_count), cap)


class Queue(Spec):
    """A RabbitMQ queue of one ``type``. A ``durable: false`` classic queue loses its messages
    in a broker outage. ``single_active_consumer``: one consumer receives at a time."""

    name: Name
    type: QueueType = "classic"
    max_length: Count | None = None
    overflow: Overflow = "drop-head"
    message_ttl: Duration | None = None
    dead_letter: Name | None = None
    max_priority: PriorityLevel | None = None
    delivery_limit: DeliveryLimit | None = None
    durable: bool = True
    single_active_consumer: bool = False
    delayed_retry: DelayedRetry | None = None  # a quorum queue's (RabbitMQ 4.3)
    max_age: Duration | None = None
    max_bytes: Size | None = None
    segment_bytes: Size | None = None  # a stream's: SEGMENT_BYTES when not given
    partitions: PositiveCount | None = None  # a kafka topic's (required there)
    # a lease queue's (qsim.scenario.lease fills each type's preset; refused elsewhere)
    lease: Duration | None = None
    max_receives: MaxReceives = None
    retention: Duration | None = None
    delay: Duration | None = None
    max_in_flight: PositiveCount | None = None

    @model_validator(mode="before")
    @classmethod
    def _resolve_type(cls, data: Any) -> Any:
        """No ``type`` but a ``delivery_limit``: a quorum queue; a quorum queue's limit defaults
        to 20. Resolved here so the resolved scenario says what was simulated."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "type" not in data:
            data["type"] = "quorum" if data.get("delivery_limit") is not None else "classic"
        if data["type"] == "quorum" and data.get("delivery_limit") is None:
            data["delivery_limit"] = QUORUM_DELIVERY_LIMIT
        if data["type"] == "kafka":
            data.setdefault("max_age", kafka.RETENTION_MS)
            data.setdefault("segment_bytes", kafka.SEGMENT_BYTES)
        if isinstance(data["type"], str) and data["type"] in presets.PRESETS:
            data = {**presets.PRESETS[data["type"]].queue, **data}
        return data

    @model_validator(mode="after")
    def _what_the_type_allows(self) -> Queue:
        if self.type in presets.PRESETS:
            self._lease()
            return self
        given = [key for key in presets.QUEUE_KEYS if getattr(self, key) is not None]
        if given:
            types = ", ".join(presets.LEASE_TYPES)
            raise fail(f"{given[0]} needs a lease queue type ({types})", at=(given[0],))
        refusal = {
            "classic": self._classic, "quorum": self._quorum, "stream": self._stream,
            "kafka": self._kafka,
        }  # fmt: skip
        message = refusal[self.type]()
        if message is not None:
            raise fail(message)
        return self

    @property
    def limits_deliveries(self) -> bool:
        """Whether returned messages count toward a delivery limit (a non-negative one)."""
        return self.delivery_limit is not None and self.delivery_limit >= 0

    def _given(self, keys: tuple[str, ...]) -> list[str]:
        """The ``keys`` set to something other than their default."""
        fields = type(self).model_fields
        return [key for key in keys if getattr(self, key) != fields[key].default]

    def _classic(self) -> str | None:
        if self.delivery_limit is not None:
            return "delivery_limit needs type: quorum (classic queues have no delivery limit)"
        if self.delayed_retry is not None:
            return "delayed_retry needs type: quorum (RabbitMQ 4.3's delayed retry is theirs)"
        return self._stream_keys()

    def _quorum(self) -> str | None:
        if self.max_priority is not None:
            return (
                "max_priority is not a quorum queue argument (RabbitMQ refuses x-max-priority "
                "with 406); quorum queues have 32 priority levels built in"
            )
        if self.overflow == "reject-publish-dlx":
            return (
                "overflow reject-publish-dlx is not a quorum queue mode (RabbitMQ drops the head)"
            )
        if not self.durable:
            return "quorum queues are always durable (durable: false is refused with 406)"
        return self._stream_keys()

    def _stream(self) -> str | None:
        refused = self._given(_NOT_ON_STREAMS)
        if refused:
            return f"{refused[0]} is not a stream argument (streams.md: feature matrix)"
        if not self.durable:
            return "streams are always durable (durable: false is refused with 406)"
        if self.partitions is not None:
            return "partitions needs type: kafka (a stream is one log)"
        return None

    def _kafka(self) -> str | None:
        if self.partitions is None:
            raise fail("a kafka topic needs partitions (1 or more)", at=("partitions",))
        refused = self._given(_NOT_ON_KAFKA)
        if refused:
            return (
                f"{refused[0]} is not a kafka topic setting (Kafka has no TTL, dead-letter "
                "exchange, priorities, length limit, delivery limit or single active consumer)"
            )
        if not self.durable:
            return "kafka topics are always durable (their records are written to disk)"
        return None

    @property
    def is_lease(self) -> bool:
        """Whether it is a queue of the pull-with-lease model (SQS, Pub/Sub, ...)."""
        return self.type in presets.PRESETS

    def _lease(self) -> None:
        """A lease queue takes its own keys within its provider's ranges, none of RabbitMQ's."""
        kind = self.type
        for key in _NOT_ON_LEASE:
            if getattr(self, key) != type(self).model_fields[key].default:
                instead = _LEASE_ALTERNATIVE.get(key)
                hint = f" (its lease-queue key is {instead})" if instead else ""
                raise fail(f"{key} is not a {kind} setting{hint}", at=(key,))
        if not self.durable:
            raise fail(f"{kind} queues are always durable (a managed service keeps them)")
        preset = presets.PRESETS[kind]
        for key in presets.QUEUE_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            message = presets.out_of_range(kind, key, value)
            if message is not None:
                raise fail(message, at=(key,))
        if self.max_receives is None and not preset.unlimited_receives:
            raise fail(
                f"{kind} always limits receives: give max_receives >= 1", at=("max_receives",)
            )
        if (
            self.max_receives is not None
            and preset.receives_need_dead_letter
            and not self.dead_letter
        ):
            raise fail(
                f"max_receives on {kind} needs a dead_letter queue (the redrive policy names one)",
                at=("max_receives",),
            )

    def _stream_keys(self) -> str | None:
        if self.partitions is not None:
            return "partitions needs type: kafka (a RabbitMQ queue has no partitions)"
        given = self._given(_STREAM_ONLY)
        return f"{given[0]} needs type: stream or kafka (retention of a log)" if given else None
