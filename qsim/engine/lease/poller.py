"""A replica of a pool reading a lease queue: a poller (the :class:`~qsim.engine.protocols.
Subscription` of the lease model; ``docs/semantics.md``, "Lease-based brokers").

The loop, as the SQS, Pub/Sub pull, Service Bus and JetStream fetch clients run it:

- While the replica has a free slot and nothing received waits to start (its buffer is empty),
  it receives up to ``batch`` messages; with ``max_outstanding`` it receives while it holds
  fewer messages than that (in its buffer or at work), up to ``batch`` and no more than the
  room left. With long polling (``wait`` > 0) the receive waits up
  to ``wait`` for a first message and returns as soon as one is visible; with short polling it
  returns at once. A receive that returns nothing is an empty receive; the replica pauses
  ``empty_pause`` before the next (qsim's key: 0 after a long poll, 1 s after a short one).
- Each receive of a message reaches the worker as its own :class:`~qsim.engine.lease.receipt.
  Receipt` (SQS's receipt handle), so two receives of one message held by the same replica
  settle apart.
- Every received message it processes is deleted when done, or, when processing failed,
  returned at once with ``partial_batch`` (else left to its lease). The queue decides what a
  delete after the lease lapsed does (:meth:`qsim.engine.lease.queue.LeaseQueue.settle`).
- With ``heartbeat`` the replica extends the lease of every message it holds (being processed
  or waiting in its buffer) every ``heartbeat`` seconds.
- A crash or a forced removal loses what the process held: those messages stay in flight
  until their leases lapse. A broker outage stops the polling; leases run on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

from qsim.engine.message import Message

if TYPE_CHECKING:
    from qsim.engine.lease.queue import LeaseQueue
    from qsim.engine.lease.receipt import Receipt
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool

__all__ = ["Poller"]


class Poller:
    """One replica's receive loop on ``queue``."""

    __slots__ = (
        "_again", "_polling", "active", "batch", "beats", "broker", "empty_pause", "epoch",
        "heartbeat", "held", "max_outstanding", "partial_batch", "pending", "polls", "queue",
        "revokes_each", "wait", "worker",
    )  # fmt: skip

    def __init__(self, queue: LeaseQueue, worker: Worker, pool: ConsumerPool) -> None:
        assert pool.batch is not None and pool.wait is not None and pool.empty_pause is not None
        self.queue = queue
        self.broker = queue.broker
        self.worker = worker
        self.batch = pool.batch
        self.wait = pool.wait
        self.empty_pause = pool.empty_pause
        self.heartbeat = pool.heartbeat
        self.partial_batch = bool(pool.partial_batch)
        self.max_outstanding = pool.max_outstanding
        self.epoch = 0
        self.revokes_each = False  # a lapsed lease does not stop the work: its delete comes late
        self.active = False  # wants to receive (opened, not cancelled, broker up)
        self.pending = False  # a receive is outstanding (or the pause after an empty one)
        self.polls = 0  # numbers each receive, so a stale wait or pause is ignored
        self.held: dict[Message, float] = {}  # the receipts it holds -> when it received each
        self.beats = 0  # heartbeats sent (ChangeMessageVisibility calls) for receipts let go
        self._polling = False  # inside poll(): a nested call asks for another round instead
        self._again = False
        queue.broker.consumers.append(self)

    # -- the subscription, as the worker sees it ---------------------------------------------
    def open(self) -> None:
        """Start polling, if the replica wants deliveries and the broker is up."""
        if self.worker.wants_deliveries and self.broker.up:
            self.active = True
            self.poll()

    def cancel(self) -> None:
        """Receive nothing more; held messages may still be deleted."""
        self._stop()

    def holds(self) -> bool:
        """Whether the replica holds received messages it has not settled."""
        return bool(self.held)

    def current(self, msg: Message, epoch: int) -> bool:
        """A lapsed lease does not revoke the work (the worker finishes and deletes late)."""
        return epoch == self.epoch

    def settle(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """Processing of a receipt ended: delete its message (``ok``), or report it failed."""
        if epoch != self.epoch or msg not in self.held:
            return
        self._let_go(msg)
        receipt = cast("Receipt", msg)
        if receipt.message.poison is None:  # a poison message fails at every receive
            receipt.message.poison = receipt.poison
        self.queue.settle(receipt, bool(ok), self.partial_batch)
        if self.worker.draining:
            self.worker.settled()
        else:
            self.poll()

    def close(self, lost: list[Message] | None) -> None:
        """The process is gone (``lost`` is what it held): its messages stay in flight at the
        queue until their leases lapse."""
        self._stop()
        self.epoch += 1
        for receipt in list(self.held):
            self._let_go(receipt)

    def connection_lost(self) -> None:
        """The broker went away: stop polling; what the replica holds is still its own."""
        self._stop()

    # -- the loop -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Receive, if the replica can take a message and no receive is outstanding. A receive
        answered at once calls back (:meth:`deliver`, :meth:`empty`), which polls again: that
        is a loop here, not a call chain, however many receives a backlog takes."""
        if self._polling:
            self._again = True
            return
        self._polling = True
        try:
            self._again = True
            while self._again:
                self._again = False
                if self._can_receive():
                    self.pending = True
                    self.polls += 1
                    self.queue.receive(self, self.polls)
        finally:
            self._polling = False

    def _can_receive(self) -> bool:
        worker = self.worker
        if not self.active or self.pending:
            return False
        if self.max_outstanding is not None:
            if len(self.held) >= self.max_outstanding:
                return False
        elif worker.buffer or worker.busy >= worker.concurrency:
            return False
        return worker.wants_deliveries and self.broker.up

    def wanted(self) -> int:
        """How many messages the next receive asks for: ``batch``, or less where
        ``max_outstanding`` leaves less room."""
        if self.max_outstanding is None:
            return self.batch
        return min(self.batch, self.max_outstanding - len(self.held))

    def deliver(self, receipts: list[Receipt]) -> None:
        """A receive returned ``receipts`` (each message already leased to this replica)."""
        self.pending = False
        held, receive, now = self.held, self.worker.receive, self.broker.env.now
        bill = self.worker.pool.bill
        if bill is not None and receipts:  # an AWS Lambda pool: one invocation per batch
            bill.invoke(now)
        for receipt in receipts:
            held[receipt] = now
            receive(receipt)
        self.poll()

    def empty(self) -> None:
        """A receive returned nothing: pause, then receive again."""
        if self.empty_pause > 0:
            self.broker.after(self.empty_pause, self._paused, self.polls)
            return
        self.pending = False
        self.poll()

    def _paused(self, poll: int) -> None:
        if poll == self.polls and self.pending:
            self.pending = False
            self.poll()

    def _stop(self) -> None:
        self.active = False
        if self.pending:
            self.queue.withdraw(self)
        self.pending = False
        self.polls += 1  # a pause or a wait of the old loop ends nothing

    def _let_go(self, receipt: Message) -> None:
        """The replica no longer holds ``receipt``: count the heartbeats it sent for it."""
        received = self.held.pop(receipt)
        self.beats += self.heartbeats_since(received)

    def heartbeats_since(self, received: float) -> int:
        """Heartbeats sent for a message held since ``received`` (one every ``heartbeat``)."""
        if self.heartbeat is None:
            return 0
        return math.floor((self.broker.env.now - received) / self.heartbeat + 1e-9)

    def heartbeats(self) -> int:
        """Every heartbeat sent so far, for the receipts let go and those still held."""
        return self.beats + sum(self.heartbeats_since(t) for t in self.held.values())

    def holding(self, receipt: Receipt) -> bool:
        """Whether the running process still holds ``receipt`` (so its heartbeat extends the
        lease)."""
        return self.worker.alive and receipt in self.held
