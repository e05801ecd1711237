"""Build the SimPy model of a scenario, run one replication, collect raw results."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import Timeout

from qsim.distributions import Distribution, Uniform
from qsim.engine.arrivals import arrival_times
from qsim.engine.consumer import Consumer, PoolState
from qsim.engine.producer import Producer
from qsim.engine.queue import Queue
from qsim.engine.recorder import Recorder
from qsim.engine.results import PoolRun, ProducerRun, QueueRun, RunResult
from qsim.engine.sampler import Sampler
from qsim.scenario import Scenario
from qsim.streams import stream

UNIFORM01 = Uniform[float](dist="uniform", low=0.0, high=1.0)

COUNTERS = (
    "published", "delivered", "redelivered", "acked", "rejected", "dropped",
    "expired", "nacked", "over_limit", "dead_lettered",
)  # fmt: skip


class Model:
    """The simulated system of one replication."""

    def __init__(self, scenario: Scenario, replication: int) -> None:
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        self.recorder = Recorder(scenario.warmup, len(scenario.queues))
        self.queues = [
            Queue(self.env, spec, i, self.recorder) for i, spec in enumerate(scenario.queues)
        ]
        by_name = {q.name: q for q in self.queues}
        for queue in self.queues:
            if queue.spec.dead_letter is not None:
                queue.dead_letter = by_name[queue.spec.dead_letter]
        self.pools = [PoolState(scenario.warmup, scenario.duration) for _ in scenario.consumers]
        self.consumers = list(self._build_consumers(by_name))
        self.producers = list(self._build_producers(by_name))
        self.series: list[list[float]] = []

    def _rng(self, name: str) -> np.random.Generator:
        return stream(self.scenario.seed, self.replication, name)

    def _draw(self, dist: Distribution[float] | None, name: str) -> Callable[[], float] | None:
        return None if dist is None else Sampler(dist, self._rng(name))

    def _build_consumers(self, by_name: dict[str, Queue]) -> list[Consumer]:
        consumers = []
        for spec, state in zip(self.scenario.consumers, self.pools, strict=True):
            service = Sampler(spec.service_time, self._rng(f"pool:{spec.name}:service"))
            fail = Sampler(UNIFORM01, self._rng(f"pool:{spec.name}:failures"))
            for _ in range(spec.replicas):
                consumers.append(
                    Consumer(
                        self.env, by_name[spec.queue], state, self.recorder,
                        prefetch=spec.prefetch, concurrency=spec.concurrency,
                        auto_ack=spec.ack == "auto", service=service,
                        nack_probability=spec.failures.nack_probability,
                        requeue=spec.failures.requeue, fail=fail,
                    )
                )  # fmt: skip
        return consumers

    def _build_producers(self, by_name: dict[str, Queue]) -> list[Producer]:
        producers = []
        for i, spec in enumerate(self.scenario.producers):
            prefix = f"producer:{spec.name}"
            producers.append(
                Producer(
                    self.env, i, by_name[spec.to],
                    arrival_times(spec, self._rng(f"{prefix}:arrivals")),
                    ttl=self._draw(spec.ttl, f"{prefix}:ttl"),
                    priority=self._draw(spec.priority, f"{prefix}:priority"),
                    size=self._draw(spec.size, f"{prefix}:size"),
                )
            )  # fmt: skip
        return producers

    # -- observation -----------------------------------------------------------------
    def _at(self, time: float, callback: Callable[[Timeout], None]) -> None:
        Timeout(self.env, time - self.env.now).callbacks.append(callback)

    def _start_of_window(self, _event: Timeout) -> None:
        for queue in self.queues:
            queue._backlog_tick()
            queue.backlog_area = 0.0
            queue.backlog_max = len(queue.ready)

    def _sample(self, _event: Timeout) -> None:
        row = [self.env.now]
        for queue in self.queues:
            row += [len(queue.ready), queue.unacked]
        self.series.append(row)
        step = self.scenario.timeseries_interval
        if self.env.now + step <= self.scenario.duration + 1e-9:
            self._at(self.env.now + step, self._sample)

    # -- run -------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Simulate until the scenario's duration and return the raw results."""
        scenario = self.scenario
        for consumer in self.consumers:
            consumer.queue.add_consumer(consumer)
        for producer in self.producers:
            producer.start()
        if scenario.warmup > 0:
            self._at(scenario.warmup, self._start_of_window)
        self._at(0.0, self._sample)
        self.env.run(until=scenario.duration)
        for queue in self.queues:
            queue._backlog_tick()
            queue.settle_books()
        return self._results()

    def _results(self) -> RunResult:
        scenario = self.scenario
        window = scenario.duration - scenario.warmup
        queues = [
            QueueRun(
                name=q.name,
                counts={name: getattr(q, name) for name in COUNTERS},
                backlog_mean=q.backlog_area / window,
                backlog_max=q.backlog_max,
                backlog_final=len(q.ready),
                unacked_final=q.unacked,
                completions=self.recorder.window_completions[q.index],
            )
            for q in self.queues
        ]
        producers = [
            ProducerRun(spec.name, spec.to, p.published)
            for spec, p in zip(scenario.producers, self.producers, strict=True)
        ]
        pools = [
            PoolRun(spec.name, spec.replicas, spec.concurrency, state.busy_time, window)
            for spec, state in zip(scenario.consumers, self.pools, strict=True)
        ]
        series = np.asarray(self.series, dtype=float)
        timeseries = {"time": series[:, 0]}
        for i, queue in enumerate(self.queues):
            timeseries[f"{queue.name}:ready"] = series[:, 1 + 2 * i]
            timeseries[f"{queue.name}:unacked"] = series[:, 2 + 2 * i]
        return RunResult(
            replication=self.replication,
            warmup=scenario.warmup,
            duration=scenario.duration,
            queues=queues,
            producers=producers,
            pools=pools,
            records=self.recorder.arrays(),
            timeseries=timeseries,
        )


def simulate(scenario: Scenario, replication: int = 0) -> RunResult:
    """Run replication ``replication`` of ``scenario`` (its own independent random streams)."""
    return Model(scenario, replication).run()
