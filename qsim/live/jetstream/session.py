"""One live JetStream run: connect, declare the streams and consumers, play the tasks for the
scaled duration, gather the figures, delete the streams (also after an error or Ctrl-C)."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS

from qsim.errors import QsimError, one_line
from qsim.live.clock import Clock
from qsim.live.jetstream.clients import (
    LEASE_COUNTS,
    Context,
    Pull,
    advisory_watcher,
    backlog_sampler,
    producer,
    replica,
    service_times,
)
from qsim.live.jetstream.topology import Lease, Names, declare, delete
from qsim.live.settings import LiveSettings, Measured
from qsim.live.tally import Tally, Window
from qsim.scenario import ConsumerPool, Queue, Scenario

__all__ = ["QUEUE_TYPES", "connect", "lease_of", "measure", "pull_of", "server_address"]

QUEUE_TYPES = frozenset({"jetstream"})
"""Scenario queue types this backend runs."""
MIN_SAMPLE_INTERVAL = 0.05
"""Wall seconds between backlog samples at least (each is one request per queue)."""
STOP_TIMEOUT = 5.0
"""Wall seconds to wait for the tasks to end after the run."""
RABBITMQ_ONLY = ("rejected", "expired", "dropped", "over_limit", "dead_lettered", "nacked")
"""Queue counters of RabbitMQ's model that a JetStream queue has no equivalent of."""


def server_address(url: str) -> str:
    """``host:port`` of a ``nats://`` URL; anything else is a one-line error."""
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise QsimError(f"--nats: expected a nats:// URL, got {url!r}")
    try:
        port = parts.port or 4222
    except ValueError as exc:
        raise QsimError(f"--nats: bad NATS URL: {exc}") from None
    return f"{parts.hostname}:{port}"


async def connect(url: str) -> NATS:
    """A connection that does not reconnect; an unreachable server is a one-line error.

    nats-py retries a server until it has failed more than ``max_reconnect_attempts`` times
    (0 means never give up), so one retry, soon, is the least it allows; its error callback
    keeps the last error for the message instead of logging it."""
    where = server_address(url)
    seen: list[Exception] = []

    async def keep(error: Exception) -> None:
        seen.append(error)

    try:
        return await nats.connect(
            url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1,
            reconnect_time_wait=0.05, error_cb=keep,
        )  # fmt: skip
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        cause = seen[-1] if seen else exc
        reason = str(cause) or type(cause).__name__
        raise QsimError(one_line(f"cannot reach the NATS server at {where}: {reason}")) from None


def lease_of(queue: Queue) -> Lease:
    """A JetStream queue's lease settings (its preset's where the scenario gives none)."""
    return Lease(queue.lease, queue.max_receives, queue.max_in_flight, queue.retention)


def pull_of(pool: ConsumerPool) -> Pull:
    """How a pool reading a JetStream queue receives and works (the preset fills ``batch``,
    ``wait`` and ``empty_pause`` of such a pool)."""
    return Pull(
        batch=pool.batch or 1,
        wait=pool.wait or 0.0,
        empty_pause=pool.empty_pause or 0.0,
        heartbeat=pool.heartbeat,
        concurrency=pool.concurrency,
    )


async def _tasks(context: Context) -> list[asyncio.Task[None]]:
    scenario, clock = context.scenario, context.clock
    interval = max(scenario.timeseries_interval, MIN_SAMPLE_INTERVAL / clock.scale)
    clock.start = time.time()
    coroutines: list[Any] = [backlog_sampler(context, interval)]
    for pool in scenario.consumers:
        service = service_times(context.draws, pool.name, pool.service_time)
        pull = pull_of(pool)
        coroutines += [replica(context, pool.queue, pull, service) for _ in range(pool.replicas)]
    coroutines += [producer(context, spec) for spec in scenario.producers]
    return [asyncio.create_task(coroutine) for coroutine in coroutines]


async def _play(context: Context) -> None:
    """Run every task for the scaled duration (or until one fails), then stop them all."""
    tasks = await _tasks(context)
    try:
        done, _ = await asyncio.wait(
            tasks, timeout=context.clock.wall(context.duration),
            return_when=asyncio.FIRST_EXCEPTION,
        )  # fmt: skip
    finally:
        context.clock.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
    failed = [task.exception() for task in done if not task.cancelled() and task.exception()]
    if failed:
        error = failed[0]
        if isinstance(error, QsimError):
            raise error
        raise QsimError(one_line(f"live run failed: {type(error).__name__}: {error}"))


async def _declare(context: Context) -> None:
    try:
        await declare(context.js, context.names, context.leases, context.clock.scale)
    except nats.errors.NoRespondersError:
        raise QsimError(
            f"qsim live cannot run {context.scenario.name!r}: the NATS server has no JetStream "
            "(start it with -js)"
        ) from None
    except nats.js.errors.APIError as exc:
        raise QsimError(one_line(f"the NATS server refused the streams: {exc}")) from None


async def _measure(scenario: Scenario, settings: LiveSettings) -> Measured:
    queues = tuple(q.name for q in scenario.queues)
    names = Names.fresh(queues)
    leases = {q.name: lease_of(q) for q in scenario.queues if q.type in QUEUE_TYPES}
    nc = await connect(settings.url)
    clock = Clock(settings.time_scale)
    context = Context(
        nc, nc.jetstream(), scenario, names, leases, clock, Tally(clock), scenario.duration
    )
    try:
        await _declare(context)
        unsubscribe = await advisory_watcher(context)
        await _play(context)
        await nc.flush()
        await unsubscribe()
    finally:
        await asyncio.shield(_clean_up(context))
    figures = context.tally.figures(scenario, Window(scenario.fixed_warmup, scenario.duration))
    _lease_figures(context, figures)
    return Measured(figures, names.prefix)


async def _clean_up(context: Context) -> None:
    try:
        if context.nc.is_connected:
            await delete(context.js, context.names)
    finally:
        await context.nc.close()


def _lease_figures(context: Context, figures: dict[str, Any]) -> None:
    """Each queue's ``lease`` figures as counted; what JetStream has no counter for is None."""
    for queue in context.leases:
        entry = figures["queues"][queue]
        counted = context.tally.section("lease", queue)
        entry["lease"] = {name: counted.get(name, 0) for name in LEASE_COUNTS}
        entry["lease"]["expired"] = None  # MaxAge removals leave no trace a client sees
        for name in RABBITMQ_ONLY:
            entry[name] = None


def measure(scenario: Scenario, settings: LiveSettings) -> Measured:
    """Run ``scenario`` against the NATS server at ``settings.url``."""
    return asyncio.run(_measure(scenario, settings))
