"""`qsim import`: a scenario from a RabbitMQ management API, tested on a recorded answer.

``tests/data/management-api.json`` was recorded by ``python tests/import_broker.py`` from
RabbitMQ 3.10.8 running :mod:`import_broker`'s topology and traffic (constant-rate publishers,
consumers sleeping a fixed time) for 16 s, read over the last 10 s. The live version of these
checks is ``tests/test_live_import.py``.
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import import_broker as known
import pytest
from click.testing import CliRunner
from import_broker import RATE_TOLERANCE, expected_queues, queue_rate, queue_settings

from qsim.cli import main
from qsim.errors import QsimError
from qsim.importer import ManagementClient, Snapshot, import_scenario
from qsim.importer.topology import Topology, read_topology, seconds
from qsim.importer.traffic import Flow, fit_flows
from qsim.scenario import Scenario
from qsim.scenario.keys import UniformKeys
from qsim.units import parse_duration

FIXTURE = Path(__file__).parent / "data" / "management-api.json"


def recorded() -> dict[str, Any]:
    """A fresh copy of the recorded API answers."""
    raw: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return raw


def imported(raw: dict[str, Any] | None = None) -> tuple[str, Scenario]:
    """The scenario text and its validated form."""
    return import_scenario(Snapshot(raw if raw is not None else recorded()))


def test_recorded_queues_import_with_every_argument():
    """Types, length limit and overflow, TTL, dead-lettering, priorities, delivery limit and
    single active consumer all come back as declared."""
    assert queue_settings(imported()[1]) == expected_queues()


def test_recorded_exchanges_and_bindings_import_exactly():
    """The topic and fanout exchanges with every binding; built-in amq.* ones are left out."""
    scenario = imported()[1]
    got = {
        e.name: (e.type, sorted((b.queue, b.key) for b in e.bindings)) for e in scenario.exchanges
    }
    want = {name: (kind, sorted(bindings)) for name, (kind, bindings) in known.EXCHANGES.items()}
    assert got == want


@pytest.mark.parametrize(
    ("queue", "rate"), [("orders", 30.0), ("audit", 40.0), ("email", 10.0), ("sms", 10.0)]
)
def test_recorded_producers_reproduce_each_queues_publish_rate(queue, rate):
    """The imported producers, routed through the imported bindings, publish into each queue
    at the rate the publishers ran (orders 3/4 of shop's 40/s, audit all of it, email and sms
    each alerts' 10/s) within 10%."""
    assert queue_rate(imported()[1], queue) == pytest.approx(rate, rel=RATE_TOLERANCE)


def test_recorded_producers_publish_at_the_exchanges_rates():
    """One producer per exchange with traffic, at the publishers' constant rates."""
    rates = {p.to: p.rate for p in imported()[1].producers}
    want = {spec.exchange: spec.rate for spec in known.PUBLISHERS}
    assert rates.keys() == want.keys()
    for exchange, rate in want.items():
        assert rates[exchange] == pytest.approx(rate, rel=RATE_TOLERANCE)


def test_recorded_consumers_import_with_prefetch_ack_mode_and_count():
    """One pool per queue with its consumer count, prefetch and ack mode."""
    pools = {p.queue: (p.replicas, p.prefetch, p.ack) for p in imported()[1].consumers}
    want = {
        pool.queue: (pool.replicas, pool.prefetch, "auto" if pool.auto_ack else "manual")
        for pool in known.POOLS
    }
    assert pools == want


def test_a_queue_with_a_backlog_throughout_gets_service_time_from_its_ack_rate():
    """audit's one consumer was never idle (ready > 0 in every sample): the mean service time
    is 1 / ack rate, read back from the recorded ack rate."""
    raw = recorded()
    audit = next(q for q in raw["queues"] if q["name"] == "audit")
    assert min(s["sample"] for s in audit["messages_ready_details"]["samples"]) > 0
    pool = next(p for p in imported(raw)[1].consumers if p.queue == "audit")
    ack_rate = audit["message_stats"]["ack_details"]["avg_rate"]
    assert pool.service_time.mean == pytest.approx(1 / ack_rate, rel=1e-3)


def test_every_guessed_value_is_commented():
    """Service times, concurrency, routing-key shares and the duration say they are guesses."""
    text = imported()[0]
    for line in text.splitlines():
        if line.strip().startswith(("service_time:", "concurrency:", "duration:")):
            assert "# guessed" in line or "# placeholder" in line, line
    assert "routing_key: {keys:" in text and "# guessed: key shares fitted" in text


def test_the_imported_text_passes_qsim_validate(tmp_path):
    """`qsim validate` accepts what `qsim import` writes."""
    path = tmp_path / "imported.yaml"
    path.write_text(imported()[0], encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


# -- rules, on small edits of the recording -----------------------------------------------------
def _queue(raw: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(q for q in raw["queues"] if q["name"] == name)
    return found


def test_a_policy_length_limit_below_the_argument_wins():
    """maxlength/index.md: with both a policy and an argument, the lower limit applies."""
    raw = recorded()
    _queue(raw, "audit")["effective_policy_definition"] = {"max-length": 100}
    _queue(raw, "audit")["policy"] = "cap"
    text, scenario = imported(raw)
    assert queue_settings(scenario)["audit"]["max_length"] == 100
    assert "max_length: 100  # from policy cap" in text


def test_an_argument_wins_over_a_policy_dead_letter_exchange():
    """A queue's own x-dead-letter-* arguments override a policy's."""
    raw = recorded()
    _queue(raw, "orders")["effective_policy_definition"] = {
        "dead-letter-exchange": "", "dead-letter-routing-key": "audit",
    }  # fmt: skip
    assert queue_settings(imported(raw)[1])["orders"]["dead_letter"] == "orders.parked"


@pytest.mark.parametrize(("version", "limit"), [("3.10.8", -1), ("4.1.0", 20)])
def test_a_quorum_queue_without_a_delivery_limit_gets_its_versions_default(version, limit):
    """quorum-queues/index.md: no default limit before 4.0, 20 from 4.0."""
    raw = recorded()
    raw["overview"]["rabbitmq_version"] = version
    del _queue(raw, "orders")["arguments"]["x-delivery-limit"]
    assert queue_settings(imported(raw)[1])["orders"]["delivery_limit"] == limit


def test_unmodelled_arguments_and_exchange_types_are_named_not_dropped():
    """x-max-length-bytes on a classic queue and a headers exchange become `not imported`
    comments."""
    raw = recorded()
    _queue(raw, "audit")["arguments"]["x-max-length-bytes"] = 1000
    text = imported(raw)[0]
    assert "# not imported: queue 'audit': not modelled, left out: x-max-length-bytes" in text
    raw = recorded()
    raw["bindings"].append(
        {"source": "amq.headers", "destination": "email", "destination_type": "queue",
         "routing_key": "", "arguments": {}}
    )  # fmt: skip
    text = imported(raw)[0]
    assert "# not imported: exchange 'amq.headers' of type headers: not modelled" in text


def test_a_vhost_without_traffic_gets_a_placeholder_producer_and_service_times():
    """No rates at all: the scenario still validates, its producer and service times marked
    placeholder."""
    raw = recorded()
    for section in ("queues", "exchanges"):
        for entry in raw[section]:
            entry.pop("message_stats", None)
    text, scenario = imported(raw)
    assert [p.name for p in scenario.producers] == ["placeholder-publishers"]
    assert text.count("# placeholder: no acks in the window") == 3  # orders, audit, sms


def test_a_vhost_without_queues_is_one_line():
    """Nothing to import is an error, not an empty scenario."""
    raw = recorded()
    raw["queues"] = []
    with pytest.raises(QsimError, match="has no queues"):
        imported(raw)


def _direct_topology() -> Topology:
    raw = copy.deepcopy(recorded())
    raw["exchanges"].append({"name": "d", "type": "direct"})
    raw["bindings"] += [
        {"source": "d", "destination": q, "destination_type": "queue", "routing_key": k}
        for q, k in (("orders", "a"), ("audit", "b"), ("email", "a"))
    ]
    return read_topology(Snapshot(raw))


def test_key_shares_solve_the_routing_equations_exactly():
    """Direct exchange d: key a reaches orders and email, b reaches audit; 6/s into d, 4/s into
    orders and email, 2/s into audit: 4/s with key a, 2/s with b, none unrouted."""
    flows = fit_flows(_direct_topology(), {"d": 6.0}, {"orders": 4, "email": 4, "audit": 2})
    got = {flow.key: round(rate, 9) for flow, rate in flows.items()}
    assert got == {"a": 4.0, "b": 2.0, "unrouted": 0.0}
    assert Flow("d", "a") in flows


# -- bad input: one line, exit status 2 ---------------------------------------------------------
def _import(*args: str) -> Any:
    return CliRunner(env={"QSIM_AMQP_MANAGEMENT_URL": None}).invoke(main, ["import", *args])


def _one_line_error(result: Any, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.output


class _Canned(http.server.BaseHTTPRequestHandler):
    status = 401
    body = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def _serve(status: int, body: bytes) -> Iterator[str]:
    handler = type("Handler", (_Canned,), {"status": status, "body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://guest:wrong@127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refusing() -> Iterator[str]:
    """A management API that refuses the credentials (401)."""
    yield from _serve(401, b"")


@pytest.fixture
def not_json() -> Iterator[str]:
    """A web server that is not the management API."""
    yield from _serve(200, b"<html>hello</html>")


def test_wrong_credentials_are_one_line(refusing):
    """A 401 names the cause."""
    _one_line_error(_import("--amqp-management", refusing), "wrong user or password (401")


def test_a_server_that_is_not_the_api_is_one_line(not_json):
    """An answer that is not JSON says so."""
    _one_line_error(_import("--amqp-management", not_json), "not the RabbitMQ management API")


def test_an_unreachable_management_url_is_one_line():
    """Nothing listening: cannot reach, with the address and no credentials."""
    result = _import("--amqp-management", "http://guest:secret@127.0.0.1:9/")
    _one_line_error(result, "cannot reach the management API at http://127.0.0.1:9")
    assert "secret" not in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--amqp-management", "amqp://127.0.0.1:5672/"], "expected an http:// URL"),
        (["--amqp-management", "http://127.0.0.1:99999/"], "bad port"),
        (["--amqp-management", "http://127.0.0.1:9/", "--window", "0s"], "at least 1s"),
        (["--vhost", "shop"], "give --amqp-management URL"),
        (["--amqp-management", "http://127.0.0.1:9/", "--schedule", "20m"], "at most --window"),
    ],
)
def test_bad_options_are_one_line(args, text):
    """A URL that is not http(s), a bad port, a window under a second."""
    _one_line_error(_import(*args), text)


def test_client_reads_credentials_from_the_url():
    """User and password come from the URL (percent-decoded); guest/guest otherwise."""
    client = ManagementClient.from_url("http://ops:p%40ss@rabbit.example:15673/")
    assert (client.base, client.user, client.password) == (
        "http://rabbit.example:15673", "ops", "p@ss",
    )  # fmt: skip
    assert ManagementClient.from_url("http://h/").user == "guest"


def test_a_counter_that_starts_inside_the_window_is_rated_from_its_first_count():
    """Samples 0, 97, 297 five seconds apart: the exchange was not counted yet at the first, so
    its rate is (297 - 97) / 5 = 40/s, not 297 / 10."""
    raw = recorded()
    shop = next(e for e in raw["exchanges"] if e["name"] == "shop")
    samples = shop["message_stats"]["publish_in_details"]["samples"]
    stamps = sorted(s["timestamp"] for s in samples)
    samples[:] = [{"sample": n, "timestamp": t} for n, t in zip((0, 97, 297), stamps, strict=True)]
    producer = next(p for p in imported(raw)[1].producers if p.to == "shop")
    assert producer.rate == pytest.approx(40.0, rel=1e-9)


@pytest.mark.parametrize(
    ("counts", "rate"),
    [((100, 300, 300), 40.0), ((100, 100, 300), 40.0), ((100, 300, 500), 40.0), ((7, 7, 7), 0.0)],
)
def test_a_first_or_last_sample_repeating_its_neighbour_is_a_missing_report(counts, rate):
    """Counts five seconds apart: a newest (or oldest) count equal to the one beside it is a
    report the statistics had not received, so the rate is the slope where the counter moved;
    a counter that never moved is rated 0."""
    raw = recorded()
    _shop_history(raw, counts)
    producers = [p for p in imported(raw)[1].producers if p.to == "shop"]
    assert [p.rate for p in producers] == ([pytest.approx(rate, rel=1e-9)] if rate else [])


def test_an_exchange_named_like_a_queue_is_renamed_and_its_producer_follows():
    """A broker may have a queue and an exchange both called `audit`; a scenario may not: the
    exchange becomes `audit.exchange`, its producer publishes there, routing is unchanged."""
    raw = recorded()
    next(e for e in raw["exchanges"] if e["name"] == "alerts")["name"] = "audit"
    for binding in raw["bindings"]:
        if binding["source"] == "alerts":
            binding["source"] = "audit"
    text, scenario = imported(raw)
    assert {e.name for e in scenario.exchanges} == {"shop", "audit.exchange"}
    assert "audit.exchange" in {p.to for p in scenario.producers}
    assert queue_rate(scenario, "email") == pytest.approx(10.0, rel=RATE_TOLERANCE)
    assert "# renamed: broker exchange 'audit'" in text


def test_a_queue_type_qsim_lacks_is_left_out_with_a_note():
    """An MQTT QoS 0 queue (RabbitMQ 3.12+) is named in a note, its consumers dropped with it."""
    raw = recorded()
    _queue(raw, "sms")["type"] = "mqtt_qos0"
    text, scenario = imported(raw)
    assert "sms" not in {q.name for q in scenario.queues}
    assert "sms" not in {p.queue for p in scenario.consumers}
    assert "# not imported: queue 'sms' of type mqtt_qos0: not modelled, left out" in text


def test_a_consistent_hash_exchange_gets_many_keys_not_fitted_ones():
    """x-consistent-hash routes by hashing the key: its producer gets 1,000 distinct keys."""
    raw = recorded()
    next(e for e in raw["exchanges"] if e["name"] == "alerts")["type"] = "x-consistent-hash"
    for binding in raw["bindings"]:
        if binding["source"] == "alerts":
            binding["routing_key"] = "1"
    text, scenario = imported(raw)
    producer = next(p for p in scenario.producers if p.to == "alerts")
    assert isinstance(producer.routing_key, UniformKeys)
    assert producer.routing_key.uniform.keys == 1000
    assert "# guessed: 1000 distinct keys" in text


def test_an_unreadable_stream_max_age_is_named_not_dropped():
    """x-max-age '7 days' is not RabbitMQ's form (7D): a note, not a silent default."""
    raw = recorded()
    _queue(raw, "orders.parked").update(type="stream", arguments={"x-max-age": "7 days"})
    text = imported(raw)[0]
    assert "# not imported: queue 'orders.parked': x-max-age '7 days'" in text


def test_consumers_of_one_queue_with_two_prefetches_are_two_pools_sharing_its_acks():
    """Three orders consumers at prefetch 1 and one at 20: pools of 3 and 1, named apart."""
    raw = recorded()
    extra = copy.deepcopy(next(c for c in raw["consumers"] if c["queue"]["name"] == "orders"))
    raw["consumers"].append({**extra, "prefetch_count": 20})
    pools = {p.name: p.replicas for p in imported(raw)[1].consumers if p.queue == "orders"}
    assert pools == {"orders-consumers-prefetch-1": 3, "orders-consumers-prefetch-20": 1}


def test_a_stream_imports_its_retention():
    """x-max-age 7D, x-max-length-bytes and x-stream-max-segment-size-bytes (streams.md)."""
    raw = recorded()
    arguments = {
        "x-queue-type": "stream", "x-max-age": "7D", "x-max-length-bytes": 20_000_000_000,
        "x-stream-max-segment-size-bytes": 100_000_000,
    }  # fmt: skip
    _queue(raw, "orders.parked").update(type="stream", arguments=arguments)
    stream = next(q for q in imported(raw)[1].queues if q.name == "orders.parked")
    got = (stream.type, stream.max_age, stream.max_bytes, stream.segment_bytes)
    assert got == ("stream", 7 * 86400.0, 20e9, 1e8)


@pytest.mark.parametrize("value", [1e-7, 0.0421934, 9.99999, 12.3456789, 600.0, 31_536_000.0])
def test_durations_are_written_without_exponents_and_read_back(value):
    """A written duration parses back to the value to 4 significant figures (ms) or 1 ms."""
    text = seconds(value)
    assert "e" not in text.removesuffix("ms").removesuffix("s")
    assert parse_duration(text) == pytest.approx(value, rel=5e-4, abs=5e-4 if value >= 10 else 0)


def _shop_history(raw: dict[str, Any], counts: tuple[int, ...]) -> None:
    """shop's publish_in samples replaced by ``counts``, 5 s apart, oldest first."""
    details = next(e for e in raw["exchanges"] if e["name"] == "shop")["message_stats"]
    stamps = sorted(s["timestamp"] for s in details["publish_in_details"]["samples"])
    samples = [{"sample": n, "timestamp": t} for n, t in zip(counts, stamps, strict=True)]
    details["publish_in_details"]["samples"] = samples


def test_with_a_schedule_a_producer_follows_the_rate_history_over_one_window():
    """Counts 100, 300, 400 five seconds apart: 40/s, then 20/s; the run is the window (10 s)."""
    raw = recorded()
    _shop_history(raw, (100, 300, 400))
    text, scenario = import_scenario(Snapshot(raw), step=5.0)
    producer = next(p for p in scenario.producers if p.to == "shop")
    assert producer.schedule is not None
    assert [(s.at, s.rate) for s in producer.schedule] == [(0.0, 40.0), (5.0, 20.0)]
    assert scenario.duration == 10.0 and "# measured: the rate every 5s" in text


def test_a_schedule_starts_at_zero_when_the_counter_started_inside_the_window():
    """Counts 0, 100, 300: nothing counted at the start, then 40/s (steps of 10 s take both)."""
    raw = recorded()
    _shop_history(raw, (0, 100, 300))
    scenario = import_scenario(Snapshot(raw), step=10.0)[1]
    producer = next(p for p in scenario.producers if p.to == "shop")
    assert producer.schedule is not None
    assert [(s.at, s.rate) for s in producer.schedule] == [(0.0, 0.0), (5.0, 40.0)]
