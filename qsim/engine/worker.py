"""Workers: the replicas of a consumer pool, whatever the broker.

A worker processes up to ``concurrency`` messages at once; the rest of what it received waits in
its local buffer (a client library's prefetch buffer, a polled batch). It draws each job's
service time, counts its busy time, publishes onward after processing (a pipeline stage), and
crashes, restarts and drains when told. How messages reach it and how it settles them is its
delivery model's business: the worker sees only a :class:`~qsim.engine.protocols.Subscription`
(``docs/architecture.md`` draws who calls whom).

A crash or a forced removal ends the work in progress (its busy time ends then); work that
finishes after its subscription revoked it (a channel closed, a lease lapsed) frees the worker
but its settlement goes nowhere (``Subscription.current`` says so). qsim voids its onward
publishes too, so that a flow never ends twice; a real client would publish them (duplicates).

A job of a pool that ``uses`` shared resources (:mod:`qsim.engine.resources`) takes its slot at
once but starts its service only when every resource has granted it; it holds them to its end
(a crash gives them back then). Its service time is fixed as its service starts: the draw, plus
the pool's work per byte of the message, times its contention factor for the jobs of the pool
then in service (the pool's ``stretch``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import TYPE_CHECKING

from simpy.events import NORMAL

from qsim.engine.message import Message
from qsim.engine.paths import Paths
from qsim.engine.resources import Claim

if TYPE_CHECKING:
    import simpy

    from qsim.engine.awslambda import FunctionBill
    from qsim.engine.protocols import Subscription
    from qsim.engine.resources import Limit

Decide = Callable[[Message], bool | None]
"""A processed message's fate: True ack, None reject with requeue, False reject without."""
Stretch = Callable[[float, Message, int], float]
"""A job's service time from its draw, its message and the pool's jobs in service with it."""


class PoolState:
    """Running totals of one consumer pool, and what it does after processing a message."""

    __slots__ = (
        "bill",
        "busy_time",
        "crashes",
        "limit",
        "needs",
        "onward",
        "running",
        "stretch",
        "timeouts",
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
        self.onward: Callable[[Message], None] | None = None
        self.limit = math.inf  # a job running longer is stopped there and fails (Lambda timeout)
        self.timeouts = 0  # jobs stopped at ``limit``
        self.bill: FunctionBill | None = None  # an AWS Lambda pool's invocations
        self.needs: tuple[Limit, ...] = ()  # the shared resources each job holds while it works
        self.stretch: Stretch | None = None  # work per byte and contention, if the pool has any
        self.running = 0  # jobs in service now, counted only where ``stretch`` reads it

    def count_busy(self, start: float, end: float, sign: float = 1.0) -> None:
        """Add (or with ``sign`` -1 remove) busy time ``[start, end]`` within the window."""
        overlap = min(end, self.window_end) - max(start, self.window_start)
        if overlap > 0:
            self.busy_time += sign * overlap


class Worker:
    """One replica: ``concurrency`` slots, a local buffer, and one subscription (set by the
    delivery model when the replica is built)."""

    __slots__ = (
        "_done_callback",
        "_start",
        "alive",
        "buffer",
        "busy",
        "claims",
        "concurrency",
        "decide",
        "draining",
        "env",
        "exited",
        "generation",
        "on_exit",
        "pool",
        "receive",
        "running",
        "service",
        "started",
        "started_at",
        "subscription",
        "working",
    )

    def __init__(
        self,
        env: simpy.Environment,
        pool: PoolState,
        *,
        concurrency: int,
        service: Callable[[Message], float],
        decide: Decide | None,
        can_lose_work: bool,
        paths: Paths | None = None,
    ) -> None:
        self.env = env
        self.pool = pool
        self.concurrency = concurrency
        self.service = service
        self.decide = decide
        # messages being processed, tracked only where a crash or a forced removal can cut them
        self.working: dict[Message, None] | None = {} if can_lose_work else None
        self.busy = 0
        self.running = 0  # of ``busy``, the jobs in service, counted where the pool stretches
        self.claims: dict[Claim, None] = {}  # jobs that use resources, until they end
        self.buffer: deque[Message] = deque()
        self.alive = True
        self.started = False  # cold start done
        self.started_at = float("nan")
        self.draining = False  # cancelled: finishing what it holds, then exiting
        self.exited = False
        self.generation = 0  # moves on when the process loses its work (crash, forced removal)
        self.on_exit: Callable[[Worker], None] | None = None
        self.subscription: Subscription
        self._done_callback = self._done
        # _start(msg), chosen once (``pool.needs`` is set before any replica is made)
        paths = Paths() if paths is None else paths
        now = paths.choose("worker.start", not pool.needs)
        self._start: Callable[[Message], None] = self._start_now if now else self._start_claimed
        # receive(msg): a delivery reaches the replica: start it, or buffer it until a slot is
        # free (the shortcut starts it in the same call)
        self.receive: Callable[[Message], None] = self._start_now if now else self._receive_general

    # -- what the delivery model asks -------------------------------------------------------
    @property
    def wants_deliveries(self) -> bool:
        """Whether the replica would consume now: started, alive, and not leaving."""
        return self.alive and self.started and not self.draining and not self.exited

    def _receive_general(self, msg: Message) -> None:
        """A delivery reaches the replica: start it, or buffer it until a slot is free."""
        if self.busy < self.concurrency:
            self._start(msg)
        else:
            self.buffer.append(msg)

    def forget_buffer(self) -> None:
        """The delivery model took back what waits in the buffer (it will deliver it again)."""
        self.buffer.clear()

    def forget(self, msg: Message) -> None:
        """The delivery model took back one message (a quorum consumer timeout): if it still
        waits in the buffer, it goes (it will be delivered again, as a new delivery)."""
        if msg in self.buffer:
            self.buffer.remove(msg)

    def settled(self) -> None:
        """A settlement reached the broker: a draining replica may now be done."""
        if self.draining:
            self._exit_if_idle()

    # -- lifecycle --------------------------------------------------------------------------
    def start_consuming(self) -> None:
        """The replica has started: it subscribes (if the broker is up)."""
        if self.exited:
            return  # removed while it was still starting
        self.started = True
        self.started_at = self.env.now
        self.subscription.open()

    def cancel(self) -> None:
        """Scale-down with drain: no more deliveries; finish and settle what it holds, exit."""
        self.draining = True
        self.subscription.cancel()
        self._exit_if_idle()

    def terminate(self) -> None:
        """Scale-down at once: work in progress is lost, the subscription closes, it exits."""
        self.subscription.close(self._lose_work())
        self.exit()

    def exit(self) -> None:
        """The replica is gone."""
        if not self.exited:
            self.exited = True
            self.alive = False
            self.subscription.cancel()
            if self.on_exit is not None:
                self.on_exit(self)

    def crash(self) -> None:
        """The process dies: its work in progress and its buffer are lost with its connection."""
        if self.exited:
            return
        self.pool.crashes += 1
        self.subscription.close(self._lose_work())
        self.alive = False
        if self.draining:
            self.exit()

    def restart(self) -> None:
        """The process is running again and subscribes (if the broker is up)."""
        if self.exited:
            return
        self.alive = True
        self.subscription.open()

    def _exit_if_idle(self) -> None:
        if not self.subscription.holds() and not self.buffer and self.busy == 0:
            self.exit()

    def _lose_work(self) -> list[Message]:
        """Work in progress ends now (it was counted busy to its end); returns what the process
        held: the messages it was working on, then its buffer."""
        now = self.env.now
        working = list(self.working or ())
        for msg in working:
            self.pool.count_busy(now, msg.service_end, sign=-1.0)
        if self.working is not None:
            self.working.clear()
        self.pool.running -= self.running
        self.running = 0
        for claim in self.claims:
            claim.abandon()
        self.claims.clear()
        held = [*working, *self.buffer]
        self.buffer.clear()
        self.generation += 1
        self.busy = 0
        return held

    # -- processing -------------------------------------------------------------------------
    def _start_now(self, msg: Message) -> None:
        """The shortcut, for a pool that uses no shared resources: the job starts its service
        if a slot is free, else waits in the buffer. It is both ``receive`` and ``_start``
        (which is only called with a slot free): one call per delivery."""
        if self.busy < self.concurrency:
            self.busy += 1
            msg.started_at = self.env._now  # hot path: SimPy's ``now``, without the call
            if self.working is not None:
                self.working[msg] = None
            self._run(msg, self.subscription.epoch, None)
        else:
            self.buffer.append(msg)

    def _start_claimed(self, msg: Message) -> None:
        """A job takes its slot now and starts its service once its resources grant it (at
        once when the pool needs none)."""
        now = self.env._now
        self.busy += 1
        msg.started_at = now
        epoch = self.subscription.epoch
        if self.working is not None:
            self.working[msg] = None
        msg.service_end = now  # no busy time to take back if it is lost while it waits
        claim = Claim(self.env, self.pool.needs)
        self.claims[claim] = None
        claim.start = lambda: self._run(msg, epoch, claim)
        claim.go()

    def _run(self, msg: Message, epoch: int, claim: Claim | None) -> None:
        """The job's service starts now (it holds what it needs)."""
        now = self.env._now
        duration = msg.service
        if duration < 0.0 or msg.deliveries > 1:
            duration = self.service(msg)
        pool = self.pool
        if pool.stretch is not None:  # only a stretched pool counts its jobs in service
            self.running += 1
            pool.running += 1
            duration = pool.stretch(duration, msg, pool.running)
        stopped = duration > pool.limit
        if stopped:
            duration = pool.limit
        msg.service_end = end = now + duration
        if pool.bill is not None:
            pool.bill.run(now, duration)
        pool.work += duration
        # the overlap with the measured window (conditionals, not min/max: once per job)
        window_end, window_start = pool.window_end, pool.window_start
        overlap = (end if end < window_end else window_end) - (
            now if now > window_start else window_start
        )
        if overlap > 0:
            pool.busy_time += overlap
        job = (msg, epoch, self.generation, stopped, claim)
        env = self.env  # the job's end: a bare entry where a Timeout would be (qsim.engine.clock)
        heappush(env._queue, (end, NORMAL, next(env._eid), self._done_callback, job))  # type: ignore[misc]

    def _done(self, job: tuple[Message, int, int, bool, Claim | None]) -> None:
        msg, epoch, generation, stopped, claim = job
        if generation != self.generation:
            return  # the process lost this work (crash): nothing of it remains
        self.busy -= 1
        pool = self.pool
        if pool.stretch is not None:
            self.running -= 1
            pool.running -= 1
        if claim is not None:  # what it held goes back (the next waiter may start now)
            del self.claims[claim]
            claim.release()
        if self.working is not None:  # (redelivered to this replica, it may run twice)
            self.working.pop(msg, None)
        # the worker takes the next buffered message before the settlement frees credit for more
        if self.buffer:
            self._start_buffered()
        subscription = self.subscription
        if epoch != subscription.epoch or (
            subscription.revokes_each and not subscription.current(msg, epoch)
        ):
            # revoked while it ran (a channel closed, a quorum consumer timeout took it back):
            # its settlement, and its onward publishes, are void
            return
        if stopped:
            pool.timeouts += pool.window_start <= msg.started_at < pool.window_end
            subscription.settle(msg, None, epoch)  # failed: back to the queue
            return
        ok = True if self.decide is None else self.decide(msg)
        onward = pool.onward
        if ok and onward is not None:
            onward(msg)  # publish onward, then settle (before the flow branch ends)
        subscription.settle(msg, ok, epoch)

    def _start_buffered(self) -> None:
        buffer, start = self.buffer, self._start
        while buffer and self.busy < self.concurrency:
            start(buffer.popleft())
