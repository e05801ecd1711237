"""`qsim live` on JetStream: a scenario's jetstream queues against a real nats-server, beside the
simulation; and what the real server does, checked directly.

Server tests need ``QSIM_NATS_URL`` (``.ci/run`` starts ``nats-server -js`` and sets it); without
it they are skipped with a reason, unless ``QSIM_REQUIRE_BROKER=1`` makes that a failure. One
live run of ``tests/live/jetstream-checks.yaml`` (30 s of wall-clock time) serves the three
live-vs-simulated checks.

The live run and the simulation are paired: the same arrival times, and each message's work draw
(header ``qsim-work``) gives it the same first service time on both sides. So the counts differ
only where real timing decides: an attempt whose work ends within the live timing error ``DELTA``
of its lease lapses on one side and not the other, and two leases that lapse within ``DELTA`` of
each other may take the pool's fresh draws (for later attempts) in the other order. Each bound
below counts those events, from the paired draws or from the simulated run.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import broker_url, scenario_from

from qsim.cli import main
from qsim.errors import QsimError
from qsim.live import LiveSettings, backend_for, run_live
from qsim.live.draws import Draws
from qsim.live.jetstream.pull import Puller
from qsim.live.jetstream.session import connect, lease_of, server_address
from qsim.live.jetstream.topology import DURABLE, Lease, Names, consumer_config, declare, delete
from qsim.scenario import load_scenario

CHECKS = Path(__file__).parent / "live" / "jetstream-checks.yaml"
TIME_SCALE = 0.1
WALL_DELTA = 0.005
"""The live timing error: 5 ms of wall-clock time, the 90th percentile of a replica's late
wake-ups and acks measured on a busy 2-core machine (asyncio rounds timers up to the
millisecond; nats-server lapses a lease 1 ms after AckWait, ``ackWaitDelay`` in consumer.go)."""
DELTA = WALL_DELTA / TIME_SCALE
"""The same in scenario seconds."""
SKIP_REASON = (
    "needs a NATS server with JetStream: start `nats-server -js` and set "
    "QSIM_NATS_URL=nats://127.0.0.1:4222 (.ci/run installs, starts and uses one)"
)
T = TypeVar("T")


def _nats_url() -> str:
    return broker_url("QSIM_NATS_URL", SKIP_REASON)


@pytest.fixture(scope="module")
def nats_url() -> str:
    """The server's URL, or a skip that says how to get one."""
    return _nats_url()


@pytest.fixture(scope="module")
def checks(nats_url: str) -> dict[str, Any]:
    """One live run of the checks, with its simulation (one replication, paired with it)."""
    return run_live(load_scenario(CHECKS), LiveSettings(nats_url, TIME_SCALE))


def _lease(result: dict[str, Any], side: str, queue: str) -> dict[str, Any]:
    figures: dict[str, Any] = result[side]["queues"][queue]["lease"]
    return figures


def _first_services(queue: str, count: int) -> np.ndarray:
    """The first service times of the first ``count`` messages of ``queue`` (its only pool's
    distribution of each message's own work draw), as both sides give them."""
    scenario = load_scenario(CHECKS)
    work = Draws(scenario).work(queue)
    (pool,) = [p for p in scenario.consumers if p.queue == queue]
    quantile = pool.service_time.quantile()
    return np.array([quantile(work()) for _ in range(count)])


# -- live against simulated ------------------------------------------------------------------
def test_a_message_is_redelivered_when_its_work_outlasts_ackwait(checks):
    """AckWait 1 s, exponential work of mean 0.5 s, 4 replicas: a message is delivered again
    exactly when its first attempt outlasts AckWait, P(S > 1 s) = e^-2, 13.5%, on both sides.

    Bound: with paired work draws, the messages redelivered are those with S > T, less those
    whose lapsed lease no replica took up before the first consumer's late ack ended them (the
    simulation's lease expiries that led to no redelivery: ``lease_expiries - duplicates``).
    Live, an attempt ending within ``DELTA`` before T may also lapse: the bound is the number of
    paired draws in (T - DELTA, T] plus those untaken lapses."""
    sim, live = _lease(checks, "simulated", "lapse"), _lease(checks, "live", "lapse")
    published = checks["live"]["queues"]["lapse"]["published"]
    first = _first_services("lapse", published)
    borderline = int(((first > 1.0 - DELTA) & (first <= 1.0)).sum())
    untaken = sim["lease_expiries"] - sim["duplicates"]
    assert abs(live["redelivered"] - sim["redelivered"]) <= borderline + untaken, (
        sim["redelivered"], live["redelivered"], borderline, untaken,
    )  # fmt: skip
    p = math.exp(-2)  # and the fraction is P(S > T), within 3 binomial standard deviations
    assert abs(live["redelivered"] / published - p) <= 3 * math.sqrt(p * (1 - p) / published)


def test_maxdeliver_exhausts_the_messages_the_simulation_exhausts(checks):
    """MaxDeliver 3, AckWait 1 s, work 0.2 s or 6 s (even odds): an attempt either acks well
    within its lease or outlasts all three, so a message is exhausted when its three attempts
    are all stuck, 1/8 of the messages; JetStream sends one MAX_DELIVERIES advisory for each.

    Bound: no attempt ends near a lease boundary, so only the order in which the pool's fresh
    draws reach the second and third attempts can differ: a swap needs two leases lapsing within
    ``DELTA`` of each other, L^2 * 2 * DELTA / duration of them expected for L lapses."""
    sim, live = _lease(checks, "simulated", "exhaust"), _lease(checks, "live", "exhaust")
    lapses = sim["lease_expiries"]
    swaps = math.ceil(lapses**2 * 2 * DELTA / checks["duration_s"])
    for figure in ("exhausted", "duplicates", "deleted"):
        assert abs(live[figure] - sim[figure]) <= swaps, (figure, sim[figure], live[figure], swaps)
    published = checks["live"]["queues"]["exhaust"]["published"]
    p = 0.5**3  # the exhausted fraction, within 3 binomial standard deviations
    assert abs(live["exhausted"] / published - p) <= 3 * math.sqrt(p * (1 - p) / published)


def test_a_backlogged_pull_consumer_takes_full_batches(checks):
    """One replica pulling batches of 5 behind a backlog (a burst of 20 at the start, then load
    1.25): every receive takes a full batch on both sides but the first (the long poll wakes at
    the first message), so receives = received / 5, rounded up, or one more.

    Bound: live work runs slower by its overhead (measured from this run: mean latency less mean
    wait less the constant 1.25 s of work), so it receives fewer messages by the end, received
    x overhead / 1.25 s, up to one batch more for the receive in flight at the end; receives then
    differ by that over 5, rounded up."""
    sim, live = _lease(checks, "simulated", "batch"), _lease(checks, "live", "batch")
    figures = checks["live"]["queues"]["batch"]
    overhead = figures["latency_s"]["mean"] - figures["wait_s"]["mean"] - 1.25
    behind = math.ceil(sim["received"] * max(overhead, 0.0) / 1.25) + 5
    assert abs(live["received"] - sim["received"]) <= behind, (sim, live, behind)
    for side in (sim, live):
        assert 0 <= side["receives"] - math.ceil(side["received"] / 5) <= 1, side
    assert abs(live["receives"] - sim["receives"]) <= math.ceil(behind / 5)


def test_long_polls_on_an_idle_queue_come_back_empty_about_as_often(checks):
    """Two replicas long-polling 2 s at 0.25 messages a second: most receives are empty.

    Bound: a live long poll lasts longer than 2 s, by the server's expiry lag and by the no-wait
    pull before it (up to ``DELTA`` each; the lag measured 2 to 6 ms with 1 to 16 waiting
    pulls), so E empty polls take up to E x 2 DELTA longer, in which E x DELTA / 1 s fewer fit.
    More: a message that arrives within 2 DELTA of a poll's expiry may find it ended on one side
    and still waiting on the other, an empty receive more; of the M messages, M x 2 replicas x
    2 DELTA / 2 s are expected to. Plus one for each replica's poll cut off at the end."""
    sim, live = _lease(checks, "simulated", "poll"), _lease(checks, "live", "poll")
    empty, received = sim["empty_receives"], sim["received"]
    fewer = math.ceil(empty * 2 * DELTA / 2.0) + 2
    more = math.ceil(received * 2 * 2 * DELTA / 2.0) + 2
    assert empty - fewer <= live["empty_receives"] <= empty + more, (empty, live, fewer, more)
    assert abs(live["received"] - received) <= 1  # one published within DELTA of the end
    assert empty < 2 * checks["duration_s"] / 2.0


def test_a_live_jetstream_run_deletes_its_streams_afterwards(checks, nats_url):
    """Nothing of the run is left on the server: no stream carries its prefix."""

    async def streams() -> list[str]:
        nc = await connect(nats_url)
        try:
            return [info.config.name or "" for info in await nc.jetstream().streams_info()]
        finally:
            await nc.close()

    assert not [name for name in _run(streams()) if name.startswith(checks["prefix"])]


# -- the real server's semantics, directly ------------------------------------------------
_run = asyncio.run


async def _with_queue(url: str, lease: Lease, body: Callable[..., Awaitable[T]]) -> T:
    """Declare one queue with ``lease`` (scale 1: seconds are wall seconds), run ``body`` with
    the connection, its JetStream context, the names and a started puller, and delete the
    stream again."""
    nc = await connect(url)
    js = nc.jetstream()
    names = Names.fresh(("q",))
    try:
        await declare(js, names, {"q": lease}, 1.0)
        puller = Puller(nc, names.stream("q"), DURABLE)
        await puller.start()
        return await body(nc, js, names, puller)
    finally:
        await delete(js, names)
        await nc.close()


def test_the_servers_consumer_defaults_are_the_jetstream_preset(nats_url):
    """A consumer that sets nothing gets AckWait 30 s, MaxDeliver -1 (no limit) and
    MaxAckPending 1,000 (nats-server consumer.go setConsumerConfigDefaults): the jetstream
    preset's lease, max_receives (none) and max_in_flight."""

    async def body(nc: Any, js: Any, names: Names, _puller: Puller) -> tuple[Any, ...]:
        config = (await js.consumer_info(names.stream("q"), DURABLE)).config
        return config.ack_wait, config.max_deliver, config.max_ack_pending

    preset = lease_of(scenario_from(SMALL).queues[0])
    assert _run(_with_queue(nats_url, Lease(), body)) == (30.0, -1, 1000)
    assert (preset.lease, preset.max_receives, preset.max_in_flight) == (30.0, None, 1000)


def test_an_unacked_message_comes_back_after_ackwait_with_its_delivery_count(nats_url):
    """AckWait 0.2 s: the message comes back 0.2 s after its delivery, with num_delivered 2
    (the server adds 1 ms; the client sees both deliveries late by up to ``WALL_DELTA``, the
    redelivery by up to four times that at the 99.9th percentile)."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> tuple[float, int]:
        await js.publish(names.subject("q"), b"")
        await puller.receive(1, 1.0)
        delivered = time.time()
        (again,) = await puller.receive(1, 1.0)
        await again.ack()
        return time.time() - delivered, again.metadata.num_delivered

    after, count = _run(_with_queue(nats_url, Lease(lease=0.2), body))
    assert count == 2 and 0.2 - WALL_DELTA <= after <= 0.2 + 0.001 + 4 * WALL_DELTA, after


def test_maxdeliver_stops_redelivery_and_sends_one_advisory(nats_url):
    """MaxDeliver 2, never acked: two deliveries, then none; one MAX_DELIVERIES advisory with
    the message's stream sequence and its two deliveries. The advisory goes out when the server
    would have delivered it a third time (here: to the pull waiting for it)."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> tuple[list[int], list[Any]]:
        advisories: list[Any] = []

        async def on_advisory(msg: Any) -> None:
            advisories.append(json.loads(msg.data))

        subject = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{names.stream('q')}.{DURABLE}"
        await nc.subscribe(subject, cb=on_advisory)
        await js.publish(names.subject("q"), b"")
        counts = []
        for _ in range(3):
            counts += [m.metadata.num_delivered for m in await puller.receive(1, 0.5)]
        await asyncio.sleep(0.05)
        return counts, advisories

    counts, advisories = _run(_with_queue(nats_url, Lease(lease=0.1, max_receives=2), body))
    assert counts == [1, 2]
    assert [(a["stream_seq"], a["deliveries"]) for a in advisories] == [(1, 2)]


def test_a_late_ack_of_an_earlier_delivery_still_acks_the_message(nats_url):
    """Where JetStream differs from the model's ``unless-received-again``: the first holder
    acks after AckWait, after the message went to a second holder; the server takes the ack
    (processAckMsg looks up the stream sequence, not the delivery), so the message is done and
    is not delivered a third time though the second holder never acks."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> list[int]:
        await js.publish(names.subject("q"), b"")
        (first,) = await puller.receive(1, 1.0)
        await puller.receive(1, 1.0)  # the second holder, which never acks
        await first.ack()
        return [m.metadata.num_delivered for m in await puller.receive(1, 0.5)]

    assert _run(_with_queue(nats_url, Lease(lease=0.1), body)) == []


def test_a_held_batch_pull_waits_for_the_whole_batch_and_takes_its_own_redeliveries(nats_url):
    """Why qsim's receive is built from no-wait pulls: a real pull of 5 expiring in 0.5 s, with
    one message there and AckWait 0.1 s, is held until it expires, and the one message comes
    to it again at each lapse (deliveries 1, 2, 3 with MaxDeliver 3)."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> tuple[float, list[int]]:
        await js.publish(names.subject("q"), b"")
        started = time.time()
        msgs = await puller.request(5, expires=0.5)
        return time.time() - started, [m.metadata.num_delivered for m in msgs]

    held, counts = _run(_with_queue(nats_url, Lease(lease=0.1, max_receives=3), body))
    assert counts == [1, 2, 3] and held >= 0.5


def test_a_lapsed_message_is_delivered_before_newer_ones(nats_url):
    """Where JetStream differs from the model (which returns a lapsed message to the back): the
    server redelivers before it delivers new messages (getNextMsg serves its redelivery queue
    first)."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> list[tuple[int, int]]:
        await js.publish(names.subject("q"), b"")
        await puller.receive(1, 1.0)  # not acked: lapses after 0.1 s
        await js.publish(names.subject("q"), b"")
        await asyncio.sleep(0.2)
        msgs = await puller.receive(2, 1.0)
        for msg in msgs:
            await msg.ack()
        return [(m.metadata.sequence.stream, m.metadata.num_delivered) for m in msgs]

    assert _run(_with_queue(nats_url, Lease(lease=0.1), body)) == [(1, 2), (2, 1)]


def test_in_progress_acks_keep_a_message_from_lapsing(nats_url):
    """AckWait 0.2 s, work of 0.5 s with an in-progress ack every 0.1 s (the pool's heartbeat):
    the message is not redelivered meanwhile, and its ack ends it."""

    async def body(nc: Any, js: Any, names: Names, puller: Puller) -> list[Any]:
        await js.publish(names.subject("q"), b"")
        (msg,) = await puller.receive(1, 1.0)
        for _ in range(5):
            await asyncio.sleep(0.1)
            await msg.in_progress()
        meanwhile = await puller.receive(1, 0)
        await msg.ack()
        return meanwhile + await puller.receive(1, 0.3)

    assert _run(_with_queue(nats_url, Lease(lease=0.2), body)) == []


# -- without a server --------------------------------------------------------------------
SMALL = """
    name: small
    duration: 10s
    producers: [{name: p, to: jobs, rate: 1/s}]
    queues: [{name: jobs, type: jetstream}]
    consumers: [{name: w, queue: jobs, service_time: 1s, batch: 5, wait: 2s}]
"""


def test_queue_lease_settings_map_to_the_consumer_with_times_scaled():
    """lease -> AckWait (wall seconds), max_receives -> MaxDeliver (none: -1), max_in_flight ->
    MaxAckPending; explicit acks, a durable pull consumer."""
    config = consumer_config(Lease(lease=30.0, max_receives=4, max_in_flight=10), 0.1)
    assert (config.ack_wait, config.max_deliver, config.max_ack_pending) == (3.0, 4, 10)
    assert consumer_config(Lease(), 0.1).max_deliver == -1
    assert config.durable_name == DURABLE and config.deliver_subject is None


def test_stream_names_hold_no_dots_or_wildcards():
    """Scenario queue names become stream names JetStream accepts, and subjects of their own."""
    names = Names("qsim-live-0", ("orders.eu", "a b*"))
    assert [names.stream(q) for q in names.queues] == [
        "qsim-live-0-0-orders_eu",
        "qsim-live-0-1-a_b_",
    ]
    assert names.subject("a b*") == "qsim-live-0.1"
    assert names.queue_of_stream("qsim-live-0-0-orders_eu") == "orders.eu"


def test_a_scenario_of_jetstream_queues_runs_on_the_jetstream_backend():
    """The registry picks the broker from the queue types; RabbitMQ's stay on RabbitMQ."""
    assert backend_for(scenario_from(SMALL)).option == "--nats"
    rabbit = SMALL.replace("type: jetstream", "type: classic").replace(", batch: 5, wait: 2s", "")
    assert backend_for(scenario_from(rabbit)).option == "--amqp"


def test_a_queue_type_without_a_live_backend_is_one_line_naming_what_runs_live():
    """SQS has no live backend: the default backend's check says what qsim live replays."""
    sqs = scenario_from(SMALL.replace("type: jetstream", "type: sqs"))
    with pytest.raises(QsimError, match=r"type sqs .*and jetstream queues on a NATS server"):
        backend_for(sqs).check(sqs)


def test_a_scenario_needing_two_brokers_is_one_line():
    """A jetstream queue beside a classic one: a live run talks to one broker."""
    both = SMALL.replace(
        "queues: [{name: jobs, type: jetstream}]",
        "queues: [{name: jobs, type: jetstream}, {name: other}]",
    )
    with pytest.raises(QsimError, match="need more than one broker"):
        backend_for(scenario_from(both))


def test_a_jetstream_scenario_without_a_nats_url_is_one_line(write_file):
    """qsim live on a jetstream scenario needs --nats (or $QSIM_NATS_URL), and says so."""
    path = write_file("s.yaml", SMALL)
    result = CliRunner().invoke(main, ["live", str(path)], env={"QSIM_NATS_URL": ""})
    assert result.exit_code == 2 and "give --nats URL" in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("amqp://127.0.0.1:4222", "expected a nats:// URL"),
        ("nats://127.0.0.1:1", "cannot reach the NATS server at 127.0.0.1:1"),
    ],
)
def test_a_bad_or_unreachable_nats_server_is_one_line_and_exit_2(write_file, url, message):
    """A malformed URL or a server that does not answer: one line on stderr, status 2."""
    path = write_file("s.yaml", SMALL)
    result = CliRunner().invoke(main, ["live", str(path), "--nats", url])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_server_address_reads_host_and_port():
    """A nats:// URL without a port means 4222."""
    assert server_address("nats://127.0.0.1") == "127.0.0.1:4222"
    assert server_address("nats://example:4333") == "example:4333"


@pytest.mark.parametrize(
    ("setting", "named"),
    [("failures: {nack_probability: 0.1}", "failures"), ("max_outstanding: 20", "max_outstanding")],
)
def test_a_feature_the_jetstream_clients_cannot_play_is_refused_by_name(setting, named):
    """Failing consumers (the clients always ack) and receiving ahead (they pull when a slot
    is free) are refused before connecting."""
    text = SMALL.replace("wait: 2s}", f"wait: 2s, {setting}}}")
    with pytest.raises(QsimError, match=f"on JetStream: consumers 'w': {named}"):
        backend_for(scenario_from(text)).check(scenario_from(text))
