"""Consumer scaling: a fixed replica count, or an autoscaler with the control loops of KEDA's
RabbitMQ scaler feeding a Kubernetes HPA (broker-semantics.md, "Autoscalers").

Defaults are the real systems': KEDA polls every 30 s (``interval``, its ``pollingInterval``) to
activate from zero when the metric is above ``activation`` and to scale to zero only after a
300 s ``cooldown``, between ``min`` 0 and ``max`` 100; the HPA re-reads the metric every 15 s
(``sync_period``), ignores changes within 10% (``tolerance``), stabilises scale-downs over 300 s
and scale-ups over 0 s, and allows per 15 s at most +100% or +4 pods up (the larger) and -100%
down. With no ``target``, ``queue_length`` uses KEDA's default of 20 messages per replica.

``kafka_lag`` is KEDA's Kafka scaler on a Kafka topic: the group's total lag over ``target``
(its ``lagThreshold``, default 10) per replica, capped at the partition count
(:mod:`qsim.engine.kafka.keda`); its other keys are KEDA's trigger metadata in snake_case.

:data:`POLICIES` is the one list of policy names: the engine registers an implementation for
each (``qsim.engine.autoscaler``), and a test checks that the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from qsim.errors import known_hint
from qsim.scenario.fields import TimeDistribution
from qsim.spec import (
    Count,
    Duration,
    Number,
    PositiveCount,
    PositiveDuration,
    Probability,
    Spec,
    fail,
)

__all__ = ["POLICIES", "Behavior", "RateLimit", "Scaling", "ScalingRules", "ScheduledReplicas"]

POLICIES = (
    "fixed",
    "queue_length",
    "message_rate",
    "utilization",
    "lag",
    "kafka_lag",
    "aws_sqs_queue",
    "schedule",
    "custom",
)
"""Scaling policies by name: the only place they are written (the engine implements each)."""

METRIC_POLICIES = frozenset(
    {"queue_length", "message_rate", "utilization", "lag", "kafka_lag", "aws_sqs_queue"}
)
"""Policies driven by a metric and a ``target`` through KEDA's and the HPA's loops; the others
set the replica count themselves every ``interval``."""

RABBITMQ_POLICIES = ("queue_length", "message_rate")
"""Policies read from RabbitMQ as KEDA's scaler does, so ``protocol`` and the unacked keys apply."""

DEFAULT_QUEUE_LENGTH = 20.0
"""KEDA's RabbitMQ scaler with no trigger value: QueueLength, 20 messages per replica
(rabbitmq_scaler.go, ``defaultRabbitMQQueueLength``)."""

DEFAULT_LAG_THRESHOLD = 10.0
"""KEDA's Kafka scaler with no ``lagThreshold``: 10 records of lag per replica
(kafka_scaler.go, ``keda:"name=lagThreshold,...,default=10"``)."""

DEFAULT_SQS_QUEUE_LENGTH = 5.0
"""KEDA's aws-sqs-queue scaler with no ``queueLength``: 5 messages per replica
(aws_sqs_queue_scaler.go, ``keda:"name=queueLength,...,default=5"``)."""

SQS_QUEUE_TYPES = frozenset({"sqs", "sqs-fifo"})
"""Queue types KEDA's aws-sqs-queue scaler reads (``aws_sqs_queue`` reads only these)."""

PARTITIONED_QUEUE_TYPES = frozenset({"kafka"})
"""Queue types whose metrics source has partitions (``PartitionedMetrics``): ``kafka_lag``
reads only these."""

KAFKA_LAG_KEYS = {
    "allow_idle_consumers": False,
    "limit_to_partitions_with_lag": False,
    "ensure_even_distribution_of_partitions": False,
    "exclude_persistent_lag": False,
    "scale_to_zero_on_invalid_offset": False,
    "offset_reset_policy": "latest",
    "partition_limitation": None,
}
"""The Kafka scaler's keys with KEDA's defaults; another policy may not change them."""


def _policy(value: Any) -> str:
    if not isinstance(value, str) or value not in POLICIES:
        raise fail(f"unknown policy {value!r}{known_hint(str(value), POLICIES)}")
    return value


if TYPE_CHECKING:
    PolicyName = str
else:
    PolicyName = Annotated[
        str,
        BeforeValidator(_policy),
        WithJsonSchema({"enum": list(POLICIES), "type": "string"}),
    ]
"""One of :data:`POLICIES`; anything else is an error naming them."""


class RateLimit(Spec):
    """At most ``value`` pods, or ``value`` percent of the replicas, per ``period``."""

    type: Literal["pods", "percent"]
    value: PositiveCount
    period: PositiveDuration


class ScalingRules(Spec):
    """One direction of HPA ``behavior``: a stabilization window and rate limits."""

    stabilization: Duration
    policies: tuple[RateLimit, ...] = ()
    select: Literal["max", "min", "disabled"] = "max"


def _up() -> ScalingRules:
    return ScalingRules(
        stabilization=0.0,
        policies=(
            RateLimit(type="percent", value=100, period=15.0),
            RateLimit(type="pods", value=4, period=15.0),
        ),
    )


def _down() -> ScalingRules:
    return ScalingRules(
        stabilization=300.0, policies=(RateLimit(type="percent", value=100, period=15.0),)
    )


class Behavior(Spec):
    """HPA ``behavior``: how fast replicas may be added and removed."""

    scale_up: ScalingRules = Field(default_factory=_up)
    scale_down: ScalingRules = Field(default_factory=_down)


class ScheduledReplicas(Spec):
    """From ``at`` (since the scenario start) on, run ``replicas``."""

    at: Duration
    replicas: Count


class Scaling(Spec):
    """How a pool's replica count changes. ``target`` is per replica: messages for
    ``queue_length``, messages per second for ``message_rate``, a busy fraction for
    ``utilization``, seconds of the oldest ready message's age for ``lag``.

    ``protocol`` is how KEDA reads the queue: ``http`` (the management API: ``messages``, ready
    plus unacked, or ready only with ``exclude_unacknowledged``; needed by ``message_rate``)
    or ``amqp`` (a passive queue.declare: ready only). Left out, it follows the other keys:
    ``http`` for ``message_rate``, ``include_unacked: true`` or ``exclude_unacknowledged``,
    else ``amqp``. ``include_unacked`` is the older spelling: true means ``http`` counting
    unacked, false ready only. Rates are the management API's, over its
    ``statistics_interval``, unless ``window`` asks for a mean over a longer span.

    For ``aws_sqs_queue`` (an SQS queue), ``target`` is KEDA's ``queueLength`` (messages per
    replica, default 5), ``activation`` its ``activationQueueLength``; the metric counts visible
    messages, in-flight ones unless ``scale_on_in_flight: false``, delayed ones with
    ``scale_on_delayed: true`` (KEDA's ``scaleOnInFlight``, ``scaleOnDelayed``).

    For ``kafka_lag``, ``target`` is KEDA's ``lagThreshold`` (records of lag per replica, a
    whole number, default 10) and ``activation`` its ``activationLagThreshold``; the other
    Kafka keys are KEDA's ``allowIdleConsumers``, ``limitToPartitionsWithLag``,
    ``ensureEvenDistributionOfPartitions``, ``excludePersistentLag``,
    ``scaleToZeroOnInvalidOffset``, ``offsetResetPolicy`` and ``partitionLimitation`` (a list
    of partition numbers)."""

    policy: PolicyName = "fixed"
    target: Number | None = None
    protocol: Literal["http", "amqp"] | None = None
    exclude_unacknowledged: bool = False
    include_unacked: bool = False
    statistics_interval: PositiveDuration = 5.0
    window: PositiveDuration | None = None
    schedule: tuple[ScheduledReplicas, ...] = ()
    function: str | None = None
    min: Count = 0
    max: PositiveCount = 100

    @model_validator(mode="after")
    def _max_within_reach(self) -> Scaling:
        if self.max > 10_000:
            raise fail(f"max ({self.max}) must be at most 10000 replicas")
        return self

    interval: PositiveDuration = 30.0
    sync_period: PositiveDuration = 15.0
    use_cached_metrics: bool = False
    activation: Number = 0.0
    cooldown: Duration = 300.0
    tolerance: Probability = 0.1
    behavior: Behavior = Field(default_factory=Behavior)
    startup: TimeDistribution | None = None
    scale_down: Literal["drain", "requeue"] = "drain"
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False
    exclude_persistent_lag: bool = False
    scale_to_zero_on_invalid_offset: bool = False
    offset_reset_policy: Literal["latest", "earliest"] = "latest"
    partition_limitation: tuple[Count, ...] | None = None
    scale_on_in_flight: bool = True
    scale_on_delayed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _keda_defaults(cls, data: Any) -> Any:
        """KEDA's defaults that depend on other keys: the QueueLength value 20, the protocol
        implied by the mode and the unacked settings, and both unacked keys spelled out (so the
        resolved scenario reloads as it is)."""
        if not isinstance(data, dict):
            return data
        policy = data.get("policy", "fixed")
        if policy == "kafka_lag" and data.get("target") is None:
            return {**data, "target": DEFAULT_LAG_THRESHOLD}
        if policy == "aws_sqs_queue" and data.get("target") is None:
            return {**data, "target": DEFAULT_SQS_QUEUE_LENGTH}
        if policy not in RABBITMQ_POLICIES:
            return data
        resolved = dict(data)
        if policy == "queue_length" and data.get("target") is None:
            resolved["target"] = DEFAULT_QUEUE_LENGTH
        include, exclude = data.get("include_unacked"), data.get("exclude_unacknowledged")
        protocol = data.get("protocol")
        if protocol is None:
            http = policy == "message_rate" or exclude is not None or include is True
            protocol = resolved["protocol"] = "http" if http else "amqp"
        if exclude is None and isinstance(include, bool):
            exclude = resolved["exclude_unacknowledged"] = protocol == "http" and not include
        if include is None and (exclude is None or isinstance(exclude, bool)):
            resolved["include_unacked"] = protocol == "http" and not exclude
        return resolved

    @model_validator(mode="after")
    def _complete(self) -> Scaling:
        if self.policy in METRIC_POLICIES and (self.target is None or self.target <= 0):
            raise fail(f"policy {self.policy} needs a target above zero")
        if self.policy == "schedule" and not self.schedule:
            raise fail("policy schedule needs schedule: [{at: 0s, replicas: N}, ...]")
        if self.policy == "custom" and (not self.function or ":" not in self.function):
            raise fail("policy custom needs function: 'module:function'")
        if self.min > self.max:
            raise fail(f"min ({self.min}) must not exceed max ({self.max})")
        self._check_protocol()
        self._check_kafka_lag()
        self._check_aws_sqs_queue()
        return self

    def _check_aws_sqs_queue(self) -> None:
        """``scale_on_in_flight`` and ``scale_on_delayed`` are the SQS trigger's keys; its
        queueLength and activationQueueLength are whole numbers (int64 in KEDA)."""
        if self.policy != "aws_sqs_queue":
            if not self.scale_on_in_flight or self.scale_on_delayed:
                key = "scale_on_in_flight" if not self.scale_on_in_flight else "scale_on_delayed"
                raise fail(f"{key} is a setting of policy aws_sqs_queue, not {self.policy}")
            return
        assert self.target is not None
        if self.target != int(self.target):
            raise fail(
                f"aws_sqs_queue target (queueLength) must be a whole number, not {self.target}"
            )
        if self.activation < 0 or self.activation != int(self.activation):
            message = "aws_sqs_queue activation (activationQueueLength) must be a whole number >= 0"
            raise fail(f"{message}, not {self.activation}")

    def _check_kafka_lag(self) -> None:
        """KEDA's checks of the Kafka trigger (kafka_scaler.go ``Validate``); its keys belong
        to ``kafka_lag`` alone."""
        if self.policy != "kafka_lag":
            for key, default in KAFKA_LAG_KEYS.items():
                if getattr(self, key) != default:
                    raise fail(f"{key} is a setting of policy kafka_lag, not {self.policy}")
            return
        assert self.target is not None
        if self.target != int(self.target):
            raise fail(f"kafka_lag target (lagThreshold) must be a whole number, not {self.target}")
        if self.activation < 0 or self.activation != int(self.activation):
            message = "kafka_lag activation (activationLagThreshold) must be a whole number >= 0"
            raise fail(f"{message}, not {self.activation}")
        if self.allow_idle_consumers and self.limit_to_partitions_with_lag:
            raise fail("allow_idle_consumers and limit_to_partitions_with_lag cannot both be set")
        if self.limit_to_partitions_with_lag and self.ensure_even_distribution_of_partitions:
            raise fail(
                "limit_to_partitions_with_lag and ensure_even_distribution_of_partitions "
                "cannot both be set"
            )
        if self.partition_limitation is not None and not self.partition_limitation:
            raise fail("partition_limitation lists no partition")

    def _check_protocol(self) -> None:
        """KEDA's own checks (rabbitmq_scaler.go, ``Validate`` and ``validateTrigger``)."""
        if self.policy not in RABBITMQ_POLICIES:
            return
        if self.protocol == "amqp":
            if self.policy == "message_rate":
                raise fail("policy message_rate needs protocol http (the management API)")
            if self.exclude_unacknowledged:
                raise fail("exclude_unacknowledged works only with protocol http")
            if self.include_unacked:
                raise fail("protocol amqp sees ready messages only: include_unacked needs http")
        if self.protocol == "http" and self.include_unacked == self.exclude_unacknowledged:
            raise fail("include_unacked and exclude_unacknowledged contradict each other")

    @property
    def counts_unacked(self) -> bool:
        """Whether KEDA's queue length counts unacked messages (HTTP's ``messages``)."""
        rabbitmq = self.policy in RABBITMQ_POLICIES
        return rabbitmq and self.protocol == "http" and not self.exclude_unacknowledged
