"""Failure processes: replica crashes and broker outages, scheduled with explicit streams.

Each is a chain of callbacks (up for a drawn time, then down for a drawn time), so a failure
process costs a few events per failure, nothing per message.
"""

from __future__ import annotations

from collections.abc import Callable

from qsim.engine.broker import Broker
from qsim.engine.worker import Worker

Draw = Callable[[], float]


def schedule_crashes(broker: Broker, worker: Worker, up: Draw, down: Draw) -> None:
    """``worker`` runs for ``up()``, crashes, stays down for ``down()``, and again, until it
    leaves the pool."""

    def crash(_: object) -> None:
        if not worker.exited:
            worker.crash()
            broker.after(down(), restart, None)

    def restart(_: object) -> None:
        if not worker.exited:
            worker.restart()
            broker.after(up(), crash, None)

    broker.after(up(), crash, None)


def schedule_outage(broker: Broker, at: float, length: float) -> None:
    """One outage from ``at`` for ``length`` seconds."""
    broker.after(at, lambda _: broker.begin_outage(), None)
    broker.after(at + length, lambda _: broker.end_outage(), None)


def schedule_outages(broker: Broker, up: Draw, down: Draw) -> None:
    """Outages that recur: up for ``up()``, down for ``down()``, and again."""

    def begin(_: object) -> None:
        broker.begin_outage()
        broker.after(down(), end, None)

    def end(_: object) -> None:
        broker.end_outage()
        broker.after(up(), begin, None)

    broker.after(up(), begin, None)
