"""What an autoscaler can know of a queue: the seam between the broker model and the scaler.

The autoscaler observes a :class:`MetricsSource`, never a queue's internals, so another broker's
figures plug in behind the same five methods: for RabbitMQ the ready and unacked counts, for
SQS the visible and in-flight counts, for Kafka the consumer group's lag (as ``ready``).
:class:`QueueMetrics` is the source over qsim's own RabbitMQ-style queue.

A Kafka topic's source is also a :class:`PartitionedMetrics`: per partition, the consumer
group's lag and committed offset, what KEDA's Kafka scaler reads (``ListConsumerGroupOffsets``
and the partitions' newest offsets, kedacore/keda pkg/scalers/kafka_scaler.go). RabbitMQ
sources have no partitions and do not implement it; a scenario asking for the ``kafka_lag``
policy on a RabbitMQ queue is refused before the run.

:class:`StatisticsRates` turns the cumulative counts into rates the way RabbitMQ's management
API reports them: the server emits statistics every ``collect_statistics_interval`` (5 s by
default) and "the message rate values shown in the management plugin are calculated over this
period" (rabbitmq-website, management/index.md#statistics-interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from qsim.engine.queue import Queue

__all__ = ["MetricsSource", "PartitionedMetrics", "QueueMetrics", "StatisticsRates"]


class MetricsSource(Protocol):
    """A broker's figures for one queue, as a scaler can read them at any moment."""

    def ready(self) -> int:
        """Messages waiting to be delivered (AMQP ready, SQS visible, Kafka lag)."""
        ...

    def in_flight(self) -> int:
        """Messages delivered and not yet settled (AMQP unacked, SQS in flight)."""
        ...

    def published(self) -> int:
        """Messages published to the queue so far (cumulative)."""
        ...

    def settled(self) -> int:
        """Deliveries acknowledged so far (cumulative; AMQP acks, SQS deletes)."""
        ...

    def oldest_age(self, now: float) -> float:
        """Seconds the next message to be delivered has waited at ``now``; 0 if none waits."""
        ...


@runtime_checkable
class PartitionedMetrics(MetricsSource, Protocol):
    """A Kafka topic's figures for one consumer group: a :class:`MetricsSource` with the
    per-partition offsets KEDA's Kafka scaler reads, indexed by partition number."""

    def partition_lags(self) -> Sequence[int]:
        """Per partition, the log-end offset minus the group's committed offset; where the
        group has committed nothing yet, the log-end offset itself (the lag from offset 0)."""
        ...

    def committed_offsets(self) -> Sequence[int | None]:
        """Per partition, the group's committed offset (the next record it will read after a
        rebalance); ``None`` where it has committed none (Kafka returns -1)."""
        ...


class QueueMetrics:
    """:class:`MetricsSource` over a :class:`qsim.engine.queue.Queue`, reading only its
    public counters and its ready store."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def ready(self) -> int:
        """The queue's ready messages."""
        return len(self._queue.ready)

    def in_flight(self) -> int:
        """The queue's unacked deliveries."""
        return self._queue.unacked

    def published(self) -> int:
        """Messages the queue has accepted."""
        return self._queue.published

    def settled(self) -> int:
        """Deliveries the queue has had acked."""
        return self._queue.acked

    def oldest_age(self, now: float) -> float:
        """The age of the message at the head of the ready store."""
        ready = self._queue.ready
        return now - ready.peek().published_at if ready else 0.0


class StatisticsRates:
    """Publish and ack rates as the RabbitMQ management API reports them: each statistics
    emission (call :meth:`emit` every ``interval``) sets the rates to the counts' growth since
    the previous emission over the time between them; readers see the last emitted values."""

    __slots__ = ("_last", "_source", "publish_rate", "settle_rate")

    def __init__(self, source: MetricsSource, now: float) -> None:
        self._source = source
        self._last = (now, source.published(), source.settled())
        self.publish_rate = 0.0
        self.settle_rate = 0.0

    def emit(self, now: float) -> None:
        """A statistics emission at ``now``."""
        then, published, settled = self._last
        self._last = (now, self._source.published(), self._source.settled())
        if now > then:
            self.publish_rate = (self._last[1] - published) / (now - then)
            self.settle_rate = (self._last[2] - settled) / (now - then)
