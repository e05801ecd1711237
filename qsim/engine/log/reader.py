"""A stream reader: one replica's AMQP 0.9.1 consumer on a RabbitMQ stream (streams.md#consuming).

It is the :class:`~qsim.engine.protocols.Subscription` of the log delivery model: a *position*
in the log and a credit window of ``prefetch`` unacked deliveries.

- It attaches where its pool's ``offset`` says (``x-stream-offset``; ``next`` by default) and
  is sent records in offset order while it has credit. Reading removes nothing.
- An ack, and equally a nack or a reject whatever its flags, only returns credit: nothing is
  removed or redelivered (rabbit_stream_queue.erl ``settle/5``: "all settle reasons will give
  credit"). A failed processing is counted ``failed`` and the record skipped.
- AMQP 0.9.1 has no server-side offset tracking (streams.md#offset-tracking): the application
  stores its offset. qsim's reader resumes, after a crash or a lost connection, at the oldest
  record it was sent but had not finished processing (the offset up to which everything was
  processed), so what it held unprocessed is read again (``redelivered``); with concurrency
  above 1, records finished out of order beyond that point are processed twice.
- Retention may remove records the reader has not got to: its position moves to the log's
  first record and the records in between are lost to it (``lost_to_retention``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from qsim.engine.log.partition import Delivery

if TYPE_CHECKING:
    from qsim.engine.log.group import ReaderGroup
    from qsim.engine.log.stream import Stream
    from qsim.engine.message import Message
    from qsim.engine.worker import Worker
    from qsim.scenario.consumer import StreamOffset


class Reader:
    """One replica's consumer on ``stream`` with ``prefetch`` credit, attaching at ``offset``."""

    __slots__ = (
        "attached",
        "broker",
        "connected",
        "consuming",
        "env",
        "epoch",
        "group",
        "offset",
        "outstanding",
        "partition",
        "position",
        "prefetch",
        "reached",
        "sent",
        "stream",
        "worker",
    )

    def __init__(
        self,
        stream: Stream,
        worker: Worker,
        group: ReaderGroup,
        prefetch: int,
        offset: StreamOffset | None,
    ) -> None:
        self.stream = stream
        self.partition = stream.partition
        self.broker = stream.broker
        self.env = stream.env
        self.worker = worker
        self.group = group
        self.prefetch = prefetch
        self.offset = offset
        self.position = self.partition.end  # the next offset to send (until it attaches: none)
        self.reached = self.position  # offsets below it were sent to it before (re-reads)
        self.sent: dict[Delivery, None] = {}  # sent and not processed yet, in offset order
        self.outstanding = 0  # credit in use: settlements that have not reached the broker
        self.attached = False
        self.connected = False  # the channel is open (settlements reach the broker)
        self.consuming = False  # and consuming (deliveries are sent)
        self.epoch = 0
        group.readers.append(self)
        self.broker.consumers.append(self)

    # -- the subscription, as the worker sees it ---------------------------------------------
    def open(self) -> None:
        """Consume (again), if the worker wants deliveries and the broker is up: first at the
        pool's offset, after that where the application resumes."""
        if not self.worker.wants_deliveries or self.connected or not self.broker.up:
            return
        self.connected = self.consuming = True
        if not self.attached:
            self.attached = True
            self._move_to(self.stream.attach_at(self.offset))
            self.reached = self.position
        self.pump()

    def cancel(self) -> None:
        """basic.cancel: nothing more is sent; what it holds may still be settled."""
        self.consuming = False

    def holds(self) -> bool:
        """Whether credit is in use (settlements still to reach the broker)."""
        return self.outstanding > 0

    revokes_each = False  # a stream takes nothing back but by moving the epoch

    def current(self, msg: Message, epoch: int) -> bool:
        """Still this reader's delivery: nothing revoked it since (a crash, a lost connection)."""
        return epoch == self.epoch

    def settle(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """The worker finished ``msg`` (the application stores its offset); the ack, or the
        nack, returns one credit when it reaches the broker."""
        delivery = cast(Delivery, msg)
        del self.sent[delivery]
        if delivery.poison is not None:
            self.stream.decide_poison(delivery)
        self.group.settled(delivery, ok is True, self.env.now)
        if self.broker.delay is None:
            self._credited()
        else:
            self.broker.hop(self._credited_if_current, epoch)

    def close(self, lost: list[Message] | None) -> None:
        """The connection is gone: what was sent and not processed is interrupted, and the
        reader will resume at the oldest of it (``lost``, what the process held, is in it)."""
        self.connected = self.consuming = False
        self.epoch += 1
        self.outstanding = 0
        self.worker.forget_buffer()
        if self.sent:
            resume = next(iter(self.sent)).offset  # sent in offset order: the oldest first
            self.group.interrupted_deliveries(self, self.partition.first, self.env.now)
            self.sent.clear()
            self._move_to(resume)

    def connection_lost(self) -> None:
        """The broker went away: the channel closes; the process finishes its work in vain."""
        if self.connected:
            self.close(None)
            if self.worker.draining:
                self.worker.exit()  # nothing it holds can be settled any more

    # -- the log's side -----------------------------------------------------------------------
    def pump(self) -> None:
        """Send records while the reader consumes, has credit, and is behind the log's end."""
        partition = self.partition
        while self.consuming and self.outstanding < self.prefetch and self.position < partition.end:
            self._send(partition.read(self.position))

    def catch_up(self) -> None:
        """Retention removed records: a reader behind the log's first record skips to it."""
        if self.position < self.partition.first:
            self._move_to(self.position)

    def _send(self, msg: Delivery) -> None:
        offset = msg.offset
        self.position = offset + 1
        reread = offset < self.reached
        if reread:
            msg.deliveries = 2  # another attempt: a fresh service time
        else:
            msg.deliveries = 1
            self.reached = offset + 1
        self.sent[msg] = None
        self.outstanding += 1
        self.group.sent(reread, self.env.now)
        if self.broker.delay is None:
            self.worker.receive(msg)
        else:
            self.broker.hop(self._arrive, (msg, self.epoch))

    def _move_to(self, offset: int) -> None:
        """Set the position (not before the log's first record: the rest is lost to it)."""
        first = self.partition.first
        if offset < first:
            self.group.skipped(first - offset)
            offset = first
        behind = self.position - offset
        if behind:
            self.position = offset
            self.group.moved(behind, self.env.now)

    def _arrive(self, sent: tuple[Delivery, int]) -> None:
        msg, epoch = sent
        if epoch == self.epoch:
            self.worker.receive(msg)

    def _credited_if_current(self, epoch: int) -> None:
        if epoch == self.epoch:
            self._credited()

    def _credited(self) -> None:
        self.outstanding -= 1
        if self.worker.draining:
            self.worker.settled()
        else:
            self.pump()
