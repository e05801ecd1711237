"""Failure modes, each shown by a small deterministic scenario: crashes, consumer timeouts,
poison messages, broker outages (publisher policies, durability) and network delay."""

from __future__ import annotations

import pytest
from conftest import run_model as run

from qsim.engine.simulation import Model
from qsim.summary import replication_figures


def closures(model: Model) -> int:
    """Channels the consumer timeout closed, for the one pool of the scenario."""
    return model.queues[0].pool_figures(model.scenario.consumers[0].name)["channel_closures"]


def ready_times(model: Model, queue: int = 0) -> list[float]:
    """Publish times of the ready messages of a queue, head first."""
    ready = model.queues[queue].ready
    return [m.published_at for m in list(ready)]  # type: ignore[call-overload]


CRASH = """
    name: crash
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q}}]
    consumers:
      - {{name: flaky, queue: q, prefetch: 2, service_time: 10s,
         crash: {{mtbf: 1s, restart: 100s}}}}
      - {{name: steady, queue: q, prefetch: 2, service_time: 10s}}
    """
FIVE = "0 0.01 0.02 0.03 0.04"


def test_a_crash_requeues_exactly_the_crashed_replicas_unacked_messages(tmp_path):
    """Round-robin gives flaky the 1st and 3rd message; at its crash they return to the head,
    in delivery order, ahead of the 5th, while steady keeps its two."""
    model = run(CRASH.format(duration="5s"), tmp_path, FIVE)
    steady = model.consumers[1]
    assert (ready_times(model), len(steady.subscription.unacked)) == ([0.0, 0.02, 0.04], 2)


def test_a_crashed_replica_loses_its_work_in_progress(tmp_path):
    """flaky worked 1 s of its 10 s job before crashing: that is all its busy time."""
    model = run(CRASH.format(duration="50s"), tmp_path, FIVE)
    assert model.pools[0].busy_time == pytest.approx(1.0)


def test_a_crashed_replica_consumes_nothing_until_restarted(tmp_path):
    """Down from 1 s to 101 s: steady alone works the queue meanwhile (5 jobs, 10 s each)."""
    model = run(CRASH.format(duration="60s"), tmp_path, FIVE)
    flaky = model.consumers[0]
    assert (flaky.alive, model.queues[0].acked, model.pools[0].crashes) == (False, 5, 1)


def test_redelivered_counts_the_messages_delivered_again_after_a_crash(tmp_path):
    """The two returned messages are redelivered (to steady) once it has room."""
    model = run(CRASH.format(duration="60s"), tmp_path, FIVE)
    assert model.queues[0].redelivered == 2


TIMEOUT = """
    name: timeout
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q}}]
    consumers:
      - {{name: slow, queue: q, prefetch: {prefetch}, service_time: {service},
         consumer_timeout: 5s}}
    """


def test_consumer_timeout_closes_the_channel_and_requeues_its_deliveries(tmp_path):
    """A 10 s job against a 5 s timeout: at 5 s both unacked messages are requeued (and, the
    consumer reconnecting at once, redelivered); the late ack of the first is discarded."""
    model = run(TIMEOUT.format(duration="7s", service="10s", prefetch=2), tmp_path, "0 0")
    q = model.queues[0]
    assert (closures(model), q.redelivered, q.acked) == (1, 2, 0)


def test_consumer_timeout_repeats_while_jobs_outlast_it(tmp_path):
    """Jobs always longer than the timeout never complete: a closure every 5 s."""
    model = run(TIMEOUT.format(duration="22s", service="10s", prefetch=2), tmp_path, "0 0")
    assert (closures(model), model.queues[0].acked) == (4, 0)


def test_consumer_timeout_does_nothing_to_jobs_that_finish_in_time(tmp_path):
    """4 s jobs under a 5 s timeout with prefetch 1: both acked, no closure."""
    model = run(TIMEOUT.format(duration="20s", service="4s", prefetch=1), tmp_path, "0 0")
    assert (closures(model), model.queues[0].acked) == (0, 2)


def test_consumer_timeout_counts_from_delivery_so_prefetched_messages_can_time_out(tmp_path):
    """With prefetch 2 the second message waits 4 s in the buffer and 4 s in work: delivered
    at 0, not acked by 5 s, so the channel closes although no job is slower than 5 s."""
    model = run(TIMEOUT.format(duration="6s", service="4s", prefetch=2), tmp_path, "0 0")
    assert (closures(model), model.queues[0].acked) == (1, 1)


POISON = """
    name: poison
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues:
      - {{name: q{limit}}}
      - {{name: dlq}}
    consumers:
      - {{name: c, queue: q, prefetch: 1, service_time: 1s, failures: {{poison: 1.0}}}}
    """


@pytest.mark.parametrize("duration", [10, 20])
def test_without_delivery_limit_a_poison_message_loops_forever(tmp_path, duration):
    """Redeliveries grow with the run: one per second of a 1 s job that always fails."""
    model = run(POISON.format(duration=f"{duration}s", limit=""), tmp_path)
    assert model.queues[0].redelivered == duration - 1


def test_with_delivery_limit_a_poison_message_is_dead_lettered(tmp_path):
    """delivery_limit 3: four deliveries, then over_limit and into the dead-letter queue."""
    model = run(
        POISON.format(duration="20s", limit=", delivery_limit: 3, dead_letter: dlq"), tmp_path
    )
    q, dlq = model.queues
    assert (q.delivered, q.over_limit, dlq.published) == (4, 1, 1)


OUTAGE = """
    name: outage
    duration: 30s
    producers:
      - {{name: p, to: q, rate: 1/s, arrivals: constant, on_unavailable: {mode}, buffer: 5}}
    queues: [{{name: q}}]
    outages: [{{at: 10.5s, for: 10s}}]
    """


def producer_books(model: Model) -> dict[str, int]:
    """The producer's books at the end of the run."""
    publisher = model.producers[0].publisher
    names = ("produced", "routed", "publish_failed", "buffered")
    return {name: getattr(publisher, name) for name in names}


def test_drop_fails_every_publish_during_an_outage(tmp_path):
    """Publishes at 1..29 s; down from 10.5 s to 20.5 s: the ten at 11..20 s fail."""
    model = run(OUTAGE.format(mode="drop"), tmp_path)
    books = {"produced": 29, "routed": 19, "publish_failed": 10, "buffered": 0}
    assert producer_books(model) == books


def test_retry_holds_up_to_the_buffer_and_fails_the_rest(tmp_path):
    """Five held (11..15 s) and published when the broker is back; five fail."""
    model = run(OUTAGE.format(mode="retry"), tmp_path)
    books = {"produced": 29, "routed": 24, "publish_failed": 5, "buffered": 0}
    assert producer_books(model) == books


def test_block_holds_the_buffer_and_pauses_the_producer(tmp_path):
    """Five held, then the producer waits; when the broker is back nothing has failed."""
    model = run(OUTAGE.format(mode="block"), tmp_path)
    books = {"produced": 29, "routed": 29, "publish_failed": 0, "buffered": 0}
    assert producer_books(model) == books


def test_messages_still_held_at_the_end_are_counted_buffered(tmp_path):
    """An outage lasting past the end leaves the held messages in the producer's buffer."""
    model = run(OUTAGE.format(mode="retry").replace("for: 10s", "for: 100s"), tmp_path)
    assert producer_books(model)["buffered"] == 5


DURABILITY = """
    name: durability
    duration: 20s
    producers:
      - {{name: p, to: q, trace: trace.csv, persistent: {persistent}}}
    queues: [{{name: q, durable: {durable}}}]
    outages: [{{at: 5s, for: 1s}}]
    """


@pytest.mark.parametrize(
    ("durable", "persistent", "lost"),
    [(True, True, 0), (True, False, 3), (False, True, 3), (False, False, 3)],
)
def test_an_outage_keeps_only_persistent_messages_in_durable_queues(
    tmp_path, durable, persistent, lost
):
    """Transient messages, and everything in a non-durable queue, are lost_in_outage."""
    text = DURABILITY.format(durable=str(durable).lower(), persistent=str(persistent).lower())
    model = run(text, tmp_path, "0 1 2")
    q = model.queues[0]
    assert (q.lost_in_outage, len(q.ready)) == (lost, 3 - lost)


def test_after_an_outage_the_new_head_expires_on_time(tmp_path):
    """A transient message (TTL 1 h) heads a durable queue, a persistent one (TTL 10 s,
    published at 1 s) waits behind it. The restart at 5 s drops the transient one; the
    persistent one, now the head, expires at 11 s (ttl.md: an expired message is removed when
    it reaches the head), not when the dropped head would have."""
    (tmp_path / "late.csv").write_text("1\n", encoding="utf-8")
    model = run(
        """
        name: outage-ttl
        duration: 20s
        producers:
          - {name: transient, to: q, trace: trace.csv, ttl: 1h, persistent: false}
          - {name: lasting, to: q, trace: late.csv, ttl: 10s, persistent: true}
        queues: [{name: q, durable: true}]
        outages: [{at: 5s, for: 1s}]
        """,
        tmp_path,
        "0",
    )
    q = model.queues[0]
    assert (q.lost_in_outage, q.expired, len(q.ready)) == (1, 1, 0)


def test_an_outage_requeues_every_consumers_unacked_deliveries(tmp_path):
    """Connections drop at 5 s: the job in progress and the prefetched one return to the
    queue and are delivered again when the consumer reconnects at 6 s."""
    model = run(
        """
        name: reconnect
        duration: 8s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 2, service_time: 10s}]
        outages: [{at: 5s, for: 1s}]
        """,
        tmp_path,
        "0 0 0",
    )
    q = model.queues[0]
    assert (q.redelivered, q.unacked, len(q.ready)) == (2, 2, 1)


def test_network_delay_applies_to_publish_delivery_and_ack(tmp_path):
    """0.1 s each way: in the broker a 1 s job takes 1.2 s from publish to ack (delivery and
    ack travel), and 1.3 s end to end from the producer's send."""
    model = run(
        """
        name: network
        duration: 10s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 1, service_time: 1s}]
        network: {latency: 100ms}
        """,
        tmp_path,
    )
    figures = replication_figures(model._results())
    queue_latency = figures["queues"]["q"]["latency_s"]["max"]
    flow_latency = figures["flows"]["p"]["latency_s"]["max"]
    assert (queue_latency, flow_latency) == (pytest.approx(1.2), pytest.approx(1.3))


def test_auto_ack_messages_in_a_crashed_replica_are_lost(tmp_path):
    """Auto-acked deliveries are gone from the broker: a crash loses them (confirms.md)."""
    model = run(
        """
        name: auto-crash
        duration: 5s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - {name: c, queue: q, ack: auto, service_time: 10s, crash: {mtbf: 1s, restart: 100s}}
        """,
        tmp_path,
        "0 0 0",
    )
    flows = replication_figures(model._results())["flows"]["p"]
    assert (model.queues[0].acked, flows["failed"]) == (3, 3)


def test_an_auto_ack_replica_draining_through_an_outage_finishes_what_it_holds():
    """Auto-acked deliveries are the process's, not the broker's: an outage while a replica
    drains requeues nothing, so the replica finishes its work and buffer and exits when idle
    (it used to exit at once, and the books lost what it held: found by property (b), whose
    example this is, names and all: they pick the random streams). A manually acking replica
    still exits at once: its deliveries were requeued."""
    from qsim.scenario import parse_scenario
    from qsim.yamlsource import YamlSource

    auto_pool = {
        "name": "c0", "queue": "q0", "replicas": 0, "ack": "auto", "service_time": "20ms",
        "scaling": {"policy": "queue_length", "target": 0.5, "min": 0, "max": 1,
                    "interval": "200ms", "sync_period": "200ms", "cooldown": "0ms",
                    "scale_down": "drain"},
    }  # fmt: skip
    amplifier = {
        "name": "c1", "queue": "q0", "replicas": 5, "prefetch": 1, "service_time": "20ms",
        "publish": [{"to": "q0", "count": 2}],
    }  # fmt: skip
    data = {
        "name": "drain-outage", "seed": 0, "duration": "5s",
        "producers": [{"name": "p0", "to": "q0", "rate": "0.1/s"}], "queues": [{"name": "q0"}],
        "consumers": [auto_pool, amplifier], "outages": [{"mtbf": "2000ms", "mttr": "100ms"}],
    }  # fmt: skip
    model = Model(parse_scenario(YamlSource("drain-outage.yaml", data)), 0)
    model.run()  # settles every pool's books; raised "auto-acked 475 != 435 ended" before
    auto = [w for w in model.consumers if w.pool is model.pools[0]]
    assert any(w.draining for w in auto)
    assert all(w.busy == 0 and not w.buffer for w in auto if w.exited)
