"""The live clients, one thread and one pika ``BlockingConnection`` each (pika connections are
not thread-safe): producers publish on schedule, consumers work and settle, a sampler reads
backlogs from the broker. Any error stops the run and is kept for the session to report.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pika
import pika.exceptions
from pika.adapters.utils.connection_workflow import (
    AMQPConnectorException,
    AMQPConnectorStackTimeout,
)

from qsim.distributions import Distribution
from qsim.engine.arrivals import arrival_times
from qsim.engine.keys import key_chooser
from qsim.engine.sampler import Sampler, ServiceTimes
from qsim.errors import QsimError
from qsim.live.clock import Clock
from qsim.live.draws import Draws, SharedDraw
from qsim.live.tally import Tally
from qsim.live.topology import Names
from qsim.scenario import ConsumerPool, Producer, Scenario

__all__ = [
    "BacklogSampler",
    "ConsumerClient",
    "Context",
    "Crashes",
    "ProducerClient",
    "SharedDraw",
    "arrival",
    "connect",
    "drain_dead_letters",
    "job_start",
]

POLL = 0.02
"""Wall seconds a consumer waits for a delivery before checking for a stop or a crash."""
CRASH_SETTLE = 0.02
"""Wall seconds a crashing consumer reads deliveries in flight, so it counts what it holds."""
MICRO = 1_000_000
"""Headers carry times in integer microseconds and uniforms in millionths (AMQP tables, as
pika writes them, hold no floats)."""
DEATH_FIGURES = {"expired": "expired", "delivery_limit": "over_limit"}
"""x-death reasons that a queue's own counters name (besides ``dead_lettered``)."""


def connect(parameters: pika.URLParameters) -> pika.BlockingConnection:
    """A blocking connection; an unreachable broker is a one-line :class:`QsimError`."""
    where = f"{parameters.host}:{parameters.port}"
    try:
        return pika.BlockingConnection(parameters)
    except AMQPConnectorStackTimeout:  # it took the connection but never spoke AMQP
        raise QsimError(
            f"not an AMQP broker at {where}: no AMQP handshake within "
            f"{parameters.stack_timeout:g} s"
        ) from None
    except (pika.exceptions.AMQPError, AMQPConnectorException) as exc:
        reason = str(exc) or type(exc).__name__
        raise QsimError(f"cannot reach the broker at {where}: {reason}") from None


@dataclass
class Context:
    """What every client of one run shares."""

    parameters: pika.URLParameters
    scenario: Scenario
    names: Names
    clock: Clock
    tally: Tally
    duration: float
    errors: list[BaseException] = field(default_factory=list)
    draws: Draws = field(init=False)

    def __post_init__(self) -> None:
        self.draws = Draws(self.scenario)

    def rng(self, name: str) -> np.random.Generator:
        """The stream the simulation's replication 0 uses for ``name``."""
        return self.draws.rng(name)

    def work_draws(self, queue: str) -> SharedDraw:
        """The ``work`` draws of messages entering ``queue`` (:meth:`Draws.work`)."""
        return self.draws.work(queue)


class Client(threading.Thread):
    """A daemon thread that stops the whole run if it fails."""

    def __init__(self, context: Context, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.context = context

    def run(self) -> None:
        """Do the work; keep any error and stop every other client."""
        try:
            self.work()
        except Exception as exc:  # reported by the session as one line
            self.context.errors.append(exc)
            self.context.clock.stop.set()

    def work(self) -> None:
        """The client's job (subclasses)."""
        raise NotImplementedError


def _optional(dist: Distribution[float] | None, rng: np.random.Generator) -> Callable[[], Any]:
    return (lambda: None) if dist is None else Sampler(dist, rng)


class ProducerClient(Client):
    """Publishes at the producer's arrival times (same stream as the simulation), with
    publisher confirms: a nack is a message the queue refused (``reject-publish``)."""

    def __init__(self, context: Context, spec: Producer) -> None:
        super().__init__(context, f"producer:{spec.name}")
        self.spec = spec
        prefix = f"producer:{spec.name}"
        self.times = arrival_times(spec, context.rng(f"{prefix}:arrivals"))
        self.key = key_chooser(spec.routing_key, context.rng(f"{prefix}:routing"))
        self.ttl = _optional(spec.ttl, context.rng(f"{prefix}:ttl"))
        self.priority = _optional(spec.priority, context.rng(f"{prefix}:priority"))
        self.size = _optional(spec.size, context.rng(f"{prefix}:size"))
        self.coin = context.rng(f"live:{prefix}:poison")
        queues = {q.name for q in context.scenario.queues}
        self.direct = spec.to if spec.to in queues else None
        self.message_work = context.work_draws(spec.to) if self.direct else None

    def work(self) -> None:
        """Publish until the run's duration or the producer's count."""
        context = self.context
        connection = connect(context.parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for number, at in enumerate(self.times):
                if at >= context.duration or not context.clock.sleep_until(at):
                    break
                self._publish(channel, number, at)
        finally:
            connection.close()

    def _properties(self, number: int, at: float) -> tuple[Any, float | None]:
        ttl, priority, size = self.ttl(), self.priority(), self.size()
        scale = self.context.clock.scale
        headers = {
            "qsim-flow": f"{self.spec.name}:{number}",
            "qsim-u": int(self.coin.integers(MICRO)),
            "qsim-at": repr(at),  # the scheduled arrival, scenario seconds (a late wake-up
        }  # or a broker's confirm stall must not turn the arrivals into bursts)
        if self.message_work is not None:
            headers["qsim-work"] = repr(self.message_work())  # pika's tables carry no floats
        return pika.BasicProperties(
            delivery_mode=2 if self.spec.persistent else 1,
            priority=None if priority is None else max(0, round(priority)),
            expiration=None if ttl is None else str(max(0, round(ttl * scale * 1000))),
            headers=headers,
        ), size

    def _publish(self, channel: Any, number: int, at: float) -> None:
        names, spec = self.context.names, self.spec
        properties, size = self._properties(number, at)
        body = b"x" * (0 if size is None else int(size))
        exchange, key = ("", names(spec.to)) if self.direct else (names(spec.to), self.key())
        tally = self.context.tally
        try:
            channel.basic_publish(exchange, key, body, properties)
            outcome = "published"
        except pika.exceptions.NackError:
            outcome = "rejected"
        tally.count("producer", spec.name, outcome)
        if self.direct:
            tally.count("queue", self.direct, "published")
            if outcome == "rejected":
                tally.count("queue", self.direct, "rejected")


def job_start(in_hand: float, free_at: float, arrived: float) -> float:
    """When a replica free since ``free_at`` starts a message that arrived at ``arrived`` and
    reached it at ``in_hand``: as soon as both were there, but not after it was in hand."""
    return min(in_hand, max(free_at, arrived))


def arrival(headers: dict[str, Any]) -> float | None:
    """The message's scheduled arrival in scenario seconds (its producer's ``qsim-at``)."""
    at = headers.get("qsim-at")
    return None if at is None else float(_text(at))


def record_death(context: Context, headers: dict[str, Any] | None) -> None:
    """Count the most recent death in a message's ``x-death`` header against its queue."""
    deaths = (headers or {}).get("x-death") or []
    if not deaths:
        return
    last = deaths[0]
    queue = context.names.strip(_text(last.get("queue", "")))
    reason = _text(last.get("reason", ""))
    context.tally.count("queue", queue, "dead_lettered")
    figure = DEATH_FIGURES.get(reason)
    if reason == "maxlen" and _overflow(context.scenario, queue) == "drop-head":
        figure = "dropped"
    if figure:
        context.tally.count("queue", queue, figure)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _overflow(scenario: Scenario, queue: str) -> str | None:
    return next((q.overflow for q in scenario.queues if q.name == queue), None)


@dataclass
class Crashes:
    """A pool's crash process: up-times and restart times drawn in scenario seconds."""

    up: Callable[[], float]
    restart: Callable[[], float]


class ConsumerClient(Client):
    """One replica: a channel with the pool's prefetch that works for the sampled service time
    (scaled), then acks, or rejects as the pool's failure settings say. A crash closes the
    connection, so the broker requeues what it held unacked; after the restart time it
    reconnects."""

    def __init__(
        self, context: Context, pool: ConsumerPool, replica: int, service: ServiceTimes,
        failures: SharedDraw | None, crashes: Crashes | None,
    ) -> None:  # fmt: skip
        super().__init__(context, f"consumer:{pool.name}:{replica}")
        self.pool = pool
        self.service = service
        self.failures = failures
        self.crashes = crashes
        self.free_at = 0.0
        """When the replica's last job ended (planned), or it (re)connected: scenario seconds."""

    def work(self) -> None:
        """Consume until the run stops, crashing and restarting on the pool's schedule."""
        clock = self.context.clock
        crash_at = self._next_crash(clock.now())
        while not clock.stop.is_set():
            connection = connect(self.context.parameters)
            try:
                crashed = self._consume(connection, crash_at)
            finally:
                if connection.is_open:
                    connection.close()
            if not crashed or self.crashes is None:
                return
            if not clock.sleep_until(clock.now() + self.crashes.restart()):
                return
            crash_at = self._next_crash(clock.now())

    def _next_crash(self, now: float) -> float:
        return now + self.crashes.up() if self.crashes else float("inf")

    def _consume(self, connection: Any, crash_at: float) -> bool:
        """Work until a stop (False) or the crash time (True, after counting what is lost).
        Deliveries wait in ``inbox`` (in arrival order) until the replica is free."""
        clock, pool = self.context.clock, self.pool
        channel = connection.channel()
        channel.basic_qos(prefetch_count=pool.prefetch)
        inbox: deque[tuple[Any, Any]] = deque()
        self.free_at = clock.now()
        channel.basic_consume(
            self.context.names(pool.queue),
            lambda _channel, method, properties, _body: inbox.append((method, properties)),
            auto_ack=pool.ack == "auto",
        )
        while not clock.stop.is_set():
            if not inbox:
                connection.process_data_events(time_limit=POLL)
            if clock.stop.is_set():  # what arrived meanwhile may be another replica's return
                break
            if clock.now() >= crash_at:
                return self._crash(connection, inbox, held=0)
            if inbox:
                method, properties = inbox.popleft()
                if not self._handle(channel, method, properties, crash_at):
                    return self._crash(connection, inbox, held=1)
        return False

    def _handle(self, channel: Any, method: Any, properties: Any, crash_at: float) -> bool:
        """Work on one delivery and settle it; False if the replica crashed first."""
        context, pool = self.context, self.pool
        started = time.time()
        tally, queue = context.tally, pool.queue
        tally.count("queue", queue, "delivered")
        if method.redelivered:
            tally.count("queue", queue, "redelivered")
        else:
            record_death(context, properties.headers)
        work = None if method.redelivered else (properties.headers or {}).get("qsim-work")
        work = None if work is None else float(_text(work))
        begin = self._begin(method, properties.headers or {}, context.clock.scenario_time(started))
        done_at = begin + self.service.draw(work)
        if not context.clock.sleep_until(min(done_at, crash_at)):
            return True  # stopped: the closing connection returns it
        if done_at >= crash_at:
            return False
        self.free_at = done_at
        self._settle(channel, method, properties, (begin, done_at))
        return True

    def _begin(self, method: Any, headers: dict[str, Any], now: float) -> float:
        """When the job starts on the scenario's clock: the later of the replica's previous
        planned end and the message's scheduled arrival, for a first delivery straight from a
        producer; ``now`` (when the delivery was in hand) for anything else.

        At ``--time-scale`` 0.1 each millisecond the broker and the client take to hand over
        a delivery (ack, dispatch, frame parsing, waking a thread) is 10 ms of scenario time, and
        a replica that lost it on every message would serve ~1% slower than simulated: at load
        0.8 on 5 replicas that is +3.6% mean latency, more on a slower machine. So the replica
        starts its job when it could have with an instant hand-over; the broker still decides
        which replica gets which message, and when (docs/semantics.md, "qsim live"). The same
        goes for a producer that wakes late or waits on a publisher confirm: its messages count
        from their scheduled arrival, or a stall would turn them into a burst. What was taken
        out is counted: ``dispatch_delay_s`` per pool."""
        entered = arrival(headers)
        if method.redelivered or headers.get("x-death") or entered is None:
            return now
        begin = job_start(now, self.free_at, entered)
        self.context.tally.delayed(self.pool.name, now - begin)
        return begin

    def _settle(self, channel: Any, method: Any, properties: Any, job: tuple[float, float]) -> None:
        """Ack or reject as the pool's failure settings say; a completion is recorded with
        the job's start and end in scenario seconds."""
        pool, tally = self.pool, self.context.tally
        headers = properties.headers or {}
        failed = self._fails(headers)
        if pool.ack == "manual" and failed:
            channel.basic_reject(method.delivery_tag, requeue=pool.failures.requeue)
            if not pool.failures.requeue:
                tally.count("queue", pool.queue, "nacked")
            return
        if pool.ack == "manual":
            channel.basic_ack(method.delivery_tag)
        tally.count("queue", pool.queue, "acked")
        entered = arrival(headers)
        if entered is not None:
            clock = self.context.clock
            tally.completed(pool.queue, *(clock.start + at * clock.scale for at in (entered, *job)))

    def _fails(self, headers: dict[str, Any]) -> bool:
        failures = self.pool.failures
        if not failures.any or self.failures is None:
            return False
        poison = headers.get("qsim-u", MICRO) / MICRO < failures.poison
        return poison or self.failures() < failures.nack_probability

    def _crash(self, connection: Any, inbox: deque[tuple[Any, Any]], held: int) -> bool:
        """Count what the broker will requeue (or, auto-acked, what is lost) and drop the
        connection without settling anything. Deliveries still on the wire are let in first
        (nothing is acked meanwhile, so the broker's window cannot move)."""
        settled = time.time() + CRASH_SETTLE
        while (left := settled - time.time()) > 0:
            connection.process_data_events(time_limit=left)
        figure = "lost_in_crash" if self.pool.ack == "auto" else "unacked_at_crash"
        tally = self.context.tally
        tally.count("pool", self.pool.name, "crashes")
        tally.count("pool", self.pool.name, figure, held + len(inbox))
        connection.close()
        return True


class BacklogSampler(Client):
    """Reads every queue's ready count from the broker (a passive declare) at the scenario's
    sample interval (scaled), until the run stops."""

    def __init__(self, context: Context, interval: float) -> None:
        super().__init__(context, "backlog-sampler")
        self.interval = interval

    def work(self) -> None:
        """Sample until stopped, then once more (the final backlog)."""
        context = self.context
        connection = connect(context.parameters)
        try:
            channel = connection.channel()
            for at in _ticks(self.interval):
                self.sample(channel)
                if not context.clock.sleep_until(at):
                    break
            self.sample(channel)
        finally:
            connection.close()

    def sample(self, channel: Any) -> None:
        """One sample of every queue."""
        for queue in self.context.scenario.queues:
            declared = channel.queue_declare(self.context.names(queue.name), passive=True)
            self.context.tally.sampled(queue.name, time.time(), declared.method.message_count)


def _ticks(interval: float) -> Iterator[float]:
    return (interval * k for k in itertools.count(1))


def drain_dead_letters(context: Context, channel: Any) -> None:
    """After the run: take what is left in dead-letter queues and count its deaths."""
    targets = {q.dead_letter for q in context.scenario.queues if q.dead_letter is not None}
    for target in sorted(targets):
        while True:
            method, properties, _body = channel.basic_get(context.names(target), auto_ack=True)
            if method is None:
                break
            if not method.redelivered:
                record_death(context, properties.headers)
