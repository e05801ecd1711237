"""Lag over time: each partition's lag in records and in seconds at every sample, in the JSON
summary (``timeseries.queues.TOPIC.kafka``) and in the report's ``lag`` plot."""

import numpy as np
import pytest
from conftest import scenario_from

from qsim.report.plots import lag_plot, style
from qsim.runner import run_scenario

HOT = """
name: hot
seed: 9
duration: 240s
warmup: 40s
replications: 2
sample_interval: 5s
producers:
  - {name: p, to: t, rate: 24/s, key: {keys: {celebrity: 0.5, user-1: 0.1, user-2: 0.1,
     user-3: 0.1, user-4: 0.1, user-5: 0.1}}}
queues: [{name: t, type: kafka, partitions: 3}]
consumers:
  - {name: c, queue: t, replicas: 3, service_time: {dist: exponential, mean: 100ms}}
"""


@pytest.fixture(scope="module")
def hot():
    """Half the records carry one key: its partition receives at least 12/s, and its one
    consumer processes 10/s (100 ms each); the summary of the run."""
    return run_scenario(scenario_from(HOT), workers=1)


def test_every_partition_has_a_lag_series_in_records_and_seconds(hot):
    """One series per partition and per unit, one value per sample instant."""
    series = hot["timeseries"]["queues"]["t"]["kafka"]
    samples = len(hot["timeseries"]["time_s"])
    assert len(series["lag"]) == len(series["lag_s"]) == 3
    assert all(len(s) == samples for s in series["lag"] + series["lag_s"])


def test_the_lag_seconds_series_averages_to_the_partitions_mean(hot):
    """The summary's ``lag_s.mean`` of a partition is the mean of its sampled ages after the
    warm-up: the series gives it back (one group reads the topic)."""
    times = np.asarray(hot["timeseries"]["time_s"])
    after = times >= hot["warmup_s"]
    for p, series in enumerate(hot["timeseries"]["queues"]["t"]["kafka"]["lag_s"]):
        mean = hot["queues"]["t"]["kafka"]["partitions"][p]["lag_s"]["mean"]
        assert np.mean(np.asarray(series)[after]) == pytest.approx(mean, rel=1e-9)


def test_the_sampled_lag_never_exceeds_the_partitions_maximum(hot):
    """Samples of a level lie within its maximum over the run (both means over replications)."""
    partitions = hot["queues"]["t"]["kafka"]["partitions"]
    times = np.asarray(hot["timeseries"]["time_s"])
    after = times >= hot["warmup_s"]
    for p, series in enumerate(hot["timeseries"]["queues"]["t"]["kafka"]["lag"]):
        assert np.max(np.asarray(series)[after]) <= partitions[p]["lag"]["max"] + 1e-9


def test_the_hot_keys_partition_falls_behind_over_time_and_the_others_do_not(hot):
    """The partition that receives most records (the hot key's) has a lag growing through the
    run, its last half above its first; every other partition ends far below it."""
    produced = [p["produced"] for p in hot["queues"]["t"]["kafka"]["partitions"]]
    busiest = int(np.argmax(produced))
    lags = [np.asarray(s) for s in hot["timeseries"]["queues"]["t"]["kafka"]["lag"]]
    half = len(lags[busiest]) // 2
    assert lags[busiest][half:].mean() > 2 * lags[busiest][:half].mean()
    assert all(lags[busiest][-1] > 10 * lags[p][-1] for p in range(3) if p != busiest)


def test_a_rabbitmq_queue_has_no_partition_series_and_no_lag_plot():
    """Nothing partitioned, nothing to draw."""
    rabbit = HOT.replace("type: kafka, partitions: 3", "type: classic").replace(
        "key: {keys: {celebrity: 0.5, user-1: 0.1, user-2: 0.1,\n     user-3: 0.1, user-4: 0.1, "
        "user-5: 0.1}}",
        "arrivals: poisson",
    )
    summary = run_scenario(scenario_from(rabbit), workers=1)
    assert "kafka" not in summary["timeseries"]["queues"]["t"]
    assert lag_plot(summary) is None


def test_the_lag_plot_has_a_panel_in_records_and_one_in_seconds_per_topic(hot):
    """Two stacked panels for the one topic, sharing the time axis."""
    with style():
        figure = lag_plot(hot)
    assert figure is not None
    assert [ax.get_ylabel() for ax in figure.axes] == ["records", "seconds"]
