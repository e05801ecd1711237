"""The age of a lease queue's oldest message over time: ``timeseries.queues.Q.lease.oldest_age_s``
(seconds at each sample instant, mean over replications), beside the run's mean and maximum in
``queues.Q.lease.oldest_age_s`` (``docs/semantics.md``, "Lease-based brokers")."""

import numpy as np
import pytest
from conftest import scenario_from

from qsim.runner import run_scenario

BUSY = """
name: busy
seed: 4
duration: 300s
warmup: 60s
replications: 2
sample_interval: 2s
producers: [{name: p, to: q, rate: 8/s}]
queues: [{name: q, type: sqs, lease: 30s}]
consumers:
  - {name: c, queue: q, replicas: 2, concurrency: 5, batch: 10, wait: 20s,
     service_time: {dist: exponential, mean: 1s}}
"""

OUTAGE = """
name: outage
duration: 260s
warmup: 20s
replications: 2
sample_interval: 1s
producers: [{name: p, to: q, rate: 5/s, arrivals: constant}]
queues: [{name: q, type: sqs, lease: 10s}]
consumers:
  - {name: c, queue: q, replicas: 10, wait: 20s, service_time: 1s}
outages: [{at: 100s, for: 60s}]
"""

STOPPED = """
name: stopped
duration: 120s
warmup: 10s
sample_interval: 5s
producers: [{name: p, to: q, rate: 3/s}]
queues: [{name: q, type: sqs}]
consumers: [{name: c, queue: q, replicas: 0, service_time: 1s}]
"""


@pytest.fixture(scope="module")
def busy():
    return run_scenario(scenario_from(BUSY), workers=1)


def test_the_series_has_one_age_per_sample_instant(busy):
    series = busy["timeseries"]["queues"]["q"]["lease"]["oldest_age_s"]
    assert len(series) == len(busy["timeseries"]["time_s"])
    assert all(age >= 0 for age in series)


def test_the_series_averages_to_the_reported_mean_oldest_age(busy):
    """The run's mean oldest age is the mean of the samples after the warm-up: the series gives
    it back (both means over the replications), and its maximum is within the run's."""
    times = np.asarray(busy["timeseries"]["time_s"])
    after = times >= busy["warmup_s"]
    series = np.asarray(busy["timeseries"]["queues"]["q"]["lease"]["oldest_age_s"])
    reported = busy["queues"]["q"]["lease"]["oldest_age_s"]
    assert reported["mean"] > 0
    assert series[after].mean() == pytest.approx(reported["mean"], rel=1e-9)
    assert series[after].max() <= reported["max"] + 1e-9


def test_the_existing_keys_stay():
    """The summary's other series and the lease block's figures are unchanged in shape."""
    summary = run_scenario(scenario_from(STOPPED), workers=1)
    entry = summary["timeseries"]["queues"]["q"]
    assert {"ready", "unacked", "ready_min", "ready_max", "publish_rate", "ack_rate"} <= set(entry)
    assert set(summary["queues"]["q"]["lease"]["oldest_age_s"]) == {"mean", "max"}


def test_with_no_consumer_the_age_grows_at_slope_one():
    """Nothing is received: the oldest message is the first one sent, so its age at every
    sample after it is the sample time minus its send time, 5 s more at each 5 s sample."""
    summary = run_scenario(scenario_from(STOPPED), workers=1)
    times = np.asarray(summary["timeseries"]["time_s"])
    ages = np.asarray(summary["timeseries"]["queues"]["q"]["lease"]["oldest_age_s"])
    grown = ages > 0
    assert grown[times >= 10].all()
    assert np.diff(ages[grown]) == pytest.approx(np.diff(times[grown]), abs=1e-9)
    assert ages[-1] == pytest.approx(times[-1] - (times[grown][0] - ages[grown][0]), abs=1e-9)


def test_during_an_outage_the_age_grows_at_slope_one_and_falls_after():
    """Ten replicas keep up with 5/s of 1 s jobs (five in flight at any time, the oldest under
    about 1 s). From the outage at 100 s to its end at 160 s nothing is deleted: the oldest
    message's age grows exactly as the clock. Then the 300 messages the producer held are sent
    at once and drained at 10/s - 5/s in 60 s, after which the age is small again."""
    summary = run_scenario(scenario_from(OUTAGE), workers=1)
    times = np.asarray(summary["timeseries"]["time_s"])
    ages = np.asarray(summary["timeseries"]["queues"]["q"]["lease"]["oldest_age_s"])
    before = (times >= 20) & (times < 100)
    assert ages[before].max() <= 1.0 + 1e-9
    down = (times > 100) & (times < 160)
    assert np.diff(ages[down]) == pytest.approx(np.diff(times[down]), abs=1e-9)
    assert ages[down][-1] > 59
    assert ages[times >= 230].max() <= 1.0 + 1e-9
