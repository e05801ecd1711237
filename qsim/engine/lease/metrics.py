"""What a scaler reads of a lease queue: SQS's ApproximateNumberOfMessages (visible),
ApproximateNumberOfMessagesNotVisible (in flight) and ApproximateNumberOfMessagesDelayed
(delayed), as KEDA's aws-sqs-queue scaler asks for them, and the oldest message's age."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from qsim.engine.metrics import MetricsSource

if TYPE_CHECKING:
    from qsim.engine.lease.queue import LeaseQueue

__all__ = ["DelayedMetrics", "LeaseMetrics"]


@runtime_checkable
class DelayedMetrics(MetricsSource, Protocol):
    """A :class:`~qsim.engine.metrics.MetricsSource` that also counts delayed messages."""

    def delayed(self) -> int:
        """Messages published and still hidden by a delay."""
        ...


class LeaseMetrics:
    """:class:`DelayedMetrics` over a :class:`~qsim.engine.lease.queue.LeaseQueue`."""

    __slots__ = ("_queue",)

    def __init__(self, queue: LeaseQueue) -> None:
        self._queue = queue

    def ready(self) -> int:
        """Visible messages."""
        return len(self._queue.visible)

    def in_flight(self) -> int:
        """Messages received and not yet deleted."""
        return len(self._queue.in_flight)

    def delayed(self) -> int:
        """Messages still hidden by the queue's delay."""
        return self._queue.delayed_level.value

    def published(self) -> int:
        """Messages sent to the queue so far."""
        return self._queue.published

    def settled(self) -> int:
        """Messages deleted so far."""
        return self._queue.deleted

    def oldest_age(self, now: float) -> float:
        """The age of the oldest message not yet deleted."""
        return self._queue.oldest_age(now)
