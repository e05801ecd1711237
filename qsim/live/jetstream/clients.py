"""The live JetStream clients, asyncio tasks on one connection (nats-py is asyncio): producers
publish on schedule (awaiting each publish's ack from the stream), replicas pull, work and ack,
a watcher counts MaxDeliver advisories, a sampler reads each consumer's pending count.

What the replicas count per queue (kind ``lease`` of the tally, named as the model's
``queues.<q>.lease`` figures, ``qsim.summary``):

- ``receives`` and ``empty_receives``: receives (:meth:`~qsim.live.jetstream.pull.Puller.
  receive`), and those that brought nothing;
- ``received``: deliveries; ``duplicates``: deliveries after a message's first (the server's
  delivery count, ``num_delivered`` in the ack subject's metadata, above 1); ``redelivered``:
  messages delivered a second time (``num_delivered`` 2);
- ``lease_expiries``: deliveries whose work ended after their lease (AckWait from the receive,
  renewed by each in-progress ack when the pool heartbeats): the holder's view of a lapse;
- ``deleted``: messages acked, each once however many of its deliveries acked (JetStream takes
  a late ack even after a redelivery: ``docs/semantics.md``), and not after it was exhausted;
- ``exhausted``: MaxDeliver advisories (``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.
  <stream>.<consumer>``): messages the server stopped delivering (they stay in the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from qsim.engine.arrivals import arrival_times
from qsim.engine.sampler import ServiceTimes
from qsim.live.clock import Clock
from qsim.live.draws import Draws, SharedDraw
from qsim.live.jetstream.pull import Puller
from qsim.live.jetstream.topology import DURABLE, Lease, Names
from qsim.live.tally import Tally
from qsim.scenario import Producer, Scenario

__all__ = [
    "LEASE_COUNTS",
    "MICRO",
    "Context",
    "Pull",
    "advisory_watcher",
    "backlog_sampler",
    "producer",
    "replica",
]

MICRO = 1_000_000
"""Headers carry publish times in integer microseconds (as the RabbitMQ clients do)."""
LEASE_COUNTS = (
    "receives", "received", "empty_receives", "deleted", "duplicates", "redelivered",
    "lease_expiries", "exhausted",
)  # fmt: skip
"""The ``lease`` figures a live run measures, named as the model's (``qsim.summary``)."""


@dataclass(frozen=True)
class Pull:
    """How one pool receives and works, in scenario seconds."""

    batch: int = 1
    wait: float = 0.0
    empty_pause: float = 0.0
    heartbeat: float | None = None
    concurrency: int = 1


@dataclass
class Context:
    """What every task of one JetStream run shares."""

    nc: NATS
    js: JetStreamContext
    scenario: Scenario
    names: Names
    leases: dict[str, Lease]
    clock: Clock
    tally: Tally
    duration: float
    draws: Draws = field(init=False)
    acked: set[tuple[str, int]] = field(default_factory=set)
    exhausted: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.draws = Draws(self.scenario)


async def sleep_until(clock: Clock, at: float) -> bool:
    """Wait until scenario time ``at``; False if the run was stopped (by then or meanwhile)."""
    delay = clock.start + at * clock.scale - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    return not clock.stop.is_set()


async def producer(context: Context, spec: Producer) -> None:
    """Publish ``spec``'s messages at its arrival times (same stream as the simulation), each
    with its publish time, flow id and its queue's work draw in headers."""
    prefix = f"producer:{spec.name}"
    times = arrival_times(spec, context.draws.rng(f"{prefix}:arrivals"))
    work = context.draws.work(spec.to)
    subject, tally = context.names.subject(spec.to), context.tally
    for number, at in enumerate(times):
        if at >= context.duration or not await sleep_until(context.clock, at):
            break
        headers = {
            "qsim-published": str(round(time.time() * MICRO)),
            "qsim-flow": f"{spec.name}:{number}",
            "qsim-work": repr(work()),
        }
        await context.js.publish(subject, b"", headers=headers)
        tally.count("producer", spec.name, "published")
        tally.count("queue", spec.to, "published")


@dataclass
class _Worker:
    """What one replica does with each delivery it received."""

    context: Context
    queue: str
    service: ServiceTimes

    def count(self, figure: str, by: int = 1) -> None:
        self.context.tally.count("lease", self.queue, figure, by)

    def received(self, msg: Msg) -> None:
        """Count a delivery as it arrives (the server's delivery count says which it is)."""
        delivered = msg.metadata.num_delivered
        self.count("received")
        self.context.tally.count("queue", self.queue, "delivered")
        if delivered > 1:
            self.count("duplicates")
            self.context.tally.count("queue", self.queue, "redelivered")
        if delivered == 2:
            self.count("redelivered")

    async def work(self, msg: Msg, lease: _HeldLease) -> None:
        """Work on one delivery for its service time (scaled), then ack it; count its lease
        if it lapsed meanwhile, and the message as deleted by its first ack."""
        context, clock = self.context, self.context.clock
        headers = msg.headers or {}
        work = headers.get("qsim-work") if msg.metadata.num_delivered == 1 else None
        started = time.time()
        service = self.service.draw(None if work is None else float(work))
        if not await sleep_until(clock, clock.scenario_time(started) + service):
            return  # stopped: the delivery stays unacked, as a crash would leave it
        lease.settled()
        if time.time() > lease.end:
            self.count("lease_expiries")
        await msg.ack()
        context.tally.count("queue", self.queue, "acked")
        sequence = (self.queue, msg.metadata.sequence.stream)
        if sequence in context.acked or sequence in context.exhausted:
            return  # JetStream takes the late ack; the model counts the message once
        context.acked.add(sequence)
        self.count("deleted")
        published = headers.get("qsim-published")
        if published is not None:
            context.tally.completed(self.queue, int(published) / MICRO, started, time.time())


class _HeldLease:
    """The lease of one delivery as its holder sees it: AckWait from the receive, renewed by
    an in-progress ack every ``heartbeat`` (wall seconds) while held, if the pool heartbeats."""

    def __init__(self, msg: Msg, received: float, ack_wait: float, heartbeat: float | None):
        self.end = received + ack_wait
        self._task: asyncio.Task[None] | None = None
        if heartbeat is not None:
            self._task = asyncio.create_task(self._beat(msg, ack_wait, heartbeat))

    async def _beat(self, msg: Msg, ack_wait: float, heartbeat: float) -> None:
        while True:
            await asyncio.sleep(heartbeat)
            await msg.in_progress()
            self.end = time.time() + ack_wait

    def settled(self) -> None:
        """The work is done: no more in-progress acks."""
        if self._task is not None:
            self._task.cancel()


async def replica(context: Context, queue: str, pull: Pull, service: ServiceTimes) -> None:
    """One replica, as the model's poller: ``concurrency`` slots share what it received; a
    slot takes the next received delivery, works it and acks it, and when nothing received
    is left it receives up to ``batch`` (one receive at a time per replica: a slot that finds
    another receiving waits for that receive); ``empty_pause`` after an empty receive."""
    clock, worker = context.clock, _Worker(context, queue, service)
    lease = context.leases[queue].lease
    ack_wait = clock.wall(30.0 if lease is None else lease)
    heartbeat = None if pull.heartbeat is None else clock.wall(pull.heartbeat)
    puller = Puller(context.nc, context.names.stream(queue), DURABLE)
    buffer: deque[tuple[Msg, _HeldLease]] = deque()
    receiving = asyncio.Lock()

    async def receive() -> None:
        msgs = await puller.receive(pull.batch, clock.wall(pull.wait))
        received = time.time()
        worker.count("receives")
        if not msgs:
            worker.count("empty_receives")
            await sleep_until(clock, clock.scenario_time(received) + pull.empty_pause)
        for msg in msgs:
            worker.received(msg)
            buffer.append((msg, _HeldLease(msg, received, ack_wait, heartbeat)))

    async def slot() -> None:
        while not clock.stop.is_set():
            if buffer:
                msg, held = buffer.popleft()
                try:
                    await worker.work(msg, held)
                finally:
                    held.settled()
                continue
            async with receiving:
                if not buffer:
                    await receive()

    await puller.start()
    try:
        await asyncio.gather(*(slot() for _ in range(pull.concurrency)))
    finally:
        for _, held in buffer:
            held.settled()
        with contextlib.suppress(Exception):
            await puller.stop()


async def advisory_watcher(context: Context) -> Callable[[], Coroutine[Any, Any, None]]:
    """Count MaxDeliver advisories of the run's consumers as ``exhausted``; returns the
    coroutine function that unsubscribes."""
    names = context.names

    async def on_advisory(msg: Msg) -> None:
        event = json.loads(msg.data)
        queue = names.queue_of_stream(str(event.get("stream", "")))
        if queue is not None:
            context.exhausted.add((queue, int(event.get("stream_seq", 0))))
            context.tally.count("lease", queue, "exhausted")

    subject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.*." + DURABLE
    subscription = await context.nc.subscribe(subject, cb=on_advisory)
    return subscription.unsubscribe


async def backlog_sampler(context: Context, interval: float) -> None:
    """Every ``interval`` scenario seconds, each consumer's ``num_pending`` (messages in the
    stream not yet delivered) as the queue's backlog, until the run stops, and once more."""
    at = 0.0
    while True:
        for queue in context.leases:
            info = await context.js.consumer_info(context.names.stream(queue), DURABLE)
            context.tally.sampled(queue, time.time(), int(info.num_pending or 0))
        at += interval
        if not await sleep_until(context.clock, at):
            break


def service_times(draws: Draws, pool: str, dist: Any) -> ServiceTimes:
    """A pool's service times as simulated: a first delivery's work draw through the pool's
    distribution, another delivery a fresh draw from the pool's own stream."""
    return ServiceTimes(dist, SharedDraw(dist, draws.rng(f"pool:{pool}:service")))
