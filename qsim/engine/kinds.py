"""Broker kinds, registered by name: each queue type's delivery model and how to build it.

A new broker model is a module that implements :class:`~qsim.engine.protocols.DeliveryModel`
(and a :class:`~qsim.engine.protocols.Subscription` for its workers) plus one line here; the
scenario's names for them are :data:`qsim.scenario.queue.QUEUE_TYPES`, and a test checks that
both lists agree (``docs/architecture.md``, "Adding a delivery model").

A builder is registered as ``"module:attribute"`` and imported on first use (:func:`builder`),
so a worker simulating RabbitMQ queues never imports the Kafka or lease models.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qsim.engine.protocols import Build
    from qsim.scenario.queue import QueueType

__all__ = ["LEASE_QUEUE", "QUEUE", "QUEUE_TYPES", "TOPIC", "builder", "built_by"]

QUEUE = "qsim.engine.queue:Queue"
"""RabbitMQ's classic and quorum queues."""
TOPIC = "qsim.engine.kafka.topic:Topic"
"""A Kafka topic with its consumer groups."""
LEASE_QUEUE = "qsim.engine.lease.queue:LeaseQueue"
"""A lease (visibility-timeout) queue: SQS, Pub/Sub, Service Bus, JetStream."""

QUEUE_TYPES: dict[QueueType, str] = {
    "classic": QUEUE,
    "quorum": QUEUE,
    "stream": "qsim.engine.log.stream:Stream",
    "kafka": TOPIC,
    "sqs": LEASE_QUEUE,
    "sqs-fifo": LEASE_QUEUE,
    "pubsub": LEASE_QUEUE,
    "servicebus": LEASE_QUEUE,
    "jetstream": LEASE_QUEUE,
}
"""Queue types by scenario name -> where the builder of their delivery model is
(``"module:attribute"``, resolved by :func:`builder`)."""


@cache
def builder(kind: QueueType) -> Build:
    """The builder of queue type ``kind``'s delivery model, importing its module now."""
    module, _, attribute = QUEUE_TYPES[kind].partition(":")
    built: Build = getattr(importlib.import_module(module), attribute)
    return built


def built_by(model: object, where: str) -> bool:
    """Whether ``model`` is an instance of the class at ``where`` (``"module:attribute"``),
    without importing it: no instance of a class exists before its module is imported."""
    module, _, attribute = where.partition(":")
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(model, getattr(loaded, attribute))
