"""Live backends by broker: which real broker runs a scenario, how to reach it, what it refuses.

A scenario's queue types name its broker: RabbitMQ's (``classic``, ``quorum``, ``stream``) run
on a RabbitMQ (pika, :mod:`qsim.live.rabbitmq`), ``jetstream`` on a NATS server with JetStream
(nats-py, :mod:`qsim.live.jetstream`). One scenario runs on one broker; a queue type without a
backend (kafka, sqs, pubsub, servicebus) is a one-line error naming the backends there are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qsim.errors import QsimError
from qsim.live import jetstream, rabbitmq, support
from qsim.live.settings import LiveSettings, Measured
from qsim.scenario import Scenario

__all__ = ["BACKENDS", "Backend", "backend_for"]


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


def _known() -> str:
    return "; ".join(f"{key} ({', '.join(sorted(b.queue_types))})" for key, b in BACKENDS.items())


def backend_for(scenario: Scenario) -> Backend:
    """The backend whose broker has every queue type of ``scenario``."""
    types = {q.type for q in scenario.queues}
    for backend in BACKENDS.values():
        if types <= backend.queue_types:
            return backend
    for queue in scenario.queues:
        if not any(queue.type in b.queue_types for b in BACKENDS.values()):
            raise QsimError(
                f"qsim live cannot run {scenario.name!r}: queues {queue.name!r}: type "
                f"{queue.type} has no live backend (there are: {_known()})"
            )
    raise QsimError(
        f"qsim live cannot run {scenario.name!r}: its queues need more than one broker "
        f"({', '.join(sorted(types))}); a live run talks to one"
    )
