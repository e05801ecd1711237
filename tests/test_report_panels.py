"""Duplicates and cost per window (``timeseries.queues.NAME.duplicates``, ``timeseries.cost``)
and their dashboard panels: each window starts at its sample and the last runs to the end of
the run, so the windows add up to the summary's totals (``redelivered``, a kafka topic's
``kafka.duplicates``, ``cost.total``) whatever the warm-up and sample interval."""

import numpy as np
import pytest
from conftest import scenario_from

from qsim.engine.simulation import per_window
from qsim.report.dashboard import dashboard
from qsim.runner import run_scenario

# Crashing replicas: each crash hands the messages its replica held back for redelivery. The
# duration (330 s) is not a multiple of the sample interval (30 s): the last window is 0-30 s
# long, and the warm-up (45 s) ends inside a window, so the first priced window is partial.
CRASHES = """\
name: crashes
seed: 5
duration: 330s
warmup: 45s
replications: 2
sample_interval: 30s
producers: [{name: p, to: q, rate: 20/s}]
queues: [{name: q}]
consumers:
  - name: c
    queue: q
    replicas: 3
    prefetch: 10
    service_time: {dist: exponential, mean: 100ms}
    crash: {mtbf: {dist: exponential, mean: 1m}, restart: {dist: uniform, low: 2s, high: 5s}}
prices: {currency: EUR, replica_hour: 0.5}
"""

# SQS jobs that outlast their 3 s visibility timeout are received again (duplicates); each
# request is billed per million, the replicas per hour.
LEASES = """\
name: leases
seed: 2
duration: 200s
warmup: 20s
sample_interval: 20s
producers: [{name: p, to: jobs, rate: 4/s}]
queues: [{name: jobs, type: sqs, lease: 3s}]
consumers:
  - {name: w, queue: jobs, replicas: 6, service_time: {dist: lognormal, mean: 1s, cv: 1.5}}
prices: {currency: USD, replica_hour: 0.04, per_million_requests: 400}
"""

# A kafka group whose members crash: the records after the last commit are processed again.
TOPIC = """\
name: topic
seed: 4
duration: 300s
warmup: 10s
sample_interval: 25s
producers: [{name: p, to: t, rate: 40/s, key: {uniform: 5000}}]
queues: [{name: t, type: kafka, partitions: 4}]
consumers:
  - {name: c, queue: t, replicas: 4, service_time: {dist: exponential, mean: 80ms},
     crash: {mtbf: 60s, restart: 2s}, session_timeout: 10s}
"""


@pytest.fixture(scope="module")
def crashes():
    return run_scenario(scenario_from(CRASHES), workers=1)


@pytest.fixture(scope="module")
def leases():
    return run_scenario(scenario_from(LEASES), workers=1)


def _panel(figure, title):
    """The traces of the dashboard panel titled ``title`` (its y axis named by its title)."""
    titles = [a for a in figure["layout"]["annotations"] if a["text"] == f"<b>{title}</b>"]
    if not titles:
        return []
    axis = titles[0]["yref"].removesuffix(" domain")
    return [t for t in figure["data"] if t["yaxis"] == axis and t.get("hoverinfo") != "skip"]


def test_a_count_per_window_starts_at_its_sample_and_the_last_runs_to_the_end():
    """Counts so far 0, 2, 2, 7 at the samples and 9 at the end: windows 2, 0, 5, 2."""
    assert per_window([0, 2, 2, 7], 9).tolist() == [2, 0, 5, 2]


def test_duplicates_per_window_add_up_to_the_runs_redeliveries(crashes):
    queue = crashes["queues"]["q"]
    series = crashes["timeseries"]["queues"]["q"]["duplicates"]
    assert queue["redelivered"] > 0
    assert len(series) == len(crashes["timeseries"]["time_s"])
    assert sum(series) == pytest.approx(queue["redelivered"], rel=1e-12)


def test_the_dashboard_draws_duplicates_and_cost_and_their_values_add_up(crashes):
    """The Duplicates panel's values add up to ``redelivered``, the Cost panel's (EUR per 30 s)
    to ``cost.total``; the windows before the warm-up cost nothing (replica-hours are billed
    over the measured window only)."""
    figure = dashboard({"": crashes}, "run")
    (duplicates,) = _panel(figure, "Duplicates")
    assert sum(duplicates["y"]) == pytest.approx(crashes["queues"]["q"]["redelivered"])
    (cost,) = _panel(figure, "Cost")
    assert sum(cost["y"]) == pytest.approx(crashes["cost"]["total"], rel=1e-9)
    assert cost["y"][0] == 0 and cost["y"][1] > 0  # the warm-up ends at 45 s, in window 1
    axis = next(a for a in figure["layout"]["annotations"] if a["text"] == "<b>Cost</b>")
    unit = figure["layout"]["yaxis" + axis["yref"].removeprefix("y").removesuffix(" domain")]
    assert unit["title"]["text"] == "EUR per 30 s"


def test_requests_and_replica_hours_are_priced_per_window_as_the_bill_prices_them(leases):
    """Receives, deletes and the visibility timeout's second receives, each billed per million,
    plus the replicas per hour: the windows add up to ``cost.total``, and the receives after a
    message's first add up to ``lease.duplicates``."""
    amounts = leases["timeseries"]["cost"]["amount"]
    assert leases["cost"]["queues"]["jobs"]["total"] > 0
    assert sum(amounts) == pytest.approx(leases["cost"]["total"], rel=1e-9)
    duplicates = leases["timeseries"]["queues"]["jobs"]["duplicates"]
    assert leases["queues"]["jobs"]["lease"]["duplicates"] > 0
    assert sum(duplicates) == pytest.approx(leases["queues"]["jobs"]["lease"]["duplicates"])


def test_a_kafka_topics_duplicates_per_window_add_up_to_its_reprocessed_records():
    summary = run_scenario(scenario_from(TOPIC), workers=1)
    total = summary["queues"]["t"]["kafka"]["duplicates"]
    assert total > 0
    assert sum(summary["timeseries"]["queues"]["t"]["duplicates"]) == pytest.approx(total)


def test_a_run_without_duplicates_or_prices_has_neither_panel():
    """No crash, no timeout, no prices: no Duplicates panel, no Cost panel, no cost series."""
    calm = CRASHES.replace("    crash:", "    #").replace("prices:", "#")
    summary = run_scenario(scenario_from(calm), workers=1)
    assert not np.any(summary["timeseries"]["queues"]["q"]["duplicates"])
    assert "cost" not in summary["timeseries"]
    figure = dashboard({"": summary}, "run")
    assert _panel(figure, "Duplicates") == [] and _panel(figure, "Cost") == []


def test_counts_per_window_are_drawn_as_steps_from_their_sample(crashes):
    """plotly.js reads ``line.shape``: "hv" holds each window's value until the next sample."""
    figure = dashboard({"": crashes}, "run")
    for title in ("Duplicates", "Cost", "Replicas"):
        assert {t["line"]["shape"] for t in _panel(figure, title)} == {"hv"}
