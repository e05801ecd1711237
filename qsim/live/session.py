"""One live run: check, declare, play the clients for the scaled duration, measure, clean up;
then simulate the same scenario and set the two side by side.

All figures are in scenario seconds: live wall-clock times are divided by the time scale.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pika

from qsim.engine.sampler import ServiceTimes
from qsim.engine.simulation import UNIFORM01
from qsim.errors import QsimError, one_line
from qsim.live.agreement import Band, agreement_rows
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
from qsim.live.support import check_supported
from qsim.live.tally import Tally, Window
from qsim.live.topology import Names, declare, delete
from qsim.runner import run_scenario
from qsim.scenario import ConsumerPool, Scenario

__all__ = ["LiveSettings", "broker_parameters", "run_live"]

JOIN_TIMEOUT = 10.0
"""Wall seconds to wait for each client to stop after the run."""
MIN_SAMPLE_INTERVAL = 0.05
"""Wall seconds between backlog samples at least (each is one round trip per queue)."""


@dataclass(frozen=True)
class LiveSettings:
    """How to run live: the broker, the time scale, the band, workers for the simulation."""

    url: str
    time_scale: float = 0.05
    band: Band = field(default_factory=Band)
    workers: int = 1


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


def _measure(scenario: Scenario, settings: LiveSettings, names: Names) -> dict[str, Any]:
    """Declare the topology, play the run, drain dead letters and delete it all again."""
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
    return figures


def run_live(scenario: Scenario, settings: LiveSettings) -> dict[str, Any]:
    """Run ``scenario`` live and simulated; both figure sets, the rows comparing them and
    the band. The scenario's ``duration`` (scenario seconds) lasts ``duration * time_scale``
    of wall-clock time live."""
    check_supported(scenario)
    if not 0 < settings.time_scale <= 1000:
        raise QsimError(
            f"--time-scale must be above 0 and at most 1000, got {settings.time_scale:g}"
        )
    started = time.time()
    names = Names.fresh()
    live = _measure(scenario, settings, names)
    wall = time.time() - started
    simulated = run_scenario(scenario, workers=min(settings.workers, scenario.replications))
    rows = agreement_rows(simulated, live, settings.band)
    return {
        "scenario": scenario.name,
        "time_scale": settings.time_scale,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "wall_s": wall,
        "prefix": names.prefix,
        "band": {**asdict(settings.band), "description": settings.band.describe()},
        "comparison": [row.to_json() for row in rows],
        "outside_band": sum(not row.agrees for row in rows),
        "simulated": simulated,
        "live": live,
    }
