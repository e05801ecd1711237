"""Consumer pools: replicas, prefetch, service times, failures, crashes, timeouts, pipelines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from qsim.scenario.fields import TimeDistribution
from qsim.scenario.scaling import Scaling
from qsim.scenario.topology import PublishStep
from qsim.spec import (
    Count,
    Name,
    PositiveCount,
    PositiveDuration,
    Probability,
    ReplicaCount,
    Spec,
    fail,
)

__all__ = ["ConsumerPool", "Crash", "Failures"]


class Failures(Spec):
    """Processing failures. With ``nack_probability`` a consumer rejects a message after working
    on it; a ``poison`` fraction of messages fails every time. ``requeue`` says whether the
    broker puts a rejected message back (true) or dead-letters/discards it. ``method`` is the
    AMQP method the consumer rejects with: a RabbitMQ 4.3 quorum queue counts ``basic.reject``
    toward its delivery limit, not ``basic.nack`` (quorum-queues/index.md
    #when-is-delivery-count-incremented)."""

    nack_probability: Probability = 0.0
    poison: Probability = 0.0
    requeue: bool = True
    method: Literal["reject", "nack"] = "reject"

    @property
    def any(self) -> bool:
        """Whether any processing can fail."""
        return self.nack_probability > 0 or self.poison > 0


class Crash(Spec):
    """Each replica runs for ``mtbf`` (a distribution of up-times), crashes, and is down for
    ``restart`` before it consumes again."""

    mtbf: TimeDistribution
    restart: TimeDistribution


class ConsumerPool(Spec):
    """Replicas of one service consuming a queue. Each replica is one consumer (channel) with
    its own prefetch window (0 = unlimited, the RabbitMQ default) and ``concurrency`` workers.
    ``replicas`` is the count at the start; ``scaling`` may change it as the run goes."""

    name: Name
    queue: Name
    replicas: ReplicaCount = 1
    prefetch: Count = 0
    concurrency: PositiveCount = 1
    service_time: TimeDistribution
    ack: Literal["manual", "auto"] = "manual"
    failures: Failures = Failures()
    crash: Crash | None = None
    consumer_timeout: PositiveDuration | None = None
    publish: tuple[PublishStep, ...] = ()
    scaling: Scaling = Field(default_factory=Scaling)

    @field_validator("scaling")
    @classmethod
    def _replicas_within_bounds(cls, scaling: Scaling, info: ValidationInfo) -> Scaling:
        replicas = info.data.get("replicas", 1)
        if scaling.policy != "fixed" and not scaling.min <= replicas <= scaling.max:
            raise fail(f"replicas ({replicas}) must be within min and max of the scaling")
        return scaling

    @field_validator("failures")
    @classmethod
    def _auto_ack_cannot_fail(cls, failures: Failures, info: ValidationInfo) -> Failures:
        if info.data.get("ack") == "auto" and failures.any:
            raise fail("failures need ack: manual (an auto-acked message cannot be rejected)")
        return failures

    @field_validator("failures")
    @classmethod
    def _requeue_needs_time(cls, failures: Failures, info: ValidationInfo) -> Failures:
        service = info.data.get("service_time")
        if failures.any and failures.requeue and service is not None and service.mean == 0:
            raise fail(
                "failures that requeue need a service time above zero (a zero-time requeue "
                "loop would never let simulated time advance)"
            )
        return failures

    @field_validator("consumer_timeout")
    @classmethod
    def _timeout_needs_acks(cls, timeout: float | None, info: ValidationInfo) -> float | None:
        if timeout is not None and info.data.get("ack") == "auto":
            raise fail("consumer_timeout needs ack: manual (it limits the time to an ack)")
        return timeout
