"""Producers: create messages at the times their arrival process gives and publish them."""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy
from simpy.events import Timeout

from qsim.engine.arrivals import ArrivalTimes
from qsim.engine.message import NO_PRIORITY, Flow, Message
from qsim.engine.publisher import Publisher
from qsim.engine.recorder import Recorder
from qsim.engine.results import ProducerRun

Draw = Callable[[], float]


class Producer:
    """Publishes through ``publisher``; per-message ``ttl``, ``priority`` and ``size`` are drawn
    if given. A blocked publisher (broker down, buffer full) pauses the producer until the
    broker is back; arrivals due meanwhile are published then."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        publisher: Publisher,
        recorder: Recorder,
        times: ArrivalTimes,
        *,
        ttl: Draw | None,
        priority: Draw | None,
        size: Draw | None,
        persistent: bool,
    ) -> None:
        self.env = env
        self.index = index
        self.publisher = publisher
        self.recorder = recorder
        self.times = times
        self.ttl = ttl
        self.priority = priority
        self.size = size
        self.persistent = persistent
        self._callback = self._publish
        publisher.on_unblock = self._schedule_next

    @property
    def published(self) -> int:
        """Messages this producer has published (handed to its client library)."""
        return self.publisher.produced

    def report(self, queue: str, flows_started: int, flows_failed: int) -> ProducerRun:
        """This producer's books; ``queue`` is its ``to`` (a queue or an exchange)."""
        return ProducerRun(
            name=self.publisher.name,
            queue=queue,
            published=self.published,
            counts=self.publisher.counts(),
            flows_started=flows_started,
            flows_failed=flows_failed,
        )

    def start(self) -> None:
        """Schedule the first publish."""
        self._schedule_next()

    def _schedule_next(self) -> None:
        at = next(self.times, None)
        if at is not None:
            delay = at - self.env._now  # hot path: SimPy's now without the call
            Timeout(self.env, delay if delay > 0 else 0.0).callbacks.append(self._callback)

    def _publish(self, _event: Timeout) -> None:
        now = self.env._now
        flow = Flow(self.index, now)
        if now >= self.recorder.warmup:
            self.recorder.flows_started[self.index] += 1
        msg = Message(
            self.index,
            flow,
            self.ttl() if self.ttl else math.inf,
            round(self.priority()) if self.priority else NO_PRIORITY,
            self.size() if self.size else 0.0,
            self.persistent,
        )
        self.publisher.publish(msg)
        if not self.publisher.blocked:
            self._schedule_next()
