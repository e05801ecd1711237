"""Scenario features a live JetStream run cannot reproduce, refused up front in one line."""

from __future__ import annotations

from collections.abc import Iterator

from qsim.errors import QsimError
from qsim.live import support
from qsim.scenario import Scenario

__all__ = ["UNSUPPORTED", "check_supported"]


def _pools(scenario: Scenario) -> Iterator[str]:
    for pool in scenario.consumers:
        where = f"consumers {pool.name!r}"
        if pool.scaling.policy != "fixed":
            yield f"{where}: autoscaling (scaling.policy {pool.scaling.policy})"
        if pool.failures.any:
            yield f"{where}: failures (the JetStream clients always ack)"
        if pool.crash is not None:
            yield f"{where}: crash (the JetStream clients do not crash)"
        if pool.publish:
            yield f"{where}: publish (pipelines)"
        if pool.max_outstanding is not None:
            yield f"{where}: max_outstanding (the JetStream clients pull when a slot is free)"


def _topology(scenario: Scenario) -> Iterator[str]:
    """Producers must publish straight to a queue (the jetstream preset refuses ``delay``)."""
    queues = {q.name for q in scenario.queues}
    for producer in scenario.producers:
        if producer.to not in queues:
            yield f"producers {producer.name!r}: publishing to an exchange (JetStream has none)"


UNSUPPORTED = (support.outages, support.network, support.warmup, _pools, _topology)
"""Each finder yields a description of every feature of a scenario it cannot run live."""


def check_supported(scenario: Scenario) -> None:
    """Raise :class:`QsimError` naming the first feature of ``scenario`` a live run lacks."""
    for finder in UNSUPPORTED:
        for feature in finder(scenario):
            raise QsimError(f"qsim live cannot run {scenario.name!r} on JetStream: {feature}")
