"""Properties of every valid scenario, checked on random ones (hypothesis).

The strategy below builds random *valid* scenarios as plain data (the shape of a YAML file):
1-3 producers (rate, schedule or interarrival; ttl, priority, routing keys constant, weighted,
uniform or Zipf over a key space; ``on_unavailable``), 0-2 exchanges (direct, fanout, topic,
x-consistent-hash with weights), 1-4 queues (limits with each overflow mode, TTL,
dead-lettering to any queue, cycles included, priorities, delivery limits, non-durable; or
streams with retention by age and bytes in small segments), 0-3 consumer pools (prefetch,
concurrency, manual or auto ack, failures, poison, crashes, autoscaling, consumer timeouts,
pipeline publish steps; stream readers with offsets), outages and network delay. Each is
validated as the loader validates a file, so every generated scenario must also be accepted.

Runs are tiny (seconds of simulated time at a few messages per second), so each example takes
milliseconds; a run that does not finish within a second of wall time is reported as a hang.
The examples are derandomized and no example database is kept, so CI sees the same examples on
every run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import scenario_from, wall_time_limit
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from qsim.engine import QueueRun, RunResult, simulate
from qsim.errors import QsimError
from qsim.estimate import Limits, check_work, estimate
from qsim.scenario import Scenario, parse_scenario
from qsim.scenario.lease import LEASE_TYPES, PRESETS, RESEND_TYPES
from qsim.summary import replication_figures
from qsim.yamlsource import YamlSource

QUEUE_ENDS = ("acked", "rejected", "dropped", "expired", "nacked", "over_limit", "lost_in_outage")
"""Where a message published to a queue can end, besides still ready or unacked at the end."""
STREAM_DELIVERY_ENDS = ("acked", "failed", "interrupted")
"""Where a delivery from a stream can end, besides still unprocessed at the end."""
SIZES = {"dist": "uniform", "low": "10B", "high": "300B"}
"""Message sizes that fill small stream segments in a few messages."""
PUBLISHER_ENDS = ("routed", "unroutable", "publish_failed", "buffered", "in_flight")
"""Where a message handed to a publisher can end (producer side)."""
BINDING_KEYS = ("a.*", "#", "a.b", "a", "*.b", "a.#", "")
"""Binding keys, each valid for every exchange type (topic patterns by dots)."""
ROUTING_KEYS = ("a", "a.b", "b", "a.b.c", "b.a", "")
"""Routing keys publishers use: some match some bindings, some match none."""
WALL_SECONDS = 5
"""Wall-clock bound on one simulated run (they take 2-200 ms here, more on a busy CI machine);
beyond it, a hang."""

PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- random valid scenarios --------------------------------------------------------------------


def millis(low: int, high: int) -> st.SearchStrategy[str]:
    """A duration written in milliseconds, e.g. ``'250ms'``."""
    return st.integers(low, high).map(lambda ms: f"{ms}ms")


def time_distributions(low: int, high: int) -> st.SearchStrategy[Any]:
    """A time distribution with a typical value from ``low`` to ``high`` milliseconds: a bare
    value (constant), or exponential, lognormal or uniform."""
    return st.one_of(
        millis(low, high),
        millis(low, high).map(lambda mean: {"dist": "exponential", "mean": mean}),
        st.tuples(millis(low, high), st.sampled_from([0.5, 1, 2])).map(
            lambda t: {"dist": "lognormal", "mean": t[0], "cv": t[1]}
        ),
        st.tuples(st.integers(low, high), st.integers(0, high)).map(
            lambda t: {"dist": "uniform", "low": f"{t[0]}ms", "high": f"{t[0] + t[1]}ms"}
        ),
    )


def rates(high_tenths: int = 50) -> st.SearchStrategy[str]:
    """A rate from 0.1/s to ``high_tenths``/10 per second."""
    return st.integers(1, high_tenths).map(lambda r: f"{r / 10:g}/s")


def routing_keys() -> st.SearchStrategy[Any]:
    """A constant routing key, weighted keys, or a uniform or Zipf key space (``0``, ``1``, ...
    or ``a.0``, ``a.1``, ... which topic bindings on ``a`` match)."""
    weighted = st.dictionaries(
        st.sampled_from(ROUTING_KEYS), st.integers(1, 5), min_size=1, max_size=3
    ).map(lambda weights: {"keys": weights})
    key_range = st.fixed_dictionaries(
        {"keys": st.integers(1, 50)}, optional={"prefix": st.sampled_from(["a.", "b"])}
    )
    uniform = st.one_of(st.integers(1, 50), key_range).map(lambda keys: {"uniform": keys})
    zipf = st.tuples(key_range, st.sampled_from([0, 0.5, 1.1, 2])).map(
        lambda t: {"zipf": {**t[0], "s": t[1]}}
    )
    return st.one_of(st.sampled_from(ROUTING_KEYS), weighted, uniform, zipf)


def crashes() -> st.SearchStrategy[dict[str, Any]]:
    """A pool's crash process: up 1-20 s, restarting in 0.1-5 s."""
    return st.fixed_dictionaries(
        {"mtbf": time_distributions(1000, 20000), "restart": time_distributions(100, 5000)}
    )


def maybe(draw: st.DrawFn, into: dict[str, Any], key: str, values: Any) -> None:
    """Set ``into[key]`` to a value drawn from ``values``, or (half the time) leave it out."""
    if draw(st.booleans()):
        into[key] = draw(values)


@st.composite
def producers(
    draw: st.DrawFn, index: int, queues: list[str], exchanges: list[str], duration: int
) -> dict[str, Any]:
    to = draw(st.sampled_from(queues + exchanges))
    producer: dict[str, Any] = {"name": f"p{index}", "to": to}
    if to in exchanges:
        maybe(draw, producer, "routing_key", routing_keys())
    arrival = draw(st.sampled_from(["rate", "schedule", "interarrival"]))
    if arrival == "rate":
        producer["rate"] = draw(rates())
        producer["arrivals"] = draw(st.sampled_from(["poisson", "constant"]))
    elif arrival == "interarrival":
        producer["interarrival"] = draw(time_distributions(100, 2000))
    else:
        starts = draw(st.lists(st.integers(0, duration), min_size=1, max_size=3, unique=True))
        producer["schedule"] = [
            {"at": f"{at}s", "rate": draw(st.one_of(st.just(0), rates()))} for at in sorted(starts)
        ]
    maybe(draw, producer, "count", st.integers(1, 40))
    maybe(draw, producer, "ttl", time_distributions(100, 5000))
    uniform = {"dist": "uniform", "low": 0, "high": 10}
    maybe(draw, producer, "priority", st.one_of(st.integers(0, 12), st.just(uniform)))
    maybe(draw, producer, "persistent", st.booleans())
    if draw(st.integers(0, 3)):  # mostly: sizes fill streams' segments
        producer["size"] = draw(st.one_of(sizes(0, 300), st.just(SIZES)))
    maybe(draw, producer, "on_unavailable", st.sampled_from(["block", "retry", "drop"]))
    maybe(draw, producer, "buffer", st.integers(0, 5))
    return producer


def sizes(low: int, high: int) -> st.SearchStrategy[str]:
    """A size written in bytes, e.g. ``'300B'``."""
    return st.integers(low, high).map(lambda b: f"{b}B")


@st.composite
def stream_specs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A stream with small segments, so that retention (by age, by bytes) happens in seconds."""
    stream: dict[str, Any] = {"name": name, "type": "stream"}
    maybe(draw, stream, "max_age", millis(200, 3000))
    maybe(draw, stream, "max_bytes", sizes(0, 1000))
    maybe(draw, stream, "segment_bytes", sizes(1, 300))
    return stream


def delayed_retries() -> st.SearchStrategy[dict[str, Any]]:
    """A quorum queue's delayed retry (RabbitMQ 4.3): a type and a min wait of 0.1-3 s."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(["all", "failed", "returned"]), "min": millis(100, 3000)}
    )


@st.composite
def queue_specs(
    draw: st.DrawFn, name: str, queues: list[str], streams: list[str]
) -> dict[str, Any]:
    if name in streams:
        return draw(stream_specs(name))
    queue: dict[str, Any] = {"name": name}
    quorum = draw(st.booleans())
    if draw(st.booleans()):
        queue["max_length"] = draw(st.integers(0, 5))
        overflows = ["drop-head", "reject-publish"] + ([] if quorum else ["reject-publish-dlx"])
        maybe(draw, queue, "overflow", st.sampled_from(overflows))
    maybe(draw, queue, "message_ttl", st.one_of(st.just(0), millis(100, 5000)))
    maybe(draw, queue, "dead_letter", st.sampled_from(queues))  # itself, cycles, streams too
    maybe(draw, queue, "single_active_consumer", st.booleans())
    if quorum:  # a delivery limit without a type is a quorum queue too
        maybe(draw, queue, "delivery_limit", st.integers(-1, 3))
        if "delivery_limit" not in queue or draw(st.booleans()):
            queue["type"] = "quorum"
    else:
        maybe(draw, queue, "max_priority", st.integers(1, 10))
        maybe(draw, queue, "durable", st.booleans())
    return queue


@st.composite
def exchange_specs(draw: st.DrawFn, name: str, queues: list[str]) -> dict[str, Any]:
    bindings = draw(
        st.lists(
            st.fixed_dictionaries(
                {"queue": st.sampled_from(queues)}, optional={"key": st.sampled_from(BINDING_KEYS)}
            ),
            max_size=3,
        )
    )
    exchange: dict[str, Any] = {"name": name, "bindings": bindings}
    types = ["direct", "fanout", "topic", "x-consistent-hash"]
    maybe(draw, exchange, "type", st.sampled_from(types))
    if exchange.get("type") == "x-consistent-hash":
        for binding in bindings:
            binding["key"] = draw(st.integers(1, 4))  # a weight
    return exchange


@st.composite
def publish_steps(draw: st.DrawFn, queues: list[str], exchanges: list[str]) -> dict[str, Any]:
    to = draw(st.sampled_from(queues + exchanges))
    step: dict[str, Any] = {"to": to}
    if to in exchanges:
        maybe(draw, step, "routing_key", routing_keys())
    maybe(draw, step, "probability", st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    maybe(draw, step, "count", st.integers(1, 2))
    maybe(draw, step, "persistent", st.booleans())
    return step


@st.composite
def stream_readers(draw: st.DrawFn, pool: dict[str, Any]) -> dict[str, Any]:
    """A pool reading a stream: prefetch above 0, manual acks, no consumer timeout, no
    autoscaling, no publish steps (what RabbitMQ and qsim refuse), and maybe an offset."""
    pool["prefetch"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        probabilities = st.sampled_from([0.0, 0.05, 0.3, 1.0])
        pool["failures"] = {"nack_probability": draw(probabilities), "poison": draw(probabilities)}
    maybe(draw, pool, "crash", crashes())
    offsets = st.one_of(
        st.sampled_from(["first", "last", "next"]), st.integers(0, 30), millis(100, 5000)
    )
    maybe(draw, pool, "offset", offsets)
    return pool


@st.composite
def consumer_pools(
    draw: st.DrawFn, index: int, queues: list[str], exchanges: list[str], streams: list[str]
) -> dict[str, Any]:
    queue = draw(st.sampled_from(queues))
    pool: dict[str, Any] = {
        "name": f"c{index}",
        "queue": queue,
        "replicas": draw(st.integers(0, 4)),
        "concurrency": draw(st.integers(1, 3)),
        "service_time": draw(time_distributions(20, 500)),
    }
    if queue in streams:
        return draw(stream_readers(pool))
    pool |= {"prefetch": draw(st.integers(0, 5))}
    ack = draw(st.sampled_from(["manual", "auto"]))
    pool["ack"] = ack
    if ack == "manual" and draw(st.booleans()):
        probabilities = st.sampled_from([0.0, 0.05, 0.3, 1.0])
        pool["failures"] = {
            "nack_probability": draw(probabilities),
            "poison": draw(probabilities),
            "requeue": draw(st.booleans()),
        }
    maybe(draw, pool, "crash", crashes())
    if ack == "manual":
        maybe(draw, pool, "consumer_timeout", millis(100, 2000))
    pool["publish"] = draw(st.lists(publish_steps(queues, exchanges), max_size=2))
    if ack == "manual" and draw(st.integers(0, 5)) == 0:  # an AWS Lambda function
        pool |= {"concurrency": 1, "prefetch": 1, "scaling": draw(lambda_scalings())}
        pool.pop("replicas", None)  # its starting batches: min(5, the function's cap)
    elif draw(st.booleans()):
        pool["scaling"] = draw(scalings(pool["replicas"]))
    return pool


@st.composite
def lambda_scalings(draw: st.DrawFn) -> dict[str, Any]:
    """AWS Lambda's event source scaling, reading often, with cold starts and timeouts that
    can cut the longer jobs."""
    scaling: dict[str, Any] = {
        "policy": "lambda",
        "timeout": draw(st.sampled_from(["1s", "2s"])),
        "interval": draw(millis(200, 2000)),
        "memory": draw(st.sampled_from([128, 1024, 10240])),
    }
    maybe(draw, scaling, "cold_start", time_distributions(1, 1000))
    maybe(draw, scaling, "maximum_concurrency", st.integers(2, 8))
    return scaling


@st.composite
def scalings(draw: st.DrawFn, replicas: int) -> dict[str, Any]:
    """An autoscaler around the pool's starting replica count, polling often."""
    policy = draw(st.sampled_from(["queue_length", "message_rate", "utilization", "lag"]))
    scaling: dict[str, Any] = {
        "policy": policy,
        "target": draw(st.sampled_from([0.5, 1, 3])),
        "min": draw(st.integers(0, replicas)),
        "max": draw(st.integers(max(replicas, 1), 6)),
        "interval": draw(millis(200, 2000)),
        "sync_period": draw(millis(200, 2000)),
        "cooldown": draw(millis(0, 3000)),
        "scale_down": draw(st.sampled_from(["drain", "requeue"])),
    }
    maybe(draw, scaling, "startup", time_distributions(1, 1000))
    maybe(draw, scaling, "include_unacked", st.booleans())
    maybe(draw, scaling, "use_cached_metrics", st.booleans())
    return scaling


@st.composite
def outage_specs(draw: st.DrawFn, duration: int) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"at": f"{draw(st.integers(0, duration * 1000))}ms", "for": draw(millis(100, 5000))}
    return {
        "mtbf": draw(time_distributions(2000, 20000)),
        "mttr": draw(time_distributions(100, 3000)),
    }


@st.composite
def scenario_data(draw: st.DrawFn, shared: bool = True) -> dict[str, Any]:
    """A random valid scenario as plain data; with ``shared``, maybe with shared resources."""
    duration = draw(st.integers(5, 20))
    queues = [f"q{i}" for i in range(draw(st.integers(1, 4)))]
    streams = [name for name in queues if draw(st.integers(0, 3)) == 0]
    exchanges = [f"x{i}" for i in range(draw(st.integers(0, 2)))]
    data: dict[str, Any] = {
        "name": "random",
        "seed": draw(st.integers(0, 2**16)),
        "duration": f"{duration}s",
        "producers": [
            draw(producers(i, queues, exchanges, duration)) for i in range(draw(st.integers(1, 3)))
        ],
        "exchanges": [draw(exchange_specs(name, queues)) for name in exchanges],
        "queues": [draw(queue_specs(name, queues, streams)) for name in queues],
        "consumers": [
            draw(consumer_pools(i, queues, exchanges, streams))
            for i in range(draw(st.integers(0, 3)))
        ],
        "outages": draw(st.lists(outage_specs(duration), max_size=2)),
    }
    maybe(draw, data, "warmup", st.integers(0, duration - 1).map(lambda s: f"{s}s"))
    latency = st.one_of(st.just(0), time_distributions(1, 50))
    maybe(draw, data, "network", st.fixed_dictionaries({"latency": latency}))
    if shared:
        shared_resources(draw, data)
    return data


CONTENTIONS = st.sampled_from([{"per_job": "10%"}, {"table": [[1, 1.0], [3, 2.0]]}])
RESOURCES = st.one_of(
    st.builds(lambda c: {"connections": c}, st.integers(1, 3)),
    st.builds(lambda r, b: {"rate": f"{r}/s", "burst": b}, st.integers(1, 20), st.integers(1, 3)),
)


def shared_resources(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """Maybe resources (connections or rate limits) that pools use, contention, work per KB."""
    names = [f"r{i}" for i in range(draw(st.integers(0, 2)))]
    if names:
        data["resources"] = {name: draw(RESOURCES) for name in names}
    for pool in data["consumers"]:
        if names and pool.get("scaling", {}).get("policy") != "lambda":  # (refused there)
            pool["uses"] = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
        maybe(draw, pool, "contention", CONTENTIONS)
        maybe(draw, pool, "service_time_per_kb", millis(0, 5))


@st.composite
def stream_scenario_data(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid scenario around one stream: producers publishing to it, 1-3 pools
    reading it, and the failures that interrupt readers (crashes, outages, network delay)."""
    duration = draw(st.integers(5, 20))
    data: dict[str, Any] = {
        "name": "random-stream",
        "seed": draw(st.integers(0, 2**16)),
        "duration": f"{duration}s",
        "producers": [
            draw(producers(i, ["s"], [], duration)) for i in range(draw(st.integers(1, 2)))
        ],
        "queues": [draw(stream_specs("s"))],
        "consumers": [
            draw(consumer_pools(i, ["s"], [], ["s"])) for i in range(draw(st.integers(1, 3)))
        ],
        "outages": draw(st.lists(outage_specs(duration), max_size=2)),
    }
    maybe(draw, data, "warmup", st.integers(0, duration - 1).map(lambda s: f"{s}s"))
    latency = st.one_of(st.just(0), time_distributions(1, 50))
    maybe(draw, data, "network", st.fixed_dictionaries({"latency": latency}))
    return data


@st.composite
def kafka_readers(draw: st.DrawFn, index: int, topic: str, dead_letter: str) -> dict[str, Any]:
    """A pool reading a kafka topic: the Kafka keys at random around small timeouts, so that
    crashes, put-outs, rebalances and retries happen within seconds."""
    pool: dict[str, Any] = {
        "name": f"c{index}",
        "queue": topic,
        "replicas": draw(st.integers(0, 5)),
        "service_time": draw(time_distributions(20, 500)),
        "assignor": draw(st.sampled_from(["range", "roundrobin", "cooperative-sticky"])),
        "commit": draw(st.sampled_from(["auto", "batch", "record"])),
        "max_poll_records": draw(st.integers(1, 20)),
        "auto_commit_interval": draw(millis(100, 3000)),
        "session_timeout": draw(millis(300, 3000)),
        "heartbeat_interval": draw(millis(100, 1000)),
        "max_poll_interval": draw(millis(500, 5000)),
        "rebalance_time": draw(time_distributions(10, 1000)),
        "auto_offset_reset": draw(st.sampled_from(["latest", "earliest"])),
    }
    if draw(st.booleans()):
        probabilities = st.sampled_from([0.0, 0.05, 0.3, 1.0])
        pool["failures"] = {"nack_probability": draw(probabilities), "poison": draw(probabilities)}
        maybe(draw, pool, "retries", st.integers(0, 3))
        if "retries" in pool and topic != dead_letter:
            maybe(draw, pool, "dead_letter_topic", st.just(dead_letter))
    maybe(draw, pool, "crash", crashes())
    if draw(st.booleans()):
        pool["scaling"] = draw(scalings(pool["replicas"]))
    return pool


@st.composite
def kafka_scenario_data(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid scenario around a kafka topic ``k`` (and a second one, ``dlt``, that may
    take its dead letters): keyed or unkeyed producers with batching, small segments and
    retention, 1-3 groups, crashes, autoscaling, outages."""
    duration = draw(st.integers(5, 20))
    producers_ = []
    for i in range(draw(st.integers(1, 2))):
        producer = draw(producers(i, ["k"], [], duration))
        maybe(draw, producer, "key", routing_keys())
        maybe(draw, producer, "linger", millis(0, 500))
        maybe(draw, producer, "batch_size", sizes(1, 2000))
        producers_.append(producer)
    topic: dict[str, Any] = {"name": "k", "type": "kafka", "partitions": draw(st.integers(1, 6))}
    maybe(draw, topic, "max_age", millis(200, 3000))
    maybe(draw, topic, "max_bytes", sizes(0, 1000))
    maybe(draw, topic, "segment_bytes", sizes(1, 300))
    data: dict[str, Any] = {
        "name": "random-kafka",
        "seed": draw(st.integers(0, 2**16)),
        "duration": f"{duration}s",
        "producers": producers_,
        "queues": [topic, {"name": "dlt", "type": "kafka", "partitions": draw(st.integers(1, 3))}],
        "consumers": [
            draw(kafka_readers(i, draw(st.sampled_from(["k", "k", "dlt"])), "dlt"))
            for i in range(draw(st.integers(1, 3)))
        ],
        "outages": draw(st.lists(outage_specs(duration), max_size=2)),
    }
    maybe(draw, data, "warmup", st.integers(0, duration - 1).map(lambda s: f"{s}s"))
    shared_resources(draw, data)
    return data


def lease_spec(draw: st.DrawFn, name: str, kind: str, dead_letter: str | None) -> dict[str, Any]:
    """A lease queue of type ``kind`` with its keys at random within the provider's limits,
    short enough for leases to lapse within seconds."""
    limits = PRESETS[kind].limits
    low = max(limits["lease"][0], 0.2)
    queue: dict[str, Any] = {"name": name, "type": kind}
    maybe(draw, queue, "lease", st.floats(low, low + 5).map(lambda s: f"{s:.3f}s"))
    receives = st.integers(int(limits["max_receives"][0]), int(limits["max_receives"][0]) + 4)
    if dead_letter is not None or not PRESETS[kind].receives_need_dead_letter:
        maybe(draw, queue, "max_receives", receives)
        if dead_letter is not None:
            queue["dead_letter"] = dead_letter
    retention = max(limits["retention"][0], 1.0)
    maybe(draw, queue, "retention", st.floats(retention, retention + 20).map(lambda s: f"{s}s"))
    if limits["delay"][1] > 0:
        maybe(draw, queue, "delay", millis(0, 3000))
    maybe(draw, queue, "max_in_flight", st.integers(1, 20))
    return queue


@st.composite
def lease_readers(draw: st.DrawFn, index: int, queue: str, lease: float) -> dict[str, Any]:
    """A pool polling a lease queue: batches, long or short polls, heartbeats, partial
    batches, failures, crashes and autoscaling."""
    pool: dict[str, Any] = {
        "name": f"c{index}",
        "queue": queue,
        "replicas": draw(st.integers(0, 3)),
        "concurrency": draw(st.sampled_from([1, 2, 4, 200])),
        "service_time": draw(time_distributions(20, 3000)),
        "batch": draw(st.integers(1, 10)),
        "wait": draw(st.sampled_from(["0s", "500ms", "3s"])),
    }
    if pool["wait"] == "0s" or draw(st.booleans()):
        pool["empty_pause"] = draw(millis(100, 1000))
    if draw(st.booleans()):
        pool["heartbeat"] = f"{lease * draw(st.sampled_from([0.3, 0.6, 0.9])):.3f}s"
    maybe(draw, pool, "partial_batch", st.booleans())
    maybe(draw, pool, "max_outstanding", st.integers(1, 30))  # receiving ahead
    if draw(st.booleans()):
        probabilities = st.sampled_from([0.0, 0.05, 0.3, 1.0])
        pool["failures"] = {"nack_probability": draw(probabilities), "poison": draw(probabilities)}
    maybe(draw, pool, "crash", crashes())
    if draw(st.booleans()):
        pool["scaling"] = draw(scalings(pool["replicas"]))
    return pool


@st.composite
def lease_scenario_data(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid scenario around a lease queue ``l`` of any type and its dead-letter queue
    ``dlq`` (same type): leases, receive limits, retention, delays, in-flight limits; pollers
    with every key; crashes, autoscaling, outages; FIFO group ids from the producers' keys;
    producers that resend to an SQS queue."""
    duration = draw(st.integers(5, 30))
    kind = draw(st.sampled_from(LEASE_TYPES))
    queue = lease_spec(draw, "l", kind, draw(st.sampled_from([None, "dlq"])))
    dlq = lease_spec(draw, "dlq", kind, None)
    producers_ = []
    for i in range(draw(st.integers(1, 2))):
        producer = draw(producers(i, ["l", "l", "dlq"], [], duration))
        for key in ("ttl", "priority"):
            producer.pop(key, None)
        if kind == "sqs-fifo":
            producer["key"] = draw(routing_keys())
        if kind in RESEND_TYPES and draw(st.booleans()):
            producer["resend"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
            producer["resend_after"] = f"{draw(st.floats(0, duration)):.3f}s"
        producers_.append(producer)
    leases = {q["name"]: float(str(q.get("lease", PRESETS[kind].queue["lease"])).rstrip("s"))
              for q in (queue, dlq)}  # fmt: skip
    data: dict[str, Any] = {
        "name": "random-lease",
        "seed": draw(st.integers(0, 2**16)),
        "duration": f"{duration}s",
        "producers": producers_,
        "queues": [queue, dlq],
        "consumers": [
            draw(lease_readers(i, name, leases[name]))
            for i, name in enumerate(
                draw(st.lists(st.sampled_from(["l", "l", "dlq"]), min_size=1, max_size=3))
            )
        ],
        "outages": draw(st.lists(outage_specs(duration), max_size=2)),
    }
    for pool in data["consumers"]:
        if "scaling" in pool and kind in ("sqs", "sqs-fifo") and draw(st.booleans()):
            scaling = pool["scaling"]
            scaling.pop("include_unacked", None)
            scaling.update(policy="aws_sqs_queue", target=draw(st.integers(1, 5)))
            maybe(draw, scaling, "scale_on_in_flight", st.booleans())
            maybe(draw, scaling, "scale_on_delayed", st.booleans())
    maybe(draw, data, "warmup", st.integers(0, duration - 1).map(lambda s: f"{s}s"))
    shared_resources(draw, data)
    return data


def load(data: dict[str, Any]) -> Scenario:
    """Validate scenario data as the loader does (every key, then the references between
    sections), without the YAML text: it would cost more than the run."""
    return parse_scenario(YamlSource("generated.yaml", data))


scenarios = scenario_data().map(load)
stream_scenarios = stream_scenario_data().map(load)
kafka_scenarios = kafka_scenario_data().map(load)
lease_scenarios = lease_scenario_data().map(load)


# --- running with a time bound -----------------------------------------------------------------


class Hang(Exception):
    """A simulated run that did not finish within :data:`WALL_SECONDS`."""


def time_bound(seconds: float) -> contextlib.AbstractContextManager[None]:
    """Raise :class:`Hang` if the body runs longer than ``seconds`` of wall time."""
    return wall_time_limit(seconds, Hang)


class EngineFailure(Exception):
    """A run that hung or overflowed the stack, reported from one place (where the stack
    overflows, or the timer fires, varies from run to run: hypothesis would call it flaky)."""


def run(scenario: Scenario, replication: int = 0) -> RunResult:
    """One replication, bounded in wall time."""
    try:
        with time_bound(WALL_SECONDS):
            return simulate(scenario, replication)
    except (Hang, RecursionError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
    raise EngineFailure(failure)  # outside the handler, so the varying origin is not chained


def numbers_in(figures: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in nested figures, with its path (None, a missing statistic, is skipped)."""
    if isinstance(figures, dict):
        for key, value in figures.items():
            yield from numbers_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(figures, int | float) and not isinstance(figures, bool):
        yield path, figures


# --- the properties ----------------------------------------------------------------------------


def assert_non_negative(result: RunResult) -> None:
    """Every figure of the run is a finite number >= 0, and utilization is at most 1."""
    for path, value in numbers_in(replication_figures(result)):
        assert math.isfinite(value) and value >= 0, f"{path} = {value}"
    for queue in result.queues:
        assert min(queue.counts.values()) >= 0, queue
        assert min(queue.backlog_final, queue.unacked_final, queue.backlog_max) >= 0, queue
    for producer in result.producers:
        assert min(producer.counts.values()) >= 0, producer
    for pool in result.pools:
        assert min(pool.publish.values(), default=0) >= 0, pool
        assert pool.busy_time >= 0, pool
        assert pool.utilization <= 1 + 1e-9, pool


def assert_stream_books_balance(queue: QueueRun) -> None:
    """A stream's books: every record is retained or removed by retention; every delivery was
    acked, failed, interrupted, or is still unprocessed at the end."""
    counts = queue.counts
    assert counts["published"] == counts["retained"] + counts["removed"], queue
    ended = sum(counts[state] for state in STREAM_DELIVERY_ENDS)
    assert counts["delivered"] == ended + queue.unacked_final, queue
    assert counts["redelivered"] <= counts["delivered"], queue
    assert queue.stream is not None
    for reader in queue.stream.readers.values():
        ended = reader.acked + reader.failed + reader.interrupted
        assert reader.delivered >= ended and reader.lag.final >= 0, reader


def assert_kafka_books_balance(queue: QueueRun) -> None:
    """A topic's books: every record is retained, removed by retention, or lingering in a
    producer's batch; every fetch was processed (first time or again), failed, interrupted, or
    is still held at the end."""
    counts = queue.counts
    assert queue.kafka is not None
    kept = counts["retained"] + counts["removed"] + queue.kafka.lingering
    assert counts["published"] == kept, queue
    ended = counts["acked"] + counts["failed"] + counts["interrupted"]
    assert counts["delivered"] == ended + queue.unacked_final, queue
    for partition in queue.kafka.partitions:
        assert partition.lag.final >= 0 and partition.consumed >= 0, partition


def assert_lease_books_balance(queue: QueueRun) -> None:
    """A lease queue's books: every message is deleted, dead-lettered, exhausted, expired,
    deduplicated, or still delayed, visible or in flight; every receive is a first one or a
    duplicate; every resend is deduplicated or a duplicate send, or its first send never got in."""
    lease = queue.lease
    assert lease is not None
    ended = lease.deleted + lease.dead_lettered + lease.exhausted + lease.expired
    ended += lease.deduplicated
    held = lease.delayed.final + lease.visible.final + lease.in_flight.final
    assert queue.counts["published"] == ended + held, queue
    assert lease.redelivered <= lease.duplicates <= lease.received, lease
    assert lease.received - lease.duplicates <= queue.counts["published"], lease
    assert lease.empty_receives <= lease.receives and lease.late_deletes <= lease.deleted, lease
    assert lease.deduplicated + lease.duplicate_sends <= lease.resends, lease
    assert (queue.backlog_final, queue.unacked_final) == (
        lease.visible.final,
        lease.in_flight.final,
    )


def assert_books_balance(scenario: Scenario, result: RunResult) -> None:
    """Conservation, recomputed from the results (see the property below)."""
    for queue in result.queues:
        if queue.lease is not None:
            assert_lease_books_balance(queue)
            continue
        if queue.stream is not None:
            assert_stream_books_balance(queue)
            continue
        if queue.kafka is not None:
            assert_kafka_books_balance(queue)
            continue
        counts = queue.counts
        ended = sum(counts[state] for state in QUEUE_ENDS)
        held = counts.get("delayed_final", 0)  # a quorum queue's delayed returns
        assert counts["published"] == ended + queue.backlog_final + queue.unacked_final + held
        removed = sum(counts[s] for s in ("rejected", "dropped", "expired", "nacked", "over_limit"))
        assert counts["dead_lettered"] <= removed, queue
        assert counts["acked"] <= counts["delivered"], queue
        assert counts["redelivered"] <= counts["delivered"], queue
    books = [producer.counts for producer in result.producers]
    books += [pool.publish for pool in result.pools if pool.publish]
    for book in books:
        assert book["produced"] == sum(book[state] for state in PUBLISHER_ENDS), book
    for producer in result.producers:
        assert producer.published == producer.counts["produced"], producer
    published = sum(q.counts["published"] for q in result.queues)
    dead_lettered = sum(q.counts.get("dead_lettered", 0) for q in result.queues)  # none: streams
    routed = sum(book["routed"] for book in books)
    if scenario.exchanges:
        assert published - dead_lettered >= routed
    else:
        assert published - dead_lettered == routed


@PROPERTIES
@given(scenarios)
def test_every_valid_scenario_runs_and_every_count_is_non_negative(scenario):
    """(a) A valid scenario always runs (the engine's own conservation check passes, nothing
    raises, nothing hangs), every figure of the run is a finite number >= 0, and no pool is
    busy more than all of its time."""
    assert_non_negative(run(scenario))


@PROPERTIES
@given(scenarios)
def test_books_balance_per_queue_and_per_publisher(scenario):
    """(b) Per queue, published = acked + rejected + dropped + expired + nacked + over_limit +
    lost_in_outage + ready at the end + unacked at the end; per producer (and per pool's publish
    steps), produced = routed + unroutable + publish_failed + buffered + in_flight. Between the
    two sides: each routed message is at least one queue's publish (exactly one without
    exchanges), and each dead-lettered message is its target's publish."""
    assert_books_balance(scenario, run(scenario))


@PROPERTIES
@given(scenarios, st.integers(0, 1))
def test_the_same_seed_gives_identical_results(scenario, replication):
    """(c) Determinism: two runs of the same scenario, seed and replication agree on every
    figure of the summary."""
    first = replication_figures(run(scenario, replication))
    second = replication_figures(run(scenario, replication))
    assert first == second


@PROPERTIES
@given(scenarios)
def test_the_resolved_scenario_reloads_and_reproduces_the_results(scenario):
    """(d) The resolved scenario (as the JSON summary records it: defaults filled in, units
    resolved) loads back to the same scenario, and gives the same figures. (A scenario whose
    run fails is left to (a), which reports it.)"""
    resolved = yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
    again = scenario_from(resolved)
    assert again == scenario
    try:
        expected = replication_figures(run(scenario))
    except Exception:
        reject()
    assert replication_figures(run(again)) == expected


def assert_runs_balances_and_reloads(scenario: Scenario) -> None:
    """(a), (b) and (d) on one scenario: it runs, its figures are >= 0, its books balance, and
    its resolved scenario loads back to it and reproduces the figures."""
    result = run(scenario)
    assert_non_negative(result)
    assert_books_balance(scenario, result)
    resolved = yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
    again = scenario_from(resolved)
    assert again == scenario
    assert replication_figures(run(again)) == replication_figures(result)


@PROPERTIES
@given(stream_scenarios)
def test_streams_run_with_balanced_books_and_reload_from_their_resolved_scenario(scenario):
    """(e) (a), (b) and (d) on scenarios centred on one stream, where retention, crashes and
    outages meet its readers: the engine's own books pass (every record retained or removed,
    every delivery ended once, the lag as kept agrees with the readers' positions), every figure
    is >= 0, and the resolved scenario (offsets included) reproduces the figures."""
    assert_runs_balances_and_reloads(scenario)


@PROPERTIES
@given(kafka_scenarios)
def test_kafka_topics_run_with_balanced_books_and_reload_from_their_resolved_scenario(scenario):
    """(f) (a), (b) and (d) on scenarios centred on a kafka topic, where crashes, put-outs,
    rebalances, retries, dead letters and retention meet its groups: the engine's own books pass
    (per group and partition: every fetch ended once, every record's flow branch ended once,
    the lag agrees with the committed offsets), every figure is >= 0, and the resolved scenario
    (the client's defaults filled in) reproduces the figures."""
    assert_runs_balances_and_reloads(scenario)


@PROPERTIES
@given(lease_scenarios)
def test_lease_queues_run_with_balanced_books_and_reload_from_their_resolved_scenario(scenario):
    """(g) (a), (b) and (d) on scenarios centred on a lease queue of any type, where lapsed
    leases, late deletes, partial batches, receive limits, retention, delays, crashes and
    outages meet its pollers: the engine's own books pass (every message ended once or is
    delayed, visible or in flight), every figure is >= 0, and the resolved scenario (each
    type's preset filled in) reproduces the figures."""
    assert_runs_balances_and_reloads(scenario)


def test_weighted_routing_keys_resolve_to_a_fixed_point():
    """Found by (d): weights 1:4:1 normalise to floats summing to 0.9999999999999999, so the
    resolved scenario, loaded again, normalises them once more to other floats (and the
    cumulative thresholds of the routing draw move)."""
    scenario = scenario_from(
        """
        name: weights
        duration: 5s
        producers: [{name: p, to: x, rate: 1/s, routing_key: {keys: {a: 1, b: 4, c: 1}}}]
        exchanges: [{name: x, type: fanout, bindings: [{queue: q}]}]
        queues: [{name: q}]
        """
    )
    resolved = yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
    assert scenario_from(resolved).producers[0].routing_key == scenario.producers[0].routing_key


# --- cases these properties found, kept as minimal scenarios -----------------------------------

FOUND = {
    # a rejected message dead-letters into a queue that dead-letters to itself at once (TTL 0 or
    # max_length 0): the cycle has no rejection in it, so RabbitMQ drops the message (dlx.md,
    # mc.erl is_cycle_v2); the run must end either way
    "rejected-then-zero-ttl-self-loop": """
        name: rejected-then-zero-ttl-self-loop
        duration: 5s
        producers: [{name: p, to: work, rate: 1/s, arrivals: constant, count: 1}]
        queues:
          - {name: work, dead_letter: parking}
          - {name: parking, message_ttl: 0, dead_letter: parking}
        consumers:
          - {name: c, queue: work, service_time: 10ms,
             failures: {nack_probability: 1, requeue: false}}
        """,
    "rejected-then-zero-length-self-loop": """
        name: rejected-then-zero-length-self-loop
        duration: 5s
        producers: [{name: p, to: work, rate: 1/s, arrivals: constant, count: 1}]
        queues:
          - {name: work, dead_letter: parking}
          - {name: parking, max_length: 0, dead_letter: parking}
        consumers:
          - {name: c, queue: work, service_time: 10ms,
             failures: {nack_probability: 1, requeue: false}}
        """,
    # a consumer timeout requeues a message the replica is still working on; the replica gets it
    # again and works on it twice at once (concurrency 2); crash tracking must cope
    "timeout-redelivery-to-the-same-busy-replica": """
        name: timeout-redelivery-to-the-same-busy-replica
        seed: 1
        duration: 5s
        producers: [{name: p, to: q, rate: 10/s, arrivals: constant}]
        queues: [{name: q}]
        consumers:
          - {name: c, queue: q, concurrency: 2, service_time: {dist: exponential, mean: 100ms},
             crash: {mtbf: 1000h, restart: 1s}, consumer_timeout: 200ms}
        """,
    # a pool with auto ack publishing onward: each flow must end once
    "auto-ack-pipeline": """
        name: auto-ack-pipeline
        duration: 10s
        producers: [{name: p, to: a, rate: 1/s, arrivals: constant}]
        queues: [{name: a}, {name: b}]
        consumers:
          - {name: stage1, queue: a, ack: auto, service_time: 100ms, publish: [{to: b}]}
          - {name: stage2, queue: b, service_time: 100ms}
        """,
    # per-message TTLs: after a drop-head the new head has expired already
    "expired-head-after-drop-head": """
        name: expired-head-after-drop-head
        duration: 10s
        producers:
          - {name: long, to: q, rate: 1/s, arrivals: constant, count: 1, ttl: 10s}
          - {name: short, to: q, rate: 0.5/s, arrivals: constant, count: 2, ttl: 1s}
        queues: [{name: q, max_length: 2}]
        """,
    # a message requeued (consumer timeout) after its TTL has passed
    "requeued-after-expiry": """
        name: requeued-after-expiry
        duration: 10s
        producers: [{name: p, to: q, rate: 1/s, arrivals: constant, count: 1}]
        queues: [{name: q, message_ttl: 500ms}]
        consumers: [{name: c, queue: q, service_time: 2s, consumer_timeout: 1s}]
        """,
}
"""Minimal scenarios that broke (a) or (b): a hang, RecursionError, KeyError, a negative
simpy delay, flows ending twice."""


@pytest.mark.parametrize("text", list(FOUND.values()), ids=list(FOUND))
def test_found_cases_run_with_balanced_books_and_non_negative_counts(text):
    """(a) and (b) on each minimal scenario the properties found."""
    scenario = scenario_from(text)
    result = run(scenario)
    assert_non_negative(result)
    assert_books_balance(scenario, result)


# --- failure sections that cannot fire change nothing ------------------------------------------

BASE = """
    name: zero-failures
    seed: 7
    duration: 60s
    warmup: 5s
    producers:
      - {name: orders, to: orders, rate: 8/s, ttl: 20s, priority: {dist: uniform, low: 0, high: 3}}
      - {name: events, to: events, rate: 3/s}
    exchanges:
      - name: events
        type: topic
        bindings: [{queue: audit, key: "#"}]
    queues:
      - {name: orders, max_length: 50, dead_letter: orders.dlq, max_priority: 3}
      - {name: orders.dlq}
      - {name: audit, message_ttl: 30s}
    consumers:
      - name: workers
        queue: orders
        replicas: 2
        prefetch: 4
        concurrency: 2
        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}
        publish: [{to: events, routing_key: order.done, probability: 0.5}]
      - {name: dlq, queue: orders.dlq, service_time: 50ms}
      - {name: auditor, queue: audit, replicas: 2, prefetch: 1, service_time: 100ms, ack: auto}
    """

ZERO_RATE_SECTIONS = {
    "failures": (
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n",
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n"
        "        failures: {nack_probability: 0, poison: 0, requeue: false}\n",
    ),
    "crash": (
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n",
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n"
        "        crash: {mtbf: 1000h, restart: 1s}\n",
    ),
    "consumer_timeout": (
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n",
        "        service_time: {dist: lognormal, mean: 300ms, cv: 1.5}\n"
        "        consumer_timeout: 1000h\n",
    ),
    "producer-on-unavailable": (
        "rate: 3/s}",
        "rate: 3/s, on_unavailable: drop, buffer: 0, persistent: false}",
    ),
    "durable": ("{name: orders.dlq}", "{name: orders.dlq, durable: false}"),
    "outages": (
        "    queues:\n",
        "    outages: [{at: 2h, for: 1m}, {mtbf: 1000h, mttr: 1m}]\n    queues:\n",
    ),
    "network": ("    queues:\n", "    network: {latency: 0}\n    queues:\n"),
}
"""Each failure section, present but unable to fire within the run: (text in BASE, with it)."""


def with_sections(names: list[str]) -> str:
    text = BASE
    for name in names:
        old, new = ZERO_RATE_SECTIONS[name]
        assert old in text, name
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize(
    "sections", [[name] for name in ZERO_RATE_SECTIONS] + [list(ZERO_RATE_SECTIONS)],
    ids=[*ZERO_RATE_SECTIONS, "all"],
)  # fmt: skip
def test_failure_sections_that_cannot_fire_give_the_same_results(sections):
    """Failures with zero rates, a crash after 1000 h, a consumer timeout of 1000 h, outages
    after the run (once, and with an mtbf of 1000 h), transient messages and non-durable queues
    that no outage reaches, zero network latency: the same seed gives exactly the same figures
    as the scenario without those sections, each alone and all together."""
    without = replication_figures(run(scenario_from(BASE)))
    with_them = replication_figures(run(scenario_from(with_sections(sections))))
    assert with_them == without


# --- work too large for its estimate ------------------------------------------------------------

SMALL = Limits(cpu_seconds=0.25, memory_bytes=256 * 1024.0**2)
"""Limits a few thousand times below qsim's own, so a property run stays short: the point is
that the estimate holds, whatever the scale."""
ESTIMATED_WALL_SECONDS = 20
"""Bound on a run the estimate let through at :data:`SMALL` (0.25 s of CPU estimated)."""


def _faster(rate: str, factor: int) -> str:
    value, unit = rate.split("/")
    return f"{float(value) * factor:g}/{unit}"


@st.composite
def heavy_scenario_data(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid scenario with its rates up to 10^5 times and its duration up to 3,600
    times larger: most of them too much work for :data:`SMALL`."""
    data = draw(scenario_data(shared=False))  # the estimate's cases as they were
    factor = 10 ** draw(st.integers(0, 5))
    for producer in data["producers"]:
        if "rate" in producer:
            producer["rate"] = _faster(producer["rate"], factor)
        for step in producer.get("schedule", []):
            step["rate"] = _faster(step["rate"], factor) if step["rate"] else 0
        if draw(st.booleans()):
            producer.pop("count", None)
    longer = draw(st.sampled_from([1, 60, 3600]))
    data["duration"] = f"{int(data['duration'][:-1]) * longer}s"
    return data


@settings(PROPERTIES, max_examples=60)
@given(heavy_scenario_data().map(load))
def test_a_run_finishes_with_balanced_books_or_is_refused_by_its_estimate(scenario):
    """(#14) Whatever the scale, a valid scenario is either refused up front by the work
    estimate, in one line that names the way on (--force among them), or it runs to the end
    in the time the estimate allowed, with every queue's books balanced. Never an hours-long
    silent run."""
    try:
        check_work(estimate(scenario), SMALL)
    except QsimError as refused:
        assert "\n" not in str(refused) and "--force" in str(refused)
        event("refused by the estimate")
        return
    event("ran")
    try:
        with wall_time_limit(ESTIMATED_WALL_SECONDS, Hang):
            result = simulate(scenario, 0)
    except Hang:
        pytest.fail(
            f"estimated {estimate(scenario).describe()}, ran over {ESTIMATED_WALL_SECONDS} s"
        )
    assert_books_balance(scenario, result)


def test_an_idle_autoscaled_run_is_estimated_by_its_autoscaler_readings():
    """An autoscaler wakes whether or not messages come: 16 h of KEDA polls every second, HPA
    syncs every 15 s and statistics every 5 s are 73,000 readings, each three messages' worth
    of CPU (qsim.estimate.MESSAGES_PER_TICK), so a run that publishes almost nothing is still
    refused at SMALL, naming the readings, and the same run without scaling is not."""
    data = {
        "name": "idle",
        "duration": "16h",
        "queues": [{"name": "work"}],
        "producers": [{"name": "p", "to": "work", "rate": "0.001/s"}],
        "consumers": [
            {
                "name": "pool",
                "queue": "work",
                "replicas": 1,
                "service_time": {"dist": "exponential", "mean": "100ms"},
                "scaling": {"policy": "queue_length", "interval": "1s", "min": 1, "max": 5},
            }
        ],
    }
    work = estimate(load(data))
    assert work.ticks == pytest.approx(16 * 3600 * (1 + 1 / 15 + 1 / 5))
    with pytest.raises(QsimError, match="autoscaler readings"):
        check_work(work, SMALL)
    del data["consumers"][0]["scaling"]
    check_work(estimate(load(data)), SMALL)
