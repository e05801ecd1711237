"""One receive of a message from a lease queue: SQS's receipt handle, Pub/Sub's ack id, a
Service Bus lock token. The worker processes the receipt; its settlement names the receive it
came by, so a late delete after a redelivery can be told from the current one."""

from __future__ import annotations

from qsim.engine.message import Message

__all__ = ["Receipt"]


class Receipt(Message):
    """Receive number ``receive`` of ``message``: a :class:`Message` of the same flow with the
    message's own figures (publish time, work, first service time, poison draw)."""

    __slots__ = ("message", "receive")

    def __init__(self, message: Message, receive: int) -> None:
        super().__init__(
            message.producer, message.flow, message.ttl, message.priority, message.size,
            message.persistent,
        )  # fmt: skip
        self.message = message
        self.receive = receive
        self.deliveries = receive  # a redelivery draws a fresh service time (Worker._start)
        self.published_at = message.published_at
        self.work = message.work
        self.service = message.service
        self.poison = message.poison
        self.group = message.group
