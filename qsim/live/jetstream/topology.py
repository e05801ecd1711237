"""A scenario's JetStream queues on a real NATS server: one stream and one durable pull consumer
per queue, under a name prefix of the run's own.

Each queue maps to a stream (work-queue retention: an acked message leaves the stream, memory
storage) that captures one subject, and to one durable pull consumer that every pool reading the
queue shares, as the model's pools share a lease queue. The lease settings map to the
consumer's configuration (nats-server ``server/consumer.go``, ``ConsumerConfig`` and
``setConsumerConfigDefaults``; docs.nats.io "Consumers"):

- ``lease`` -> ``AckWait`` (server default 30 s, ``JsAckWaitDefault``), scaled to wall time;
- ``max_receives`` -> ``MaxDeliver`` (server default -1, no limit: a 0 becomes -1);
- ``max_in_flight`` -> ``MaxAckPending`` (server default 1,000, ``JsDefaultMaxAckPending``);
- ``retention`` -> the stream's ``MaxAge`` (0: none), scaled.

:func:`declare` creates them and :func:`delete` removes the streams again (a stream's consumers
go with it); deleting one that is already gone is fine.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

__all__ = ["DURABLE", "Lease", "Names", "consumer_config", "declare", "delete", "stream_config"]

DURABLE = "workers"
"""The durable name of each queue's consumer (one per stream, shared by its pools)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Names:
    """Server names of one run: streams ``<prefix>-<n>-<queue>`` capturing ``<prefix>.<n>``,
    where ``n`` numbers the run's queues (stream names cannot hold dots or wildcards)."""

    prefix: str
    queues: tuple[str, ...]

    @classmethod
    def fresh(cls, queues: tuple[str, ...]) -> Names:
        """A prefix no other run uses, for these scenario queue names."""
        return cls(f"qsim-live-{uuid.uuid4().hex[:10]}", queues)

    def stream(self, queue: str) -> str:
        """The stream of scenario queue ``queue``."""
        safe = _UNSAFE.sub("_", queue)
        return f"{self.prefix}-{self.queues.index(queue)}-{safe}"

    def subject(self, queue: str) -> str:
        """The subject producers publish ``queue``'s messages to."""
        return f"{self.prefix}.{self.queues.index(queue)}"

    def queue_of_stream(self, stream: str) -> str | None:
        """The scenario queue of stream name ``stream`` (None if not one of this run's)."""
        return next((q for q in self.queues if self.stream(q) == stream), None)


@dataclass(frozen=True)
class Lease:
    """One queue's lease settings in scenario seconds and counts (None: the server default)."""

    lease: float | None = None
    max_receives: int | None = None
    max_in_flight: int | None = None
    retention: float | None = None


def _wall(seconds: float | None, scale: float) -> float | None:
    return None if seconds is None else seconds * scale


def stream_config(names: Names, queue: str, lease: Lease, scale: float) -> StreamConfig:
    """The stream of ``queue``: work-queue retention, in memory, ``MaxAge`` from retention."""
    return StreamConfig(
        name=names.stream(queue),
        subjects=[names.subject(queue)],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.MEMORY,
        max_age=_wall(lease.retention, scale),
        num_replicas=1,
    )


def consumer_config(lease: Lease, scale: float) -> ConsumerConfig:
    """The durable pull consumer of a queue: explicit acks, its AckWait, MaxDeliver and
    MaxAckPending (omitted ones take the server's defaults)."""
    return ConsumerConfig(
        durable_name=DURABLE,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=_wall(lease.lease, scale),
        max_deliver=-1 if lease.max_receives is None else lease.max_receives,
        max_ack_pending=lease.max_in_flight,
    )


async def declare(
    js: JetStreamContext, names: Names, leases: dict[str, Lease], scale: float
) -> None:
    """Create the stream and the consumer of every queue in ``leases``."""
    for queue, lease in leases.items():
        await js.add_stream(stream_config(names, queue, lease, scale))
        await js.add_consumer(names.stream(queue), consumer_config(lease, scale))


async def delete(js: JetStreamContext, names: Names) -> None:
    """Delete every stream of the run (missing ones are fine)."""
    for queue in names.queues:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(names.stream(queue))
