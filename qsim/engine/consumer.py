"""Consumers: replicas of a pool, each one AMQP consumer (channel) with a prefetch window.

A delivered message is unacked until its consumer finishes processing it and the ack reaches the
broker (manual ack); with ``ack: auto`` it counts as acked when sent and the prefetch window does
not apply (confirms.md). Up to ``concurrency`` messages are processed at once; the rest of the
window waits in the consumer's local buffer, where priorities no longer reorder it (priority.md).

When a channel closes (a crash, a consumer timeout, the broker's connection loss), every unacked
delivery of that channel is requeued (confirms.md#automatic-requeueing). Each closing starts a new
*epoch*: work and acks of an older epoch are stale and ignored by the broker. A crash also ends
the work in progress; after a timeout or a connection loss the process still finishes what it
was doing (its workers stay busy) but the ack goes nowhere.
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
    from qsim.engine.broker import Broker
    from qsim.engine.queue import Queue


class PoolState:
    """Running totals of one consumer pool, and what it does after processing a message."""

    __slots__ = (
        "busy_time",
        "closures",
        "crashes",
        "lost",
        "onward",
        "window_end",
        "window_start",
        "work",
    )

    def __init__(self, window_start: float, window_end: float) -> None:
        self.busy_time = 0.0
        self.work = 0.0  # service time of every job started (what the autoscaler's metric sees)
        self.window_start = window_start
        self.window_end = window_end
        self.crashes = 0
        self.closures = 0
        self.lost = 0
        self.onward: Callable[[Message], None] | None = None

    def count_busy(self, start: float, end: float, sign: float = 1.0) -> None:
        """Add (or with ``sign`` -1 remove) busy time ``[start, end]`` within the window."""
        overlap = min(end, self.window_end) - max(start, self.window_start)
        if overlap > 0:
            self.busy_time += sign * overlap


class Consumer:
    """One replica: a consumer on ``queue`` with prefetch ``prefetch`` (0 = unlimited)."""

    __slots__ = (
        "_done_callback",
        "alive",
        "auto_ack",
        "broker",
        "buffer",
        "busy",
        "concurrency",
        "connected",
        "crash_epoch",
        "decide",
        "draining",
        "env",
        "epoch",
        "exited",
        "in_rotation",
        "limit",
        "on_exit",
        "pool",
        "queue",
        "recorder",
        "service",
        "started",
        "started_at",
        "timeout",
        "unacked",
        "working",
    )

    def __init__(
        self,
        broker: Broker,
        queue: Queue,
        pool: PoolState,
        recorder: Recorder,
        *,
        prefetch: int,
        concurrency: int,
        auto_ack: bool,
        service: Callable[[Message], float],
        decide: Callable[[Message], bool | None] | None,
        timeout: float | None,
        can_crash: bool = False,
    ) -> None:
        self.broker = broker
        self.env = broker.env
        self.queue = queue
        self.pool = pool
        self.recorder = recorder
        self.auto_ack = auto_ack
        self.limit = math.inf if auto_ack or prefetch == 0 else prefetch
        self.concurrency = concurrency
        self.service = service
        self.decide = decide
        self.timeout = timeout
        self.unacked: dict[Message, None] = {}  # insertion-ordered set of this channel's deliveries
        # messages being processed, tracked only where a crash can cut them short
        self.working: dict[Message, None] | None = {} if can_crash else None
        self.busy = 0
        self.buffer: deque[Message] = deque()
        self.in_rotation = False
        self.alive = True
        self.started = False  # cold start done
        self.started_at = float("nan")
        self.connected = False
        self.draining = False  # cancelled: finishing what it holds, then exiting
        self.exited = False
        self.on_exit: Callable[[Consumer], None] | None = None
        self.epoch = 0
        self.crash_epoch = 0
        self._done_callback = self._done
        broker.consumers.append(self)

    # -- lifecycle -------------------------------------------------------------------------
    def start_consuming(self) -> None:
        """The replica has started: it opens its channel and consumes (if the broker is up)."""
        if self.exited:
            return  # removed while it was still starting
        self.started = True
        self.started_at = self.env._now
        self.reconnect()

    def cancel(self) -> None:
        """basic.cancel: no more deliveries; finish and ack what it holds, then exit."""
        self.draining = True
        self.queue.remove_consumer(self)
        self._exit_if_idle()

    def terminate(self) -> None:
        """Stop at once: the channel closes (unacked requeued), work in progress is lost."""
        self._lose_work()
        self._close_channel()
        self.exit()

    def exit(self) -> None:
        """The replica is gone."""
        if not self.exited:
            self.exited = True
            self.alive = False
            self.queue.remove_consumer(self)
            if self.on_exit is not None:
                self.on_exit(self)

    def _exit_if_idle(self) -> None:
        if self.draining and not self.unacked and not self.buffer and self.busy == 0:
            self.exit()

    def has_credit(self) -> bool:
        """Whether the broker may deliver another message to this consumer."""
        return len(self.unacked) < self.limit

    # -- delivery and processing -----------------------------------------------------------
    def deliver(self, msg: Message) -> None:
        """The broker sends ``msg`` to this consumer (it arrives after the network delay)."""
        if self.auto_ack:
            self.queue.count_auto_ack()
        else:
            self.unacked[msg] = None
            self.queue.unacked += 1
            if self.timeout is not None:
                self.broker.after(self.timeout, self._check_timeout, (msg, self.epoch))
        delay = self.broker.delay
        if delay is None:
            self._receive(msg)
        else:
            self.broker.hop(self._receive_if_current, (msg, self.epoch))

    def _receive_if_current(self, sent: tuple[Message, int]) -> None:
        msg, epoch = sent
        if epoch == self.epoch:
            self._receive(msg)

    def _receive(self, msg: Message) -> None:
        if self.busy < self.concurrency:
            self._start(msg)
        else:
            self.buffer.append(msg)

    def _start(self, msg: Message) -> None:
        now = self.env._now
        self.busy += 1
        msg.started_at = now
        duration = msg.service
        if duration < 0.0 or msg.deliveries > 1:
            duration = self.service(msg)
        msg.service_end = end = now + duration
        if self.working is not None:
            self.working[msg] = None
        pool = self.pool
        pool.work += duration
        overlap = min(end, pool.window_end) - max(now, pool.window_start)
        if overlap > 0:
            pool.busy_time += overlap
        Timeout(self.env, duration, (msg, self.epoch)).callbacks.append(self._done_callback)

    def _done(self, event: Timeout) -> None:
        msg, epoch = event._value
        if epoch != self.epoch:
            if epoch >= self.crash_epoch:
                self.busy -= 1  # finished work of a closed channel: the worker is free again
                if self.working is not None:  # (redelivered to this replica, it may run twice)
                    self.working.pop(msg, None)
                self._start_buffered()
            return
        self.busy -= 1
        if self.working is not None:
            self.working.pop(msg, None)
        # the worker takes the next prefetched message before the ack frees credit for more
        if self.buffer:
            self._start_buffered()
        onward = self.pool.onward
        if self.auto_ack:
            if onward is not None:
                onward(msg)  # before the flow branch ends, or the flow would end twice
            self.recorder.completed(self.queue.index, msg, self.env._now)
            if self.draining:
                self._exit_if_idle()
        else:
            ok = True if self.decide is None else self.decide(msg)
            if ok and onward is not None:
                onward(msg)  # publish onward, then ack
            if self.broker.delay is None:
                self._settled(msg, ok)
            else:
                self.broker.hop(self._settled_if_current, (msg, ok, epoch))

    def _start_buffered(self) -> None:
        while self.buffer and self.busy < self.concurrency:
            self._start(self.buffer.popleft())

    def _settled_if_current(self, sent: tuple[Message, bool | None, int]) -> None:
        msg, ok, epoch = sent
        if epoch == self.epoch:
            self._settled(msg, ok)

    def _settled(self, msg: Message, ok: bool | None) -> None:
        """The ack (``ok``) or reject (requeue if ``ok`` is None) reaches the broker."""
        del self.unacked[msg]
        if ok:
            self.queue.ack(msg)
        else:
            self.queue.reject(msg, requeue=ok is None)
        if self.draining:
            self._exit_if_idle()
        elif not self.in_rotation and self.connected and len(self.unacked) < self.limit:
            self.queue.add_consumer(self)

    # -- failures --------------------------------------------------------------------------
    def _check_timeout(self, sent: tuple[Message, int]) -> None:
        msg, epoch = sent
        if epoch == self.epoch and msg in self.unacked:
            self.pool.closures += 1
            self._close_channel()
            if self.draining:
                self.exit()  # what it held was requeued: nothing left to finish
            else:
                self.reconnect()

    def _close_channel(self) -> None:
        """The channel is gone: leave the rotation and requeue every unacked delivery."""
        self.connected = False
        self.queue.remove_consumer(self)
        if self.auto_ack:
            return  # nothing is unacked; the process keeps what it received
        self.epoch += 1
        returned = list(self.unacked)
        self.unacked.clear()
        self.buffer.clear()
        self.queue.requeue_all(returned)

    def _lose_work(self) -> None:
        """The process stops: work in progress ends now (it was counted busy to its end)."""
        now = self.env._now
        working = list(self.working or ())
        for msg in working:
            self.pool.count_busy(now, msg.service_end, sign=-1.0)
        if self.working is not None:
            self.working.clear()
        if self.auto_ack:  # auto-acked deliveries held by the process die with it (confirms.md)
            for msg in [*working, *self.buffer]:
                self.recorder.end_branch(msg.flow, False, now)
            self.pool.lost += len(working) + len(self.buffer)
            self.buffer.clear()
            self.epoch += 1
        self.crash_epoch = self.epoch + (0 if self.auto_ack else 1)
        self.busy = 0

    def crash(self) -> None:
        """The replica's process dies: its work in progress is lost with its channel."""
        if self.exited:
            return
        self.pool.crashes += 1
        self._lose_work()
        self._close_channel()
        self.alive = False
        if self.draining:
            self.exit()

    def restart(self) -> None:
        """The replica is running again and connects if the broker is up."""
        if self.exited:
            return
        self.alive = True
        self.reconnect()

    def connection_lost(self) -> None:
        """The broker went away: the channel closes, workers finish in vain."""
        if self.connected:
            self._close_channel()
            if self.draining:
                self.exit()  # what it held was requeued: nothing left to finish

    def reconnect(self) -> None:
        """Open a new channel and consume (if alive, started, staying, and the broker is up)."""
        ready = self.alive and self.started and not self.draining and not self.exited
        if ready and not self.connected and self.broker.up:
            self.connected = True
            self.queue.add_consumer(self)
