"""Raw results of one replication: counters, time-weighted sums and per-message arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qsim.engine.billing import RequestKind
from qsim.sketch import LogSketch


@dataclass(frozen=True)
class QueueRun:
    """One queue's counters over the whole run, and its backlog over the measured window."""

    name: str
    counts: dict[str, int]
    backlog_mean: float
    backlog_max: int
    backlog_final: int
    unacked_final: int
    completions: int  # acks (or auto-ack completions) inside the measured window
    # billable API requests over the measured window, by kind (qsim.engine.billing); None where
    # the broker bills no requests (RabbitMQ, Kafka)
    requests: dict[RequestKind, int] | None
    stream: StreamRun | None  # a stream's log and readers; None for classic and quorum queues
    kafka: KafkaRun | None  # a kafka topic's partitions and groups; None for RabbitMQ queues
    lease: LeaseRun | None  # a lease queue's receives, leases and ends; None for the others


@dataclass(frozen=True)
class LevelRun:
    """A level over time (records, messages): time-weighted mean and maximum over the measured
    window, and its value at the end."""

    mean: float
    max: int
    final: int


@dataclass(frozen=True)
class ReaderRun:
    """What the readers of one pool did on a stream (each replica reads every record)."""

    delivered: int
    redelivered: int  # deliveries of records the reader had been sent before (re-read)
    acked: int  # processings that succeeded
    failed: int  # processings that failed: the record is skipped (a stream redelivers nothing)
    interrupted: int  # deliveries cut by a crash or a lost connection, unprocessed
    lost_to_retention: int  # records retention removed before the reader got to them (skipped)
    lag: LevelRun  # records behind the log's end: not yet delivered, or delivered unprocessed


@dataclass(frozen=True)
class StreamRun:
    """A stream's log at the end of the run, and its readers by pool name."""

    segments: int
    retained_bytes: float
    readers: dict[str, ReaderRun]


@dataclass(frozen=True)
class PartitionRun:
    """One partition of a kafka topic over the run, summed over the groups that read it."""

    produced: int  # records appended
    consumed: int  # records processed successfully for the first time
    committed: int  # the committed offset at the end
    duplicates: int  # successful processings of records already processed (a re-read)
    lost_to_retention: int  # records removed (or skipped by an offset reset) before processed
    lag: LevelRun  # records between the committed offset and the log end
    lag_s_mean: float  # age of the oldest uncommitted record, mean over the samples
    lag_s_max: float  # ... and its maximum


@dataclass(frozen=True)
class GroupRun:
    """What one consumer group (one pool) did on a kafka topic."""

    rebalances: int  # rebalance rounds completed (a cooperative move takes two)
    idle_consumers: LevelRun  # members with no partition assigned
    paused_partition_seconds: float  # partition-seconds with no live member fetching it
    retries: int  # failed processings retried in place
    dead_lettered: int  # records published to the dead-letter topic after the retries
    skipped: int  # records given up after the retries, with no dead-letter topic
    kicked: int  # members put out of the group for exceeding max_poll_interval
    interrupted: int  # fetched records a crash cut before they were processed


@dataclass(frozen=True)
class KafkaRun:
    """A kafka topic at the end of the run: its partitions and its groups by pool name."""

    partitions: list[PartitionRun]
    lag: LevelRun  # records behind the committed offsets, all partitions (and groups) together
    groups: dict[str, GroupRun]
    skew: float  # records appended to the busiest partition over the mean per partition
    lingering: int  # records still in producers' open batches at the end


@dataclass(frozen=True)
class LeaseRun:
    """A lease queue (SQS, Pub/Sub, Service Bus, JetStream) over the whole run: what its
    receives did, how its leases ended, and where its messages went."""

    receives: int  # ReceiveMessage / pull calls answered (with messages or empty)
    received: int  # messages handed out (each receive of each message)
    empty_receives: int  # receives that returned no message
    deleted: int  # messages deleted (acked): done
    duplicates: int  # receives after a message's first (deliveries after the first)
    redelivered: int  # messages received more than once
    lease_expiries: int  # leases that lapsed before a delete: the message became visible again
    returned: int  # failed messages returned at once (partial batch response, nack, abandon)
    heartbeats: int  # lease extensions sent (ChangeMessageVisibility / ModifyAckDeadline calls)
    late_deletes: int  # deletes after the lease lapsed that still deleted the message
    stale_deletes: int  # deletes that did nothing (received again since, lock lost, outage)
    dead_lettered: int  # moved to the dead_letter queue after max_receives
    exhausted: int  # past max_receives with no dead_letter queue in the scenario
    expired: int  # dropped by retention
    resends: int  # producers' second sends of a message (``resend``) that reached the queue
    deduplicated: int  # sends dropped: one of the message was accepted within 5 min (SQS FIFO)
    duplicate_sends: int  # sends accepted while another of the same message was: a copy
    visible: LevelRun  # messages that can be received
    in_flight: LevelRun  # received, not yet deleted (within their lease)
    delayed: LevelRun  # published, still hidden by the delay
    oldest_age_mean: float  # age of the oldest message not yet deleted, mean over the samples
    oldest_age_max: float  # ... and its maximum


@dataclass(frozen=True)
class ProducerRun:
    """One producer's books (whole run) and its flows (started after the warm-up)."""

    name: str
    queue: str
    published: int
    counts: dict[str, int]
    flows_started: int
    flows_failed: int


@dataclass(frozen=True)
class FunctionRun:
    """What an AWS Lambda pool (``scaling: {policy: lambda}``) is billed for over the measured
    window (:mod:`qsim.engine.awslambda`): invocations, their run time and the cold starts'
    INIT time, each rounded up to the millisecond, in GB-seconds of ``memory_mb``."""

    memory_mb: int
    invocations: int
    billed_seconds: float  # run time of the invocations started in the window
    init_seconds: float  # INIT time of the cold starts begun in the window
    gb_seconds: float  # (billed_seconds + init_seconds) x memory_mb / 1024
    cold_starts: int
    timeouts: int  # invocations stopped at the function timeout (their batch fails)
    concurrency_max: int  # the most concurrent batches (replicas) at once


@dataclass(frozen=True)
class RetryRun:
    """What a pool's consumer-side retry did over the whole run (:mod:`qsim.engine.retry`):
    the wait of each retry level, the messages sent to it, the messages parked after their last
    attempt, and the work queue's deliveries per message that entered it from outside the
    retry (its load amplification)."""

    delays_s: list[float]  # the wait of level 1, 2, ... (message_ttl of its retry queue)
    retried: list[int]  # messages sent to level 1, 2, ... (failed attempt 1, 2, ...)
    parked: int  # messages sent to the parking queue after their last attempt failed
    messages: int  # messages published to the work queue, not counting returns from retry
    deliveries: int  # deliveries by the work queue (every attempt, redeliveries included)

    @property
    def amplification(self) -> float | None:
        """Deliveries per message; None before any message arrived."""
        return self.deliveries / self.messages if self.messages else None


@dataclass(frozen=True)
class PoolRun:
    """A consumer pool's busy time, replicas and cost over the measured window (``replicas``
    is the count at the start), its scaling events and its failures."""

    name: str
    replicas: int
    concurrency: int
    busy_time: float
    window: float
    replica_seconds: float
    replicas_max: int
    scale_ups: int
    scale_downs: int
    crashes: int
    channel_closures: int
    consumer_timeouts: int
    lost_in_crash: int
    publish: dict[str, int]  # the books of its onward publish steps; empty if it has none
    function: FunctionRun | None  # an AWS Lambda pool's bill; None for other pools
    retry: RetryRun | None  # a pool with consumer-side retry; None for the others

    @property
    def utilization(self) -> float:
        """Busy worker-seconds over available worker-seconds (replica-seconds x concurrency)."""
        capacity = self.replica_seconds * self.concurrency
        return self.busy_time / capacity if capacity > 0 else 0.0

    @property
    def replicas_mean(self) -> float:
        """Time-weighted mean replica count over the measured window."""
        return self.replica_seconds / self.window if self.window > 0 else 0.0


@dataclass(frozen=True)
class ResourceRun:
    """A shared downstream limit (:mod:`qsim.engine.resources`) over the measured window: the
    wait of each request asked in it (``waits``, or in ``sketch`` for a streaming run), the
    jobs waiting for it and, for a connection pool, the connections held."""

    name: str
    kind: str  # "connections" or "rate"
    capacity: float  # connections, or tokens per second
    requests: int  # requests asked within the window and granted
    waited: int  # of those, the ones not granted at once
    waits: np.ndarray  # seconds from asking to the grant, one per request
    sketch: LogSketch | None  # a streaming run's waits (``waits`` then holds none)
    queue: LevelRun  # jobs waiting for it
    held: LevelRun | None  # connections held; None for a rate limit
    utilization: float  # connections: mean held / capacity; rate: tokens taken / offered


@dataclass(frozen=True)
class RunResult:
    """Everything one replication produced. ``records`` holds one entry per completed message,
    ``flows`` one per completed flow. A streaming run keeps ``sketches`` instead (keyed by
    figure, grouping and index, e.g. ``("latency", "queue", 0)``) and empty arrays."""

    replication: int
    warmup: float
    duration: float
    queues: list[QueueRun]
    producers: list[ProducerRun]
    pools: list[PoolRun]
    records: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray]
    flows: dict[str, np.ndarray]
    broker: dict[str, float]
    sketches: dict[tuple[str, str, int], LogSketch] | None
    resources: list[ResourceRun]  # the scenario's shared limits, in its order

    @property
    def window(self) -> float:
        """Length of the measured window (duration minus warm-up), in seconds."""
        return self.duration - self.warmup
