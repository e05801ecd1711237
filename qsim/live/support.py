"""Scenario features a live run cannot reproduce, refused up front with a one-line error."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from qsim.errors import QsimError
from qsim.scenario import Scenario

__all__ = ["UNSUPPORTED", "check_supported"]

Finder = Callable[[Scenario], Iterator[str]]


def _outages(scenario: Scenario) -> Iterator[str]:
    if scenario.outages:
        yield "outages (a live run does not restart the broker)"


def _network(scenario: Scenario) -> Iterator[str]:
    if scenario.network is not None:
        yield "network (the live network delay is whatever the real one is)"


def _warmup(scenario: Scenario) -> Iterator[str]:
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


def _quorum_queues(scenario: Scenario) -> Iterator[str]:
    """RabbitMQ 3.10 quorum queues (used for ``delivery_limit``) lack some classic features."""
    for queue in scenario.queues:
        if queue.delivery_limit is None:
            continue
        where = f"queues {queue.name!r}: delivery_limit needs a quorum queue, which"
        if queue.max_priority is not None:
            yield f"{where} has no priorities in RabbitMQ 3.10 (max_priority)"
        if queue.overflow == "reject-publish-dlx":
            yield f"{where} does not support overflow reject-publish-dlx"
        if not queue.durable:
            yield f"{where} is always durable (durable: false)"


UNSUPPORTED: tuple[Finder, ...] = (_outages, _network, _warmup, _pools, _quorum_queues)
"""Each finder yields a description of every feature of a scenario it cannot run live."""


def check_supported(scenario: Scenario) -> None:
    """Raise :class:`QsimError` naming the first feature of ``scenario`` a live run lacks."""
    for finder in UNSUPPORTED:
        for feature in finder(scenario):
            raise QsimError(f"qsim live cannot run {scenario.name!r}: {feature}")
