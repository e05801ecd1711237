"""A message in flight, and the flow it belongs to: plain slots, no behaviour."""

from __future__ import annotations

import math

NO_PRODUCER = -1
NO_PRIORITY = -(2**31)
"""The priority of a message published without one (classic priority queues count it as 0,
quorum queues as 4)."""


class Flow:
    """Everything that stems from one publish by a producer: the message, the copies an
    exchange makes of it, the messages consumers publish onward, and so on.

    ``outstanding`` counts the flow's messages still alive; the flow ends when it reaches zero,
    completed if every branch ended in an ack, failed otherwise.
    """

    __slots__ = ("failed", "outstanding", "producer", "start")

    def __init__(self, producer: int, start: float) -> None:
        self.producer = producer
        self.start = start
        self.outstanding = 1
        self.failed = False


class Message:
    """One copy of a message in one queue. ``published_at`` and ``deliveries`` refer to the
    queue it is in now.

    ``failures`` counts its returns that a quorum queue counts toward the delivery limit (its
    ``x-delivery-count``). ``producer`` is the index of the producer that published it to this
    queue, or ``NO_PRODUCER`` for messages published by consumers or dead-lettered. ``deaths``
    is its x-death history: a count per (queue, reason), most recent last, as RabbitMQ keeps it
    (dlx.md).
    ``poison`` is None until a consumer with a poison rate first processes it. ``work`` is the
    message's own uniform draw, given as it enters the queue, from which the consuming pool
    derives its first service time (common random numbers: the n-th message into a queue takes
    the same work whatever the consumers do); ``service`` is that time where the queue could
    draw it (one pool consumes it), else -1.0. ``group`` is its message group on an SQS FIFO
    queue (the producer's key, MessageGroupId), else empty.
    """

    __slots__ = (
        "deaths",
        "deliveries",
        "expires_at",
        "failures",
        "flow",
        "group",
        "persistent",
        "poison",
        "priority",
        "producer",
        "published_at",
        "service",
        "service_end",
        "size",
        "started_at",
        "ttl",
        "work",
    )

    def __init__(
        self, producer: int, flow: Flow, ttl: float, priority: int, size: float, persistent: bool
    ) -> None:
        self.producer = producer
        self.flow = flow
        self.ttl = ttl
        self.priority = priority
        self.size = size
        self.persistent = persistent
        self.published_at = 0.0
        self.started_at = 0.0
        self.service_end = 0.0
        self.expires_at = math.inf
        self.deliveries = 0
        self.failures = 0  # returns that count toward a quorum queue's delivery limit
        self.deaths: dict[tuple[int, str], int] | None = None
        self.poison: bool | None = None
        self.work = 0.0
        self.service = -1.0
        self.group = ""

    def copy(self) -> Message:
        """Another copy for another queue (an exchange routing to several queues)."""
        twin = Message(
            self.producer, self.flow, self.ttl, self.priority, self.size, self.persistent
        )
        twin.poison = self.poison
        twin.group = self.group
        return twin


class SendId:
    """What the sends of one message share (SQS FIFO's MessageDeduplicationId): when a queue
    last accepted one of them (``-inf``: none yet) and the message group it was given."""

    __slots__ = ("accepted_at", "group")

    def __init__(self) -> None:
        self.accepted_at = -math.inf
        self.group: str | None = None


class Sent(Message):
    """A message its producer sends twice (the producer's ``resend``): the first send, or the
    ``resend`` (a client retrying after a timeout), both carrying the same :class:`SendId`.
    A resend belongs to a flow of its own that no figure counts (start ``-inf``): the flow is
    the first send's."""

    __slots__ = ("resend", "send")

    def __init__(
        self,
        producer: int,
        flow: Flow,
        ttl: float,
        priority: int,
        size: float,
        persistent: bool,
        send: SendId,
        resend: bool,
    ) -> None:
        super().__init__(producer, flow, ttl, priority, size, persistent)
        self.send = send
        self.resend = resend
