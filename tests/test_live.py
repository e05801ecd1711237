"""`qsim live`: the scenario's clients against a real RabbitMQ, beside the simulation.

Broker tests need ``QSIM_AMQP_URL`` (``.ci/run`` starts a broker and sets it); without it they
are skipped with a reason, unless ``QSIM_REQUIRE_BROKER=1`` makes that a failure. One live run
of ``tests/live/checks.yaml`` (30 s of wall-clock time) serves the five live-vs-simulated
checks; the rest are fast unit tests of the parts that need no broker.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pika
import pika.exceptions
import pytest
from click.testing import CliRunner
from conftest import broker_url, scenario_from

from qsim.cli import main
from qsim.engine.sampler import ServiceTimes
from qsim.engine.simulation import Model
from qsim.errors import QsimError
from qsim.live import Band, LiveSettings, agreement_rows, check_supported, queue_arguments, run_live
from qsim.live.clients import SharedDraw, arrival, job_start
from qsim.live.clock import Clock
from qsim.live.session import broker_parameters
from qsim.live.tally import Tally, Window
from qsim.live.topology import Names, declare, delete
from qsim.scenario import load_scenario

CHECKS = Path(__file__).parent / "live" / "checks.yaml"
TIME_SCALE = 0.1
SKIP_REASON = (
    "needs a RabbitMQ broker: start one and set QSIM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ "
    "(.ci/run installs, starts and uses one)"
)
NAMES = Names("run.")


def _broker_url() -> str:
    return broker_url("QSIM_AMQP_URL", SKIP_REASON)


@pytest.fixture(scope="module")
def amqp_url() -> str:
    """The broker's URL, or a skip that says how to get one."""
    return _broker_url()


@pytest.fixture(scope="module")
def checks(amqp_url: str) -> dict[str, Any]:
    """One live run of the five checks, with its simulation."""
    settings = LiveSettings(amqp_url, TIME_SCALE, Band(), workers=1)
    return run_live(load_scenario(CHECKS), settings)


def _queue(result: dict[str, Any], side: str, queue: str) -> dict[str, Any]:
    figures: dict[str, Any] = result[side]["queues"][queue]
    return figures


def _fraction(figures: dict[str, Any], count: str) -> float:
    return float(figures[count]) / float(figures["published"])


# -- live against simulated ------------------------------------------------------------------
@pytest.mark.parametrize("percentile", ["mean", "p95"])
def test_mmc_with_prefetch_1_latency_matches_within_15_percent(checks, percentile):
    """M/M/5 at load 0.8, prefetch 1: mean and p95 latency agree within 15%."""
    sim = _queue(checks, "simulated", "mmc")["latency_s"][percentile]
    live = _queue(checks, "live", "mmc")["latency_s"][percentile]
    assert abs(live - sim) <= 0.15 * sim, (sim, live)


def test_large_prefetch_p99_penalty_appears_live_and_simulated(checks):
    """Heavy-tailed service (lognormal cv 3, 8 replicas, load 0.5): with prefetch 20 messages
    queue behind a long job on a busy replica while others idle, so p99 latency is well above
    prefetch 1's, on both sides. (In 40 simulated replications of this queue pair the ratio of
    the p99s had median 3.2, 5th percentile 2.1 and minimum 1.31.)"""
    for side in ("simulated", "live"):
        p99 = {q: _queue(checks, side, q)["latency_s"]["p99"] for q in ("pf1", "pf20")}
        assert p99["pf20"] > 1.3 * p99["pf1"], (side, p99)


def test_reject_publish_rejected_fraction_matches_within_3_points(checks):
    """A full queue (max_length 5, reject-publish) nacks publishes: same fraction refused."""
    sim = _fraction(_queue(checks, "simulated", "full"), "rejected")
    live = _fraction(_queue(checks, "live", "full"), "rejected")
    assert sim > 0.1 and abs(live - sim) <= 0.03, (sim, live)


def test_ttl_expired_fraction_matches_within_3_points_and_all_reach_the_dead_letter_queue(checks):
    """Message TTL 3 s with dead-lettering: same fraction expires, and each one is
    dead-lettered (counted from the x-death headers in the dead-letter queue)."""
    sim_ttl, live_ttl = _queue(checks, "simulated", "ttl"), _queue(checks, "live", "ttl")
    sim, live = _fraction(sim_ttl, "expired"), _fraction(live_ttl, "expired")
    assert sim > 0.1 and abs(live - sim) <= 0.03, (sim, live)
    assert live_ttl["dead_lettered"] == live_ttl["expired"]


def test_consumer_crash_redelivers_exactly_what_the_crashed_consumer_held(checks):
    """A replica with prefetch 5 on a backlogged queue crashes three times: the broker
    redelivers exactly the messages it held unacked, five a crash, as simulated."""
    live_pool = checks["live"]["consumers"]["crashy-worker"]
    sim_pool = checks["simulated"]["consumers"]["crashy-worker"]
    redelivered = _queue(checks, "live", "crashy")["redelivered"]
    assert live_pool["crashes"] == sim_pool["crashes"] == 3
    assert redelivered == live_pool["unacked_at_crash"] == 5 * 3
    assert redelivered == _queue(checks, "simulated", "crashy")["redelivered"]


def test_live_run_deletes_its_queues_afterwards(checks, amqp_url):
    """Nothing of the run is left on the broker: its queues no longer exist."""
    connection = pika.BlockingConnection(broker_parameters(amqp_url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            connection.channel().queue_declare(checks["prefix"] + "mmc", passive=True)
    finally:
        connection.close()


def test_queue_arguments_are_what_the_broker_declares(amqp_url):
    """Every mapped argument is accepted by the broker (a quorum queue with a delivery limit
    included); re-declaring without them is refused as inequivalent, so they took effect."""
    scenario = scenario_from(ALL_ARGUMENTS)
    names = Names.fresh()
    connection = pika.BlockingConnection(broker_parameters(amqp_url))
    try:
        declare(connection.channel(), scenario, names, TIME_SCALE)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
            connection.channel().queue_declare(names("capped"), durable=True)
    finally:
        delete(connection.channel(), scenario, names)
        connection.close()


HASHED = """
    name: hashed
    duration: 10s
    producers: [{name: p, to: orders, rate: 1/s, routing_key: {uniform: {keys: 600, prefix: o.}}}]
    exchanges:
      - name: orders
        type: x-consistent-hash
        bindings: [{queue: q1, key: 1}, {queue: q2, key: 2}, {queue: q3, key: 3}]
    queues: [{name: q1}, {name: q2}, {name: q3}]
"""


def _held_after_publishing(
    amqp_url: str, text: str, exchange: str, keys: list[str]
) -> Counter[str]:
    """Declare scenario ``text`` on the broker, publish one message per key to ``exchange``
    with confirms, and count the messages each queue holds; delete it all again. Skipped
    (failed with ``QSIM_REQUIRE_BROKER=1``) when the broker lacks an exchange type."""
    scenario, names = scenario_from(text), Names.fresh()
    connection = pika.BlockingConnection(broker_parameters(amqp_url))
    try:
        channel = connection.channel()
        try:
            declare(channel, scenario, names, TIME_SCALE)
        except QsimError as exc:  # a plugin is off: the message says how to turn it on
            if os.environ.get("QSIM_REQUIRE_BROKER") == "1":
                pytest.fail(str(exc))
            pytest.skip(str(exc))
        channel.confirm_delivery()
        for key in keys:
            channel.basic_publish(names(exchange), key, b"")
        return Counter(
            {
                q.name: channel.queue_declare(names(q.name), passive=True).method.message_count
                for q in scenario.queues
            }
        )
    finally:
        if not connection.is_open:
            connection = pika.BlockingConnection(broker_parameters(amqp_url))
        delete(connection.channel(), scenario, names)
        connection.close()


def test_the_consistent_hash_exchange_routes_every_key_where_qsim_does(amqp_url):
    """600 keys through a real x-consistent-hash exchange with weights 1, 2 and 3: each queue
    holds exactly the keys the simulated exchange sends it (phash2 and the jump hash reproduced):
    84, 198 and 318, not 100, 200 and 300."""
    keys = [f"o.{i}" for i in range(600)]
    exchange = Model(scenario_from(HASHED), 0).targets["orders"]
    simulated = Counter(queue.name for key in keys for queue in exchange.route(key))
    held = _held_after_publishing(amqp_url, HASHED, "orders", keys)
    assert (held, simulated) == ({"q1": 84, "q2": 198, "q3": 318},) * 2


# -- without a broker ------------------------------------------------------------------------
ALL_ARGUMENTS = """
    name: arguments
    duration: 10s
    producers: [{name: p, to: events, rate: 1/s, routing_key: a}]
    exchanges: [{name: events, type: topic, bindings: [{queue: capped, key: "a.#"}]}]
    queues:
      - {name: capped, max_length: 10, overflow: reject-publish-dlx, message_ttl: 2s,
         dead_letter: dead, max_priority: 5}
      - {name: limited, delivery_limit: 3, max_length: 4, overflow: reject-publish}
      - {name: dead}
"""


def test_a_live_job_starts_when_replica_and_message_were_both_there_not_when_handed_over():
    """The hand-over delay (or a stall) is not charged to the job; the job never starts
    before its message arrived or its replica was free, nor after it had the delivery."""
    assert job_start(in_hand=10.3, free_at=10.0, arrived=4.0) == 10.0  # queued: replica frees
    assert job_start(in_hand=12.1, free_at=5.0, arrived=12.0) == 12.0  # idle replica: arrival
    assert job_start(in_hand=7.0, free_at=8.0, arrived=9.0) == 7.0  # never after in hand
    assert arrival({"qsim-at": b"12.5"}) == 12.5
    assert arrival({}) is None


def test_queue_settings_map_to_broker_arguments_with_times_scaled():
    """Length, overflow, TTL (ms of wall time), dead-letter target and priorities map to x-args;
    every queue says its type (a delivery limit makes a quorum queue)."""
    capped, limited, dead = scenario_from(ALL_ARGUMENTS).queues
    assert queue_arguments(capped, NAMES, 0.1) == {
        "x-max-length": 10,
        "x-overflow": "reject-publish-dlx",
        "x-message-ttl": 200,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "run.dead",
        "x-max-priority": 5,
        "x-queue-type": "classic",
    }
    assert queue_arguments(limited, NAMES, 0.1) == {
        "x-max-length": 4,
        "x-overflow": "reject-publish",
        "x-queue-type": "quorum",
        "x-delivery-limit": 3,
    }
    assert queue_arguments(dead, NAMES, 0.1) == {"x-queue-type": "classic"}


UNSUPPORTED = {
    "outages": "outages: [{at: 5s, for: 1s}]",
    "autoscaling": "consumers: [{name: c, queue: q, service_time: 1s, scaling: "
    "{policy: queue_length, target: 5}}]",
    "concurrency above 1": "consumers: [{name: c, queue: q, service_time: 1s, concurrency: 2}]",
    "type stream": "queues: [{name: q, type: stream}]",
    "warmup: auto": "warmup: auto\nsample_interval: 0.1s",
    "retry": "consumers: [{name: c, queue: q, service_time: 1s, retry: {max_attempts: 2}}]",
    "failures.windows": "consumers: [{name: c, queue: q, service_time: 1s, "
    "failures: {windows: [{from: 1s, to: 2s, fail: 1}]}}]",
    "delayed_retry": "queues: [{name: q, type: quorum, delayed_retry: {type: all, min: 1s}}]",
}


def test_live_consumers_take_the_service_time_of_each_messages_work_as_simulated():
    """Live replicas use the simulation's own service times: a first delivery carries its queue's
    work draw (header qsim-work) and takes the time the simulation gives it; a redelivery (no
    work) draws afresh from the pool's stream, as a simulated redelivery does."""
    scenario = scenario_from(
        """
        name: s
        duration: 10s
        producers: [{name: p, to: q, rate: 1/s}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, service_time: {dist: gamma, mean: 1s, cv: 2}}]
        """
    )
    dist = scenario.consumers[0].service_time
    service = ServiceTimes(dist, SharedDraw(dist, np.random.default_rng(1)))
    assert service.draw(0.25) == dist.quantile()(0.25)
    assert service.draw(None) == dist.sample(np.random.default_rng(1), 4096)[0]


@pytest.mark.parametrize("feature", UNSUPPORTED)
def test_a_feature_that_cannot_run_live_is_refused_by_name(feature):
    """Autoscaling, outages and the like are refused up front, naming the feature."""
    base = {"queues": "queues: [{name: q}]", "outages": "", "consumers": "", "warmup": ""}
    key = UNSUPPORTED[feature].split(":")[0]
    parts = {**base, key: UNSUPPORTED[feature]}
    text = "name: s\nduration: 10s\nproducers: [{name: p, to: q, rate: 1/s}]\n" + "\n".join(
        part for part in parts.values() if part
    )
    with pytest.raises(QsimError, match=feature):
        check_supported(scenario_from(text))


def test_a_quorum_queue_with_message_priorities_is_refused_live():
    """RabbitMQ 3.10's quorum queues have no priorities (4.3's have 32 levels)."""
    text = """
        name: s
        duration: 10s
        producers: [{name: p, to: q, rate: 1/s, priority: 5}]
        queues: [{name: q, type: quorum}]
        """
    with pytest.raises(QsimError, match="has none"):
        check_supported(scenario_from(text))


class _NoPlugin:
    """A pika channel on a broker without the consistent-hash plugin."""

    def queue_declare(self, *args: Any, **kwargs: Any) -> None:
        pass

    def exchange_declare(self, *args: Any, **kwargs: Any) -> None:
        text = "COMMAND_INVALID - unknown exchange type 'x-consistent-hash'"
        raise pika.exceptions.ConnectionClosedByBroker(503, text)


def test_an_exchange_type_the_broker_lacks_is_one_line_naming_the_plugin():
    """A broker without the plugin closes the connection (503); qsim says what to enable."""
    with pytest.raises(QsimError) as caught:
        declare(_NoPlugin(), scenario_from(HASHED), NAMES, TIME_SCALE)
    assert str(caught.value) == (
        "qsim live cannot run 'hashed': the broker has no exchange type 'x-consistent-hash' "
        "(exchanges 'orders'); enable its plugin: "
        "rabbitmq-plugins enable rabbitmq_consistent_hash_exchange"
    )


def _figures(**queue: Any) -> dict[str, Any]:
    return {"queues": {"q": queue}}


def test_agreement_is_relative_for_times_and_in_points_for_fractions():
    """A latency 10% off agrees in a 15% band, 20% off does not; a rejected fraction 2 points
    off agrees in a 3-point band, 4 points off does not; figures one side lacks are left out."""
    sim = _figures(latency_s={"mean": 1.0}, published=100, rejected=20)
    near = _figures(latency_s={"mean": 1.1}, published=100, rejected=22)
    far = _figures(latency_s={"mean": 1.2}, published=100, rejected=24)
    rows = {row.figure: row for row in agreement_rows(sim, near, Band())}
    assert set(rows) == {"latency mean", "rejected"}
    assert rows["latency mean"].agrees and rows["rejected"].agrees
    assert rows["rejected"].difference == pytest.approx(0.02)
    assert not any(row.agrees for row in agreement_rows(sim, far, Band()))


def test_with_replications_a_live_figure_inside_one_runs_range_agrees():
    """Latency 1.5 against a mean of 1.0 over 3 replications with interval [0.9, 1.1]: one run
    scatters by 0.1 x sqrt(4) = 0.2, so 1.5 is outside; with [0.7, 1.3] by 0.3 x 2 = 0.6: inside."""
    live = _figures(latency_s={"mean": 1.5})

    def simulated(interval: list[float]) -> dict[str, Any]:
        summary = _figures(latency_s={"mean": 1.0})
        return {
            **summary,
            "replications": 3,
            "ci95": {"queues": {"q": {"latency_s": {"mean": interval}}}},
        }

    (narrow,) = agreement_rows(simulated([0.9, 1.1]), live)
    (wide,) = agreement_rows(simulated([0.7, 1.3]), live)
    assert narrow.one_run == pytest.approx((0.8, 1.2)) and not narrow.agrees
    assert wide.one_run == pytest.approx((0.4, 1.6)) and wide.agrees


def test_small_backlogs_agree_within_one_message():
    """A backlog of 0.4 against 0.2 messages is 100% off but within the absolute band."""
    rows = agreement_rows(_figures(backlog={"mean": 0.2}), _figures(backlog={"mean": 0.4}))
    assert [row.agrees for row in rows] == [True]


def test_live_records_become_scenario_seconds_and_respect_the_warm_up():
    """At time scale 0.1, 0.4 s of wall-clock latency is 4 scenario seconds; a message published
    before the warm-up is left out of latency but its ack counts toward throughput."""
    scenario = scenario_from(
        "name: s\nduration: 10s\nproducers: [{name: p, to: q, rate: 1/s}]\nqueues: [{name: q}]"
    )
    tally = Tally(Clock(0.1, start=1000.0))
    tally.completed("q", published=1000.1, started=1000.2, ended=1000.5)  # scenario 1 s, 2 s, 5 s
    tally.completed("q", published=1000.3, started=1000.3, ended=1000.6)  # published at 3 s
    figures = tally.figures(scenario, Window(start=2.0, end=10.0))["queues"]["q"]
    assert figures["latency_s"]["mean"] == pytest.approx(3.0)
    assert figures["wait_s"]["mean"] == pytest.approx(0.0)
    assert figures["throughput_per_s"] == pytest.approx(2 / 8)


def _live(*args: str) -> Any:
    return CliRunner().invoke(main, ["live", str(CHECKS), *args])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:5672/", "expected an amqp:// URL"),
        ("amqp://guest:guest@127.0.0.1:1/", "cannot reach the broker at 127.0.0.1:1"),
    ],
)
def test_a_bad_or_unreachable_broker_is_one_line_and_exit_2(url, message):
    """A malformed URL or a broker that does not answer: one line on stderr, status 2."""
    result = _live("--amqp", url)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_port_that_accepts_but_does_not_speak_amqp_is_one_line_within_seconds():
    """A silent TCP server (or HTTP, or NATS) on the AMQP port: 'not an AMQP broker', exit 2,
    after the 5 s handshake timeout rather than pika's 15 s and a traceback."""
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        result = _live("--amqp", f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}/")
    assert result.exit_code == 2 and time.monotonic() - started < 10
    assert result.stderr.startswith("qsim: not an AMQP broker at 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ("{name: " + "q" * 300 + "}", "a name of 300 bytes (AMQP names are short strings"),
        ("{name: t, type: kafka, partitions: 2}", "type kafka (qsim live replays RabbitMQ's"),
    ],
)
def test_a_queue_the_broker_cannot_declare_is_refused_before_connecting(write_file, queue, message):
    """Names over 255 bytes with the run's prefix, and queue types RabbitMQ lacks: one line."""
    name = queue.split("name: ")[1].split(",")[0].rstrip("}")
    path = write_file(
        "long.yaml",
        f"""
        name: long
        duration: 10s
        producers: [{{name: p, to: {name}, rate: 1/s}}]
        queues: [{queue}]
        """,
    )
    result = CliRunner().invoke(main, ["live", str(path), "--amqp", "amqp://g:g@127.0.0.1:1/"])
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unsupported_scenario_is_refused_before_connecting(write_file):
    """The feature check comes first: no broker is needed to learn the scenario cannot run."""
    path = write_file(
        "s.yaml",
        """
        name: s
        duration: 10s
        producers: [{name: p, to: q, rate: 1/s}]
        queues: [{name: q}]
        outages: [{at: 5s, for: 1s}]
        """,
    )
    result = CliRunner().invoke(main, ["live", str(path), "--amqp", "amqp://127.0.0.1:1/"])
    assert result.exit_code == 2 and "outages" in result.stderr


def test_without_a_broker_url_live_says_which_option_in_one_line(monkeypatch):
    """No --amqp and no QSIM_AMQP_URL: one line naming both, exit 2."""
    monkeypatch.delenv("QSIM_AMQP_URL", raising=False)
    result = CliRunner().invoke(main, ["live", str(CHECKS)])
    assert result.exit_code == 2
    assert result.stderr == (
        "qsim: live: 'live-checks' runs on RabbitMQ: give --amqp URL (or $QSIM_AMQP_URL)\n"
    )
