"""The scenario's queues, exchanges and bindings on a real broker, under a name prefix.

Every name gets the run's prefix (``qsim-live-<hex>.``), so runs never touch each other's or
anyone else's queues; :func:`delete` removes them all afterwards. Queue settings map to the
broker's optional queue arguments (queues.md "optional arguments"), one mapper per setting.
Exchange types from a plugin (``x-consistent-hash``) need the plugin enabled on the broker: a
broker without it closes the connection (503 COMMAND_INVALID, "unknown exchange type"), which
:func:`declare` turns into one line naming the plugin to enable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika.exceptions

from qsim.errors import QsimError
from qsim.scenario import Exchange, Queue, Scenario

__all__ = ["ARGUMENTS", "PLUGINS", "Names", "declare", "delete", "queue_arguments"]

Arguments = dict[str, Any]


@dataclass(frozen=True)
class Names:
    """Broker names of one run: ``prefix`` + the scenario's name."""

    prefix: str

    @classmethod
    def fresh(cls) -> Names:
        """A prefix no other run uses."""
        return cls(f"qsim-live-{uuid.uuid4().hex[:10]}.")

    def __call__(self, name: str) -> str:
        """The broker name of scenario queue or exchange ``name``."""
        return self.prefix + name

    def strip(self, name: str) -> str:
        """The scenario name of broker name ``name`` (unchanged if not ours)."""
        return name.removeprefix(self.prefix)


def _millis(seconds: float, scale: float) -> int:
    """Scenario seconds -> wall-clock milliseconds for the broker (at least 1)."""
    return max(1, round(seconds * scale * 1000))


def _max_length(queue: Queue, _names: Names, _scale: float) -> Arguments:
    if queue.max_length is None:
        return {}
    return {"x-max-length": queue.max_length, "x-overflow": queue.overflow}


def _ttl(queue: Queue, _names: Names, scale: float) -> Arguments:
    if queue.message_ttl is None:
        return {}
    return {"x-message-ttl": _millis(queue.message_ttl, scale)}


def _dead_letter(queue: Queue, names: Names, _scale: float) -> Arguments:
    """A scenario dead-letters to a queue: the default exchange routes by the queue's name."""
    if queue.dead_letter is None:
        return {}
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": names(queue.dead_letter)}


def _priority(queue: Queue, _names: Names, _scale: float) -> Arguments:
    return {} if queue.max_priority is None else {"x-max-priority": queue.max_priority}


def _queue_type(queue: Queue, _names: Names, _scale: float) -> Arguments:
    """The real queue type (queues.md "optional arguments": ``x-queue-type``)."""
    return {"x-queue-type": queue.type}


def _delivery_limit(queue: Queue, _names: Names, _scale: float) -> Arguments:
    """Only quorum queues limit redeliveries (quorum-queues/index.md "poison message handling");
    the limit is always given, since 3.10 has no default (4.0's is 20)."""
    if queue.delivery_limit is None:
        return {}
    return {"x-delivery-limit": queue.delivery_limit}


def _single_active(queue: Queue, _names: Names, _scale: float) -> Arguments:
    """consumers.md#single-active-consumer: set at declaration only."""
    return {"x-single-active-consumer": True} if queue.single_active_consumer else {}


ARGUMENTS: tuple[Callable[[Queue, Names, float], Arguments], ...] = (
    _max_length,
    _ttl,
    _dead_letter,
    _priority,
    _queue_type,
    _delivery_limit,
    _single_active,
)
"""Each mapper turns some settings of a scenario queue into broker queue arguments."""


def queue_arguments(queue: Queue, names: Names, scale: float) -> Arguments:
    """The ``x-...`` arguments that declare ``queue`` on the broker, times scaled by ``scale``."""
    arguments: Arguments = {}
    for mapper in ARGUMENTS:
        arguments.update(mapper(queue, names, scale))
    return arguments


PLUGINS = {"x-consistent-hash": "rabbitmq_consistent_hash_exchange"}
"""Exchange types a plugin provides -> the plugin (shipped with RabbitMQ, off by default)."""


def _declare_exchange(channel: Any, scenario: Scenario, exchange: Exchange, names: Names) -> None:
    """``exchange.declare``; a type the broker lacks is one line saying which plugin to enable."""
    try:
        channel.exchange_declare(names(exchange.name), exchange_type=exchange.type)
    except pika.exceptions.ConnectionClosedByBroker as exc:
        if exc.reply_code != 503 or "unknown exchange type" not in exc.reply_text:
            raise
        plugin = PLUGINS.get(exchange.type)
        enable = f"; enable its plugin: rabbitmq-plugins enable {plugin}" if plugin else ""
        raise QsimError(
            f"qsim live cannot run {scenario.name!r}: the broker has no exchange type "
            f"{exchange.type!r} (exchanges {exchange.name!r}){enable}"
        ) from None


def declare(channel: Any, scenario: Scenario, names: Names, scale: float) -> None:
    """Declare every queue, exchange and binding of ``scenario`` on a pika channel."""
    for queue in scenario.queues:
        durable = queue.durable or queue.type != "classic"
        channel.queue_declare(
            names(queue.name), durable=durable, arguments=queue_arguments(queue, names, scale)
        )
    for exchange in scenario.exchanges:
        _declare_exchange(channel, scenario, exchange, names)
        for binding in exchange.bindings:
            channel.queue_bind(names(binding.queue), names(exchange.name), binding.key)


def delete(channel: Any, scenario: Scenario, names: Names) -> None:
    """Delete everything :func:`declare` made (missing ones are fine)."""
    for exchange in scenario.exchanges:
        channel.exchange_delete(names(exchange.name))
    for queue in scenario.queues:
        channel.queue_delete(names(queue.name))
