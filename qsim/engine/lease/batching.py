"""AWS Lambda's SQS event source poller with a batching window: it gathers up to ``batch_size``
messages over several receives (each at most 10, SQS's ReceiveMessage limit) and invokes the
function once with all of them when the batch is full or ``batching_window`` has passed since
its first message (docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html,
``BatchSize`` and ``MaximumBatchingWindowInSeconds``; with ``BatchSize`` above 10 the window must
be at least 1 s). The leases of gathered messages run while they wait. The 6 MB payload limit is
not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsim.engine.lease.poller import Poller
from qsim.engine.lease.receipt import Receipt
from qsim.engine.message import Message

if TYPE_CHECKING:
    from qsim.engine.lease.queue import LeaseQueue
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool

__all__ = ["RECEIVE_MAX", "WindowPoller"]

RECEIVE_MAX = 10
"""Messages one SQS ReceiveMessage returns at most."""


class WindowPoller(Poller):
    """One of a Lambda pool's pollers: receives gather a batch, handed over as one invocation."""

    __slots__ = ("batch_size", "gathered", "window", "windows")

    def __init__(self, queue: LeaseQueue, worker: Worker, pool: ConsumerPool) -> None:
        super().__init__(queue, worker, pool)
        scaling = pool.scaling
        assert scaling.batch_size is not None and scaling.batching_window is not None
        self.batch_size = scaling.batch_size
        self.window = scaling.batching_window
        self.gathered: list[Receipt] = []
        self.windows = 0  # numbers each batch being gathered, so a stale window end is ignored

    def poll(self) -> None:
        """Receive the rest of the batch (at most 10 at a time), if the replica is free."""
        self.batch = min(RECEIVE_MAX, self.batch_size - len(self.gathered))
        super().poll()

    def deliver(self, receipts: list[Receipt]) -> None:
        """A receive returned ``receipts``: add them to the batch; hand it over when full."""
        self.pending = False
        if receipts and not self.gathered:
            self.windows += 1
            self.broker.after(self.window, self._window_over, self.windows)
        for receipt in receipts:
            self.held[receipt] = self.broker.env.now
            self.gathered.append(receipt)
        if len(self.gathered) >= self.batch_size:
            self._invoke()
        else:
            self.poll()

    def cancel(self) -> None:
        """Scale-down: what was gathered is invoked, then nothing more is received."""
        self._invoke()
        super().cancel()

    def close(self, lost: list[Message] | None) -> None:
        """The process is gone: what it gathered stays in flight until the leases lapse."""
        self.gathered.clear()
        self.windows += 1
        super().close(lost)

    def _window_over(self, window: int) -> None:
        if window == self.windows and self.gathered:
            if self.pending:
                self.queue.withdraw(self)  # the outstanding long poll goes
                self.pending = False
                self.polls += 1
            self._invoke()

    def _invoke(self) -> None:
        """The gathered batch is one invocation: the worker runs its messages in turn."""
        if not self.gathered:
            return
        batch, self.gathered = self.gathered, []
        self.windows += 1
        bill = self.worker.pool.bill
        if bill is not None:
            bill.invoke(self.broker.env.now)
        for receipt in batch:
            self.worker.receive(receipt)
        self.poll()
