"""Streaming mode: quantile sketches keep memory flat and stay within their stated accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario_from

from qsim.engine import simulate
from qsim.engine.recorder import FLUSH_EVERY
from qsim.engine.simulation import Model
from qsim.sketch import LogSketch
from qsim.summary import replication_figures

ACCURACY = 0.01


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999])
def test_sketch_quantiles_are_within_the_relative_accuracy(q):
    """Against the exact order statistic at the same rank, on a heavy-tailed sample."""
    values = np.random.default_rng(7).lognormal(0.0, 1.5, 200_000)
    sketch = LogSketch(ACCURACY)
    sketch.add(values)
    exact = np.sort(values)[int(q * (values.size - 1))]
    assert abs(sketch.quantile(q) - exact) <= ACCURACY * exact


def test_sketch_keeps_count_mean_and_max_exact():
    """Only the percentiles are approximate."""
    values = np.random.default_rng(3).exponential(2.0, 10_000)
    sketch = LogSketch(ACCURACY)
    sketch.add(values[:4000])
    sketch.add(values[4000:])
    assert (sketch.count, sketch.mean, sketch.max) == (
        10_000,
        pytest.approx(values.mean(), rel=1e-12),
        values.max(),
    )


def test_zeros_are_counted_apart_and_answered_as_zero():
    """Waits of exactly zero (an idle consumer) make the low percentiles zero."""
    sketch = LogSketch(ACCURACY)
    sketch.add(np.array([0.0] * 60 + [1.0] * 40))
    assert (sketch.quantile(0.5), sketch.quantile(0.9)) == (0.0, pytest.approx(1.0, rel=0.01))


def test_merged_sketches_answer_like_one_sketch_of_everything():
    """Sketches of parts merge into the sketch of the whole."""
    values = np.random.default_rng(5).gamma(2.0, 1.0, 5000)
    whole, part, rest = LogSketch(), LogSketch(), LogSketch()
    whole.add(values)
    part.add(values[:1234])
    rest.add(values[1234:])
    part.merge(rest)
    assert [part.quantile(q) for q in (0.1, 0.5, 0.99)] == [
        whole.quantile(q) for q in (0.1, 0.5, 0.99)
    ]


SCENARIO = """
    name: stream
    seed: 4
    duration: 3000s
    warmup: 100s
    producers: [{name: p, to: q, rate: 50/s}]
    queues: [{name: q}]
    consumers:
      - {name: c, queue: q, replicas: 6, prefetch: 2,
         service_time: {dist: lognormal, mean: 100ms, cv: 1.5}}
    """


def test_a_streamed_run_reports_what_the_exact_run_does_within_the_accuracy():
    """Same seed: identical counts and means; percentiles within 1% (plus the tiny difference
    between numpy's interpolated percentile and the order statistic the sketch targets)."""
    scenario = scenario_from(SCENARIO)
    exact = replication_figures(simulate(scenario))["queues"]["q"]
    streamed = replication_figures(simulate(scenario, stream=ACCURACY))["queues"]["q"]
    assert streamed["acked"] == exact["acked"]
    for figure in ("latency_s", "wait_s"):
        assert streamed[figure]["mean"] == pytest.approx(exact[figure]["mean"], rel=1e-9)
        for key in ("p50", "p90", "p99", "p999"):
            assert streamed[figure][key] == pytest.approx(exact[figure][key], rel=0.011, abs=1e-6)


def test_a_streaming_recorder_moves_records_into_sketches_and_keeps_none():
    """Records move into the sketches every FLUSH_EVERY messages (so at most one batch is ever
    held) and the last partial batch at the end: memory does not grow with N."""
    scenario = scenario_from(SCENARIO)
    model = Model(scenario, 0, stream=ACCURACY)
    model.run()
    sketch = model.recorder.sketches[("latency", "queue", 0)]  # type: ignore[index]
    assert sketch.count > 2 * FLUSH_EVERY and len(model.recorder.latency) == 0
