"""Producers: publish messages to a queue at the times their arrival process gives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from simpy.events import Timeout

from qsim.engine.arrivals import ArrivalTimes
from qsim.engine.message import Message

if TYPE_CHECKING:
    import simpy

    from qsim.engine.queue import Queue

Draw = Callable[[], float]


class Producer:
    """Publishes to ``queue``; per-message ``ttl``, ``priority`` and ``size`` are drawn if given."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        queue: Queue,
        times: ArrivalTimes,
        *,
        ttl: Draw | None,
        priority: Draw | None,
        size: Draw | None,
    ) -> None:
        self.env = env
        self.index = index
        self.queue = queue
        self.times = times
        self.ttl = ttl
        self.priority = priority
        self.size = size
        self.published = 0
        self._callback = self._publish

    def start(self) -> None:
        """Schedule the first publish."""
        self._schedule_next()

    def _schedule_next(self) -> None:
        at = next(self.times, None)
        if at is not None:
            Timeout(self.env, max(at - self.env._now, 0.0)).callbacks.append(self._callback)

    def _publish(self, _event: Timeout) -> None:
        msg = Message(
            self.index,
            self.ttl() if self.ttl else math.inf,
            round(self.priority()) if self.priority else 0,
            self.size() if self.size else 0.0,
        )
        self.published += 1
        self.queue.publish(msg)
        self._schedule_next()
