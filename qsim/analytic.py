"""The analytic cross-check of a capacity study: a scenario's pool as a :class:`Station`.

The pool's queue is modelled as one FIFO queue served by replicas x concurrency workers
(:mod:`qsim.theory`). Its arrivals are the producers that publish to it directly:

- ``rate`` with ``arrivals: poisson`` (cv^2 1) or ``constant`` (cv^2 0);
- ``schedule``: its peak rate, held as if it lasted (steady state at the peak);
- ``interarrival``: rate 1 / mean, cv^2 of the distribution;
- ``mmpp``: its mean rate, and as cv^2 its asymptotic index of dispersion of counts (Whitt's
  QNA asymptotic method), an approximation noted as such;
- ``profile``: its peak rate held as if it lasted, as a schedule;
- ``batch``: a batch of X messages per arrival multiplies the rate by E[X], and the cv^2 (the
  index of dispersion of counts of the compound process) becomes ``E[X] c^2 + Var X / E[X]``.

Several producers merge with rate-weighted cv^2 (Whitt's QNA superposition). A queue also fed
through exchanges, pipeline stages or dead-lettering gets no analytic estimate.
:func:`theory_misses` lists what the scenario has that the model leaves out.

A Kafka topic of P partitions is P FIFO queues, each read by at most one consumer of the group:
with r replicas (at most P of them busy) the busiest consumer holds ceil(P / r) partitions, and
theory is that consumer as one queue of ``concurrency`` workers fed ceil(P / r) / P of the
records (keys split evenly). With one consumer per partition it is M/G/1 per partition
(Pollaczek-Khinchine for Poisson arrivals).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from qsim.scenario import ConsumerPool, Producer, Scenario
from qsim.scenario.keys import KeySpace, UniformKeys, WeightedKeys, ZipfKeys
from qsim.slo import METRICS, Objective
from qsim.theory import FIGURES, Station, smallest_replicas

__all__ = ["NO_WAIT", "Model", "build_model", "theory_misses"]

NO_WAIT = 10_000
"""Replicas at which theory's wait is next to nothing (the search's upper limit)."""


def _arrivals(producer: Producer) -> tuple[float, float, str | None]:
    """Rate, cv^2 of interarrival times, and a note on what the figure assumes."""
    rate, ca2, note = _arrival_instants(producer)
    batch = producer.batch
    if batch is None:
        return rate, ca2, note
    size = batch.mean
    batched = f"batch: {producer.name} publishes {size:g} messages at once on average; theory "
    batched += "takes them as one stream of that variability (Allen-Cunneen, approximate)"
    return rate * size, size * ca2 + batch.variance / size, "; ".join(filter(None, [note, batched]))


def _arrival_instants(producer: Producer) -> tuple[float, float, str | None]:
    """Rate, cv^2 and note of the arrival instants (of batches, where there is a batch)."""
    poisson = 1.0 if producer.arrivals == "poisson" else 0.0
    if producer.rate is not None:
        return producer.rate, poisson, None
    if producer.schedule is not None:
        peak = max(step.rate for step in producer.schedule)
        note = f"schedule: sized at {producer.name}'s peak rate ({peak:g}/s at 1x) held forever"
        return peak, poisson, note
    if producer.profile is not None:
        peak = producer.profile.peak
        note = f"profile: sized at {producer.name}'s peak rate ({peak:g}/s at 1x) held forever"
        return peak, 1.0, note
    if producer.mmpp is not None:
        idc = producer.mmpp.dispersion
        note = (
            f"mmpp: {producer.name}'s bursts taken as a stream of its mean rate with cv^2 "
            f"{idc:.3g} (its index of dispersion; approximate)"
        )
        return producer.mmpp.mean_rate, idc, note
    assert producer.interarrival is not None
    return 1 / producer.interarrival.mean, producer.interarrival.cv**2, None


def _fed_only_by_producers(scenario: Scenario, queue: str) -> bool:
    """Whether nothing but producers publishing to it directly feeds ``queue``."""
    bound = any(b.queue == queue for e in scenario.exchanges for b in e.bindings)
    piped = any(step.to == queue for p in scenario.consumers for step in p.publish)
    dead_lettered = any(q.dead_letter == queue for q in scenario.queues)
    return not (bound or piped or dead_lettered)


@dataclass(frozen=True)
class Model:
    """The pool's queue in theory at load 1x: arrivals and the pool's service."""

    rate: float
    ca2: float
    pool: ConsumerPool
    notes: tuple[str, ...]
    _base: Station
    partitions: int | None = None  # a kafka topic's partition count today; None for RabbitMQ
    hot_key: tuple[str, float] | None = None  # the busiest key of a topic and its rate at 1x
    steady: bool = True  # no producer of the queue follows a schedule

    def station(self, load: float, replicas: int, partitions: int | None = None) -> Station:
        """The station at ``load`` times today's rate with ``replicas`` replicas (on a kafka
        topic: the busiest consumer, on ``partitions`` or today's partition count)."""
        rate, workers = self.rate * load, self.pool.concurrency
        count = partitions or self.partitions
        if count is None:
            return replace(self._base, rate=rate, servers=replicas * workers)
        held = math.ceil(count / max(1, min(replicas, count)))  # the busiest consumer's share
        return replace(self._base, rate=rate * held / count, servers=workers)

    @property
    def method(self) -> str:
        """``erlang-c`` or ``allen-cunneen``."""
        return self._base.method

    def assessable(self, objectives: list[Objective]) -> list[Objective]:
        """The objectives theory gives a figure for (not maxima)."""
        return [o for o in objectives if _figure_key(o) in FIGURES]

    def meets(self, objectives: list[Objective]) -> Callable[[Station], bool]:
        """A test of a station against every assessable objective."""
        checks = self.assessable(objectives)

        def test(station: Station) -> bool:
            return all(o.holds(_figure(station, o)) for o in checks)

        return test

    def replicas(
        self, load: float, objectives: list[Objective], partitions: int | None = None
    ) -> int | None:
        """The smallest replica count meeting every assessable objective at ``load`` (on a
        kafka topic at most its partition count: None if even one consumer per partition
        fails)."""
        count = partitions or self.partitions
        test = self.meets(objectives)
        if count is None:
            return smallest_replicas(lambda n: self.station(load, n), test, limit=NO_WAIT)
        return next(
            (n for n in range(1, count + 1) if _holds(self.station(load, n, count), test)), None
        )

    def partitions_needed(self, load: float, objectives: list[Objective]) -> int | None:
        """A kafka topic: the smallest partition count whose partitions, one consumer each,
        meet every assessable objective at ``load`` (None for RabbitMQ or if none does)."""
        if self.partitions is None:
            return None
        test = self.meets(objectives)
        return smallest_replicas(lambda p: self.station(load, p, p), test, limit=NO_WAIT)

    def hot_key_load(self, load: float) -> float:
        """Busy workers the busiest key of a kafka topic keeps busy at ``load``: that key's
        partition, read by one consumer, cannot keep up at or above its concurrency, whatever
        the partition count (0 without keys)."""
        return self.hot_key[1] * load * self.pool.service_time.mean if self.hot_key else 0.0

    def unreachable(self, load: float, objectives: list[Objective]) -> list[str]:
        """The objectives no replica count can meet at ``load``: their figure with next to no
        waiting (:data:`NO_WAIT` workers), which is then the service time's alone; and, on a
        kafka topic with steady rates, every objective when one key alone overloads its
        partition (more partitions cannot split a key)."""
        busy = self.hot_key_load(load)
        if self.hot_key and self.steady and busy >= self.pool.concurrency:
            key, rate = self.hot_key
            return [
                f"{', '.join(o.text for o in objectives)}: key {key!r} alone brings "
                f"{rate * load:.3g} records/s at {load:g}x to its partition, {busy:.3g} "
                f"consumers' worth of work for its one consumer (a key stays on one partition)"
            ]
        station = replace(self._base, rate=self.rate * load, servers=NO_WAIT)
        return [
            f"{o.text}: {_figure(station, o):.3g}{METRICS[o.metric].unit} even without waiting"
            for o in self.assessable(objectives)
            if not o.holds(_figure(station, o))
        ]

    def figure(
        self, load: float, replicas: int, objective: Objective, partitions: int | None = None
    ) -> float | None:
        """Theory's figure for ``objective`` at ``load`` with ``replicas`` (on ``partitions``)."""
        if _figure_key(objective) not in FIGURES:
            return None
        return _figure(self.station(load, replicas, partitions), objective)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        service = self.pool.service_time
        return {
            "method": self.method,
            "arrival_rate_per_s": self.rate,
            "arrival_cv2": self.ca2,
            "service_mean_s": service.mean,
            "service_cv": service.cv,
            "workers_per_replica": self.pool.concurrency,
            "partitions": self.partitions,
            "theory_misses": list(self.notes),
        }


def _holds(station: Station, test: Callable[[Station], bool]) -> bool:
    return station.stable and test(station)


def _figure_key(objective: Objective) -> tuple[str, str | None]:
    from qsim.slo import METRICS

    stat = METRICS[objective.metric].stats.get(objective.stat) if objective.stat else None
    return objective.metric, stat


def _figure(station: Station, objective: Objective) -> float:
    return float(FIGURES[_figure_key(objective)](station))


def build_model(scenario: Scenario, pool_index: int) -> Model | None:
    """The analytic model of pool ``pool_index``'s queue, or None if theory cannot see all of
    its arrivals."""
    pool = scenario.consumers[pool_index]
    if not _fed_only_by_producers(scenario, pool.queue):
        return None
    feeding = [_arrivals(p) for p in scenario.producers if p.to == pool.queue]
    rate = sum(r for r, _, _ in feeding)
    if rate <= 0:
        return None
    ca2 = sum(r * c for r, c, _ in feeding) / rate
    notes = [note for _, _, note in feeding if note] + theory_misses(scenario, pool_index)
    if not Station(rate, ca2, pool.service_time, 1).exact:
        cv = pool.service_time.cv
        notes.append(
            f"approximation: arrival cv^2 {ca2:.3g}, service cv {cv:.3g} (not Poisson and "
            "exponential): Allen-Cunneen G/G/c"
        )
    base = Station(rate, ca2, pool.service_time, pool.replicas * pool.concurrency)
    queue = next(q for q in scenario.queues if q.name == pool.queue)
    partitions = queue.partitions if queue.type == "kafka" else None
    producers = [p for p in scenario.producers if p.to == pool.queue]
    hot = _hottest_key(producers) if partitions is not None else None
    steady = all(p.schedule is None and p.profile is None for p in producers)
    if hot and not steady and hot[1] * pool.service_time.mean >= pool.concurrency:
        notes.append(
            f"hot key: {hot[0]!r} brings {hot[1]:.3g} records/s at the peak to its partition, "
            "more than its one consumer processes; more partitions cannot split a key"
        )
    return Model(rate, ca2, pool, tuple(notes), base, partitions, hot, steady)


def _hottest_key(producers: list[Producer]) -> tuple[str, float] | None:
    """The key with the highest rate (at 1x, a schedule at its peak) among ``producers``'
    keys, and that rate (each producer's keys apart: the same key from two producers is not
    added up); None when none is keyed."""
    keyed = [(p, _key_share(p.key)) for p in producers if p.key is not None]
    rated = [(key, _arrivals(p)[0] * share) for p, (key, share) in keyed]
    return max(rated, key=lambda pair: pair[1], default=None)


def _key_share(space: KeySpace) -> tuple[str, float]:
    """A key space's most likely key and its probability."""
    if isinstance(space, WeightedKeys):
        key = max(space.keys, key=lambda k: space.keys[k])
        return key, space.keys[key] / sum(space.keys.values())
    if isinstance(space, UniformKeys):
        return space.uniform.key(0), 1 / space.uniform.keys
    if isinstance(space, ZipfKeys):
        zipf = space.zipf
        total = math.fsum((i + 1) ** -zipf.s for i in range(zipf.keys))
        return zipf.key(0), 1 / total
    return str(space), 1.0


def theory_misses(scenario: Scenario, pool_index: int) -> list[str]:
    """What the scenario has that one FIFO queue with c workers does not model, each as
    ``"key: explanation"``."""
    pool = scenario.consumers[pool_index]
    queue = next(q for q in scenario.queues if q.name == pool.queue)
    kafka = queue.type == "kafka"
    lease = queue.is_lease
    checks = [
        (kafka, f"partitions: a kafka topic is {queue.partitions} FIFO queues, one per "
         "partition, each read by at most one consumer; theory is the busiest consumer's "
         "partitions as one queue (its latency; backlog and throughput per consumer)"),
        (kafka and any(p.key is not None for p in scenario.producers if p.to == queue.name),
         "keys: theory splits records evenly across partitions; murmur2 of the producers' keys "
         "(a hot key above all: one key is one partition) does not"),
        (lease, f"lease: a message processed longer than its lease ({queue.lease or 0:g}s) "
         "is received again, and the extra processing is not in one FIFO queue's theory"),
        (lease and (pool.batch or 1) > 1, f"batch: a replica receives up to {pool.batch} "
         "messages at once; they wait in its buffer behind slow jobs"),
        (queue.type == "sqs-fifo", "message groups: one message of a group at a time, not "
         "one shared FIFO queue"),
        (pool.prefetch != 1 and not (kafka or lease),
         f"prefetch: {pool.prefetch or 'unlimited'} per "
         "replica; messages wait in a replica's buffer behind slow jobs, not in one shared FIFO "
         "queue"),
        (pool.failures.any, "failures: nacked messages are redelivered or dead-lettered"),
        (pool.crash is not None, "crashes: replicas are down part of the time"),
        (pool.consumer_timeout is not None, "timeout: consumer_timeout closes channels"),
        (pool.scaling.policy != "fixed", "autoscaling: replaced by a fixed replica count"),
        (queue.message_ttl is not None, "ttl: expired messages leave without a latency"),
        (queue.max_length is not None, "max_length: overflowing messages leave the queue"),
        (bool(scenario.outages), "outages: the broker is down part of the time"),
        (scenario.network is not None, "network: delay between clients and broker"),
    ]  # fmt: skip
    return [note for applies, note in checks if applies]
