"""Streams (``type: stream``), each rule shown by a scenario small enough to check by hand.

RabbitMQ 4.3 with AMQP 0.9.1 consumers (docs/semantics.md, "Streams"): an append-only log that
every consumer reads on its own, from an offset, with prefetch as its credit window; retention
removes whole segments. Publish times come from trace files; the docstrings do the arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from conftest import run_model, scenario_from

from qsim.capacity import CapacityStudy
from qsim.engine.log import Stream
from qsim.engine.log.stream import ATTACH
from qsim.engine.simulation import Model
from qsim.errors import QsimError, ScenarioError
from qsim.scenario.consumer import OffsetKind
from qsim.slo import parse_slo
from qsim.summary import replication_figures

TEN_AT_ONCE = "0 0 0 0 0 0 0 0 0 0"


def stream_of(model: Model, index: int = 0) -> Stream:
    """The stream a scenario declares (at ``index`` among its queues)."""
    stream = model.queues[index]
    assert isinstance(stream, Stream)
    return stream


def run_with_late_pool(text: str, tmp_path: Path, trace: str, at: float) -> Model:
    """Run a scenario whose last pool starts with no replica and gets one at ``at`` (as if
    the service were deployed then): its reader first attaches at that moment."""
    (tmp_path / "trace.csv").write_text(trace.replace(" ", "\n"), encoding="utf-8")
    model = Model(scenario_from(text, tmp_path), 0)
    late = model.replica_pools[-1]
    model.broker.after(at, lambda _: late.scale_to(1), None)
    model.run()
    return model


# --- every consumer reads every message --------------------------------------------------------

TWO_POOLS = """
    name: two-pools
    duration: 10s
    producers: [{name: p, to: s, trace: trace.csv}]
    queues: [{name: s, type: stream}]
    consumers:
      - {name: billing, queue: s, prefetch: 10, service_time: 100ms}
      - {name: audit, queue: s, prefetch: 10, service_time: 300ms}
    """


def test_a_stream_read_by_two_pools_delivers_every_message_to_both(tmp_path):
    """5 records, 2 pools: each pool is sent and acks all 5 (no competing consumers), so the
    stream counts 5 x 2 = 10 deliveries and 10 acks."""
    stream = stream_of(run_model(TWO_POOLS, tmp_path, "0 0 1 2 3"))
    per_pool = [(g.delivered, g.acked) for g in stream.groups.values()]
    assert (per_pool, stream.counts()["acked"]) == ([(5, 5), (5, 5)], 10)


def test_reading_a_stream_removes_nothing(tmp_path):
    """After both pools read all 5 records, all 5 are still in the log: retained 5, removed 0,
    and nothing waits for delivery."""
    stream = stream_of(run_model(TWO_POOLS, tmp_path, "0 0 1 2 3"))
    counts = stream.counts()
    assert (counts["retained"], counts["removed"], stream.waiting.value) == (5, 0, 0)


def test_each_replica_of_a_pool_reads_every_message(tmp_path):
    """A pool of 3 replicas on a stream is 3 consumers: 4 records are processed 3 x 4 = 12
    times. The flow of each record has one branch per pool, ended by the pool's first
    processing: 4 flows complete, once each."""
    model = run_model(
        """
        name: replicas
        duration: 10s
        producers: [{name: p, to: s, trace: trace.csv}]
        queues: [{name: s, type: stream}]
        consumers: [{name: c, queue: s, replicas: 3, prefetch: 1, service_time: 1s}]
        """,
        tmp_path,
        "0 0 0 0",
    )
    flows = replication_figures(model._results())["flows"]["p"]
    assert (stream_of(model).counts()["acked"], flows["completed"]) == (12, 4)


def test_a_flow_through_two_pools_ends_when_the_slower_one_has_processed_it(tmp_path):
    """One record at 0; billing processes it in 0.1 s, audit in 0.3 s: the flow has a branch
    per pool and completes at 0.3 s."""
    result = run_model(TWO_POOLS, tmp_path, "0")._results()
    flows = replication_figures(result)["flows"]["p"]
    assert (flows["completed"], flows["latency_s"]["max"]) == (1, pytest.approx(0.3))


def test_a_stream_nobody_reads_completes_its_flows_when_it_stores_them(tmp_path):
    """No pool reads the stream: each appended record ends its flow at once, completed (it is
    stored), so 3 flows complete with latency 0 and all 3 records stay in the log."""
    model = run_model(
        """
        name: unread
        duration: 10s
        producers: [{name: p, to: s, trace: trace.csv}]
        queues: [{name: s, type: stream}]
        """,
        tmp_path,
        "0 1 2",
    )
    flows = replication_figures(model._results())["flows"]["p"]
    retained = stream_of(model).counts()["retained"]
    assert (flows["completed"], flows["latency_s"]["max"], retained) == (3, 0.0, 3)


# --- offsets -----------------------------------------------------------------------------------

LATE = """
    name: late-reader
    duration: 20s
    producers: [{{name: p, to: s, trace: trace.csv}}]
    queues: [{{name: s, type: stream}}]
    consumers: [{{name: late, queue: s, replicas: 0, prefetch: 100, service_time: 10ms{offset}}}]
    """
TWELVE = "0 1 2 3 4 5 6 7 8 9 10 11"


@pytest.mark.parametrize(
    ("offset", "read"),
    [("first", 12), ("next", 2), ("last", 3), ("4", 8), ("3s", 5), ("100", 2), (None, 2)],
    ids=["first", "next", "last", "offset-4", "interval-3s", "offset-past-the-end", "default"],
)
def test_where_a_late_reader_attaches(tmp_path, offset, read):
    """Records at 0, 1, ..., 11 s; the reader attaches at 9.5 s (offsets 0-9 written): ``first``
    reads all 12; ``next`` only the 2 written after (10, 11); ``last`` the newest record (9)
    and then 10, 11: 3; offset 4 reads 4-11: 8; interval 3 s attaches at the first record
    written at or after 6.5 s (offset 7): 7-11, 5; offset 100 is clamped to the end: 2; no
    offset is ``next``."""
    option = "" if offset is None else f", offset: {offset}"
    model = run_with_late_pool(LATE.format(offset=option), tmp_path, TWELVE, at=9.5)
    assert stream_of(model).groups["late"].acked == read


def test_every_offset_kind_has_an_attach_rule():
    """The scenario's offset kinds and the engine's attach rules are one list."""
    assert set(ATTACH) == set(get_args(OffsetKind))


def test_an_offset_needs_a_stream():
    """A classic queue has no offsets: ``offset`` on its pool is refused, at the pool's key."""
    with pytest.raises(ScenarioError, match=r"consumers\[0\]\.offset: offset needs a stream"):
        scenario_from(
            """
            name: classic
            duration: 10s
            producers: [{name: p, to: q, rate: 1/s}]
            queues: [{name: q}]
            consumers: [{name: c, queue: q, service_time: 1s, offset: first}]
            """
        )


# --- the credit window, crashes, failures, outages ---------------------------------------------

ONE_READER = """
    name: one-reader
    duration: {duration}
    producers: [{{name: p, to: s, trace: trace.csv{producer}}}]
    queues: [{{name: s, type: stream}}]
    consumers: [{{name: c, queue: s, prefetch: {prefetch}, service_time: 1s{pool}}}]
    {extra}
    """


def one_reader(duration: str, prefetch: int, pool: str = "", producer: str = "", extra: str = ""):
    return ONE_READER.format(
        duration=duration, prefetch=prefetch, pool=pool, producer=producer, extra=extra
    )


def test_prefetch_bounds_the_unacked_window(tmp_path):
    """10 records at 0, prefetch 3, 1 s jobs: at 2.5 s, 2 acked, 3 sent and unprocessed, 5
    not yet sent (the credit window is prefetch deliveries, as for a queue)."""
    stream = stream_of(run_model(one_reader("2.5s", 3), tmp_path, TEN_AT_ONCE))
    group = stream.groups["c"]
    assert (group.acked, group.unsettled, stream.waiting.value) == (2, 3, 5)


def test_a_crash_rereads_exactly_the_unacked_messages(tmp_path):
    """6 records at 0, prefetch 3, 1 s jobs, a crash at 2.5 s and a restart 1 s later. By the
    crash 0 and 1 are acked and 2 (in work), 3 and 4 (buffered) are unacked: those 3 are
    interrupted and the reader resumes at 2, reading 2, 3, 4 again (3 redelivered); by 5.9 s
    (before the next crash at 6 s) 2 and 3 are acked as well: 4 acked."""
    model = run_model(
        one_reader("5.9s", 3, pool=", crash: {mtbf: 2.5s, restart: 1s}"), tmp_path, "0 0 0 0 0 0"
    )
    counts = stream_of(model).counts()
    assert (counts["interrupted"], counts["redelivered"], counts["acked"]) == (3, 3, 4)


def test_a_failed_processing_skips_the_record(tmp_path):
    """Every processing fails (a reject with requeue): on a stream that only returns credit,
    so the 4 records are each delivered once and counted failed, and their flows fail."""
    failing = ", failures: {nack_probability: 1.0, requeue: true}"
    model = run_model(one_reader("10s", 1, pool=failing), tmp_path, "0 0 0 0")
    counts = stream_of(model).counts()
    flows = replication_figures(model._results())["flows"]["p"]
    assert (counts["delivered"], counts["failed"], flows["failed"]) == (4, 4, 4)


def test_a_broker_outage_keeps_the_stream_and_its_readers_resume(tmp_path):
    """4 transient records at 0, prefetch 2, 1 s jobs, an outage from 1.5 s to 2.5 s. Record 0
    is acked at 1 s; at 1.5 s the connection drops with 1 (in work) and 2 (buffered) unacked:
    the reader resumes at 1 when the broker is back and reads 1 and 2 again. A stream persists
    every message and loses none in the restart: all 4 are acked by 10 s."""
    outage = "outages: [{at: 1.5s, for: 1s}]"
    text = one_reader("10s", 2, producer=", persistent: false", extra=outage)
    counts = stream_of(run_model(text, tmp_path, "0 0 0 0")).counts()
    assert (counts["retained"], counts["redelivered"], counts["acked"]) == (4, 2, 4)


def test_lag_is_the_records_a_reader_has_still_to_process(tmp_path):
    """4 records at 0, prefetch 1, 1 s jobs: the lag (records behind the log's end, delivered
    or not, not yet processed) is 4, 3, 2, 1 over the first four seconds and 0 in the fifth:
    mean 10/5 = 2, maximum 4, final 0."""
    result = run_model(one_reader("5s", 1), tmp_path, "0 0 0 0")._results()
    lag = replication_figures(result)["consumers"]["c"]["stream"]["lag"]
    assert lag == {"mean": pytest.approx(2.0), "max": 4, "final": 0}


# --- retention ---------------------------------------------------------------------------------


MAX_BYTES = """
    name: max-bytes
    duration: 1000s
    producers: [{name: p, to: s, trace: trace.csv, size: 100B}]
    queues: [{name: s, type: stream, max_bytes: 600B, segment_bytes: 300B}]
    consumers: [{name: slow, queue: s, prefetch: 1, service_time: 100s}]
    """


def test_max_bytes_removes_whole_segments_and_a_lagging_reader_loses_those_records(tmp_path):
    """10 records of 100 B at 0..9 s, 300 B segments (3 records each: [0-2] [3-5] [6-8] [9]),
    max_bytes 600 B. When record 6 opens the third segment, the newest two fit (100 + 300) and
    the oldest does not: [0-2] goes; when 9 opens the fourth, [3-5] goes. The reader (prefetch
    1, 100 s jobs) holds record 0 throughout, so it loses 1, 2, 3, 4, 5 and later processes 0,
    6, 7, 8, 9: 5 acked, 5 lost; 4 records retained, 6 removed."""
    model = run_model(
        MAX_BYTES,
        tmp_path,
        "0 1 2 3 4 5 6 7 8 9",
    )
    stream = stream_of(model)
    counts, group = stream.counts(), stream.groups["slow"]
    assert (group.acked, group.lost, counts["retained"], counts["removed"]) == (5, 5, 4, 6)


def test_records_lost_to_retention_fail_their_flows(tmp_path):
    """The same run: the 5 records the reader lost fail their flows, the 5 it processed
    complete (record 0 was removed while the reader held it, and still completes)."""
    model = run_model(
        MAX_BYTES,
        tmp_path,
        "0 1 2 3 4 5 6 7 8 9",
    )
    flows = replication_figures(model._results())["flows"]["p"]
    assert (flows["completed"], flows["failed"]) == (5, 5)


MAX_AGE = """
    name: max-age
    duration: {duration}
    producers: [{{name: p, to: s, trace: trace.csv, size: 100B}}]
    queues: [{{name: s, type: stream, max_age: 10s, segment_bytes: 100B}}]
    """


def test_max_age_is_evaluated_when_a_segment_rolls_over(tmp_path):
    """100 B records in 100 B segments (one each), at 0, 1, 2 and 20 s: when 20 opens its
    segment, the three whose last record is older than 20 - 10 = 10 s are removed."""
    model = run_model(MAX_AGE.format(duration="30s"), tmp_path, "0 1 2 20")
    counts = stream_of(model).counts()
    assert (counts["retained"], counts["removed"]) == (1, 3)


@pytest.mark.parametrize(("duration", "retained"), [("3603s", 5), ("3605s", 1)])
def test_max_age_is_evaluated_again_an_hour_after_the_last_evaluation(tmp_path, duration, retained):
    """Records at 0..4 s, one per segment: the last rollover (4 s) removes nothing (none is
    older than 10 s) and, as more than one segment remains, schedules an evaluation an hour
    later, at 3604 s, which removes all but the newest segment: 5 retained before, 1 after."""
    model = run_model(MAX_AGE.format(duration=duration), tmp_path, "0 1 2 3 4")
    assert stream_of(model).counts()["retained"] == retained


# --- what a stream and its consumers refuse ----------------------------------------------------

STREAM_POOL = """
    name: refused
    duration: 10s
    producers: [{{name: p, to: s, rate: 1/s}}]
    queues: [{{name: s, type: stream{queue}}}]
    consumers:
      - {{name: c, queue: s, service_time: 1s{pool}}}
    """


@pytest.mark.parametrize(
    ("queue", "pool", "message"),
    [
        ("", "", "consumers[0].prefetch: a stream consumer needs prefetch above 0 "
                 "(RabbitMQ refuses 0 with 406)"),
        ("", ", prefetch: 5, ack: auto", "consumers[0].ack: a stream consumer needs ack: manual "
                                         "(RabbitMQ refuses automatic acknowledgement with 540)"),
        ("", ", ack: auto", "consumers[0].prefetch: a stream consumer needs prefetch above 0"),
        ("", ", prefetch: 5, consumer_timeout: 1m", "consumers[0].consumer_timeout: streams have "
                                                    "no consumer timeout"),
        ("", ", prefetch: 5, scaling: {policy: queue_length, target: 5}",
         "consumers[0].scaling: autoscaling a pool that reads a stream is not supported"),
        ("", ", prefetch: 5, publish: [{to: s}]",
         "consumers[0].publish: a pool that reads a stream cannot publish onward"),
        (", message_ttl: 1s", ", prefetch: 5", "queues[0]: message_ttl is not a stream argument"),
        (", dead_letter: s", ", prefetch: 5", "queues[0]: dead_letter is not a stream argument"),
        (", max_priority: 5", ", prefetch: 5", "queues[0]: max_priority is not a stream argument"),
        (", delivery_limit: 3", ", prefetch: 5",
         "queues[0]: delivery_limit is not a stream argument"),
        (", single_active_consumer: true", ", prefetch: 5",
         "queues[0]: single_active_consumer is not a stream argument"),
    ],
    ids=["prefetch-0", "auto-ack", "prefetch-checked-first", "consumer-timeout", "autoscaling",
         "publish", "ttl", "dead-letter", "priorities", "delivery-limit", "sac"],
)  # fmt: skip
def test_what_a_stream_and_its_consumers_refuse(queue, pool, message):
    """Each refusal is one located line, as RabbitMQ 4.3 refuses it (406 / 540), or says what
    qsim does not model yet; RabbitMQ checks prefetch before the ack mode."""
    with pytest.raises(ScenarioError) as caught:
        scenario_from(STREAM_POOL.format(queue=queue, pool=pool))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_capacity_refuses_a_pool_that_reads_a_stream():
    """Replicas of a stream's pool do not share its work (each reads every message): there is
    no replica count for ``qsim capacity`` to search, and it says so in one line."""
    scenario = scenario_from(STREAM_POOL.format(queue="", pool=", prefetch: 5"))
    with pytest.raises(QsimError, match="reads the stream 's': each replica processes every"):
        CapacityStudy(scenario, "c", [parse_slo("p99 latency < 1s")])
