"""`qsim import` against a real RabbitMQ: the topology of :mod:`import_broker` in a fresh
vhost, its publishers and consumers running for 22 s once the statistics count them and audit's
backlog shows, then an import over the last 15 s.

Needs ``QSIM_AMQP_URL`` and ``QSIM_AMQP_MANAGEMENT_URL`` (``.ci/run`` starts a broker with the
management plugin, statistics every second, and sets both); without them the tests skip,
unless ``QSIM_REQUIRE_BROKER=1`` makes that a failure. One run (about 25 s of wall-clock
time) serves every check.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import import_broker as known
import pytest
from click.testing import CliRunner
from conftest import broker_url
from import_broker import RATE_TOLERANCE, expected_queues, queue_rate, queue_settings

from qsim.cli import main
from qsim.importer.snapshot import sample_spacing
from qsim.scenario import Scenario, load_scenario

WINDOW_SECONDS = 15.0
WINDOW = f"{WINDOW_SECONDS:g}s"
"""Four samples 5 s apart: each count is up to 1 s stale (collect_statistics_interval), so a
15 s slope is off by at most 1/15 of the rate."""
SPACING = sample_spacing(WINDOW_SECONDS)
"""Seconds between the samples the import asks for (5). The management API puts them on
multiples of the spacing, so the first of them falls up to 5 s before the window's start."""
RUN = WINDOW_SECONDS + SPACING + 2.0
"""Wall seconds of traffic, once the statistics count it and audit's backlog shows, before the
import: every sample it reads (up to 20 s old, and up to 1 s stale) then sees that backlog.
With 16 s, a quick start put the first sample before the backlog: no backlog throughout the
window, so the import fell back to Little's law on the unacked messages (0.30 s: the prefetch
buffer's wait included) where the consumer took 0.040 s."""
SKIP_REASON = (
    "needs a RabbitMQ with the management plugin: set QSIM_AMQP_URL and "
    "QSIM_AMQP_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672/ (.ci/run starts one)"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One import of the running topology: the scenario written, loaded, and the consumers'
    measured handling times."""
    amqp = broker_url("QSIM_AMQP_URL", SKIP_REASON)
    management = broker_url("QSIM_AMQP_MANAGEMENT_URL", SKIP_REASON)
    path = Path(tmp_path_factory.mktemp("import")) / "imported.yaml"
    with known.fresh_vhost(management) as vhost:
        parameters = known.amqp_parameters(amqp, vhost)
        known.declare(parameters)
        with known.traffic(parameters) as handled:
            known.wait_for_statistics(management, vhost)
            time.sleep(RUN)
            args = ["import", "--amqp-management", management, "--vhost", vhost]
            imported_at = time.monotonic()
            result = CliRunner().invoke(main, [*args, "--window", WINDOW])
    assert result.exit_code == 0, result.output
    path.write_text(result.output, encoding="utf-8")
    window = (imported_at - WINDOW_SECONDS, imported_at)
    return {"path": path, "scenario": load_scenario(path), "handled": handled, "window": window}


def _scenario(live: dict[str, Any]) -> Scenario:
    scenario: Scenario = live["scenario"]
    return scenario


def test_live_import_passes_qsim_validate(live):
    """`qsim validate` accepts the imported file."""
    result = CliRunner().invoke(main, ["validate", str(live["path"])])
    assert result.exit_code == 0, result.output


def test_live_queues_come_back_exactly_as_declared(live):
    """Every queue with its type and arguments."""
    assert queue_settings(_scenario(live)) == expected_queues()


def test_live_exchanges_and_bindings_come_back_exactly(live):
    """The topic and fanout exchanges with every binding, nothing more."""
    exchanges = _scenario(live).exchanges
    got = {e.name: (e.type, sorted((b.queue, b.key) for b in e.bindings)) for e in exchanges}
    want = {name: (kind, sorted(bindings)) for name, (kind, bindings) in known.EXCHANGES.items()}
    assert got == want


def test_live_consumers_come_back_with_prefetch_ack_mode_and_count(live):
    """One pool per queue: consumer count, prefetch and ack mode as the clients set them."""
    pools = {p.queue: (p.replicas, p.prefetch, p.ack) for p in _scenario(live).consumers}
    want = {
        pool.queue: (pool.replicas, pool.prefetch, "auto" if pool.auto_ack else "manual")
        for pool in known.POOLS
    }
    assert pools == want


def test_live_publish_rates_are_within_10_percent(live):
    """Each exchange's producer at the publishers' constant rate, within 10%."""
    rates = {p.to: p.rate for p in _scenario(live).producers}
    want = {spec.exchange: spec.rate for spec in known.PUBLISHERS}
    assert rates.keys() == want.keys()
    for exchange, rate in want.items():
        assert rates[exchange] == pytest.approx(rate, rel=RATE_TOLERANCE), exchange


@pytest.mark.parametrize(
    ("queue", "rate"), [("orders", 30.0), ("audit", 40.0), ("email", 10.0), ("sms", 10.0)]
)
def test_live_queue_rates_through_the_bindings_are_within_10_percent(live, queue, rate):
    """Routed through the imported bindings with the fitted key shares, the producers fill
    each queue at the rate the publishers did, within 10%."""
    assert queue_rate(_scenario(live), queue) == pytest.approx(rate, rel=RATE_TOLERANCE)


def test_live_saturated_consumer_service_time_is_within_10_percent_of_measured(live):
    """audit's one consumer always had a backlog: the import takes 1 / its ack rate as its
    mean time per message. That is the time between the acks the consumer itself sent over
    the window, within 10%, and its own receipt-to-ack time, within 10%, when it never waited
    between messages (on 2 busy cores its thread can wait for the processor)."""
    pool = next(p for p in _scenario(live).consumers if p.queue == "audit")
    handled = live["handled"]
    between_acks = 1 / handled.rate("audit", *live["window"])
    assert pool.service_time.mean == pytest.approx(between_acks, rel=RATE_TOLERANCE)
    if between_acks <= handled.mean("audit") * (1 + RATE_TOLERANCE):  # it never waited
        assert pool.service_time.mean == pytest.approx(handled.mean("audit"), rel=RATE_TOLERANCE)
