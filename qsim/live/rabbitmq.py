"""The RabbitMQ live backend: pika clients in threads (:mod:`qsim.live.clients`) against the
scenario's queues, exchanges and bindings (:mod:`qsim.live.topology`)."""

from __future__ import annotations

import time
from typing import Any

import pika

from qsim.engine.sampler import ServiceTimes
from qsim.engine.simulation import UNIFORM01
from qsim.errors import QsimError, one_line
from qsim.live.clients import (
    BacklogSampler,
    Client,
    ConsumerClient,
    Context,
    Crashes,
    ProducerClient,
    SharedDraw,
    connect,
    drain_dead_letters,
)
from qsim.live.clock import Clock
from qsim.live.settings import LiveSettings, Measured
from qsim.live.tally import Tally, Window
from qsim.live.topology import Names, declare, delete
from qsim.scenario import ConsumerPool, Scenario

__all__ = ["JOIN_TIMEOUT", "MIN_SAMPLE_INTERVAL", "broker_parameters", "measure"]

JOIN_TIMEOUT = 10.0
"""Wall seconds to wait for each client to stop after the run."""
MIN_SAMPLE_INTERVAL = 0.05
"""Wall seconds between backlog samples at least (each is one round trip per queue)."""


def broker_parameters(url: str) -> pika.URLParameters:
    """Connection parameters from an AMQP URL; a malformed URL is a one-line error."""
    if not url.startswith(("amqp://", "amqps://")):
        raise QsimError(f"--amqp: expected an amqp:// URL, got {url!r}")
    try:
        parameters = pika.URLParameters(url)
    except (ValueError, TypeError) as exc:
        raise QsimError(f"--amqp: bad AMQP URL: {exc}") from None
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.stack_timeout = 5  # a port that accepts but is not AMQP: 5 s, not pika's 15
    return parameters


def _replicas(context: Context, pool: ConsumerPool) -> list[Client]:
    """The replicas of ``pool``, sharing the pool's streams as the simulation does."""
    prefix = f"pool:{pool.name}"
    fresh = SharedDraw(pool.service_time, context.rng(f"{prefix}:service"))
    service = ServiceTimes(pool.service_time, fresh)  # as simulated (qsim.engine.sampler)
    failures = None
    if pool.failures.any:
        failures = SharedDraw(UNIFORM01, context.rng(f"{prefix}:failures"))
    crashes = None
    if pool.crash is not None:
        crashes = Crashes(
            SharedDraw(pool.crash.mtbf, context.rng(f"{prefix}:crash-up")),
            SharedDraw(pool.crash.restart, context.rng(f"{prefix}:crash-down")),
        )
    return [
        ConsumerClient(context, pool, replica, service, failures, crashes)
        for replica in range(pool.replicas)
    ]


def _play(context: Context) -> None:
    """Start every client, wait out the scaled duration (or an error), stop and join them."""
    scenario, clock = context.scenario, context.clock
    interval = max(scenario.timeseries_interval, MIN_SAMPLE_INTERVAL / clock.scale)
    clients: list[Client] = [BacklogSampler(context, interval)]
    for pool in scenario.consumers:
        clients += _replicas(context, pool)
    clients += [ProducerClient(context, producer) for producer in scenario.producers]
    clock.start = time.time()
    try:
        for client in clients:
            client.start()
        clock.stop.wait(clock.wall(context.duration))
    finally:
        clock.stop.set()
        for client in clients:
            client.join(JOIN_TIMEOUT)
    if context.errors:
        error = context.errors[0]
        if isinstance(error, QsimError):
            raise error
        raise QsimError(one_line(f"live run failed: {type(error).__name__}: {error}"))


def _direct_only(scenario: Scenario) -> set[str]:
    """Queues only producers publish to, by name: their publishes are counted exactly."""
    direct = {p.to for p in scenario.producers}
    bound = {b.queue for e in scenario.exchanges for b in e.bindings}
    dead = {q.dead_letter for q in scenario.queues}
    return {q.name for q in scenario.queues if q.name in direct - bound - dead}


def _mark_unmeasured(scenario: Scenario, figures: dict[str, Any]) -> None:
    """Counts the clients cannot see are None: without a dead-letter queue, expiries and
    drops leave no trace; publishes reach a queue exactly only when producers address it."""
    direct = _direct_only(scenario)
    for queue in scenario.queues:
        entry = figures["queues"][queue.name]
        if queue.dead_letter is None:
            entry["expired"] = entry["dropped"] = entry["over_limit"] = None
        if queue.name not in direct:
            entry["published"] = entry["rejected"] = None


def measure(scenario: Scenario, settings: LiveSettings) -> Measured:
    """Declare the topology, play the run, drain dead letters and delete it all again."""
    names = Names.fresh()
    parameters = broker_parameters(settings.url)
    clock = Clock(settings.time_scale)
    context = Context(parameters, scenario, names, clock, Tally(clock), scenario.duration)
    connection = connect(parameters)
    try:
        declare(connection.channel(), scenario, names, settings.time_scale)
        connection.close()
        _play(context)
    finally:
        connection = connection if connection.is_open else connect(parameters)
        channel = connection.channel()
        drain_dead_letters(context, channel)
        delete(channel, scenario, names)
        connection.close()
    figures = context.tally.figures(scenario, Window(scenario.fixed_warmup, scenario.duration))
    _mark_unmeasured(scenario, figures)
    return Measured(figures, names.prefix)
