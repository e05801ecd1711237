"""Where a consumer that retries sends a message it failed: the retry queue of its attempt
level, or, after its last attempt, the parking queue (:mod:`qsim.scenario.retry` has the
pattern and its sources).

The consumer reads the message's ``x-death`` count for the work queue and reason ``rejected``
(dlx.md) and sends it to retry queue ``count`` while ``count < max_attempts``, else parks it.
A real consumer does that by publishing to the level's queue and acking, or by rejecting to a
dead-letter exchange routed on a header it set; either way the message leaves the work queue at
once, so qsim books it as the work queue's rejection without requeue (``nacked``), dead-lettered
to that queue (``dead_lettered``; the target counts it as ``published``). The retry queues
expire it (``x-message-ttl``) back to the work queue, the existing TTL and dead-letter
machinery: no event of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsim.engine.results import RetryRun

if TYPE_CHECKING:
    from qsim.engine.protocols import DeliveryModel
    from qsim.engine.queue import Queue


class RetryRoute:
    """A pool's retry levels (queues, level 1 first), their waits, and its parking queue."""

    __slots__ = ("delays", "levels", "parked", "parking", "retried", "work")

    def __init__(
        self,
        work: Queue,
        levels: list[DeliveryModel],
        delays: tuple[float, ...],
        parking: DeliveryModel,
    ) -> None:
        self.work = work
        self.levels = levels
        self.delays = delays
        self.parking = parking
        self.retried = [0] * len(levels)  # messages sent to each level
        self.parked = 0

    def target(self, rejections: int) -> DeliveryModel:
        """Where a message goes after its ``rejections``-th failed attempt."""
        if rejections <= len(self.levels):
            self.retried[rejections - 1] += 1
            return self.levels[rejections - 1]
        self.parked += 1
        return self.parking

    def settle_books(self) -> None:
        """Every message the work queue rejected went to a level or to parking."""
        sent = sum(self.retried) + self.parked
        if sent != self.work.nacked:
            raise AssertionError(
                f"queue {self.work.name}: nacked {self.work.nacked} != {sent} retried or parked"
            )

    def report(self) -> RetryRun:
        """What the retry did over the run: each level's messages, the parked, and the
        deliveries of the work queue per message that entered it from outside the retry."""
        returned = sum(level.dead_lettered for level in self.levels)
        return RetryRun(
            delays_s=list(self.delays),
            retried=list(self.retried),
            parked=self.parked,
            messages=self.work.published - returned,
            deliveries=self.work.delivered,
        )
