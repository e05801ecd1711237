"""Fast and general paths: which shortcut each component of a model takes, chosen once, as the
model is built.

A shortcut is a specialised hot path that gives exactly the results of the general one where
its conditions hold (no network delay, no broker outage, one queue behind a publisher, ...).
Each component asks :meth:`Paths.choose` once, when it is built, and binds the method it will
call per message; no shortcut is re-decided per message. ``Paths(general=True)`` refuses every
shortcut, so a run takes the general path everywhere (``tests/test_fast_paths.py`` checks both
give identical results); :attr:`Paths.taken` says what each component chose.
``docs/architecture.md`` ("Fast and general paths") lists the shortcuts.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["SHORTCUTS", "PathCount", "Paths"]

SHORTCUTS = {
    "publisher.direct": "a publisher hands each message straight to its one queue: no network "
    "delay, no broker outage, its target is a queue (not an exchange)",
    "work.service": "a queue draws each message's service time as it is published: one pool "
    "consumes it (else it draws the message's uniform and the pool maps it)",
    "consumer.deliver": "an AMQP consumer passes a delivery straight to its worker: manual ack, "
    "no consumer timeout, no network delay",
    "worker.start": "a worker starts a job's service at once: its pool uses no shared resources "
    "(else the job goes through a resource claim, granted at once when there is none)",
    "producer.schedule": "a producer's next publish is a bare heap entry (qsim.engine.clock), "
    "not a SimPy Timeout: always applies",
    "producer.plain": "a producer publishes without drawing anything per message: no ttl, "
    "priority, size or resend",
    "clock.arrivals": "the producers' next publishes wait on a heap of their own, merged with "
    "SimPy's in the run loop (qsim.engine.clock.run): always applies",
}
"""Every shortcut, by name, with when it applies."""


class PathCount(NamedTuple):
    """How many components took a shortcut (``fast``) and how many its general path."""

    fast: int
    general: int


class Paths:
    """The path choices of one model. With ``general`` every shortcut is refused."""

    __slots__ = ("_counts", "general")

    def __init__(self, general: bool = False) -> None:
        self.general = general
        self._counts: dict[str, list[int]] = {name: [0, 0] for name in SHORTCUTS}

    def choose(self, shortcut: str, applies: bool) -> bool:
        """Whether a component being built takes ``shortcut``: its conditions hold
        (``applies``) and the general path is not forced. Counts the choice."""
        fast = applies and not self.general
        self._counts[shortcut][0 if fast else 1] += 1
        return fast

    @property
    def taken(self) -> Mapping[str, PathCount]:
        """Per shortcut, how many components took it and how many the general path (read
        only: a snapshot)."""
        return MappingProxyType({k: PathCount(*v) for k, v in self._counts.items()})
