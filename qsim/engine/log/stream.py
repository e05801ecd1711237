"""A RabbitMQ stream (``type: stream``): the log delivery model, one partition that every
consumer reads (RabbitMQ 4.3, AMQP 0.9.1 consumers; ``docs/semantics.md``, "Streams").

- Append-only: publishing appends a record; reading removes nothing; every consumer reads
  every record on its own, there are no competing consumers (streams.md#overview). In qsim each
  replica of a pool is one consumer, so a pool of 3 replicas processes every record 3 times.
- Consumers read from an offset with a credit window (:mod:`qsim.engine.log.reader`).
- Retention (:mod:`qsim.engine.log.partition`) is evaluated when a segment rolls over and,
  with ``max_age``, again every hour while more than one segment remains; each evaluation
  restarts that hour (osiris_log.erl ``write_chunk`` -> ``trigger_retention_eval``;
  osiris_retention.erl ``schedule/3``, ``retention_eval_interval``; streams.md#retention).
- A stream is durable and persists every message: a broker restart loses nothing; its
  readers lose their connection and resume when the broker is back.
- No TTL, dead-lettering, priorities, length limit, overflow, delivery limit or single active
  consumer (the scenario refuses them, streams.md#feature-matrix).
- Flows: one branch per pool that reads the stream (:mod:`qsim.engine.log.group`); a record
  appended while no pool reads the stream ends its branch there, completed (it is stored).

Books, checked at the end of the run: ``published = retained + removed`` (by retention), and
each pool's (:class:`~qsim.engine.log.group.ReaderGroup`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qsim.engine.log.group import ReaderGroup
from qsim.engine.log.level import Level
from qsim.engine.log.partition import Delivery, Partition
from qsim.engine.log.reader import Reader
from qsim.engine.placed import Placed
from qsim.engine.recorder import Recorder
from qsim.engine.results import QueueRun, StreamRun
from qsim.scenario.consumer import OffsetKind, StreamOffset
from qsim.scenario.queue import SEGMENT_BYTES

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.message import Message
    from qsim.engine.protocols import DeliveryModel
    from qsim.engine.sampler import WorkDraw
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool
    from qsim.scenario import Queue as QueueSpec

RETENTION_EVAL_INTERVAL = 3600.0
"""Seconds between scheduled retention evaluations (osiris ``retention_eval_interval``)."""

ATTACH: dict[OffsetKind, Callable[[Partition, float, float], int]] = {
    "first": lambda log, _value, _now: log.first,
    "last": lambda log, _value, _now: max(log.first, log.end - 1),
    "next": lambda log, _value, _now: log.end,
    "offset": lambda log, value, _now: min(max(log.first, int(value)), log.end),
    "interval": lambda log, value, now: log.offset_at(now - value),
}
"""Where a reader attaches, by offset kind (:data:`qsim.scenario.consumer.OFFSET_NAMES` and
the two kinds with a value): (log, value, now) -> offset. ``last`` is the newest record, as
each qsim record is one chunk (RabbitMQ attaches at the newest chunk's first message); an
integer offset is clamped to the log's range; an interval attaches at the first record appended
at or after ``now - interval`` (osiris_log.erl ``init_offset_reader0``)."""
NEXT = StreamOffset("next")


class Stream(Placed):
    """One stream's log, its readers and its books during a run."""

    def __init__(
        self,
        broker: Broker,
        spec: QueueSpec,
        index: int,
        recorder: Recorder,
        work: WorkDraw,
    ) -> None:
        super().__init__(broker, spec, index, recorder, work)
        segment_bytes = SEGMENT_BYTES if spec.segment_bytes is None else spec.segment_bytes
        self.partition = Partition(segment_bytes, spec.max_bytes, spec.max_age)
        self.groups: dict[str, ReaderGroup] = {}  # by pool name
        self.readers: list[Reader] = []
        self.waiting = Level()  # records not yet delivered, summed over the readers
        self.published = 0
        self.dead_lettered = 0  # a stream dead-letters nothing
        self._evaluation = 0  # retention evaluations so far (a scheduled one names its turn)

    def route(self, key: str) -> tuple[Stream, ...]:
        """Publishing to a stream by name: the default exchange reaches just this stream."""
        return (self,)

    def link(self, others: dict[str, DeliveryModel]) -> None:
        """A stream refers to nothing (no dead-letter target)."""

    def subscribe(self, worker: Worker, pool: ConsumerPool) -> Reader:
        """One replica of ``pool`` reads the stream: a reader of the pool's group."""
        group = self.groups.get(pool.name)
        if group is None:
            group = ReaderGroup(
                pool.name, self.index, self.partition.end, self.recorder, self.waiting
            )
            self.groups[pool.name] = group
        reader = Reader(self, worker, group, pool.prefetch, pool.offset)
        self.readers.append(reader)
        return reader

    def attach_at(self, offset: StreamOffset | None) -> int:
        """The offset a reader first attaching at ``offset`` starts from, now."""
        offset = NEXT if offset is None else offset
        return ATTACH[offset.kind](self.partition, offset.value, self.env.now)

    def metrics(self) -> StreamMetrics:
        """What a scaler could observe (the scenario refuses autoscaling a stream's pool)."""
        return StreamMetrics(self)

    def pool_figures(self, pool: str) -> dict[str, int]:
        """Stream consumers use manual acks and have no consumer timeout: none of these happen."""
        return {"channel_closures": 0, "consumer_timeouts": 0, "lost_in_crash": 0}

    def sample(self) -> list[float]:
        """Records waiting to be delivered and deliveries unprocessed (summed over readers),
        published and acked so far."""
        groups = self.groups.values()
        unsettled = sum(g.unsettled for g in groups)
        return [self.waiting.value, unsettled, self.published, sum(g.acked for g in groups)]

    def series(self) -> dict[str, list[float]]:
        """No series beyond :meth:`sample`'s."""
        return {}

    def duplicates_so_far(self) -> int:
        """Records re-read so far, summed over readers (``redelivered``)."""
        return sum(g.redelivered for g in self.groups.values())

    # -- publishing --------------------------------------------------------------------------
    def publish(self, msg: Message) -> None:
        """Append ``msg``: one flow branch per reading pool; readers with credit are sent it."""
        self.published += 1
        now = self.env.now
        msg.published_at = now
        msg.work, msg.service = self.work()
        rolled = self.partition.append(msg, now)
        if not self.groups:
            self.recorder.end_branch(msg.flow, True, now)  # stored, and nobody reads it
        else:
            msg.flow.outstanding += len(self.groups) - 1
            for group in self.groups.values():
                group.appended(now)
            for reader in self.readers:
                reader.pump()
        if rolled and self.partition.retains:
            self._evaluate()

    def decide_poison(self, msg: Delivery) -> None:
        """A reader's pool decided whether the record is poison: it stays so for every reader."""
        assert msg.poison is not None
        self.partition.decide_poison(msg.offset, msg.poison)

    # -- retention ---------------------------------------------------------------------------
    def _evaluate(self) -> None:
        now = self.env.now
        removed = self.partition.retain(now)
        if removed:
            for group in self.groups.values():
                group.removed(removed, now)
            for reader in self.readers:
                reader.catch_up()
        self._evaluation += 1
        if self.partition.max_age is not None and len(self.partition.segments) > 1:
            self.broker.after(RETENTION_EVAL_INTERVAL, self._scheduled, self._evaluation)

    def _scheduled(self, evaluation: int) -> None:
        if evaluation == self._evaluation:  # no evaluation since: this one is due
            self._evaluate()

    def restart(self) -> None:
        """The broker restarts: a stream keeps every record (its readers reconnect)."""

    # -- end of run --------------------------------------------------------------------------
    def start_window(self) -> None:
        """The warm-up ended: time-weighted levels start again from here."""
        now = self.env.now
        self.waiting.start_window(now)
        for group in self.groups.values():
            group.lag.start_window(now)

    def counts(self) -> dict[str, int]:
        """Counters over the whole run: the log's books and its readers' together."""
        groups = self.groups.values()
        totals = {
            name: sum(getattr(g, name) for g in groups)
            for name in ("delivered", "redelivered", "acked", "failed", "interrupted")
        }
        log = self.partition
        return {"published": self.published, **totals, "retained": log.retained,
                "removed": log.removed}  # fmt: skip

    def settle_books(self) -> None:
        """Check conservation: every record is retained or removed; every delivery ended once;
        the levels kept as they moved agree with the readers' positions."""
        log = self.partition
        if log.retained + log.removed != self.published:
            raise AssertionError(f"stream {self.name}: published {self.published} != kept+removed")
        waiting = sum(log.end - reader.position for reader in self.readers)
        if waiting != self.waiting.value:
            raise AssertionError(f"stream {self.name}: {self.waiting.value} waiting != {waiting}")
        for group in self.groups.values():
            group.settle_books(log.end)

    def report(self, window: float, completions: int) -> QueueRun:
        """The stream's figures: its books, records waiting for delivery as the backlog, and
        per reading pool what its readers did."""
        now = self.env.now
        backlog = self.waiting.report(window, now)
        log = self.partition
        readers = {name: group.report(window, now) for name, group in self.groups.items()}
        return QueueRun(
            name=self.name,
            counts=self.counts(),
            backlog_mean=backlog.mean,
            backlog_max=backlog.max,
            backlog_final=backlog.final,
            unacked_final=sum(group.unsettled for group in self.groups.values()),
            completions=completions,
            requests=None,  # RabbitMQ bills no API requests
            stream=StreamRun(segments=len(log.segments), retained_bytes=log.bytes, readers=readers),
            kafka=None,
            lease=None,
        )


class StreamMetrics:
    """:class:`~qsim.engine.metrics.MetricsSource` over a stream, summed over its readers: the
    records they have still to be sent, hold unprocessed, and have acked."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def ready(self) -> int:
        """Records not yet sent, summed over the readers."""
        return self._stream.waiting.value

    def in_flight(self) -> int:
        """Records sent and not yet processed, summed over the readers."""
        return sum(group.unsettled for group in self._stream.groups.values())

    def published(self) -> int:
        """Records appended."""
        return self._stream.published

    def settled(self) -> int:
        """Processings acked."""
        return sum(group.acked for group in self._stream.groups.values())

    def oldest_age(self, now: float) -> float:
        """The age of the oldest record some reader has still to be sent."""
        log = self._stream.partition
        behind = min((reader.position for reader in self._stream.readers), default=log.end)
        return now - log.time_of(behind) if behind < log.end else 0.0
