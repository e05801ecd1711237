"""Queues: limits, overflow, TTL, dead-lettering, priorities, durability."""

from __future__ import annotations

from typing import Literal

from qsim.spec import Count, Duration, Name, PositiveCount, PriorityLevel, Spec

__all__ = ["Overflow", "Queue"]

Overflow = Literal["drop-head", "reject-publish", "reject-publish-dlx"]


class Queue(Spec):
    """A RabbitMQ-style queue. A ``durable: false`` queue loses its messages in a broker outage."""

    name: Name
    max_length: Count | None = None
    overflow: Overflow = "drop-head"
    message_ttl: Duration | None = None
    dead_letter: Name | None = None
    max_priority: PriorityLevel | None = None
    delivery_limit: PositiveCount | None = None
    durable: bool = True
