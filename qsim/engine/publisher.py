"""Publishing: routing keys, the network, broker availability and routing, with the books kept.

A :class:`Publisher` publishes for one producer or for one consumer pool's publish step. Every
message it is handed ends in one producer-side state, checked at the end of the run::

    produced = routed + unroutable + publish_failed + buffered + in_flight

A routed message becomes one copy per queue it reaches (``copies``), each counted as
``published`` by its queue. While the broker is down, ``on_unavailable`` decides (looked up in
:data:`ON_UNAVAILABLE`): ``drop`` fails the message, ``retry`` holds up to ``buffer`` messages
and fails the rest, ``block`` holds the message and pauses the producer once ``buffer`` is full.
Held messages are published, in order, when the broker is back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from qsim.engine.message import Message
from qsim.engine.recorder import Recorder
from qsim.engine.routing import Exchange, Target

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.protocols import DeliveryModel


class Publisher:
    """Publishes to one target (a queue or an exchange) and keeps the producer-side books."""

    publish: Callable[[Message], None]
    """Send a message; it reaches the broker after the network delay, if any. Bound once, as
    the publisher is built: :meth:`_publish_direct` where that shortcut applies
    (:mod:`qsim.engine.paths`), else :meth:`_publish_general`."""

    def __init__(
        self,
        name: str,
        broker: Broker,
        target: Target,
        key: Callable[[], str],
        recorder: Recorder,
        *,
        on_unavailable: str = "drop",
        buffer: int = 0,
    ) -> None:
        self.name = name
        self.broker = broker
        self.target = target
        self.key = key
        self.recorder = recorder
        self.buffer = buffer
        self._unavailable = ON_UNAVAILABLE[on_unavailable]
        self.pending: deque[Message] = deque()
        self.blocked = False
        self.on_unblock: Callable[[], None] | None = None
        self.produced = self.routed = self.unroutable = self.publish_failed = 0
        self.copies = self.in_flight = 0
        broker.publishers.append(self)
        # chosen once: straight to one queue where the broker is always up and near
        direct = not isinstance(target, Exchange) and broker.delay is None and not broker.outages
        if broker.paths.choose("publisher.direct", direct):
            self._queue = cast("DeliveryModel", target)
            self.publish = self._publish_direct
        else:
            self.publish = self._publish_general

    def _publish_direct(self, msg: Message) -> None:
        """The shortcut: no network, a broker never down, one queue."""
        self.produced += 1
        self.routed += 1
        self.copies += 1
        self._queue.publish(msg)

    def _publish_general(self, msg: Message) -> None:
        """Any target, network and broker state."""
        self.produced += 1
        broker = self.broker
        if broker.delay is not None:
            self.in_flight += 1
            broker.hop(self._land, msg)
        elif not broker.up:
            self._unavailable(self, msg)
        else:
            self._route(msg)

    def _land(self, msg: Message) -> None:
        self.in_flight -= 1
        self._arrive(msg)

    def _arrive(self, msg: Message) -> None:
        if self.broker.up:
            self._route(msg)
        else:
            self._unavailable(self, msg)

    def _route(self, msg: Message) -> None:
        queues = self.target.route(self.key())
        if not queues:
            self.unroutable += 1
            self.recorder.end_branch(msg.flow, False, self.broker.env.now)
            return
        self.routed += 1
        self.copies += len(queues)
        msg.flow.outstanding += len(queues) - 1
        queues[0].publish(msg)
        for queue in queues[1:]:
            queue.publish(msg.copy())

    def _fail(self, msg: Message) -> None:
        self.publish_failed += 1
        self.recorder.end_branch(msg.flow, False, self.broker.env.now)

    def _drop(self, msg: Message) -> None:
        self._fail(msg)

    def _retry(self, msg: Message) -> None:
        if len(self.pending) < self.buffer:
            self.pending.append(msg)
        else:
            self._fail(msg)

    def _block(self, msg: Message) -> None:
        self.pending.append(msg)
        if len(self.pending) >= self.buffer:
            self.blocked = True

    def flush(self) -> None:
        """The broker is back: publish what was held, in order, and unblock the producer."""
        while self.pending and self.broker.up:
            self._route(self.pending.popleft())
        if self.blocked and self.broker.up:
            self.blocked = False
            if self.on_unblock is not None:
                self.on_unblock()

    @property
    def buffered(self) -> int:
        """Messages held by the publisher while the broker is down."""
        return len(self.pending)

    def counts(self) -> dict[str, int]:
        """The producer-side books: every message handed to this publisher, by state."""
        return {name: getattr(self, name) for name in PUBLISHER_STATES}

    def settle_books(self) -> None:
        """Check the producer-side conservation equation."""
        ends = self.routed + self.unroutable + self.publish_failed + self.buffered + self.in_flight
        if ends != self.produced:
            raise AssertionError(f"publisher {self.name}: produced {self.produced} != {ends}")


PUBLISHER_STATES = ("produced", "routed", "unroutable", "publish_failed", "buffered", "in_flight")
"""The publisher's books, in order: ``produced`` and where each produced message is now."""

ON_UNAVAILABLE: dict[str, Callable[[Publisher, Message], None]] = {
    "drop": Publisher._drop,
    "retry": Publisher._retry,
    "block": Publisher._block,
}
"""What a publisher does with a message while the broker is down, by scenario name."""
