"""Live backends by broker: which real broker runs a scenario, how to reach it, what it refuses.

A scenario's queue types name its broker: RabbitMQ's (``classic``, ``quorum``, ``stream``) run
on a RabbitMQ (pika, :mod:`qsim.live.rabbitmq`), ``jetstream`` on a NATS server with JetStream
(nats-py, :mod:`qsim.live.jetstream`). One scenario runs on one broker; a queue type without a
backend (kafka, sqs, pubsub, servicebus) is refused by the default backend's check, in one line
naming what qsim live replays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qsim.errors import QsimError
from qsim.live import jetstream, rabbitmq, support
from qsim.live.settings import LiveSettings, Measured
from qsim.scenario import Scenario

__all__ = ["BACKENDS", "DEFAULT", "Backend", "backend_for"]


@dataclass(frozen=True)
class Backend:
    """One real broker a live run can talk to."""

    name: str
    option: str  # the CLI option (and environment variable) giving its URL
    env: str
    queue_types: frozenset[str]
    check: Callable[[Scenario], None]
    measure: Callable[[Scenario, LiveSettings], Measured]


BACKENDS: dict[str, Backend] = {
    "rabbitmq": Backend(
        "RabbitMQ", "--amqp", "QSIM_AMQP_URL", frozenset({"classic", "quorum", "stream"}),
        support.check_supported, rabbitmq.measure,
    ),
    "jetstream": Backend(
        "NATS JetStream", "--nats", "QSIM_NATS_URL", jetstream.QUEUE_TYPES,
        jetstream.check_supported, jetstream.measure,
    ),
}  # fmt: skip
"""Every live backend by key."""


DEFAULT = "rabbitmq"
"""The backend of a scenario whose queue types no backend has all of: its check refuses the
types it cannot replay, naming what qsim live replays (``qsim.live.support``)."""


def backend_for(scenario: Scenario) -> Backend:
    """The backend whose broker has every queue type of ``scenario``; a scenario that needs two
    brokers is a one-line error."""
    types = {q.type for q in scenario.queues}
    for backend in BACKENDS.values():
        if types <= backend.queue_types:
            return backend
    touched = [key for key, b in BACKENDS.items() if types & b.queue_types]
    if len(touched) > 1:
        raise QsimError(
            f"qsim live cannot run {scenario.name!r}: its queues need more than one broker "
            f"({', '.join(sorted(types))}); a live run talks to one"
        )
    return BACKENDS[touched[0] if touched else DEFAULT]
