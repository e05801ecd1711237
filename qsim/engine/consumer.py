"""Consumers: replicas of a pool, each one AMQP consumer with a prefetch window.

A delivered message is unacked until its consumer finishes processing it and acks (manual ack);
with ``ack: auto`` it counts as acked when sent and the prefetch window does not apply
(confirms.md). Up to ``concurrency`` messages are processed at once; the rest of the window waits
in the consumer's local buffer, where priorities no longer reorder it (priority.md).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from simpy.events import Timeout

from qsim.engine.message import Message
from qsim.engine.recorder import Recorder

if TYPE_CHECKING:
    import simpy

    from qsim.engine.queue import Queue


class PoolState:
    """Running totals of one consumer pool."""

    __slots__ = ("busy_time", "window_end", "window_start")

    def __init__(self, window_start: float, window_end: float) -> None:
        self.busy_time = 0.0
        self.window_start = window_start
        self.window_end = window_end


class Consumer:
    """One replica: a consumer on ``queue`` with prefetch ``prefetch`` (0 = unlimited)."""

    __slots__ = (
        "_done_callback",
        "auto_ack",
        "buffer",
        "busy",
        "concurrency",
        "env",
        "fail",
        "in_rotation",
        "limit",
        "nack_probability",
        "pool",
        "queue",
        "recorder",
        "requeue",
        "service",
        "unacked",
    )

    def __init__(
        self,
        env: simpy.Environment,
        queue: Queue,
        pool: PoolState,
        recorder: Recorder,
        *,
        prefetch: int,
        concurrency: int,
        auto_ack: bool,
        service: Callable[[], float],
        nack_probability: float,
        requeue: bool,
        fail: Callable[[], float],
    ) -> None:
        self.env = env
        self.queue = queue
        self.pool = pool
        self.recorder = recorder
        self.auto_ack = auto_ack
        self.limit = math.inf if auto_ack or prefetch == 0 else prefetch
        self.concurrency = concurrency
        self.service = service
        self.nack_probability = nack_probability
        self.requeue = requeue
        self.fail = fail
        self.unacked = 0
        self.busy = 0
        self.buffer: deque[Message] = deque()
        self.in_rotation = False
        self._done_callback = self._done

    def has_credit(self) -> bool:
        """Whether the broker may deliver another message to this consumer."""
        return self.unacked < self.limit

    def deliver(self, msg: Message) -> None:
        """The broker hands ``msg`` to this consumer."""
        if self.auto_ack:
            self.queue.count_auto_ack()
        else:
            self.unacked += 1
            self.queue.unacked += 1
        if self.busy < self.concurrency:
            self._start(msg)
        else:
            self.buffer.append(msg)

    def _start(self, msg: Message) -> None:
        env = self.env
        now = env._now
        self.busy += 1
        msg.started_at = now
        duration = self.service()
        pool = self.pool
        overlap = min(now + duration, pool.window_end) - max(now, pool.window_start)
        if overlap > 0:
            pool.busy_time += overlap
        Timeout(env, duration, msg).callbacks.append(self._done_callback)

    def _done(self, event: Timeout) -> None:
        msg: Message = event._value
        self.busy -= 1
        queue = self.queue
        if self.auto_ack:
            self.recorder.completed(queue.index, msg, self.env._now)
        else:
            self.unacked -= 1
            if self.nack_probability and self.fail() < self.nack_probability:
                queue.reject(msg, self.requeue)
            else:
                queue.ack(msg)
        if self.buffer and self.busy < self.concurrency:
            self._start(self.buffer.popleft())
        if not self.in_rotation and self.unacked < self.limit:
            queue.add_consumer(self)
