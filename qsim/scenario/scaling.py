"""Consumer scaling: a fixed replica count, or an autoscaler with the control loop of KEDA's
RabbitMQ scaler feeding a Kubernetes HPA (broker-semantics.md, "Autoscalers").

Defaults are the real systems': KEDA polls every 30 s, scales to zero only after a 300 s
cooldown, from zero only when the metric is above ``activation``, between ``min`` 0 and ``max``
100; the HPA ignores changes within 10% (``tolerance``), stabilises scale-downs over 300 s and
scale-ups over 0 s, and allows per 15 s at most +100% or +4 pods up (the larger) and -100% down.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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

POLICIES = ("fixed", "queue_length", "message_rate", "utilization", "lag", "schedule", "custom")
"""Scaling policies by name; the engine looks each up in its own registry."""

NEEDS_TARGET = {"queue_length", "message_rate", "utilization", "lag"}


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
    ``utilization``, seconds of the oldest ready message's age for ``lag``."""

    policy: Literal[
        "fixed", "queue_length", "message_rate", "utilization", "lag", "schedule", "custom"
    ] = "fixed"
    target: Number | None = None
    include_unacked: bool = False
    window: PositiveDuration = 60.0
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
    activation: Number = 0.0
    cooldown: Duration = 300.0
    tolerance: Probability = 0.1
    behavior: Behavior = Field(default_factory=Behavior)
    startup: TimeDistribution | None = None
    scale_down: Literal["drain", "requeue"] = "drain"

    @model_validator(mode="after")
    def _complete(self) -> Scaling:
        if self.policy in NEEDS_TARGET and (self.target is None or self.target <= 0):
            raise fail(f"policy {self.policy} needs a target above zero")
        if self.policy == "schedule" and not self.schedule:
            raise fail("policy schedule needs schedule: [{at: 0s, replicas: N}, ...]")
        if self.policy == "custom" and (not self.function or ":" not in self.function):
            raise fail("policy custom needs function: 'module:function'")
        if self.min > self.max:
            raise fail(f"min ({self.min}) must not exceed max ({self.max})")
        return self
