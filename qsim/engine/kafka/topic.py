"""A Kafka topic (``type: kafka``): the log delivery model with ``partitions`` logs, producers
that batch and partition their records, and consumer groups that share the partitions out
(Apache Kafka 4.x and its Java client; ``docs/semantics.md``, "Kafka").

- Each partition is a :class:`~qsim.engine.log.partition.Partition`: records at consecutive
  offsets, in segments of ``segment_bytes`` (segment.bytes, 1 GiB), stamped with the time the
  producer created them (message.timestamp.type CreateTime, the default).
- Producers (:class:`ProducerClient`): a keyed record goes to
  ``toPositive(murmur2(key)) % partitions``, an unkeyed one to the sticky partition
  (:mod:`~qsim.engine.kafka.partitioner`). Records wait in a per-partition batch until it holds
  ``batch_size`` bytes or ``linger`` has passed since it opened, then are appended together:
  latency runs from the record's creation, so the linger shows in it.
- Retention (``max_age``: retention.ms, 7 days; ``max_bytes``: retention.bytes per partition)
  removes whole segments, checked every 300 s (log.retention.check.interval.ms). qsim keeps the
  newest segment and applies the byte limit as RabbitMQ streams do (the log stays within
  ``max_bytes``; Kafka deletes only while the rest stays at or above it), and rolls no segment
  by time (segment.ms).
- Each pool reading the topic is a consumer group (:mod:`~qsim.engine.kafka.group`) of one
  member per replica (:mod:`~qsim.engine.kafka.member`); its books per partition are in
  :mod:`~qsim.engine.kafka.books`. A record appended while no group reads the topic ends its
  flow branch there, completed (it is stored).
- A broker outage loses nothing (records are on disk); members stop polling until it ends.

Books, checked at the end of the run: ``published = retained + removed + lingering`` (the
last in producers' open batches), and each group's per partition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from qsim.engine.kafka.group import ConsumerGroup
from qsim.engine.kafka.member import Member
from qsim.engine.kafka.partitioner import (
    RECORD_OVERHEAD,
    StickyPartitioner,
    key_bytes,
    partition_for_key,
)
from qsim.engine.keys import key_chooser
from qsim.engine.log.level import Level
from qsim.engine.log.partition import Delivery, Partition
from qsim.engine.message import Flow, Message
from qsim.engine.placed import Placed
from qsim.engine.recorder import Recorder
from qsim.engine.results import KafkaRun, LevelRun, PartitionRun, QueueRun
from qsim.engine.sampler import sampler

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.protocols import DeliveryModel
    from qsim.engine.sampler import WorkDraw
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool, Producer
    from qsim.scenario import Queue as QueueSpec

RETENTION_CHECK_INTERVAL = 300.0
"""Seconds between retention checks (log.retention.check.interval.ms, 300000)."""
Streams = Callable[[str], np.random.Generator]


class Record(Delivery):
    """One reading of a record of a partition: a :class:`Delivery` that knows its partition."""

    __slots__ = ("partition",)

    def __init__(self, partition: int, offset: int, producer: int, flow: Flow, size: float):
        super().__init__(offset, producer, flow, size)
        self.partition = partition


class KafkaPartition(Partition):
    """A partition whose readings are :class:`Record`\\ s."""

    def __init__(self, number: int, spec: QueueSpec) -> None:
        assert spec.segment_bytes is not None
        super().__init__(spec.segment_bytes, spec.max_bytes, spec.max_age)
        self.number = number

    def read(self, offset: int) -> Record:
        """The record at ``offset`` (``first <= offset < end``)."""
        segment = self._segment(offset)
        i = offset - segment.first
        record = Record(self.number, offset, segment.producer[i], segment.flows[i], segment.size[i])
        record.published_at = segment.time[i]
        record.work = segment.work[i]
        record.service = segment.service[i]
        poison = segment.poison[i]
        record.poison = None if poison < 0 else poison == 1
        return record


class Topic(Placed):
    """One topic's partitions, producers' batches, groups and books during a run."""

    def __init__(
        self,
        broker: Broker,
        spec: QueueSpec,
        index: int,
        recorder: Recorder,
        work: WorkDraw,
    ) -> None:
        assert spec.partitions is not None
        super().__init__(broker, spec, index, recorder, work)
        self.partitions = [KafkaPartition(p, spec) for p in range(spec.partitions)]
        self.groups: dict[str, ConsumerGroup] = {}  # by pool name
        self.members: dict[str, list[Member]] = {}
        self.clients: list[ProducerClient] = []
        self.lag = Level()  # records behind the committed offsets, all partitions and groups
        self.published = 0
        self.dead_lettered = 0
        self.targets: dict[str, Topic] = {}
        self._streams: Streams | None = None
        self._next_partition = 0  # publishes with no client (dead-lettered ones pick theirs)
        self._lag_series: list[list[float]] = []  # per sample: lag per partition, then lag_s
        if any(log.retains for log in self.partitions):
            broker.after(RETENTION_CHECK_INTERVAL, self._check_retention, None)

    # -- set-up -------------------------------------------------------------------------------
    def use_streams(self, streams: Streams) -> None:
        """The run's named random streams (for producers' keys and groups' rebalance times)."""
        self._streams = streams

    def _stream(self, name: str) -> np.random.Generator:
        assert self._streams is not None, "the model gives a topic its streams first"
        return self._streams(name)

    def client(self, spec: Producer) -> ProducerClient:
        """The Kafka client of producer ``spec`` on this topic (its publisher's target)."""
        prefix = f"producer:{spec.name}"
        keys = None if spec.key is None else key_chooser(spec.key, self._stream(f"{prefix}:key"))
        client = ProducerClient(self, keys, spec, self._stream(f"{prefix}:sticky"))
        self.clients.append(client)
        return client

    def route(self, key: str) -> tuple[Topic, ...]:
        """Publishing to a topic by name reaches just this topic."""
        return (self,)

    def link(self, others: dict[str, DeliveryModel]) -> None:
        """Resolve the dead-letter topics the groups name."""
        self.targets = {name: other for name, other in others.items() if isinstance(other, Topic)}

    def subscribe(self, worker: Worker, pool: ConsumerPool) -> Member:
        """One replica of ``pool``: a member of the pool's group."""
        group = self.groups.get(pool.name)
        if group is None:
            assert pool.rebalance_time is not None
            draw = sampler(pool.rebalance_time, self._stream(f"pool:{pool.name}:rebalance"))
            group = ConsumerGroup(self, pool, draw)
            self.groups[pool.name] = group
            self.members[pool.name] = []
        member = Member(self, worker, group, pool)
        self.members[pool.name].append(member)
        return member

    def members_of(self, pool: str) -> list[Member]:
        """Every member (replica) pool ``pool`` has had on the topic."""
        return self.members.get(pool, [])

    def metrics(self) -> KafkaMetrics:
        """What KEDA's Kafka scaler observes: the lag per partition."""
        return KafkaMetrics(self)

    def pool_figures(self, pool: str) -> dict[str, int]:
        """RabbitMQ's consumer figures: none of them happen to a Kafka consumer."""
        return {"channel_closures": 0, "consumer_timeouts": 0, "lost_in_crash": 0}

    # -- producing ----------------------------------------------------------------------------
    def accept(self, msg: Message) -> None:
        """A producer's client took ``msg`` (it may linger in a batch before it is appended)."""
        self.published += 1
        msg.published_at = self.env.now
        msg.work, msg.service = self.work()

    def publish(self, msg: Message) -> None:
        """A record with no client of its own: partitions in turn (none today but dead-letters,
        which name their partition: :meth:`dead_letter`)."""
        self.accept(msg)
        self.append(msg, self._next_partition)
        self._next_partition = (self._next_partition + 1) % len(self.partitions)

    def dead_letter(self, record: Record) -> None:
        """A record another topic's group gave up, published here to the same partition number
        (DeadLetterPublishingRecoverer's default); its flow branch goes on here."""
        msg = Message(record.producer, record.flow, math.inf, 0, record.size, True)
        self.accept(msg)
        self.append(msg, record.partition % len(self.partitions))

    def append(self, msg: Message, p: int) -> None:
        """Append ``msg`` to partition ``p``, stamped with its creation time."""
        now = self.env.now
        self.partitions[p].append(msg, msg.published_at)
        if not self.groups:
            self.recorder.end_branch(msg.flow, True, now)  # stored, and nobody reads it
            return
        msg.flow.outstanding += len(self.groups) - 1
        for group in self.groups.values():
            group.appended(p, now)

    def give_up(self, group: ConsumerGroup, p: int, record: Record, now: float) -> None:
        """``group`` gave up ``record`` after its retries: to its dead-letter topic, or skipped."""
        target = group.spec.dead_letter_topic
        books = group.books[p]
        if target is None:
            books.give_up(record, now)
        elif books.move(record):
            self.dead_lettered += 1
            self.targets[target].dead_letter(record)

    # -- retention ----------------------------------------------------------------------------
    def _check_retention(self, _: None) -> None:
        now = self.env.now
        for p, log in enumerate(self.partitions):
            removed = log.retain(now)
            if removed:
                for group in self.groups.values():
                    group.books[p].removed(removed, now)
        self.broker.after(RETENTION_CHECK_INTERVAL, self._check_retention, None)

    def restart(self) -> None:
        """The broker restarts: a topic keeps every record."""

    # -- observation --------------------------------------------------------------------------
    def sample(self) -> list[float]:
        """Records not yet fetched (summed over groups), fetched and unprocessed, appended and
        processed so far; each partition's lag in records (summed over groups) and seconds
        (the oldest of the groups') for :meth:`series`, and after the warm-up its lag in
        seconds for the run's mean and maximum."""
        now = self.env.now
        unfetched = held = processed = 0
        sampled = now >= self.recorder.warmup
        records = [0.0] * len(self.partitions)
        seconds = [0.0] * len(self.partitions)
        for name, group in self.groups.items():
            held_now = [0] * len(self.partitions)
            fetched_to = [books.committed for books in group.books]
            for member in self.members[name]:
                for p, count in member.held().items():
                    held_now[p] += count
                for p, position in member.positions.items():
                    fetched_to[p] = max(fetched_to[p], position)
            for p, books in enumerate(group.books):
                unfetched += max(0, self.partitions[p].end - fetched_to[p])
                held += held_now[p]
                processed += books.processed + books.duplicates
                age = books.sample_lag(now) if sampled else books.lag_age(now)
                records[p] += books.lag.value
                seconds[p] = max(seconds[p], age)
        self._lag_series.append(records + seconds)
        return [unfetched, held, self.published, processed]

    def duplicates_so_far(self) -> int:
        """Records processed again so far (``kafka.duplicates``), summed over groups."""
        return sum(b.duplicates for group in self.groups.values() for b in group.books)

    def series(self) -> dict[str, list[float]]:
        """Each partition's lag at every sample: ``partition:P:lag`` in records (summed over
        the groups reading it) and ``partition:P:lag_s`` in seconds (the age of the oldest
        record a group has not committed; 0 with none)."""
        count = len(self.partitions)
        columns = list(zip(*self._lag_series, strict=True)) if self._lag_series else []
        keyed: dict[str, list[float]] = {}
        for p in range(count):
            keyed[f"partition:{p}:lag"] = list(columns[p]) if columns else []
            keyed[f"partition:{p}:lag_s"] = list(columns[count + p]) if columns else []
        return keyed

    def start_window(self) -> None:
        """The warm-up ended: time-weighted levels start again from here."""
        now = self.env.now
        self.lag.start_window(now)
        for group in self.groups.values():
            group.idle.start_window(now)
            for books in group.books:
                books.lag.start_window(now)

    # -- end of run ---------------------------------------------------------------------------
    @property
    def lingering(self) -> int:
        """Records in producers' open batches."""
        return sum(client.lingering for client in self.clients)

    def counts(self) -> dict[str, int]:
        """Counters over the whole run, summed over partitions and groups."""
        books = [b for group in self.groups.values() for b in group.books]
        return {
            "published": self.published,
            "delivered": sum(b.fetched for b in books),
            "acked": sum(b.processed + b.duplicates for b in books),
            "failed": sum(b.failed for b in books),
            "interrupted": sum(b.interrupted for b in books),
            "dead_lettered": self.dead_lettered,
            "retained": sum(log.retained for log in self.partitions),
            "removed": sum(log.removed for log in self.partitions),
        }

    def settle_books(self) -> None:
        """Every record is retained, removed or lingering; each group's books balance."""
        kept = sum(log.retained + log.removed for log in self.partitions)
        if kept + self.lingering != self.published:
            raise AssertionError(f"topic {self.name}: published {self.published} != kept")
        for group in self.groups.values():
            group.settle_books()

    def report(self, window: float, completions: int) -> QueueRun:
        """The topic's figures: per partition, per group, and the RabbitMQ-shaped totals."""
        now = self.env.now
        partitions = [self._partition_run(p, window, now) for p in range(len(self.partitions))]
        produced = [log.end for log in self.partitions]
        mean = sum(produced) / len(produced)
        lag = self.lag.report(window, now)
        held = sum(c for ms in self.members.values() for m in ms for c in m.held().values())
        return QueueRun(
            name=self.name,
            counts=self.counts(),
            backlog_mean=lag.mean,
            backlog_max=lag.max,
            backlog_final=lag.final,
            unacked_final=held,
            completions=completions,
            requests=None,  # Kafka bills no API requests
            stream=None,
            kafka=KafkaRun(
                partitions=partitions,
                lag=lag,
                groups={name: g.report(window, now) for name, g in self.groups.items()},
                skew=max(produced) / mean if mean > 0 else 1.0,
                lingering=self.lingering,
            ),
            lease=None,
        )

    def _partition_run(self, p: int, window: float, now: float) -> PartitionRun:
        books = [group.books[p] for group in self.groups.values()]
        levels = [b.lag.report(window, now) for b in books]
        samples = sum(b.lag_s_samples for b in books)
        return PartitionRun(
            produced=self.partitions[p].end,
            consumed=sum(b.processed for b in books),
            committed=sum(b.committed for b in books),
            duplicates=sum(b.duplicates for b in books),
            lost_to_retention=sum(b.lost for b in books),
            lag=LevelRun(
                mean=sum(level.mean for level in levels),
                max=sum(level.max for level in levels),
                final=sum(level.final for level in levels),
            ),
            lag_s_mean=sum(b.lag_s_sum for b in books) / samples if samples else 0.0,
            lag_s_max=max((b.lag_s_max for b in books), default=0.0),
        )


class ProducerClient:
    """One producer's Kafka client on a topic: its partitioner and its batches per partition.
    It is the producer's publish target (:class:`~qsim.engine.publisher.Publisher`)."""

    __slots__ = (
        "_batches", "_bytes", "_cache", "_keys", "_opened", "_opening", "_rng", "_sticky",
        "batch_size", "linger", "name", "topic",
    )  # fmt: skip

    def __init__(
        self, topic: Topic, keys: Callable[[], str] | None, spec: Producer, rng: np.random.Generator
    ) -> None:
        assert spec.linger is not None and spec.batch_size is not None
        self.topic = topic
        self.name = topic.name
        self.linger = spec.linger
        self.batch_size = spec.batch_size
        self._keys = keys
        self._rng = rng
        self._sticky = StickyPartitioner(max(1, int(spec.batch_size)))
        self._cache: dict[str, int] = {}  # key -> partition
        self._batches: dict[int, list[Message]] = {}
        self._bytes: dict[int, float] = {}  # bytes in each open batch
        self._opened = 0  # batches opened so far (a linger timer names its batch)
        self._opening: dict[int, int] = {}  # partition -> the number of its open batch

    @property
    def published(self) -> int:
        """(As a delivery model counts it: the topic does.)"""
        return self.topic.published

    @property
    def lingering(self) -> int:
        """Records in open batches."""
        return sum(len(batch) for batch in self._batches.values())

    def route(self, key: str) -> tuple[Topic, ...]:
        """The topic, whatever the key."""
        return (self.topic,)

    def publish(self, msg: Message) -> None:
        """``send()``: partition the record and add it to that partition's batch."""
        topic = self.topic
        topic.accept(msg)
        count = len(topic.partitions)
        keyed = self._keys is not None
        if self._keys is not None:
            key = self._keys()
            p = self._cache.get(key)
            if p is None:
                p = self._cache[key] = partition_for_key(key_bytes(key), count)
        else:
            p = self._sticky.partition(count, self._rng)
        wire = int(msg.size) + RECORD_OVERHEAD
        if self.linger <= 0:
            topic.append(msg, p)
            if not keyed:
                self._sticky.appended(wire)
                self._sticky.batch_closed()
            return
        batch = self._batches.get(p)
        if batch is None:
            batch = self._batches[p] = []
            self._opened += 1
            topic.broker.after(self.linger, self._lingered, (p, self._opened))
            self._opening[p] = self._opened
        batch.append(msg)
        self._bytes[p] = size = self._bytes.get(p, 0.0) + wire
        if not keyed:
            self._sticky.appended(wire)
        if size >= self.batch_size:
            self._send(p)

    def _lingered(self, due: tuple[int, int]) -> None:
        p, opened = due
        if self._opening.get(p) == opened:
            self._send(p)

    def _send(self, p: int) -> None:
        """The batch of ``p`` is closed and sent: its records are appended, in order."""
        batch = self._batches.pop(p)
        self._opening.pop(p, None)
        self._bytes.pop(p, None)
        for msg in batch:
            self.topic.append(msg, p)
        if self._keys is None:
            self._sticky.batch_closed()


class KafkaMetrics:
    """:class:`~qsim.engine.metrics.MetricsSource` over a topic, summed over its groups: the
    lag (log end - committed offset) as ``ready``, and :meth:`partition_lags` and
    :meth:`committed_offsets` for KEDA (a :class:`~qsim.engine.metrics.PartitionedMetrics`)."""

    __slots__ = ("_topic",)

    def __init__(self, topic: Topic) -> None:
        self._topic = topic

    def partition_lags(self) -> Sequence[int]:
        """Each partition's lag, summed over the topic's groups."""
        groups = self._topic.groups.values()
        count = len(self._topic.partitions)
        return [sum(g.books[p].lag.value for g in groups) for p in range(count)]

    def committed_offsets(self) -> Sequence[int | None]:
        """Each partition's committed offset, summed over the topic's groups like the lags
        (exact with the one group a scaled pool is). A group starts committed at the log end,
        so no offset is ever missing (Kafka's -1)."""
        groups = self._topic.groups.values()
        count = len(self._topic.partitions)
        return [sum(g.books[p].committed for g in groups) for p in range(count)]

    def ready(self) -> int:
        """The total lag."""
        return sum(self.partition_lags())

    def in_flight(self) -> int:
        """Records polled and not yet processed."""
        return sum(c for ms in self._topic.members.values() for m in ms for c in m.held().values())

    def published(self) -> int:
        """Records produced."""
        return self._topic.published

    def settled(self) -> int:
        """Records processed (duplicates included)."""
        groups = self._topic.groups.values()
        return sum(b.processed + b.duplicates for g in groups for b in g.books)

    def oldest_age(self, now: float) -> float:
        """The age of the oldest uncommitted record."""
        oldest = now
        for group in self._topic.groups.values():
            for books in group.books:
                log = books.partition
                at = max(books.committed, log.first)
                if at < log.end:
                    oldest = min(oldest, log.time_of(at))
        return now - oldest
