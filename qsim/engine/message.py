"""A message in flight: plain slots, no behaviour."""

from __future__ import annotations

import math

NO_PRODUCER = -1


class Message:
    """One message. ``published_at`` and ``deliveries`` refer to the queue it is in now.

    ``producer`` is the index of the producer that published it to this queue, or
    ``NO_PRODUCER`` once it has been dead-lettered. ``dead_path`` lists the queues it was
    dead-lettered from, and ``rejected`` whether a rejection happened on that path (RabbitMQ drops
    a message that dead-letters around a cycle with no rejection: dlx.md).
    """

    __slots__ = (
        "dead_path",
        "deliveries",
        "expires_at",
        "priority",
        "producer",
        "published_at",
        "rejected",
        "size",
        "started_at",
        "ttl",
    )

    def __init__(self, producer: int, ttl: float, priority: int, size: float) -> None:
        self.producer = producer
        self.ttl = ttl
        self.priority = priority
        self.size = size
        self.published_at = 0.0
        self.started_at = 0.0
        self.expires_at = math.inf
        self.deliveries = 0
        self.dead_path: tuple[int, ...] = ()
        self.rejected = False
