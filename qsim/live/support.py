"""Scenario features a live run cannot reproduce, refused up front with a one-line error."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from qsim.errors import QsimError
from qsim.scenario import Scenario

__all__ = ["UNSUPPORTED", "check_supported", "network", "outages", "warmup"]

Finder = Callable[[Scenario], Iterator[str]]

AMQP_QUEUE_TYPES = ("classic", "quorum")
"""The queue types a live run declares on a RabbitMQ."""
NAME_BYTES = 255
"""The longest AMQP short string (a queue or exchange name), in bytes."""
PREFIX_BYTES = len("qsim-live-0123456789.")
"""What a live run puts before every name (:meth:`qsim.live.topology.Names.fresh`)."""


def outages(scenario: Scenario) -> Iterator[str]:
    """Broker outages (any broker)."""
    if scenario.outages:
        yield "outages (a live run does not restart the broker)"


def network(scenario: Scenario) -> Iterator[str]:
    """Simulated network delay (any broker)."""
    if scenario.network is not None:
        yield "network (the live network delay is whatever the real one is)"


def warmup(scenario: Scenario) -> Iterator[str]:
    """An automatic warm-up (any broker)."""
    if scenario.warmup == "auto":
        yield "warmup: auto (give the warm-up as a duration; a live run has no pilot replications)"


def _pools(scenario: Scenario) -> Iterator[str]:
    for pool in scenario.consumers:
        where = f"consumers {pool.name!r}"
        if pool.scaling.policy != "fixed":
            yield f"{where}: autoscaling (scaling.policy {pool.scaling.policy})"
        if pool.concurrency > 1:
            yield f"{where}: concurrency above 1 (run more replicas instead)"
        if pool.consumer_timeout is not None:
            yield f"{where}: consumer_timeout (a broker-wide setting, not per consumer)"
        if pool.publish:
            yield f"{where}: publish (pipelines)"
        if pool.retry is not None:
            yield f"{where}: retry (a live consumer does not route its failures to retry levels)"
        if pool.failures.windows:
            yield f"{where}: failures.windows (a live consumer fails at one probability)"


def _queue_types(scenario: Scenario) -> Iterator[str]:
    """What the RabbitMQ a live run talks to (Debian's 3.10) does differently from the 4.3 that
    qsim simulates, per queue type."""
    failing = {p.queue for p in scenario.consumers if p.failures.method == "nack"}
    prioritised = {p.to for p in scenario.producers if p.priority is not None}
    for queue in scenario.queues:
        where = f"queues {queue.name!r}"
        if queue.type == "stream":
            yield f"{where}: type stream (qsim live replays queues, not stream readers)"
        elif queue.type not in AMQP_QUEUE_TYPES:
            replays = (
                "qsim live replays RabbitMQ's classic and quorum queues, and jetstream queues "
                "on a NATS server"
            )
            yield f"{where}: type {queue.type} ({replays})"
        if queue.type != "quorum":
            continue
        if queue.delayed_retry is not None:
            yield f"{where}: delayed_retry (new in RabbitMQ 4.3; 3.10 has none)"
        if queue.name in prioritised:
            yield f"{where}: a quorum queue with message priorities (RabbitMQ 3.10 has none)"
        if queue.name in failing:
            yield f"{where}: failures.method nack (3.10 counts every return; 4.3 not nacks)"


def _long_names(scenario: Scenario) -> Iterator[str]:
    """AMQP names are short strings, at most 255 bytes, and a live run prefixes each one."""
    named = [("queues", q.name) for q in scenario.queues]
    named += [("exchanges", e.name) for e in scenario.exchanges]
    for section, name in named:
        if len(name.encode()) > NAME_BYTES - PREFIX_BYTES:
            yield (
                f"{section} {name[:20]!r}...: a name of {len(name.encode())} bytes (AMQP names are "
                f"short strings of at most {NAME_BYTES} bytes, and a live run adds a "
                f"{PREFIX_BYTES}-byte prefix)"
            )


UNSUPPORTED: tuple[Finder, ...] = (
    outages, network, warmup, _pools, _queue_types, _long_names,
)  # fmt: skip
"""Each finder yields a description of every feature of a scenario it cannot run live."""


def check_supported(scenario: Scenario) -> None:
    """Raise :class:`QsimError` naming the first feature of ``scenario`` a live run lacks."""
    for finder in UNSUPPORTED:
        for feature in finder(scenario):
            raise QsimError(f"qsim live cannot run {scenario.name!r}: {feature}")
