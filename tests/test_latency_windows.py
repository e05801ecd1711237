"""Latency percentiles per sample window (``timeseries.queues.NAME.latency_p50/p95/p99``): each
sample's window ``((i-1) step, i step]`` holds the messages that completed in it."""

import numpy as np
from conftest import run_once, scenario_from

from qsim.engine.windows import WindowSketches, window_series
from qsim.runner import run_scenario

SCENARIO = """\
name: windows
seed: 3
duration: 400s
sample_interval: 100s
producers:
  - {name: p, to: q, rate: 20/s}
queues:
  - {name: q}
consumers:
  - {name: c, queue: q, replicas: 2, service_time: {dist: exponential, mean: 0.08}}
"""


def _records(published, latency, queue=None):
    published, latency = np.asarray(published, float), np.asarray(latency, float)
    queue = np.zeros(published.size, np.uint16) if queue is None else np.asarray(queue, np.uint16)
    return {"queue": queue, "published_at": published, "latency": latency}


def test_a_message_counts_in_the_window_it_completed_in_and_empty_windows_have_no_value():
    """Step 10 s: completions at 5, 9 and 10 s fall in sample 1's window, 25 s in sample 3's;
    samples 0 and 2 have none (NaN)."""
    records = _records([1, 4, 9.5, 20], [4, 5, 0.5, 5])
    p50 = window_series(records, queues=1, step=10.0, samples=4)[0]["latency_p50"]
    assert np.isnan(p50[0]) and np.isnan(p50[2])
    assert p50[1] == np.percentile([4, 5, 0.5], 50) and p50[3] == 5


def test_each_queue_has_its_own_windows():
    """Two queues completing in the same window keep their own percentiles."""
    records = _records([0, 0, 0], [1, 2, 7], queue=[0, 1, 1])
    series = window_series(records, queues=2, step=10.0, samples=2)
    assert series[0]["latency_p99"][1] == 1
    assert series[1]["latency_p99"][1] == np.percentile([2, 7], 99)


def test_streaming_windows_agree_with_exact_ones_within_the_sketch_accuracy():
    """The same records through per-window sketches (1% relative accuracy): medians of
    windows of 2,000 messages agree with the exact ones within 1% plus one order statistic."""
    rng = np.random.default_rng(1)
    published = rng.uniform(0, 100, 10_000)
    latency = rng.exponential(0.5, 10_000)
    records = _records(published, latency)
    exact = window_series(records, 1, 20.0, 7)[0]["latency_p50"]
    sketches = WindowSketches(20.0, 0.01)
    sketches.add(records)
    streamed = sketches.series(1, 7)[0]["latency_p50"]
    full = slice(1, 6)  # window 6 holds only the few that completed after 100 s
    assert not np.isnan(exact[full]).any()
    np.testing.assert_allclose(streamed[full], exact[full], rtol=0.012)


def test_a_run_records_window_percentiles_that_pool_to_its_overall_ones():
    """A steady M/M/2 run with windows of ~2,000 messages: each window's p50 is that of its own
    messages, so the p50s of the windows straddle the run's p50 (min <= p50 <= max) and are
    ordered p50 <= p95 <= p99 in every window."""
    scenario = scenario_from(SCENARIO)
    result = run_once(SCENARIO)
    series = result.timeseries
    p50, p95, p99 = (series[f"q:latency_{p}"][1:] for p in ("p50", "p95", "p99"))
    assert np.all(p50 <= p95) and np.all(p95 <= p99)
    overall = np.percentile(result.records["latency"], 50)
    assert p50.min() <= overall <= p50.max()
    summary = run_scenario(scenario, workers=1)
    queue = summary["timeseries"]["queues"]["q"]
    assert queue["latency_p99"][0] is None
    assert len(queue["latency_p99"]) == len(summary["timeseries"]["time_s"])
