"""A quorum queue's delayed retry (RabbitMQ 4.3): returned messages wait before they are
served again.

With ``x-delayed-retry-type`` (``failed``: returns that count toward the delivery limit, a
reject with requeue or a crash; ``returned``: those that do not, a nack or a consumer timeout;
``all``) and ``x-delayed-retry-min`` (required: without it the feature is off), a returned
message waits ``min x max(1, delivery_count)``, capped at ``x-delayed-retry-max`` (``min`` when
not given): a linear back-off on its delivery count, which grows before the wait (so a message
over its delivery limit is dead-lettered at once, not delayed). When due it goes to the
queue's returns, served before every ready message. Sources: rabbitmq-queue-types-facts.md A7
(rabbit_quorum_queue.erl ``get_delayed_retry_config``; rabbit_fifo.erl ``should_delay``,
``calculate_ready_at``; quorum-queues/index.md#delayed-retry).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy
from simpy.events import Timeout

from qsim.engine.message import Message
from qsim.scenario.queue import DelayedRetry


class DelayedReturns:
    """The returned messages a quorum queue holds back, each until its wait is over."""

    __slots__ = ("_release", "env", "held", "rule", "started")

    def __init__(
        self, env: simpy.Environment, rule: DelayedRetry, release: Callable[[Message], None]
    ) -> None:
        self.env = env
        self.rule = rule
        self._release = release
        self.held: dict[Message, None] = {}  # waiting, in the order they were returned
        self.started = 0  # returns delayed so far

    def hold(self, msg: Message, counted: bool) -> bool:
        """Hold ``msg`` back if its return is of the delayed type; False if it is not."""
        if not self.rule.applies(counted):
            return False
        self.held[msg] = None
        self.started += 1
        Timeout(self.env, self.rule.delay(msg.failures), msg).callbacks.append(self._due)
        return True

    def _due(self, event: Timeout) -> None:
        msg = event.value
        if msg in self.held:  # (not lost in an outage meanwhile)
            del self.held[msg]
            self._release(msg)

    def drop_if(self, lost: Callable[[Message], bool]) -> list[Message]:
        """A broker restart: the held messages that do not survive it, removed."""
        dropped = [msg for msg in self.held if lost(msg)]
        for msg in dropped:
            del self.held[msg]
        return dropped
