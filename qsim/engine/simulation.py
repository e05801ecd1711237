"""Build the SimPy model of a scenario, run one replication, collect raw results."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import simpy
from simpy.events import Timeout

from qsim.distributions import Distribution, Uniform
from qsim.engine import clock
from qsim.engine.arrivals import arrival_times
from qsim.engine.broker import Broker
from qsim.engine.failures import schedule_crashes, schedule_outage, schedule_outages
from qsim.engine.keys import key_chooser
from qsim.engine.kinds import LEASE_QUEUE, TOPIC, builder, built_by
from qsim.engine.message import NO_PRODUCER, Message
from qsim.engine.paths import Paths
from qsim.engine.pool import Pool
from qsim.engine.producer import Producer
from qsim.engine.protocols import DeliveryModel
from qsim.engine.publisher import PUBLISHER_STATES, Publisher
from qsim.engine.queue import Queue, forwarded
from qsim.engine.recorder import Recorder
from qsim.engine.resources import Limit, build_limit
from qsim.engine.results import RunResult
from qsim.engine.retry import RetryRoute
from qsim.engine.routing import Exchange, Target
from qsim.engine.sampler import ServiceTimes, ServiceWork, Work, WorkDraw, sampler
from qsim.engine.worker import PoolState, Stretch, Worker
from qsim.scenario import ConsumerPool, Failures, PublishStep, Scenario
from qsim.scenario import Producer as ProducerSpec
from qsim.scenario.keys import KeySpace
from qsim.streams import stream

if TYPE_CHECKING:  # imported where a scenario needs them: a plain one never does
    from qsim.engine.autoscaler import Autoscaler
    from qsim.engine.kafka.topic import Topic
    from qsim.engine.lease.queue import LeaseQueue

UNIFORM01 = Uniform[float](dist="uniform", low=0.0, high=1.0)
Draw = Callable[[], float]


class Model:
    """The simulated system of one replication. With ``general_paths`` every component takes
    its general path, none of the shortcuts of :mod:`qsim.engine.paths` (the results are the
    same; a test checks it)."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int,
        stream: float | None = None,
        *,
        general_paths: bool = False,
    ) -> None:
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        self.paths = Paths(general_paths)
        network = scenario.network
        self.broker = Broker(
            self.env,
            None if network is None else self._draw(network.latency, "network:latency"),
            outages=bool(scenario.outages),
            paths=self.paths,
        )
        self.recorder = Recorder(
            scenario.fixed_warmup,
            len(scenario.queues),
            len(scenario.producers),
            stream,
            scenario.timeseries_interval,
        )
        self.queues: list[DeliveryModel] = [
            builder(spec.type)(self.broker, spec, i, self.recorder, self._work(spec.name))
            for i, spec in enumerate(scenario.queues)
        ]
        self.broker.queues.extend(self.queues)
        by_name = {q.name: q for q in self.queues}
        for queue in self.queues:
            queue.link(by_name)
            if built_by(queue, TOPIC):  # its producers' keys and its groups draw from streams
                cast("Topic", queue).use_streams(self._rng)
        self.retries = self._build_retries(by_name)
        self.targets: dict[str, Target] = dict(by_name)
        self.targets.update({e.name: Exchange(e, by_name) for e in scenario.exchanges})
        window = (scenario.fixed_warmup, scenario.duration)
        self.limits: dict[str, Limit] = {
            name: build_limit(self.env, name, spec, window, stream)
            for name, spec in scenario.resources.items()
        }
        self.pools = [
            PoolState(scenario.fixed_warmup, scenario.duration) for _ in scenario.consumers
        ]
        self.pool_publishers: list[list[Publisher]] = []
        self.consumers: list[Worker] = []  # every replica ever created, in creation order
        self.autoscalers: list[Autoscaler] = []
        self.replica_pools = self._build_pools(by_name)
        # the producers' next publishes on a heap of their own (qsim.engine.clock.run)
        self.arrivals: list[Any] | None = [] if self.paths.choose("clock.arrivals", True) else None
        self.producers = list(self._build_producers())
        self.series: list[list[float]] = []
        self.counters = self._counters()
        self.tallies: list[list[float]] = []  # the counters' values, at each sample

    # -- random streams ----------------------------------------------------------------
    def _rng(self, name: str) -> np.random.Generator:
        return stream(self.scenario.seed, self.replication, name)

    def _work(self, queue: str) -> WorkDraw:
        """The work draws of ``queue``: service times straight away where a single pool
        consumes it (the ``work.service`` shortcut)."""
        pools = [p for p in self.scenario.consumers if p.queue == queue]
        rng = self._rng(f"queue:{queue}:work")
        if self.paths.choose("work.service", len(pools) == 1):
            return ServiceWork(rng, pools[0].service_time).next
        return Work(rng).next

    def _draw(self, dist: Distribution[float], name: str) -> Draw:
        return sampler(dist, self._rng(name))

    def _maybe(self, dist: Distribution[float] | None, name: str) -> Draw | None:
        return None if dist is None else self._draw(dist, name)

    def _key(self, keys: KeySpace | None, name: str) -> Callable[[], str]:
        """A routing-key chooser drawing from stream ``name`` (:mod:`qsim.engine.keys`); no key
        space draws nothing, so its stream is never made (a thousand producers made a thousand)."""
        return key_chooser(keys, None if keys is None else self._rng(name))

    # -- building ----------------------------------------------------------------------
    def _build_retries(self, by_name: dict[str, DeliveryModel]) -> dict[str, RetryRoute]:
        """Each pool's consumer-side retry, by pool name, set on its work queue (the scenario
        made sure it is a classic or quorum queue that the pool consumes alone)."""
        routes = {}
        for spec in self.scenario.consumers:
            retry, work = spec.retry, by_name[spec.queue]
            if retry is None or not isinstance(work, Queue):
                continue
            levels = [by_name[name] for name in retry.level_queues(spec.queue)]
            parking = by_name[retry.parking_queue(spec.queue)]
            work.retry = routes[spec.name] = RetryRoute(work, levels, retry.delays, parking)
        return routes

    def _decider(self, failures: Failures, prefix: str) -> Callable[[Message], bool | None] | None:
        """Decide a processed message's fate: True ack, None reject with requeue, False without
        (a pool with retry never requeues). None when processing never fails. In a failure
        window the window's probability replaces ``nack_probability``."""
        if not failures.any:
            return None
        nack = self._draw(UNIFORM01, f"{prefix}:failures")
        poison = self._draw(UNIFORM01, f"{prefix}:poison")
        failed: bool | None = None if failures.requeue else False
        env = self.env
        if not failures.poison and not failures.windows:
            p = failures.nack_probability  # the common case: one coin at a fixed probability

            def decide_fixed(_msg: Message) -> bool | None:
                return failed if nack() < p else True

            return decide_fixed

        def decide(msg: Message) -> bool | None:
            if failures.poison:
                if msg.poison is None:
                    msg.poison = poison() < failures.poison
                if msg.poison:
                    return failed
            p = failures.probability_at(env.now) if failures.windows else failures.nack_probability
            if p and nack() < p:
                return failed
            return True

        return decide

    def _onward(self, spec: ConsumerPool) -> Callable[[Message], None] | None:
        """What a pool publishes after processing a message (its pipeline steps)."""
        if not spec.publish:
            return None
        steps: list[tuple[PublishStep, Publisher, Draw | None]] = []
        for j, step in enumerate(spec.publish):
            prefix = f"pool:{spec.name}:publish:{j}"
            publisher = Publisher(
                f"{spec.name}.publish[{j}]", self.broker, self.targets[step.to],
                self._key(step.routing_key, f"{prefix}:routing"), self.recorder,
            )  # fmt: skip
            coin = self._draw(UNIFORM01, f"{prefix}:coin") if step.probability < 1 else None
            steps.append((step, publisher, coin))
        self.pool_publishers.append([publisher for _, publisher, _ in steps])

        def onward(msg: Message) -> None:
            flow = msg.flow
            for step, publisher, coin in steps:
                if coin is None or coin() < step.probability:
                    for _ in range(step.count):
                        flow.outstanding += 1
                        child = Message(NO_PRODUCER, flow, math.inf, 0, msg.size, step.persistent)
                        publisher.publish(child)

        return onward

    def _build_pools(self, by_name: dict[str, DeliveryModel]) -> list[Pool]:
        pools = []
        for spec, state in zip(self.scenario.consumers, self.pools, strict=True):
            pools.append(self._build_pool(spec, state, by_name[spec.queue]))
        return pools

    def _build_pool(self, spec: ConsumerPool, state: PoolState, queue: DeliveryModel) -> Pool:
        prefix = f"pool:{spec.name}"
        service = ServiceTimes(
            spec.service_time, self._draw(spec.service_time, f"{prefix}:service"),
            same=spec.redelivery == "same",
        )  # fmt: skip
        decide = self._decider(spec.failures, prefix)
        if not spec.publish:
            self.pool_publishers.append([])
        state.onward = self._onward(spec)
        state.needs = tuple(limit for name, limit in self.limits.items() if name in spec.uses)
        state.stretch = _stretch(spec)
        crash, scaling = spec.crash, spec.scaling
        up = down = None
        if crash is not None:
            up = self._draw(crash.mtbf, f"{prefix}:crash-up")
            down = self._draw(crash.restart, f"{prefix}:crash-down")
        can_lose_work = crash is not None or scaling.scale_down == "requeue"

        def make() -> Worker:
            worker = Worker(
                self.env, state, concurrency=spec.concurrency, service=service, decide=decide,
                can_lose_work=can_lose_work, paths=self.paths,
            )  # fmt: skip
            worker.subscription = queue.subscribe(worker, spec)
            if up is not None and down is not None:
                schedule_crashes(self.broker, worker, up, down)
            self.consumers.append(worker)
            return worker

        if scaling.policy == "lambda":
            from qsim.engine.awslambda import FunctionBill

            assert scaling.memory is not None and scaling.timeout is not None
            state.bill = FunctionBill(
                scaling.memory, state.window_start, state.window_end,
                per_message=not built_by(queue, LEASE_QUEUE),
            )  # fmt: skip
            state.limit = scaling.timeout
        pool = Pool(
            spec.name, self.broker, state, make,
            self._maybe(scaling.start_delay, f"{prefix}:startup"),
            drain=scaling.scale_down == "drain", concurrency=spec.concurrency,
        )  # fmt: skip
        if scaling.policy != "fixed":
            from qsim.engine.autoscaler import Autoscaler

            self.autoscalers.append(Autoscaler(pool, queue.metrics(), scaling))
        return pool

    def _build_producers(self) -> list[Producer]:
        producers = []
        for i, spec in enumerate(self.scenario.producers):
            prefix = f"producer:{spec.name}"
            target = self.targets[spec.to]
            if built_by(target, TOPIC):  # a Kafka producer: its client partitions and batches
                target = cast("Topic", target).client(spec)
            elif built_by(target, LEASE_QUEUE) and spec.key is not None:  # FIFO group ids
                cast("LeaseQueue", target).group_ids(i, self._key(spec.key, f"{prefix}:group"))
            publisher = Publisher(
                spec.name, self.broker, target,
                self._key(spec.routing_key, f"{prefix}:routing"), self.recorder,
                on_unavailable=spec.on_unavailable, buffer=spec.buffer,
            )  # fmt: skip
            producers.append(
                Producer(
                    self.env, i, publisher, self.recorder,
                    arrival_times(spec, self._rng(f"{prefix}:arrivals")),
                    ttl=self._maybe(spec.ttl, f"{prefix}:ttl"),
                    priority=self._maybe(spec.priority, f"{prefix}:priority"),
                    size=self._maybe(spec.size, f"{prefix}:size"),
                    persistent=spec.persistent,
                    resend=self._resend(spec, prefix),
                    heap=self.arrivals,
                )
            )  # fmt: skip
        return producers

    def _resend(self, spec: ProducerSpec, prefix: str) -> tuple[float, Draw, Draw] | None:
        """A producer's ``resend``: its probability, a uniform draw deciding each message and
        the delay's draw (each on its own stream), or None."""
        if spec.resend is None or spec.resend_after is None:
            return None
        uniform = self._rng(f"{prefix}:resend").random
        return spec.resend, uniform, self._draw(spec.resend_after, f"{prefix}:resend_after")

    def _schedule_outages(self) -> None:
        for i, outage in enumerate(self.scenario.outages):
            if outage.at is not None and outage.for_ is not None:
                schedule_outage(self.broker, outage.at, outage.for_)
            elif outage.mtbf is not None and outage.mttr is not None:
                up = self._draw(outage.mtbf, f"outage:{i}:up")
                down = self._draw(outage.mttr, f"outage:{i}:down")
                schedule_outages(self.broker, up, down)

    # -- observation -----------------------------------------------------------------
    def _at(self, time: float, callback: Callable[[Timeout], None]) -> None:
        Timeout(self.env, time - self.env.now).callbacks.append(callback)

    def _start_of_window(self, _event: Timeout) -> None:
        for queue in self.queues:
            queue.start_window()

    def _sample(self, _event: Timeout) -> None:
        row = [self.env.now]
        for queue in self.queues:
            row += queue.sample()
        for pool in self.replica_pools:
            row += [len(pool.replicas), sum(replica.busy for replica in pool.replicas)]
        self.series.append(row)
        self.tallies.append([count() for _key, count in self.counters])
        step = self.scenario.timeseries_interval
        if self.env.now + step <= self.scenario.duration + 1e-9:
            self._at(self.env.now + step, self._sample)

    def _counters(self) -> list[tuple[str, Callable[[], float]]]:
        """The counts so far that the series give per window, each with its series key, made
        once (read at every sample): each queue's duplicates and billed requests (where its
        broker bills them), each pool's billed quantities."""
        counters: list[tuple[str, Callable[[], float]]] = []
        for queue in self.queues:
            counters.append((f"{queue.name}:duplicates", queue.duplicates_so_far))
            if queue.billed_requests_so_far() is not None:
                counters.append((f"{queue.name}:requests", partial(_requests, queue)))
        for pool in self.replica_pools:
            for item in pool.billed_so_far():
                counters.append((f"pool:{pool.name}:{item}", partial(_billed, pool, item)))
        return counters

    # -- run -------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Simulate until the scenario's duration and return the raw results."""
        scenario = self.scenario
        for pool, spec in zip(self.replica_pools, scenario.consumers, strict=True):
            pool.start(spec.replicas)
        for autoscaler in self.autoscalers:
            autoscaler.start()
        for producer in self.producers:
            producer.start()
        self._schedule_outages()
        if scenario.fixed_warmup > 0:
            self._at(scenario.fixed_warmup, self._start_of_window)
        self._at(0.0, self._sample)
        clock.run(self.env, scenario.duration, self.arrivals)
        self.settle_books()
        self.recorder.flush()
        return self._results()

    def settle_books(self) -> None:
        """Conservation at the end of the run: every queue, every publisher, and between them
        (each routed copy and each dead-lettered message is published by exactly one queue)."""
        for queue in self.queues:
            queue.settle_books()
        publishers = self.broker.publishers
        for publisher in publishers:
            publisher.settle_books()
        for limit in self.limits.values():
            limit.settle_books(sum(c.holds(limit) for w in self.consumers for c in w.claims))
        published = sum(q.published for q in self.queues)
        supplied = sum(p.copies for p in publishers) + forwarded(self.queues)
        if published != supplied:
            raise AssertionError(f"queues published {published}, publishers supplied {supplied}")

    def _results(self) -> RunResult:
        scenario = self.scenario
        window = scenario.duration - scenario.fixed_warmup
        recorder = self.recorder
        queues = [q.report(window, recorder.window_completions[q.index]) for q in self.queues]
        producers = [
            p.report(spec.to, recorder.flows_started[i], recorder.flows_failed[i])
            for i, (spec, p) in enumerate(zip(scenario.producers, self.producers, strict=True))
        ]
        queue_of = {q.name: q for q in self.queues}
        pools = [
            pool.report(
                spec.replicas, window, queue_of[spec.queue].pool_figures(spec.name),
                _sum_counts(publishers),
                None if spec.name not in self.retries else self.retries[spec.name].report(),
            )
            for spec, pool, publishers in zip(
                scenario.consumers, self.replica_pools, self.pool_publishers, strict=True
            )
        ]  # fmt: skip
        return RunResult(
            replication=self.replication,
            warmup=scenario.fixed_warmup,
            duration=scenario.duration,
            queues=queues,
            producers=producers,
            pools=pools,
            records=recorder.arrays(),
            timeseries=self._timeseries(),
            flows=recorder.flow_arrays(),
            sketches=recorder.sketches,
            broker=self.broker.report(scenario.fixed_warmup, scenario.duration),
            resources=[limit.report() for limit in self.limits.values()],
        )

    def _timeseries(self) -> dict[str, np.ndarray]:
        """Sampled series by key: per queue ready and unacked messages and the published and
        acked counts so far (``NAME:ready``...), per pool replicas and busy workers
        (``pool:NAME:replicas``, ``pool:NAME:busy``) and each delivery model's own series
        (``NAME:partition:P:lag``...) and latency percentiles per sample window
        (``NAME:latency_p99``..., :mod:`qsim.engine.windows`), all at the sample instants
        ``time``; and per window starting at each sample (:func:`per_window`) each queue's
        duplicates (``NAME:duplicates``) and billed requests (``NAME:requests``, where billed)
        and each pool's billed quantities (``pool:NAME:replica_seconds``, or a function's
        ``pool:NAME:gb_seconds`` and ``pool:NAME:invocations``)."""
        series = np.asarray(self.series, dtype=float)
        timeseries = {"time": series[:, 0]}
        column = 1
        for queue in self.queues:
            for field in QUEUE_SERIES:
                timeseries[f"{queue.name}:{field}"] = series[:, column]
                column += 1
        for pool in self.replica_pools:
            for field in POOL_SERIES:
                timeseries[f"pool:{pool.name}:{field}"] = series[:, column]
                column += 1
        for queue in self.queues:
            for key, values in queue.series().items():
                timeseries[f"{queue.name}:{key}"] = np.asarray(values, dtype=float)
        for index, windows in self.recorder.window_series(len(series)).items():
            for key, window in windows.items():
                timeseries[f"{self.queues[index].name}:{key}"] = window
        tallies = np.asarray(self.tallies, dtype=float)  # samples x counters
        for column, (key, count) in enumerate(self.counters):
            timeseries[key] = per_window(tallies[:, column], count())
        return timeseries


def _requests(queue: DeliveryModel) -> float:
    """``queue``'s billed requests so far (a counter of :meth:`Model._counters`, made only
    where its broker bills requests)."""
    requests = queue.billed_requests_so_far()
    assert requests is not None, queue.name
    return requests


def _billed(pool: Pool, item: str) -> float:
    """``pool``'s billed quantity ``item`` so far (a counter of :meth:`Model._counters`)."""
    return pool.billed_so_far()[item]


def per_window(so_far: Sequence[float] | np.ndarray, final: float) -> np.ndarray:
    """What a count added in each sample's window, from its values at the samples and at the
    end of the run. Here the window *starts* at its sample: sample ``i``'s is
    ``[i * step, (i + 1) * step)``, sample 0's includes time 0, and the last one's runs to the
    end of the run, so the windows add up to the run's total (``final``)."""
    values = np.append(np.asarray(so_far, dtype=float)[1:], final)
    return np.diff(values, prepend=0.0)


QUEUE_SERIES = ("ready", "unacked", "published", "acked")
"""What each sample records per queue, in order (published and acked: counts so far)."""
POOL_SERIES = ("replicas", "busy")
"""What each sample records per pool, in order (busy: workers processing a message)."""


def _stretch(spec: ConsumerPool) -> Stretch | None:
    """A pool's service time from its draw: plus ``service_time_per_kb`` per KB of the
    message, times the ``contention`` factor for the jobs in service; None when it has
    neither (the draw is the service time)."""
    per_byte, contention = spec.service_time_per_kb / 1024.0, spec.contention
    if contention is None:
        if per_byte == 0.0:
            return None
        return lambda duration, msg, _jobs: duration + per_byte * msg.size
    factor = contention.factor
    return lambda duration, msg, jobs: (duration + per_byte * msg.size) * factor(jobs)


def _sum_counts(publishers: list[Publisher]) -> dict[str, int]:
    """The books of a pool's publish steps together (empty if it publishes nothing)."""
    if not publishers:
        return {}
    books = [p.counts() for p in publishers]
    return {name: sum(b[name] for b in books) for name in PUBLISHER_STATES}


def simulate(
    scenario: Scenario,
    replication: int = 0,
    stream: float | None = None,
    *,
    general_paths: bool = False,
) -> RunResult:
    """Run replication ``replication`` of ``scenario`` (its own independent random streams).

    With ``stream`` (a relative accuracy such as 0.01) per-message figures go into quantile
    sketches as the run goes, so memory stays flat; percentiles are then within that accuracy.
    ``general_paths`` refuses every fast path (:mod:`qsim.engine.paths`): for tests.
    """
    return Model(scenario, replication, stream, general_paths=general_paths).run()
