"""Cost in money as specifications: what each billable quantity costs, priced from the
quantities components report (``qsim.engine.billing``), with the pure functions of
``qsim.cost``."""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any

import pytest
from conftest import run_once, scenario_from
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

import qsim.scenario.prices as registries
from qsim.cost import Tariff, bill, tariff
from qsim.engine import RunResult
from qsim.engine.billing import billed_requests
from qsim.engine.kinds import QUEUE_TYPES
from qsim.engine.results import FunctionRun
from qsim.errors import ScenarioError
from qsim.report.console import render_summary
from qsim.report.review import headline_rows
from qsim.runner import run_scenario
from qsim.scenario.prices import INVOCATION_BILLED_POLICIES, REQUEST_BILLED_QUEUE_TYPES
from qsim.summary import replication_figures

THREE_REPLICAS = """
    name: three
    duration: 70m
    warmup: 10m
    replications: 2
    producers: [{name: p, to: q, rate: 5/s}]
    queues: [{name: q}]
    consumers: [{name: c, queue: q, replicas: 3, service_time: 100ms}]
    prices: {replica_hour: 0.10}
    """


@pytest.fixture(scope="module")
def three() -> dict[str, Any]:
    return run_scenario(scenario_from(THREE_REPLICAS))


def test_three_fixed_replicas_for_an_hour_cost_three_replica_hours(three):
    """3 replicas x 3600 s of measured window = 10,800 replica-seconds = 3 replica-hours; at
    0.10 a replica-hour that is 0.30 over the hour, 0.30 per hour and 7.20 per day, with no
    spread across replications (a fixed pool costs the same in each)."""
    summary = three
    cost = summary["cost"]
    assert summary["consumers"]["c"]["replica_seconds"] == pytest.approx(10_800)
    assert cost["pools"]["c"]["replica_hours"]["quantity"] == pytest.approx(3.0)
    exactly = pytest.approx((0.3, 0.3, 7.2), rel=1e-12)  # to a float's last bits
    assert (cost["total"], cost["per_hour"], cost["per_day"]) == exactly
    assert summary["ci95"]["cost"]["per_day"] == pytest.approx([7.2, 7.2])
    assert (cost["currency"], cost["unpriced"]) == ("USD", [])


def test_the_run_table_and_the_report_show_the_cost(three):
    """``qsim run`` prints a cost table per item; ``--report`` has the cost among its headline
    figures."""
    console = Console(record=True, width=120)
    render_summary(three, console)
    text = console.export_text()
    assert "Cost (USD): over the measured 1h" in text
    row = next(line for line in text.splitlines() if "pool c" in line and "replica-hours" in line)
    assert [cell.strip() for cell in row.split("│")] == [
        "pool c", "replica-hours", "3", "0.1 per replica-hour", "0.3", "7.2",
    ]  # fmt: skip
    rows = {(where, figure): value for where, figure, value in headline_rows(three)}
    assert rows["cost (USD)", "per day"] == "7.2"


def test_without_prices_the_cost_is_null_not_zero():
    """No ``prices:`` section: the summary says so with ``cost: null``."""
    text = THREE_REPLICAS.replace("    prices: {replica_hour: 0.10}\n", "")
    scenario = scenario_from(text).model_copy(update={"duration": 60.0, "warmup": 0.0})
    assert run_scenario(scenario)["cost"] is None


TWO_POOLS = """
    name: two
    duration: 100s
    producers: [{name: p, to: q, rate: 1/s}]
    queues: [{name: q}, {name: r}]
    consumers:
      - {name: a, queue: q, replicas: 2, service_time: 10ms}
      - {name: b, queue: r, replicas: 2, service_time: 10ms, prices: {replica_hour: 36}}
    prices: {currency: EUR, replica_hour: 3.6}
    """


def test_a_pools_own_price_overrides_the_scenarios():
    """Two pools of 2 replicas for 100 s: 200 replica-seconds each; the scenario's 3.60 a
    replica-hour bills the first 0.20, the second's own 36.00 bills it 2.00."""
    scenario = scenario_from(TWO_POOLS)
    result = run_once(TWO_POOLS)
    cost = replication_figures(result, prices=tariff(scenario))["cost"]
    amounts = {name: pool["total"] for name, pool in cost["pools"].items()}
    assert amounts == pytest.approx({"a": 0.2, "b": 2.0})
    assert (cost["currency"], cost["total"]) == ("EUR", pytest.approx(2.2))


# --- the seam the lease brokers and Lambda fill ------------------------------------------------


def _with_billables(run: RunResult) -> RunResult:
    """``run`` as if its queue were billed per request and its pool were a function: the
    quantities a lease broker and a Lambda pool report."""
    queue = dataclasses.replace(
        run.queues[0], requests={"send": 1_000_000, "receive": 400_000, "receive_empty": 600_000}
    )
    bill = FunctionRun(
        memory_mb=1024, invocations=2_000_000, billed_seconds=49_000.0, init_seconds=1_000.0,
        gb_seconds=50_000.0, cold_starts=40, timeouts=0, concurrency_max=40,
    )  # fmt: skip
    pool = dataclasses.replace(run.pools[0], function=bill)
    return dataclasses.replace(run, queues=[queue], pools=[pool])


SMALL = """
    name: small
    duration: 20s
    producers: [{name: p, to: q, rate: 2/s}]
    queues: [{name: q}]
    consumers: [{name: c, queue: q, service_time: 10ms}]
    """


@pytest.fixture(scope="module")
def billable() -> RunResult:
    return _with_billables(run_once(SMALL))


def _tariff(requests: float, gb_second: float, invocations: float | None) -> Tariff:
    from qsim.cost import PoolTariff

    return Tariff("USD", {"c": PoolTariff(None, gb_second, invocations)}, requests)


def test_requests_gb_seconds_and_invocations_are_priced_per_million_and_per_gb_second(billable):
    """2 million requests at 0.40 a million = 0.80; 50,000 GB-seconds at 0.0000166667 = 0.83;
    2 million invocations at 0.20 a million = 0.40. Requests are shown by kind."""
    cost = replication_figures(billable, prices=_tariff(0.40, 0.0000166667, 0.20))["cost"]
    assert cost["queues"]["q"]["requests"]["amount"] == pytest.approx(0.80)
    assert cost["queues"]["q"]["requests"]["by_kind"]["receive_empty"] == 600_000
    assert cost["pools"]["c"]["gb_seconds"]["amount"] == pytest.approx(0.833335)
    assert cost["pools"]["c"]["invocations"]["amount"] == pytest.approx(0.40)
    assert cost["total"] == pytest.approx(0.80 + 0.833335 + 0.40)


def test_a_quantity_without_a_price_is_listed_unpriced_not_billed_as_zero(billable):
    """Invocations reported but no per_million_invocations: the line has no amount, the total
    leaves it out and ``unpriced`` names it."""
    cost = replication_figures(billable, prices=_tariff(0.40, 0.0000166667, None))["cost"]
    assert cost["unpriced"] == ["pool c: invocations"]
    assert cost["pools"]["c"]["invocations"]["amount"] is None


PRICE = st.floats(min_value=0, max_value=1e3, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(base=st.tuples(PRICE, PRICE, PRICE), a=PRICE, b=PRICE, which=st.integers(0, 2))
def test_cost_is_linear_in_each_price(billable, base, a, b, which):
    """Holding the other prices, the total at price a + b is the total at a plus the total at
    b, less the total at 0 (the others' share): each price multiplies a fixed quantity."""

    def total(price: float) -> float:
        prices = list(base)
        prices[which] = price
        return bill(billable, _tariff(*prices)).total

    assert total(a + b) == pytest.approx(total(a) + total(b) - total(0.0), rel=1e-9, abs=1e-9)


def test_sqs_bills_each_64_kib_chunk_of_a_payload_as_one_request():
    """A 256 KiB payload is 4 requests, 64 KiB + 1 byte is 2, and an empty receive is 1."""
    sizes = (256 * 1024, 64 * 1024 + 1, 64 * 1024, 0)
    assert [billed_requests(size) for size in sizes] == [4, 2, 1, 1]


EXTRA = {
    "kafka": ("partitions: 2", "max_poll_records: 10"),
    "stream": ("", "prefetch: 10"),
}
KEYED = {"sqs-fifo": "key: {uniform: 4}"}  # a FIFO queue's message groups


@pytest.mark.parametrize("queue_type", sorted(QUEUE_TYPES))
def test_a_queue_reports_requests_exactly_when_its_type_is_billed_per_request(queue_type):
    """The scenario's registry (which prices a scenario may set) and the engine's reports
    agree: a type in REQUEST_BILLED_QUEUE_TYPES reports requests, no other does; and a pool
    whose policy is not in INVOCATION_BILLED_POLICIES reports no invocations."""
    queue_extra, pool_extra = EXTRA.get(queue_type, ("", ""))
    run = run_once(f"""
        name: kinds
        duration: 10s
        producers: [{{name: p, to: q, rate: 2/s, {KEYED.get(queue_type, "")}}}]
        queues: [{{name: q, type: {queue_type}, {queue_extra}}}]
        consumers: [{{name: c, queue: q, service_time: 10ms, {pool_extra}}}]
        """)
    assert (run.queues[0].requests is not None) == (queue_type in REQUEST_BILLED_QUEUE_TYPES)
    assert run.pools[0].function is None
    assert "fixed" not in INVOCATION_BILLED_POLICIES


def test_a_variant_may_reprice_a_pool_and_the_review_names_the_cheapest_in_money(write_file):
    """A variant's own pool price replaces the scenario's (which is then allowed to price
    nothing); among variants meeting every objective the review names the cheapest per day."""
    from qsim.compare import compare, load_variants
    from qsim.report.comparison_review import _advice

    text = (
        THREE_REPLICAS.replace("duration: 70m", "duration: 20m")
        + """
    variants:
      - {name: small, overrides: {}}
      - {name: big, overrides: {consumers.c.prices: {replica_hour: 1.0}}}
    """
    )
    _, variants = load_variants(write_file("v.yaml", textwrap.dedent(text)))
    summaries = compare(variants)["variants"]
    assert summaries["small"]["cost"]["per_day"] == pytest.approx(3 * 24 * 0.10)
    assert summaries["big"]["cost"]["per_day"] == pytest.approx(3 * 24 * 1.0)
    met = {name: [{"queue": "q", "objective": "o", "verdict": "met"}] for name in summaries}
    assert list(_advice(summaries, met))[1] == (
        "The cheapest variant that meets every objective: small, at 7.2 USD per day, 90% below "
        "big (the next cheapest of the 2 that meet them)."
    )


def test_a_request_price_is_accepted_once_a_queue_type_bills_requests(monkeypatch):
    """The refusal of per_million_requests follows the registry: with the queue's type in
    REQUEST_BILLED_QUEUE_TYPES (as a lease broker's will be) the same scenario loads."""
    text = SMALL.rstrip(" ") + "    prices: {per_million_requests: 0.40}\n"
    with pytest.raises(ScenarioError, match="no queue here is billed per request"):
        scenario_from(text)
    monkeypatch.setattr(registries, "REQUEST_BILLED_QUEUE_TYPES", frozenset({"classic"}))
    assert tariff(scenario_from(text)).per_million_requests == 0.40  # type: ignore[union-attr]


def test_an_sqs_queue_bills_each_call_in_the_measured_window_and_each_64_kib_of_a_send():
    """One message a second of 100 KB (two 64 KiB chunks) for 90 measured seconds, one
    long-polling replica: 180 billed sends, 90 receives and 90 deletes, nothing empty (each
    long poll waits for the next message), no visibility change."""
    run = run_once("""
        name: requests
        duration: 100s
        warmup: 10s
        producers: [{name: p, to: q, rate: 1/s, arrivals: constant, size: 100KB}]
        queues: [{name: q, type: sqs}]
        consumers: [{name: c, queue: q, service_time: 10ms, wait: 20s}]
        """)
    assert run.queues[0].requests == {
        "send": 180, "receive": 90, "receive_empty": 0, "delete": 90, "change_visibility": 0,
    }  # fmt: skip
