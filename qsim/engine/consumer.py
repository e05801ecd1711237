"""AMQP consumers: a replica's channel and ``basic.consume`` on a queue, with a prefetch window.

This is the subscription of RabbitMQ's push delivery model (:class:`~qsim.engine.protocols.
Subscription`); the worker behind it is broker-neutral (:mod:`qsim.engine.worker`).

A delivered message is unacked until its worker finishes processing it and the ack reaches the
broker (manual ack); with ``ack: auto`` it counts as acked when sent and the prefetch window does
not apply (confirms.md). Prefetched messages wait in the worker's local buffer, where priorities
no longer reorder them (priority.md).

When a channel closes (a crash, a consumer timeout, the broker's connection loss), every unacked
delivery of that channel is requeued (confirms.md#automatic-requeueing). Each closing starts a new
*epoch*: work and acks of an older epoch are stale and ignored by the broker. With auto-ack
nothing is unacked: what the process held when it died is lost (``lost_in_crash``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from qsim.engine.message import Message
from qsim.engine.recorder import Recorder

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.queue import Queue
    from qsim.engine.worker import Worker


class ChannelStats:
    """What the AMQP side of one pool counts: channels closed by the consumer timeout, and
    auto-acked messages lost with a replica's process (sent by the broker, never processed)."""

    __slots__ = ("auto_acked", "closures", "completed_auto", "consumers", "lost", "timeouts")

    def __init__(self) -> None:
        self.closures = 0
        self.timeouts = 0
        self.lost = 0
        self.completed_auto = 0  # auto-acked deliveries whose processing finished
        self.auto_acked = 0  # deliveries the broker counted acked as it sent them
        self.consumers: list[Consumer] = []  # every channel of the pool, in creation order

    def figures(self) -> dict[str, int]:
        """The pool figures these stand for, by their summary names."""
        return {
            "channel_closures": self.closures,
            "consumer_timeouts": self.timeouts,
            "lost_in_crash": self.lost,
        }

    def settle_books(self, pool: str) -> None:
        """Auto-ack conservation: every auto-acked delivery was processed, lost with a process,
        or is still held by a replica (buffered, in progress, or on the wire)."""
        held = sum(c.held() for c in self.consumers if c.auto_ack)
        ends = self.completed_auto + self.lost + held
        if ends != self.auto_acked:
            raise AssertionError(f"pool {pool}: auto-acked {self.auto_acked} != {ends} ended")


class Consumer:
    """One replica's AMQP consumer on ``queue`` with prefetch ``prefetch`` (0 = unlimited).
    The queue hands it each delivery with ``deliver(msg)``, which returns whether it still has
    credit; bound once, as it is built (the ``consumer.deliver`` shortcut of
    :mod:`qsim.engine.paths`, or the general path)."""

    __slots__ = (
        "auto_ack",
        "broker",
        "connected",
        "deliver",
        "env",
        "epoch",
        "in_rotation",
        "limit",
        "nack",
        "on_wire",
        "queue",
        "receive",
        "recorder",
        "revokes_each",
        "settle",
        "stats",
        "timeout",
        "unacked",
        "worker",
    )

    def __init__(
        self,
        broker: Broker,
        queue: Queue,
        worker: Worker,
        recorder: Recorder,
        stats: ChannelStats,
        *,
        prefetch: int,
        auto_ack: bool,
        timeout: float | None,
        nack: bool = False,
    ) -> None:
        self.broker = broker
        self.env = broker.env
        self.queue = queue
        self.worker = worker
        self.recorder = recorder
        self.stats = stats
        self.auto_ack = auto_ack
        self.limit = math.inf if auto_ack or prefetch == 0 else prefetch
        self.timeout = timeout
        self.nack = nack  # rejects with basic.nack, which a 4.3 quorum queue does not count
        self.unacked: dict[Message, bool] = {}  # insertion-ordered set of this channel's deliveries
        self.in_rotation = False  # in the queue's dispatch rotation (this consumer's own flag)
        self.connected = False
        self.epoch = 0
        self.on_wire = 0  # deliveries crossing the network to the replica
        self.receive = worker.receive
        # the quorum consumer timeout takes back single deliveries: the worker asks current()
        self.revokes_each = queue.quorum and timeout is not None
        # settle(msg, ok, epoch), chosen once: the hot path makes one call per settlement
        self.settle: Callable[[Message, bool | None, int], None] = (
            self._settle_auto
            if auto_ack
            else self._settled
            if broker.delay is None
            else self._settle_later
        )
        # deliver(msg), chosen once: straight to the worker where nothing can come between
        direct = not auto_ack and timeout is None and broker.delay is None
        self.deliver: Callable[[Message], bool] = (
            self._deliver_direct
            if broker.paths.choose("consumer.deliver", direct)
            else self._deliver_general
        )
        broker.consumers.append(self)

    # -- the subscription, as the worker sees it ---------------------------------------------
    def held(self) -> int:
        """Messages sent to this consumer that its process has not finished (auto-ack books)."""
        worker = self.worker
        alive = not worker.exited
        return (worker.busy + len(worker.buffer) if alive else 0) + self.on_wire

    def open(self) -> None:
        """Open a channel and consume, if the worker wants deliveries and the broker is up."""
        if self.worker.wants_deliveries and not self.connected and self.broker.up:
            self.connected = True
            self._join()

    def cancel(self) -> None:
        """basic.cancel: no more deliveries; unacked ones may still be acked."""
        self._leave()

    def holds(self) -> bool:
        """Whether deliveries of this channel are unacked."""
        return bool(self.unacked)

    def current(self, msg: Message, epoch: int) -> bool:
        """Still this channel's delivery: same epoch, and (manual ack) still unacked."""
        return epoch == self.epoch and (self.auto_ack or msg in self.unacked)

    def _settle_auto(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """Auto-ack: the broker counted it done when it sent it; its processing has ended."""
        self.stats.completed_auto += 1
        self.recorder.completed(self.queue.index, msg, self.env._now)
        self.worker.settled()

    def _settle_later(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """Manual ack over a network: it reaches the broker after the drawn delay."""
        self.broker.hop(self._settled_if_current, (msg, ok, epoch))

    def close(self, lost: list[Message] | None) -> None:
        """The channel is gone: leave the rotation and requeue every unacked delivery. With
        auto-ack nothing is unacked: when the process died (``lost`` is what it held), that is
        lost, and so is whatever the broker still had on the wire to it."""
        self.connected = False
        self._leave()
        if self.auto_ack:
            if lost is not None:
                self._lose(lost)
                self.epoch += 1
            return
        self.epoch += 1
        returned = list(self.unacked)
        self.unacked.clear()
        self.worker.forget_buffer()
        self.queue.requeue_all(returned)

    def _lose(self, lost: list[Message]) -> None:
        now = self.env.now
        for msg in lost:
            self.recorder.end_branch(msg.flow, False, now)
        self.stats.lost += len(lost)

    # -- the queue's side ---------------------------------------------------------------------
    # deliver(msg) -> bool: the queue sends ``msg`` (it arrives after the network delay);
    # returns whether the consumer still has credit, i.e. stays in the queue's rotation
    def _deliver_direct(self, msg: Message) -> bool:
        """The shortcut: manual ack, no consumer timeout, no network."""
        unacked = self.unacked
        unacked[msg] = True
        self.receive(msg)
        if len(unacked) < self.limit:
            return True
        self.in_rotation = False
        return False

    def _deliver_general(self, msg: Message) -> bool:
        """Any ack mode, consumer timeout and network."""
        if self.auto_ack:
            self.stats.auto_acked += 1
        else:
            self.unacked[msg] = True
            if self.timeout is not None:
                self.broker.after(self.timeout, self._check_timeout, (msg, self.epoch))
        if self.broker.delay is None:
            self.receive(msg)
        else:
            self.on_wire += 1
            self.broker.hop(self._receive_if_current, (msg, self.epoch))
        if len(self.unacked) < self.limit:
            return True
        self.in_rotation = False
        return False

    def _join(self) -> None:
        if not self.in_rotation:
            self.in_rotation = True
            self.queue.add_consumer(self)

    def _leave(self) -> None:
        self.in_rotation = False
        self.queue.remove_consumer(self)

    def _receive_if_current(self, sent: tuple[Message, int]) -> None:
        msg, epoch = sent
        self.on_wire -= 1
        if epoch == self.epoch:
            self.worker.receive(msg)
        elif self.auto_ack:
            self._lose([msg])  # auto-acked, sent to a process that died meanwhile

    def _settled_if_current(self, sent: tuple[Message, bool | None, int]) -> None:
        msg, ok, epoch = sent
        if epoch == self.epoch:
            self._settled(msg, ok, epoch)

    def _settled(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """The ack (``ok``) or reject (requeue if ``ok`` is None) reaches the broker."""
        if self.unacked.pop(msg, False) is False:
            return  # a quorum queue took it back when it timed out: the late ack goes nowhere
        if ok:
            self.queue.ack(msg)
        else:
            self.queue.reject(msg, requeue=ok is None, counted=not self.nack)
        worker = self.worker
        if worker.draining:
            worker.settled()
        elif not self.in_rotation and self.connected and len(self.unacked) < self.limit:
            self.in_rotation = True  # credit again: back at the tail of the rotation
            self.queue.add_consumer(self)

    # -- the consumer timeout ------------------------------------------------------------------
    def _check_timeout(self, sent: tuple[Message, int]) -> None:
        """Classic queues (RabbitMQ up to 4.2's channel-level rule): the channel is closed and
        all its unacked deliveries requeued. Quorum queues (4.3): only the timed-out message
        returns, uncounted toward the delivery limit, and the consumer is cancelled
        (basic.cancel); qsim's consumer subscribes again at once (quorum-queues/index.md
        #consumer-timeout)."""
        msg, epoch = sent
        if epoch != self.epoch or msg not in self.unacked:
            return
        self.stats.timeouts += 1
        if self.queue.quorum:
            del self.unacked[msg]
            self.worker.forget(msg)
            self._leave()
            self.queue.requeue_all([msg], counted=False)
            if self.worker.draining:
                self.worker.settled()
            else:
                self._join()
            return
        self.stats.closures += 1
        self.close(None)
        if self.worker.draining:
            self.worker.exit()  # what it held was requeued: nothing left to finish
        else:
            self.open()

    def connection_lost(self) -> None:
        """The broker went away: the channel closes; the process finishes its work in vain."""
        if self.connected:
            self.close(None)
            if not self.worker.draining:
                return
            if self.auto_ack:  # nothing was requeued: the process finishes what it holds
                self.worker.settled()  # (and exits when idle, as a draining replica does)
            else:
                self.worker.exit()  # what it held was requeued: nothing left to finish
