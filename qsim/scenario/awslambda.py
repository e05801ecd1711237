"""AWS Lambda pools (``scaling: {policy: lambda}``) and the queue they read.

On an SQS queue (``type: sqs`` or ``sqs-fifo``) each replica is one of the event source
mapping's pollers: it long-polls (``wait`` 20 s, the SQS maximum; AWS says only that Lambda
"uses long polling") for up to ``batch_size`` messages, 10 per receive (the pool's ``batch``),
gathered over ``batching_window`` when it is above 0 (:mod:`qsim.engine.lease.batching`).
On any other queue a replica takes one message at a time (``prefetch`` 1): each delivery is an
invocation. Lambda's event source mapping reads SQS, not Pub/Sub, Service Bus or JetStream.

AWS's rules checked here (docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html):
the function timeout must not exceed the queue's visibility timeout ("Lambda validates this
requirement ... and will return an error"); the rule of thumb of a visibility timeout of at
least six times the function timeout is advice, not checked (docs/semantics.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qsim.scenario.lease import LEASE_TYPES

if TYPE_CHECKING:
    from qsim.scenario.model import Scenario
    from qsim.yamlsource import YamlSource

__all__ = ["LAMBDA_WAIT", "SQS_TYPES", "check_lambda_pools", "fill_defaults"]

SQS_TYPES = ("sqs", "sqs-fifo")
"""The lease queue types Lambda's SQS event source mapping reads."""

LAMBDA_WAIT = "20s"
"""How long Lambda's pollers wait in a receive (long polling at SQS's maximum, qsim's choice)."""

RECEIVE_MAX = 10
"""Messages one SQS ReceiveMessage returns at most: larger batches need a batching window."""


def _is_lambda(pool: Any) -> bool:
    scaling = pool.get("scaling") if isinstance(pool, dict) else None
    return isinstance(scaling, dict) and scaling.get("policy") == "lambda"


def _filled(pool: dict[str, Any], queue_type: str | None) -> dict[str, Any]:
    if queue_type in SQS_TYPES:
        batch = pool["scaling"].get("batch_size", 10)
        per_receive = min(batch, RECEIVE_MAX) if isinstance(batch, int) else batch
        return {"batch": per_receive, "wait": LAMBDA_WAIT, **pool}
    if queue_type in LEASE_TYPES:
        return pool  # refused by check_lambda_pools
    return {"prefetch": 1, **pool}


def fill_defaults(data: Any) -> Any:
    """Each Lambda pool's receive settings: on SQS ``batch`` (its ``batch_size``) and
    ``wait``; elsewhere ``prefetch`` 1 (keys the file sets are kept, and checked)."""
    if not isinstance(data, dict) or not isinstance(data.get("consumers"), list | tuple):
        return data
    queues = data.get("queues")
    listed = queues if isinstance(queues, list | tuple) else ()
    types = {  # names of any type: the validation that follows says which are wrong
        str(q.get("name")): q.get("type") for q in listed if isinstance(q, dict)
    }
    pools = [
        _filled(pool, types.get(str(pool.get("queue")))) if _is_lambda(pool) else pool
        for pool in data["consumers"]
    ]
    return {**data, "consumers": pools}


def check_lambda_pools(scenario: Scenario, source: YamlSource) -> None:
    """What AWS refuses, and what qsim does not model yet, each as one located line."""
    queues = {queue.name: queue for queue in scenario.queues}
    for i, pool in enumerate(scenario.consumers):
        scaling = pool.scaling
        if scaling.policy != "lambda":
            continue
        queue = queues[pool.queue]
        at = ("consumers", i, "scaling")
        if pool.ack == "auto":
            message = "Lambda deletes a message when the function returns: ack must be manual"
            raise source.error(("consumers", i, "ack"), message)
        if queue.is_lease and queue.type not in SQS_TYPES:
            message = f"policy lambda reads SQS (type sqs or sqs-fifo), not {queue.type}"
            raise source.error(("consumers", i, "queue"), message)
        if not queue.is_lease:
            if pool.prefetch != 1:
                message = "a Lambda execution environment takes one message at a time: prefetch 1"
                raise source.error(("consumers", i, "prefetch"), message)
            continue
        assert scaling.timeout is not None and scaling.batch_size is not None
        if queue.lease is not None and scaling.timeout > queue.lease:
            message = (
                f"the function timeout ({scaling.timeout:g}s) exceeds the queue's visibility "
                f"timeout (lease {queue.lease:g}s): Lambda refuses such an event source mapping"
            )
            raise source.error((*at, "timeout"), message)
        window = scaling.batching_window or 0
        if queue.type == "sqs-fifo" and (scaling.batch_size > RECEIVE_MAX or window > 0):
            message = "on a FIFO queue Lambda takes batches of at most 10 and no batching_window"
            raise source.error((*at, "batch_size" if window == 0 else "batching_window"), message)
        per_receive = min(scaling.batch_size, RECEIVE_MAX)
        if pool.batch != per_receive:
            message = (
                f"a Lambda pool receives up to {per_receive} messages at a time "
                f"(scaling.batch_size {scaling.batch_size}, at most 10 per ReceiveMessage)"
            )
            raise source.error(("consumers", i, "batch"), message)
