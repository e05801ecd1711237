"""Lease-based brokers in a scenario: Amazon SQS (standard and FIFO), Google Pub/Sub, Azure
Service Bus and NATS JetStream, as presets of one pull-with-lease model (``docs/semantics.md``,
"Lease-based brokers").

A preset is data, not a code path: per type, the default of every queue and pool key and the
range the provider accepts. The defaults are filled into the scenario's data before validation
(:func:`fill_defaults`), so the resolved scenario shows the values simulated; a value the user
gives overrides the default, and one outside the provider's range is refused at its key.

Queue keys (lease types only): ``lease`` (SQS VisibilityTimeout, Pub/Sub ack deadline, Service
Bus lock duration, JetStream AckWait), ``max_receives`` (SQS maxReceiveCount, Pub/Sub max
delivery attempts, Service Bus MaxDeliveryCount, JetStream MaxDeliver; -1 or none for no
limit), ``dead_letter`` (the queue key RabbitMQ queues have too), ``retention``, ``delay``,
``max_in_flight`` (SQS's in-flight quota, JetStream MaxAckPending).

Pool keys on a lease queue: ``batch`` (messages per receive), ``wait`` (long polling: how long a
receive waits for a first message; 0 is short polling), ``empty_pause`` (qsim's: how long a
replica pauses after an empty receive before it receives again, so a short poller does not
spin), ``heartbeat`` (extend the lease of every held message this often; none: never),
``partial_batch`` (a failed message returns at once instead of by lease expiry, where the
provider has it), ``max_outstanding`` (a client that receives ahead: it keeps receiving while it
holds fewer messages than this, received and not yet settled, in its buffer or at work; none:
it receives when a slot is free and its buffer empty) and the existing ``concurrency``.

``max_outstanding`` is how the clients that fetch ahead are written: Pub/Sub's streaming-pull
client pauses its stream at ``FlowControl.max_messages`` received-but-unprocessed messages
(1000 by default in the Python client), and its lease manager extends their leases meanwhile
(for up to ``max_lease_duration``, 1 h): ``max_outstanding: 1000`` with a ``heartbeat``. A
Service Bus receiver's ``PrefetchCount`` (0 by default: off) is the most messages in its local
buffer, locked from the moment they are prefetched, and an upper limit on how many it processes
at once: ``max_outstanding: N``. Neither is on by default here: a pool receives as SQS's and
JetStream's plain pull loops do unless the scenario says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from qsim.units import UnitError, parse_duration

__all__ = [
    "LEASE_TYPES",
    "POOL_KEYS",
    "PRESETS",
    "QUEUE_KEYS",
    "RESEND_TYPES",
    "LateDelete",
    "LeaseType",
    "Preset",
    "fill_defaults",
]

LeaseType = Literal["sqs", "sqs-fifo", "pubsub", "servicebus", "jetstream"]
LEASE_TYPES: tuple[str, ...] = get_args(LeaseType)
"""The queue types of the lease model (``qsim.engine.kinds.QUEUE_TYPES`` builds each)."""

RESEND_TYPES: tuple[str, ...] = ("sqs", "sqs-fifo")
"""The queue types a producer may ``resend`` to: SQS FIFO deduplicates within 5 minutes, a
standard queue takes every send (the other types' duplicate detection is not modelled)."""

LateDelete = Literal["unless-received-again", "always", "never"]
"""What a delete (ack) does when it arrives after its lease lapsed: ``unless-received-again``
deletes the message if nobody has received it since (SQS: the receipt handle is still the
latest; Pub/Sub "may accept the Ack"), else nothing; ``always`` deletes it even when another
consumer holds it now (JetStream: an ack names the stream sequence, and nats-server's
``processAckMsg`` removes that sequence from the pending set whichever delivery it came by);
``never``: the settlement fails (Service Bus MessageLockLostException) and the message stays
for its next receiver."""

QUEUE_KEYS = ("lease", "max_receives", "retention", "delay", "max_in_flight")
"""Queue keys of lease types only (``dead_letter`` is shared with RabbitMQ queues)."""
POOL_KEYS = ("batch", "wait", "empty_pause", "heartbeat", "partial_batch", "max_outstanding")
"""Pool keys of pools reading a lease queue only (``concurrency`` is every pool's)."""

INF = math.inf
DAY = 86_400.0


@dataclass(frozen=True)
class Preset:
    """One provider's defaults (in the scenario's own units: seconds, counts, ``None`` for
    none) and accepted ranges (inclusive; ``INF`` for no upper bound) by key, and its rules."""

    queue: dict[str, Any]
    pool: dict[str, Any]
    limits: dict[str, tuple[float, float]]
    late_delete: LateDelete
    receives_need_dead_letter: bool  # max_receives only with a dead_letter target (redrive)
    unlimited_receives: bool  # max_receives may be none (-1)
    partial_batch: bool  # the provider can return one failed message at once
    lease_cap: float = INF  # the longest a lease can be extended to, from its receive
    receive_tps: float = INF  # receive calls per second the queue answers (SQS FIFO: 300)
    source: dict[str, str] = field(default_factory=dict)


_SQS_LIMITS = {
    "lease": (0.0, 43_200.0),  # VisibilityTimeout 0 s to 12 h
    "max_receives": (1, 1000),  # redrive policy maxReceiveCount 1 to 1,000
    "retention": (60.0, 14 * DAY),  # MessageRetentionPeriod 60 s to 14 days
    "delay": (0.0, 900.0),  # DelaySeconds 0 to 15 min
    "max_in_flight": (1, 120_000),  # in-flight messages per queue
    "batch": (1, 10),  # ReceiveMessage MaxNumberOfMessages 1 to 10
    "wait": (0.0, 20.0),  # WaitTimeSeconds 0 to 20 s
}
_SQS_QUEUE = {
    "lease": 30.0,  # VisibilityTimeout default 30 s
    "max_receives": None,  # no redrive policy
    "retention": 4 * DAY,  # MessageRetentionPeriod default 345,600 s
    "delay": 0.0,
    "max_in_flight": 120_000,
}
_POOL = {
    "batch": 1,  # SQS MaxNumberOfMessages default 1; qsim's elsewhere
    "wait": 0.0,  # SQS ReceiveMessageWaitTimeSeconds default 0 (short polling)
    "empty_pause": None,  # resolved: 1 s after a short poll, 0 after a long one (qsim's)
    "heartbeat": None,
    "partial_batch": False,
    "max_outstanding": None,  # receive when a slot is free and the buffer empty
}
_SQS_SOURCE = {
    "lease": "ChangeMessageVisibility API reference; working-with-visibility-timeouts.html",
    "retention": "quotas-messages.html; CreateQueue MessageRetentionPeriod",
    "delay": "quotas-fifo.html (delay queue); CreateQueue DelaySeconds",
    "batch": "ReceiveMessage MaxNumberOfMessages; quotas-messages.html (message batch)",
    "wait": "best-practices-setting-up-long-polling.html; CreateQueue ReceiveMessageWaitTime",
    "max_in_flight": "quotas-fifo.html, sqs-limits.html (in-flight messages)",
    "late_delete": "DeleteMessage API reference (an old receipt handle)",
}

PRESETS: dict[str, Preset] = {
    "sqs": Preset(
        queue=_SQS_QUEUE,
        pool=_POOL,
        limits=_SQS_LIMITS,
        late_delete="unless-received-again",
        receives_need_dead_letter=True,
        unlimited_receives=True,
        partial_batch=True,  # ChangeMessageVisibility to 0 for the failed message
        lease_cap=43_200.0,
        source=_SQS_SOURCE,
    ),
    "sqs-fifo": Preset(
        queue=_SQS_QUEUE,
        pool=_POOL,
        limits=_SQS_LIMITS,
        late_delete="unless-received-again",
        receives_need_dead_letter=True,
        unlimited_receives=True,
        partial_batch=True,
        lease_cap=43_200.0,
        receive_tps=300.0,  # FIFO_RECEIVE_TPS
        source=_SQS_SOURCE,
    ),
    "pubsub": Preset(
        queue={
            "lease": 10.0,  # ackDeadlineSeconds default 10
            "max_receives": None,  # no dead-letter policy
            "retention": 7 * DAY,  # messageRetentionDuration default 7 days
            "delay": 0.0,
            "max_in_flight": None,
        },
        pool=_POOL,
        limits={
            "lease": (10.0, 600.0),  # 10 to 600 s
            "max_receives": (5, 100),  # maxDeliveryAttempts 5 to 100
            "retention": (600.0, 31 * DAY),  # 10 min to 31 days
            "delay": (0.0, 0.0),  # Pub/Sub has no delivery delay
            "max_in_flight": (1, INF),
            "batch": (1, INF),
            "wait": (0.0, INF),
        },
        late_delete="unless-received-again",
        receives_need_dead_letter=True,
        unlimited_receives=True,
        partial_batch=True,  # nack: ModifyAckDeadline 0
        source={
            "lease": "Subscription.ackDeadlineSeconds (Pub/Sub REST reference)",
            "max_receives": "DeadLetterPolicy.maxDeliveryAttempts",
            "retention": "subscription-properties (message retention duration)",
            "late_delete": "Subscription.ackDeadlineSeconds (v1beta1a): a late ack",
        },
    ),
    "servicebus": Preset(
        queue={
            "lease": 60.0,  # LockDuration default 1 min
            "max_receives": 10,  # MaxDeliveryCount default 10
            "retention": None,  # DefaultMessageTimeToLive: TimeSpan.MaxValue
            "delay": 0.0,  # a scheduled enqueue time
            "max_in_flight": None,
        },
        pool=_POOL,
        limits={
            "lease": (5.0, 300.0),  # at most 5 min (the 5 s minimum: not verified)
            "max_receives": (1, INF),  # MaxDeliveryCount minimum 1
            "retention": (1.0, INF),
            "delay": (0.0, INF),
            "max_in_flight": (1, INF),
            "batch": (1, INF),
            "wait": (0.0, INF),
        },
        late_delete="never",
        receives_need_dead_letter=False,  # the queue's own dead-letter subqueue
        unlimited_receives=False,
        partial_batch=True,  # abandon
        source={
            "lease": "ServiceBusQueueData.LockDuration",
            "max_receives": "QueueProperties.MaxDeliveryCount",
            "late_delete": "MessageLockLostException",
        },
    ),
    "jetstream": Preset(
        queue={
            "lease": 30.0,  # AckWait 30 s
            "max_receives": None,  # MaxDeliver -1
            "retention": None,  # stream MaxAge 0: unlimited
            "delay": 0.0,
            "max_in_flight": 1000,  # MaxAckPending 1000
        },
        pool=_POOL,
        limits={
            "lease": (0.001, INF),
            "max_receives": (1, INF),
            "retention": (0.001, INF),
            "delay": (0.0, 0.0),  # JetStream 2.9 has no delivery delay
            "max_in_flight": (1, INF),
            "batch": (1, INF),
            "wait": (0.0, INF),
        },
        late_delete="always",
        receives_need_dead_letter=False,  # past MaxDeliver a message is no longer delivered
        unlimited_receives=True,
        partial_batch=True,  # nak
        source={
            "lease": "docs.nats.io JetStream consumers (AckWait)",
            "max_in_flight": "nats-server consumer.go JsDefaultMaxAckPending",
            "late_delete": "nats-server consumer.go processAckMsg",
        },
    ),
}
"""Each lease type's defaults, limits and rules (``docs/semantics.md`` cites each page)."""

FIFO_RECEIVE_TPS = 300.0
"""SQS FIFO: 300 transactions per second per API action without high throughput mode
(troubleshooting-fifo-throttling-issues.html); up to 10 messages per ReceiveMessage, so 3,000
messages per second with batches. qsim spaces an sqs-fifo queue's receives 1/300 s apart (the
preset's ``receive_tps``; deletes and sends are not limited, high throughput mode not modelled)."""


def _is_lease_type(kind: Any) -> bool:
    """Whether a raw ``type`` value (anything a file may hold) names a lease type."""
    return isinstance(kind, str) and kind in PRESETS


def _lease_queues(data: dict[str, Any]) -> dict[str, str]:
    queues = data.get("queues")
    if not isinstance(queues, list | tuple):
        return {}
    return {
        q["name"]: q["type"] for q in queues
        if isinstance(q, dict) and _is_lease_type(q.get("type")) and isinstance(q.get("name"), str)
    }  # fmt: skip


def _filled_queue(queue: Any) -> Any:
    if not isinstance(queue, dict) or not _is_lease_type(queue.get("type")):
        return queue
    return {**PRESETS[queue["type"]].queue, **queue}


def _filled_pool(pool: Any, queues: dict[str, str]) -> Any:
    if not isinstance(pool, dict) or not isinstance(pool.get("queue"), str):
        return pool
    if pool["queue"] not in queues:
        return pool
    filled = {**PRESETS[queues[pool["queue"]]].pool, **pool}
    if filled.get("empty_pause") is None:
        filled["empty_pause"] = "1s" if _is_zero(filled.get("wait")) else "0s"
    return filled


def _is_zero(duration: Any) -> bool:
    """Whether a raw duration (``0``, ``0s``, ``0ms``, ...) is zero; a bad one is left to the
    validation of its key."""
    try:
        return parse_duration(duration) == 0
    except UnitError:
        return False


def fill_defaults(data: Any) -> Any:
    """The scenario's raw data with each lease queue's preset filled in, and each pool reading
    one given its pool defaults (keys the file sets are kept)."""
    if not isinstance(data, dict):
        return data
    queues = _lease_queues(data)
    if not queues:
        return data
    data = dict(data)
    data["queues"] = [_filled_queue(q) for q in data["queues"]]
    if isinstance(data.get("consumers"), list | tuple):
        data["consumers"] = [_filled_pool(p, queues) for p in data["consumers"]]
    return data


def out_of_range(kind: str, key: str, value: float) -> str | None:
    """Why ``value`` of ``key`` is refused on a queue of type ``kind``, or None."""
    low, high = PRESETS[kind].limits[key]
    if low <= value <= high:
        return None
    if low == high:
        return f"{kind} has no {key} (only {_show(key, low)})"
    top = "" if high == INF else f" to {_show(key, high)}"
    return f"{key} {_show(key, value)} is outside {kind}'s range {_show(key, low)}{top}"


def _show(key: str, value: float) -> str:
    if key in ("max_receives", "max_in_flight", "batch"):
        return str(value) if isinstance(value, int) else f"{value:g}"
    return f"{value:g}s"
