"""Broker kinds, registered by name: each queue type's delivery model and how to build it.

A new broker model is a module that implements :class:`~qsim.engine.protocols.DeliveryModel`
(and a :class:`~qsim.engine.protocols.Subscription` for its workers) plus one line here; the
scenario's names for them are :data:`qsim.scenario.queue.QUEUE_TYPES`, and a test checks that
both lists agree (``docs/architecture.md``, "Adding a delivery model").
"""

from __future__ import annotations

from qsim.engine.kafka.topic import Topic
from qsim.engine.lease import LeaseQueue
from qsim.engine.log import Stream
from qsim.engine.protocols import Build
from qsim.engine.queue import Queue
from qsim.scenario.queue import QueueType

QUEUE_TYPES: dict[QueueType, Build] = {
    "classic": Queue,
    "quorum": Queue,
    "stream": Stream,
    "kafka": Topic,
    "sqs": LeaseQueue,
    "sqs-fifo": LeaseQueue,
    "pubsub": LeaseQueue,
    "servicebus": LeaseQueue,
    "jetstream": LeaseQueue,
}
"""Queue types by scenario name -> the builder of their delivery model."""
