"""Consumer pools: replicas, prefetch, service times, failures, crashes, timeouts, pipelines,
and where a pool reading a stream starts (``offset``)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from qsim.errors import known_hint
from qsim.scenario.fields import TimeDistribution
from qsim.scenario.kafka import ASSIGNOR_NAMES, Assignor, CommitMode, OffsetReset
from qsim.scenario.prices import PoolPrices
from qsim.scenario.resources import Contention
from qsim.scenario.retry import Retry
from qsim.scenario.scaling import LAMBDA_INITIAL_BATCHES, Scaling, lambda_cap
from qsim.scenario.topology import PublishStep
from qsim.spec import (
    Count,
    Duration,
    Name,
    PositiveCount,
    PositiveDuration,
    Probability,
    ReplicaCount,
    Spec,
    fail,
)
from qsim.units import INTERVAL_PATTERN, parse_duration

__all__ = ["OFFSET_NAMES", "ConsumerPool", "Crash", "FailureWindow", "Failures", "StreamOffset"]

OffsetKind = Literal["first", "last", "next", "offset", "interval"]
OFFSET_NAMES = ("first", "last", "next")
"""The named offsets; the engine attaches a reader at each (``qsim.engine.log.stream.ATTACH``)."""
_INTERVAL = re.compile(INTERVAL_PATTERN)


@dataclass(frozen=True)
class StreamOffset:
    """Where a stream reader first attaches, as ``x-stream-offset`` says (streams.md#consuming;
    rabbit_stream_queue.erl ``parse_offset_arg``): ``first`` (the oldest record retained),
    ``last`` (the newest record), ``next`` (only records appended from now on: the default),
    ``offset`` (offset ``value``, clamped to the log's range) or ``interval`` (the first record
    appended at most ``value`` seconds ago)."""

    kind: OffsetKind
    value: float = 0.0


def _offset(value: Any) -> StreamOffset:
    """``first``, ``last``, ``next``, a whole number (an offset) or an interval with a unit."""
    if isinstance(value, StreamOffset):
        return value
    if isinstance(value, str) and value.strip() in OFFSET_NAMES:
        return StreamOffset(cast(OffsetKind, value.strip()))
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if whole and not isinstance(value, bool) and value >= 0:
        return StreamOffset("offset", int(value))
    if isinstance(value, str) and _INTERVAL.match(value):
        seconds = parse_duration(value)
        if seconds > 0:
            return StreamOffset("interval", seconds)
    raise fail(
        f"expected first, last, next, an offset (a whole number >= 0) or an interval with a "
        f"unit such as 1h, got {value!r}"
    )


def _dump_offset(offset: StreamOffset) -> str | int:
    """Back to the scenario's own form, so a resolved scenario loads again."""
    if offset.kind == "offset":
        return int(offset.value)
    if offset.kind == "interval":
        return f"{offset.value!r}s"
    return offset.kind


if TYPE_CHECKING:
    Offset = StreamOffset
else:
    Offset = Annotated[
        StreamOffset,
        BeforeValidator(_offset),
        PlainSerializer(_dump_offset),
        WithJsonSchema(
            {
                "anyOf": [
                    {"enum": list(OFFSET_NAMES)},
                    {"type": "integer", "minimum": 0},
                    {"type": "string", "pattern": INTERVAL_PATTERN},
                ],
                "examples": ["first", "next", 0, "1h"],
            }
        ),
    ]
"""A stream offset: a name, a whole number, or an interval; resolved to a :class:`StreamOffset`."""


def _assignor(value: Any) -> str:
    if not isinstance(value, str) or value not in ASSIGNOR_NAMES:
        raise fail(f"unknown assignor {value!r}{known_hint(str(value), ASSIGNOR_NAMES)}")
    return value


if TYPE_CHECKING:
    AssignorName = Assignor
else:
    AssignorName = Annotated[
        str,
        BeforeValidator(_assignor),
        WithJsonSchema({"enum": list(ASSIGNOR_NAMES), "type": "string"}),
    ]
"""One of :data:`qsim.scenario.kafka.ASSIGNOR_NAMES`; anything else is an error naming them."""


class FailureWindow(Spec):
    """A downstream outage as the pool sees it: a processing that ends from ``from`` until
    ``to`` (scenario time) fails with probability ``fail`` (instead of ``nack_probability``)."""

    from_: Duration = Field(alias="from")
    to: Duration
    fail: Probability

    @model_validator(mode="after")
    def _ordered(self) -> FailureWindow:
        if self.to <= self.from_:
            raise fail(f"to ({self.to:g}s) must be after from ({self.from_:g}s)", at=("to",))
        return self


class Failures(Spec):
    """Processing failures. With ``nack_probability`` a consumer rejects a message after working
    on it; a ``poison`` fraction of messages fails every time; in each of ``windows`` (a
    downstream outage) a processing that ends inside it fails with the window's probability.
    ``requeue`` says whether the broker puts a rejected message back (true) or
    dead-letters/discards it (a pool with ``retry`` never requeues). ``method`` is the AMQP
    method the consumer rejects with: a RabbitMQ 4.3 quorum queue counts ``basic.reject``
    toward its delivery limit, not ``basic.nack`` (quorum-queues/index.md
    #when-is-delivery-count-incremented)."""

    nack_probability: Probability = 0.0
    poison: Probability = 0.0
    requeue: bool = True
    method: Literal["reject", "nack"] = "reject"
    windows: tuple[FailureWindow, ...] = ()

    @field_validator("windows")
    @classmethod
    def _apart(cls, windows: tuple[FailureWindow, ...]) -> tuple[FailureWindow, ...]:
        spans = sorted((w.from_, w.to) for w in windows)
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise fail(f"failure windows overlap (one starts at {start:g}s, before {end:g}s)")
        return windows

    @property
    def any(self) -> bool:
        """Whether any processing can fail."""
        return self.nack_probability > 0 or self.poison > 0 or any(w.fail > 0 for w in self.windows)

    def probability_at(self, time: float) -> float:
        """The probability that a processing ending at ``time`` fails (poison aside)."""
        for window in self.windows:
            if window.from_ <= time < window.to:
                return window.fail
        return self.nack_probability


class Crash(Spec):
    """Each replica runs for ``mtbf`` (a distribution of up-times), crashes, and is down for
    ``restart`` before it consumes again."""

    mtbf: TimeDistribution
    restart: TimeDistribution


class ConsumerPool(Spec):
    """Replicas of one service consuming a queue. Each replica is one consumer (channel) with
    its own prefetch window (0 = unlimited, the RabbitMQ default) and ``concurrency`` workers.
    ``replicas`` is the count at the start; ``scaling`` may change it as the run goes.
    ``redelivery``: a redelivered message is another attempt with a ``fresh`` service time
    draw (the default), or takes the ``same`` time as its first delivery (its work is
    intrinsic: a long video is long on every attempt).
    ``retry``: a failed message waits in a retry queue for its back-off and comes back, up to
    ``max_attempts`` processings, then is parked (:mod:`qsim.scenario.retry`).
    ``offset``: where each replica of a pool reading a stream first attaches (``next`` when
    not given); every replica reads every record of a stream.

    A pool reading a kafka topic is a consumer group (``group``, the pool's name by default):
    its replicas share the partitions out by ``assignor``, poll up to ``max_poll_records``,
    commit offsets (``commit``: auto every ``auto_commit_interval``, or after each ``batch`` or
    ``record``), are noticed gone after ``session_timeout`` and put out after a poll loop longer
    than ``max_poll_interval``; a rebalance takes ``rebalance_time``. A failed record is retried
    ``retries`` times (none: forever, the partition stalls behind it), then published to
    ``dead_letter_topic`` or skipped (Spring Kafka's DefaultErrorHandler and
    DeadLetterPublishingRecoverer).

    A pool reading a lease queue (SQS, Pub/Sub, Service Bus, JetStream) polls: each replica
    receives up to ``batch`` messages, waiting up to ``wait`` for a first one (0: short
    polling), pauses ``empty_pause`` after an empty receive, extends the leases it holds every
    ``heartbeat`` (none: never), with ``partial_batch`` returns a failed message at once
    instead of letting its lease lapse, and with ``max_outstanding`` receives ahead while it
    holds fewer messages than that (Pub/Sub flow control, Service Bus prefetch;
    :mod:`qsim.scenario.lease`).

    ``service_time_per_kb`` adds that much service time per KB (1024 bytes) of the message's
    ``size``; ``contention`` stretches service times with the jobs of the pool running at
    once; ``uses`` names the scenario's ``resources`` each job needs while it works
    (:mod:`qsim.scenario.resources`, ``docs/resources.md``)."""

    name: Name
    queue: Name
    replicas: ReplicaCount = 1
    prefetch: Count = 0
    concurrency: PositiveCount = 1
    service_time: TimeDistribution
    service_time_per_kb: Duration = 0.0
    contention: Contention | None = None
    uses: tuple[Name, ...] = ()
    redelivery: Literal["fresh", "same"] = "fresh"
    ack: Literal["manual", "auto"] = "manual"
    failures: Failures = Failures()
    retry: Retry | None = None
    crash: Crash | None = None
    consumer_timeout: PositiveDuration | None = None
    publish: tuple[PublishStep, ...] = ()
    scaling: Scaling = Field(default_factory=Scaling)
    prices: PoolPrices | None = None  # overrides the scenario's prices for this pool
    offset: Offset | None = None
    # a pool reading a kafka topic (qsim.scenario.kafka fills the defaults; refused elsewhere)
    group: Name | None = None
    assignor: AssignorName | None = None
    max_poll_records: PositiveCount | None = None
    commit: CommitMode | None = None
    auto_commit_interval: PositiveDuration | None = None
    session_timeout: PositiveDuration | None = None
    heartbeat_interval: PositiveDuration | None = None
    max_poll_interval: PositiveDuration | None = None
    auto_offset_reset: OffsetReset | None = None
    rebalance_time: TimeDistribution | None = None
    retries: Count | None = None
    dead_letter_topic: Name | None = None
    # a pool reading a lease queue (qsim.scenario.lease fills the defaults; refused elsewhere)
    batch: PositiveCount | None = None
    wait: Duration | None = None
    empty_pause: Duration | None = None
    heartbeat: PositiveDuration | None = None
    partial_batch: bool | None = None
    max_outstanding: PositiveCount | None = None

    @model_validator(mode="before")
    @classmethod
    def _lambda_slots(cls, data: Any) -> Any:
        """A Lambda pool's replicas are concurrent batches: five at first (the event source's
        start, services-sqs-scaling.html), each taking one batch at a time."""
        scaling = data.get("scaling") if isinstance(data, dict) else None
        if not isinstance(scaling, dict) or scaling.get("policy") != "lambda":
            return data
        if "concurrency" in data and data["concurrency"] != 1:
            raise fail(
                "a Lambda execution environment runs one batch at a time: concurrency must be 1 "
                "(scaling.batch_size sets the batch)",
                at=("concurrency",),
            )
        return {"replicas": min(LAMBDA_INITIAL_BATCHES, lambda_cap(scaling)), **data}

    @field_validator("scaling")
    @classmethod
    def _replicas_within_bounds(cls, scaling: Scaling, info: ValidationInfo) -> Scaling:
        replicas = info.data.get("replicas", 1)
        if scaling.policy != "fixed" and not scaling.min <= replicas <= scaling.max:
            raise fail(f"replicas ({replicas}) must be within min and max of the scaling")
        return scaling

    @field_validator("failures")
    @classmethod
    def _auto_ack_cannot_fail(cls, failures: Failures, info: ValidationInfo) -> Failures:
        if info.data.get("ack") == "auto" and failures.any:
            raise fail("failures need ack: manual (an auto-acked message cannot be rejected)")
        return failures

    @field_validator("failures")
    @classmethod
    def _requeue_needs_time(cls, failures: Failures, info: ValidationInfo) -> Failures:
        service = info.data.get("service_time")
        if failures.any and failures.requeue and service is not None and service.mean == 0:
            raise fail(
                "failures that requeue need a service time above zero (a zero-time requeue "
                "loop would never let simulated time advance)"
            )
        return failures

    @field_validator("consumer_timeout")
    @classmethod
    def _timeout_needs_acks(cls, timeout: float | None, info: ValidationInfo) -> float | None:
        if timeout is not None and info.data.get("ack") == "auto":
            raise fail("consumer_timeout needs ack: manual (it limits the time to an ack)")
        return timeout
