"""Reproducibility: a seed fixes every draw; replications and purposes get independent streams."""

from __future__ import annotations

import numpy as np
from conftest import scenario_from

from qsim.engine import simulate
from qsim.runner import run_scenario
from qsim.scenario import with_overrides
from qsim.streams import stream

TEXT = """
    name: determinism
    seed: 5
    duration: 300s
    replications: 2
    producers: [{name: p, to: q, rate: 20/s}, {name: r, to: q, rate: 5/s, priority: 3}]
    queues: [{name: q, max_priority: 3}]
    consumers:
      - {name: c, queue: q, replicas: 2, prefetch: 2,
         service_time: {dist: lognormal, mean: 80ms, cv: 1.5},
         failures: {nack_probability: 0.05, requeue: true}}
    """


def test_same_seed_gives_identical_summaries():
    """Two runs of the same scenario and seed agree on every figure."""
    scenario = scenario_from(TEXT)
    assert run_scenario(scenario) == run_scenario(scenario)


def test_different_seeds_give_different_results():
    """Changing the seed changes the draws."""
    scenario = scenario_from(TEXT)
    a = simulate(scenario).records["latency"]
    b = simulate(with_overrides(scenario, seed=6)).records["latency"]
    assert not np.array_equal(a, b)


def test_replications_are_independent_draws():
    """Replication 1 does not repeat replication 0."""
    scenario = scenario_from(TEXT)
    assert simulate(scenario, 0).queues[0].counts != simulate(scenario, 1).queues[0].counts


def test_a_stream_depends_only_on_seed_replication_and_its_own_name():
    """Adding other streams (say, a producer) leaves a named stream's draws unchanged."""
    first = stream(5, 0, "pool:c:service").random(3)
    stream(5, 0, "producer:new:arrivals").random(100)
    assert np.array_equal(first, stream(5, 0, "pool:c:service").random(3))


def test_adding_a_producer_leaves_other_producers_arrivals_unchanged():
    """Streams are keyed by name, so a new producer does not shift an existing one's arrivals."""
    base = scenario_from(TEXT)
    extra = scenario_from(TEXT.replace("producers: [", "producers: [{name: z, to: q, rate: 1/s}, "))

    def arrivals_of_p(scenario):
        result = simulate(scenario)
        return result.producers[[p.name for p in result.producers].index("p")].published

    assert arrivals_of_p(base) == arrivals_of_p(extra)
