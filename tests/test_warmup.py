"""``warmup: auto``: MSER-5 finds the end of the initial transient; the run measures after it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import scenario_from
from rich.console import Console

from qsim.engine import simulate
from qsim.errors import QsimError, ScenarioError
from qsim.report import render_summary
from qsim.runner import run_scenario
from qsim.scenario import with_overrides
from qsim.warmup import MIN_SAMPLES, detect_warmup, mser, state_series

MU = 10.0  # service rate of the M/M/1 scenarios (exponential, mean 100 ms)


def mm1(rho: float, duration: float, replications: int, warmup: str = "auto") -> str:
    """An M/M/1 queue at utilisation ``rho`` started empty: one consumer, prefetch 1."""
    return f"""
        name: mm1
        seed: 5
        duration: {duration}s
        warmup: {warmup}
        replications: {replications}
        producers: [{{name: p, to: q, rate: {rho * MU}/s}}]
        queues: [{{name: q}}]
        consumers:
          - {{name: c, queue: q, replicas: 1, service_time: {{dist: exponential, mean: 100ms}}}}
        """


# --- MSER-5 on synthetic series ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_mser5_cuts_a_decaying_offset_where_it_has_faded_into_the_noise(seed):
    """Offset 10 exp(-t/50) over unit noise: it is below half the noise's sd from t = 150 and
    still three sds at t = 60; the cut lands between, well inside the first half."""
    t = np.arange(1000)
    series = 10 * np.exp(-t / 50) + np.random.default_rng(seed).normal(0, 1, t.size)
    cut = mser(series)
    assert 60 <= cut.index <= 250 and not cut.too_short, cut


def test_mser5_does_not_cut_a_constant_series():
    assert mser(np.full(200, 3.0)).index == 0


def test_mser5_flags_a_series_that_never_settles():
    """A backlog growing without bound (an overloaded queue) has no steady state."""
    series = np.arange(500.0) + np.random.default_rng(1).normal(0, 5, 500)
    cut = mser(series)
    assert cut.too_short and cut.index <= 250


def test_mser5_refuses_a_series_too_short_to_judge():
    with pytest.raises(ValueError, match="at least 100 observations"):
        mser(np.zeros(MIN_SAMPLES - 1))


def test_queues_no_pool_consumes_are_left_out_of_the_detection():
    """A dead-letter queue only fills: that trend is not a transient of the system."""
    zeros = np.zeros(5)
    timeseries = {"time": zeros, "q:ready": zeros, "q:unacked": zeros}
    timeseries |= {"dlq:ready": zeros, "dlq:unacked": zeros, "pool:c:replicas": zeros}
    assert sorted(state_series(timeseries, ["q"])) == ["pool c", "queue q"]


def test_the_warmup_is_the_latest_cut_over_queues_and_pools():
    time = np.arange(500.0)
    flat = np.zeros(500)
    settling = 20 * np.exp(-time / 30)
    runs = [{"time": time, "a:ready": flat, "a:unacked": flat, "b:ready": settling,
             "b:unacked": flat}]  # fmt: skip
    detected = detect_warmup(runs, ["a", "b"])
    assert (detected.series, detected.warmup_s > 0) == ("queue b", True)


# --- scenarios -----------------------------------------------------------------------------------


def test_warmup_auto_is_a_valid_scenario_value_and_durations_still_are():
    assert scenario_from(mm1(0.5, 100, 1)).auto_warmup
    assert scenario_from(mm1(0.5, 100, 1, warmup="10s")).fixed_warmup == 10.0


def test_a_warmup_that_is_neither_a_duration_nor_auto_names_both_forms():
    with pytest.raises(ScenarioError, match=r"inline.yaml:5: warmup: .*or auto"):
        scenario_from(mm1(0.5, 100, 1, warmup="soon"))


def test_warmup_auto_with_too_few_samples_is_an_error_at_the_warmup():
    text = mm1(0.5, 100, 1) + "sample_interval: 2s\n"
    with pytest.raises(ScenarioError, match=r"inline.yaml:5: warmup: auto needs at least 100"):
        scenario_from(text)


def test_shortening_an_auto_warmup_run_below_the_samples_it_needs_is_a_one_line_error():
    scenario = scenario_from(mm1(0.5, 100, 1) + "sample_interval: 0.5s\n")
    with pytest.raises(QsimError, match="needs at least 100 backlog samples, got 40"):
        run_scenario(with_overrides(scenario, duration=20.0))


def test_measuring_from_a_later_warmup_replays_the_same_run():
    """The warm-up decides what is counted, never what happens: whole-run books are equal."""
    scenario = scenario_from(mm1(0.8, 200, 1, warmup="0s"))
    early = simulate(scenario, 3)
    late = simulate(scenario.model_copy(update={"warmup": 73.0}), 3)
    assert early.queues[0].counts == late.queues[0].counts
    assert np.array_equal(early.timeseries["q:ready"], late.timeseries["q:ready"])


def widened(interval: list[float], replications: int, level: float) -> tuple[float, float]:
    """A summary's 95% Student-t interval widened to ``level``."""
    from scipy import stats

    centre, half = sum(interval) / 2, (interval[1] - interval[0]) / 2
    t95, t = (stats.t.ppf(0.5 + p / 2, replications - 1) for p in (0.95, level))
    return centre - half * t / t95, centre + half * t / t95


def test_auto_warmup_removes_the_initial_bias_of_an_mm1_queue_started_empty():
    """M/M/1 at rho 0.9 from empty: the mean wait's 99% interval holds Wq = rho / (mu - lambda),
    with the warm-up found in the first half of the run and reported as such."""
    summary = run_scenario(scenario_from(mm1(0.9, 400, 20)))
    warmup = summary["warmup"]
    assert warmup["method"] == "mser-5" and not warmup["too_short"]
    assert 0 < summary["warmup_s"] < 200
    assert warmup["per_replication_s"] == [summary["warmup_s"]] * 20
    low, high = widened(summary["ci95"]["queues"]["q"]["wait_s"]["mean"], 20, 0.99)
    assert low <= 0.9 / (MU - 0.9 * MU) <= high, (low, high)


def test_auto_warmup_works_with_streaming_and_finds_the_same_warmup():
    scenario = scenario_from(mm1(0.7, 200, 3))
    exact, streamed = run_scenario(scenario), run_scenario(scenario, stream=0.01)
    assert streamed["warmup"] == exact["warmup"]


def test_a_fixed_warmup_is_reported_as_fixed_for_every_replication():
    summary = run_scenario(scenario_from(mm1(0.5, 100, 2, warmup="10s")))
    assert (summary["warmup_s"], summary["warmup"]) == (
        10.0,
        {"method": "fixed", "per_replication_s": [10.0, 10.0]},
    )


def test_an_overloaded_queue_is_flagged_too_short_and_the_console_warns():
    """Arrivals at 1.5 times the service rate: the backlog grows, there is no steady state."""
    summary = run_scenario(scenario_from(mm1(1.5, 100, 2)))
    out = io.StringIO()
    render_summary(summary, Console(file=out, width=300))
    assert summary["warmup"]["too_short"] and "Warning: no steady state" in out.getvalue()
