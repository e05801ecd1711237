"""What components report for billing: the billable quantities of one replication.

Each component reports its own quantities, over the measured window (after the warm-up), in its
result record; :mod:`qsim.cost` prices them. The seam:

- every pool: ``PoolRun.replica_seconds`` (replicas x seconds); a pool of replicas is billed on
  it by the replica-hour;
- a function pool (AWS Lambda; its scaling policy is in
  :data:`qsim.scenario.prices.INVOCATION_BILLED_POLICIES`): ``PoolRun.function``, a
  :class:`~qsim.engine.results.FunctionRun` whose ``invocations`` and ``gb_seconds`` are billed;
  None for a pool of replicas;
- a queue whose broker bills API requests (its type is in
  :data:`qsim.scenario.prices.REQUEST_BILLED_QUEUE_TYPES`): ``QueueRun.requests``, billable
  requests by :data:`RequestKind`; None for a broker that bills none (RabbitMQ, Kafka).

Amazon SQS bills every API action as a request, empty receives included, and each 64 KiB chunk
of a request's payload as one request (a 256 KiB payload is 4): :func:`billed_requests` counts
one action so. A batch action (up to 10 messages) is one action whose payload is the batch's.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["CHUNK_BYTES", "REQUEST_KINDS", "RequestKind", "billed_requests"]

RequestKind = Literal["send", "receive", "receive_empty", "delete", "change_visibility"]
"""Kinds of broker API request: send (SendMessage, a batch is one), receive that returned
messages, receive that returned none (short polling, or a long poll that timed out), delete
(an ack) and change_visibility (a lease extension or a release)."""
REQUEST_KINDS: tuple[RequestKind, ...] = (
    "send", "receive", "receive_empty", "delete", "change_visibility",
)  # fmt: skip

CHUNK_BYTES = 64 * 1024
"""SQS bills each 64 KiB chunk of a payload as one request."""


def billed_requests(payload_bytes: float, chunk: int = CHUNK_BYTES) -> int:
    """Requests billed for one API action carrying ``payload_bytes``: one per started
    ``chunk``, and at least one (an empty receive, a delete)."""
    return max(1, math.ceil(payload_bytes / chunk))
