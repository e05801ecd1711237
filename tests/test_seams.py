"""The engine's seams as specifications: each component reports its own figures (none silently
left at a default), registries agree with the scenario's option lists, and the engine stays
free of YAML and plotting."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, get_args

from conftest import scenario_from
from pydantic import ValidationError

from qsim.engine import simulate
from qsim.engine.kinds import QUEUE_TYPES
from qsim.engine.queue import OVERFLOW
from qsim.runner import run_scenario
from qsim.scenario.queue import Overflow, Queue, QueueType
from qsim.summary import replication_figures

AUTO_ACK_CRASH = """
    name: auto-ack-crash
    duration: 20s
    producers: [{name: p, to: q, rate: 10/s, arrivals: constant}]
    queues: [{name: q}]
    consumers:
      - {name: c, queue: q, ack: auto, service_time: 1s,
         crash: {mtbf: 2.55s, restart: 100s}}
    """


def test_auto_ack_crash_loses_exactly_what_the_replica_held():
    """Auto-ack pushes every message at once (no prefetch bound). At the crash (2.55 s) the
    replica has finished the messages of 0.1 s and 1.1 s, works on the one of 2.1 s and holds
    the 22 published at 0.2..2.5 s that wait behind it: 1 + 22 = 23 lost, counted in the
    summary; the broker counted all 25 acked as it sent them, and the books balance."""
    result = simulate(scenario_from(AUTO_ACK_CRASH))
    pool = replication_figures(result)["consumers"]["c"]
    queue = result.queues[0].counts
    assert (pool["lost_in_crash"], queue["acked"], queue["delivered"]) == (23, 25, 25)


def test_auto_ack_losses_fail_their_flows():
    """Every lost message's flow ends failed; the 2 processed ones complete."""
    flows = replication_figures(simulate(scenario_from(AUTO_ACK_CRASH)))["flows"]["p"]
    assert (flows["completed"], flows["failed"]) == (2, 23)


REQUIRED: dict[str, dict[str, Any]] = {"kafka": {"partitions": 1}}
"""Keys a queue type requires (a kafka topic its partition count)."""


def _accepted(queue_type: str) -> bool:
    try:
        Queue(name="q", type=queue_type, **REQUIRED.get(queue_type, {}))
    except ValidationError:
        return False
    return True


def test_every_queue_type_a_scenario_accepts_has_a_delivery_model():
    """The scenario's queue types and the engine's builders are one list (a type the engine
    cannot simulate yet is refused when the scenario loads)."""
    accepted = {name for name in get_args(QueueType) if _accepted(name)}
    assert accepted == set(QUEUE_TYPES)


def test_every_overflow_mode_has_an_implementation():
    """The scenario's overflow modes and the engine's are one list."""
    assert set(OVERFLOW) == set(get_args(Overflow))


def test_the_engine_imports_neither_yaml_nor_matplotlib():
    """Workers import the engine: it must stay light (style.md, point 1)."""
    code = (
        "import sys, qsim.engine; "
        "print(sorted(m for m in ('yaml', 'matplotlib', 'scipy', 'rich', 'click') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# Scenarios that between them exercise every figure of the summary's queues, producers,
# consumers, flows and broker sections.
EXERCISES = {
    "overload": """
        name: overload
        duration: 60s
        producers:
          - {name: p, to: q, rate: 20/s, ttl: 2s, priority: 1}
          - {name: stray, to: nowhere, rate: 1/s, routing_key: none}
        exchanges: [{name: nowhere, type: direct}]
        queues:
          - {name: q, max_length: 30, dead_letter: dlq, max_priority: 2}
          - {name: dlq}
        consumers:
          - {name: c, queue: q, replicas: 2, prefetch: 2, service_time: 0.2s,
             failures: {nack_probability: 0.2, requeue: false},
             publish: [{to: nowhere, routing_key: none}]}
          - {name: slow, queue: dlq, prefetch: 1, service_time: 2s, consumer_timeout: 1s}
        """,
    "outage": """
        name: outage
        duration: 60s
        producers:
          - {name: p, to: q, rate: 20/s, on_unavailable: retry, buffer: 5}
        queues: [{name: q, durable: false}, {name: next}]
        consumers:
          - {name: c, queue: q, replicas: 2, prefetch: 5, service_time: 0.2s,
             publish: [{to: next}]}
        outages: [{at: 20s, for: 5s}, {at: 59s, for: 5s}]
        network: {latency: 100ms}
        """,
    "quorum": """
        name: quorum
        duration: 60s
        producers: [{name: p, to: q, rate: 5/s, on_unavailable: block, buffer: 1},
                    {name: r, to: later, rate: 5/s}]
        queues: [{name: q, type: quorum, delivery_limit: 1, max_length: 5,
                  overflow: reject-publish},
                 {name: later, type: quorum, delayed_retry: {type: all, min: 5s}}]
        consumers:
          - {name: c, queue: q, prefetch: 1, service_time: 0.5s,
             failures: {poison: 0.3}, crash: {mtbf: 3s, restart: 1s}}
          - {name: auto, queue: q, ack: auto, service_time: 0.1s,
             crash: {mtbf: 2s, restart: 1s}}
          - {name: retried, queue: later, service_time: 0.1s, failures: {nack_probability: 0.5}}
        outages: [{at: 30s, for: 2s}]
        """,
    "scaling": """
        name: scaling
        duration: 600s
        producers: [{name: p, to: q, schedule: [{at: 0s, rate: 20/s}, {at: 300s, rate: 2/s}]}]
        queues: [{name: q}, {name: done}]
        network: {latency: 2s}
        consumers:
          - {name: c, queue: q, replicas: 1, prefetch: 20, service_time: 0.5s,
             publish: [{to: done}],
             scaling: {policy: queue_length, target: 5, min: 1, max: 20, cooldown: 30s,
                       behavior: {scale_down: {stabilization: 30s}}}}
        """,
    "stream": """
        name: stream
        duration: 60s
        producers: [{name: p, to: s, rate: 10/s, size: 1KB}]
        queues: [{name: s, type: stream, max_bytes: 40KB, segment_bytes: 5KB}]
        consumers:
          - {name: fast, queue: s, prefetch: 10, service_time: 50ms,
             failures: {nack_probability: 0.1}}
          - {name: slow, queue: s, prefetch: 5, service_time: 150ms,
             crash: {mtbf: 10s, restart: 5s}}
        outages: [{at: 30s, for: 2s}]
        """,
    "kafka": """
        name: kafka
        duration: 320s
        producers:
          - {name: keyed, to: events, rate: 20/s, size: 1KB, key: {zipf: {keys: 50, s: 1.2}},
             linger: 1s}
          - {name: unkeyed, to: events, rate: 5/s, size: 2KB}
        queues:
          - {name: events, type: kafka, partitions: 4, max_bytes: 20KB, segment_bytes: 5KB}
          - {name: events.DLT, type: kafka, partitions: 2}
        consumers:
          - {name: slow, queue: events, replicas: 2, service_time: 0.2s, max_poll_records: 20,
             crash: {mtbf: 60s, restart: 5s}, session_timeout: 10s, max_poll_interval: 3s}
          - {name: checker, queue: events, replicas: 6, assignor: cooperative-sticky,
             service_time: {dist: exponential, mean: 20ms}, commit: record,
             failures: {nack_probability: 0.05}, retries: 1, dead_letter_topic: events.DLT}
          - {name: picky, queue: events, service_time: 1ms, commit: batch,
             failures: {nack_probability: 0.05}, retries: 0, auto_offset_reset: earliest}
          - {name: dlt, queue: events.DLT, service_time: 1ms}
        """,
    "lambda": """
        name: lambda
        duration: 120s
        producers: [{name: p, to: q, rate: 20/s}]
        queues: [{name: q}]
        consumers:
          - {name: fn, queue: q, service_time: {dist: exponential, mean: 1s},
             scaling: {policy: lambda, timeout: 3s}}
        """,
    "retry": """
        name: retry
        duration: 60s
        producers: [{name: p, to: q, rate: 20/s}]
        queues: [{name: q}]
        consumers:
          - {name: c, queue: q, replicas: 2, prefetch: 5, service_time: 50ms,
             failures: {nack_probability: 0.1, windows: [{from: 10s, to: 20s, fail: 0.9}]},
             retry: {max_attempts: 3, initial: 1s}}
        """,
    "lease": """
        name: lease
        duration: 400s
        producers:
          - {name: p, to: jobs, rate: 10/s, arrivals: constant}
          - {name: o, to: orders, rate: 2/s}
          - {name: f, to: fifo, rate: 5/s, key: {uniform: 5}, resend: 0.2,
             resend_after: {dist: uniform, low: 10s, high: 330s}}
        queues:
          - {name: jobs, type: sqs, lease: 2s, delay: 1s, retention: 60s, max_receives: 2,
             dead_letter: jobs-dlq}
          - {name: jobs-dlq, type: sqs}
          - {name: orders, type: servicebus, lease: 5s, max_receives: 2}
          - {name: fifo, type: sqs-fifo}
        consumers:
          - {name: c, queue: jobs, replicas: 2, batch: 10, wait: 20s,
             service_time: {dist: lognormal, mean: 1.5s, cv: 1},
             failures: {nack_probability: 0.1}, partial_batch: true,
             crash: {mtbf: 60s, restart: 5s}}
          - {name: d, queue: jobs-dlq, batch: 10, service_time: 10ms}
          - {name: o, queue: orders, replicas: 2, wait: 2s, heartbeat: 2s,
             service_time: {dist: exponential, mean: 1s}, failures: {poison: 0.2}}
          - {name: g, queue: fifo, replicas: 3, service_time: {dist: exponential, mean: 0.1s}}
        outages: [{at: 100s, for: 3s}]
        """,
}

# Figures that legitimately stay zero in these exercises, each with its reason.
ALWAYS_ZERO_HERE: dict[tuple[str, ...], str] = {
    ("consumers", "*", "publish", "buffered"): "a pool's publish steps drop while the broker is "
    "down (no buffer); the figure keeps a pool's books in the producers' shape",
}


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every figure of a summary section with its path, names of queues, producers and pools
    replaced by ``*`` (so figures of different queues and scenarios line up)."""
    if isinstance(node, dict):
        found: list[tuple[tuple[str, ...], Any]] = []
        for key, value in node.items():
            found += _leaves(value, (*path, "*" if len(path) == 1 else key))
        return found
    return [(path, node)]


def test_every_figure_the_engine_produces_is_set_somewhere():
    """A figure that no scenario can move off zero is a field nobody fills (as
    ``lost_in_crash`` once was): across the exercises each must be non-zero at least once."""
    sections = ("queues", "producers", "consumers", "flows")
    seen: dict[tuple[str, ...], bool] = {}
    for text in EXERCISES.values():
        summary = run_scenario(scenario_from(text))
        for section in sections:
            for path, value in _leaves(summary[section], (section,)):
                if path[2] == "latency_quantiles_s" or isinstance(value, list):
                    continue
                seen[path] = seen.get(path, False) or bool(value)
        for key, value in summary["broker"].items():
            seen[("broker", key)] = seen.get(("broker", key), False) or bool(value)
    never = sorted("/".join(p) for p, hit in seen.items() if not hit and p not in ALWAYS_ZERO_HERE)
    assert never == []
