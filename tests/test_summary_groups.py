"""Per-group figures come from one sort of the records, and equal those of a mask per group.

``qsim.summary`` splits a replication's records by queue and by producer with
:class:`qsim.stats.Groups` (one stable sort) rather than masking every record once per group.
The values of each group are the same values in the same order, so every figure must be the
same to the bit: these tests compare them with ``==`` against the mask they replace.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_once, scenario_from

from qsim.stats import (
    SMALL_GROUP,
    Groups,
    distribution_summaries,
    distribution_summary,
    quantile_grid,
)
from qsim.summary import replication_figures

SCENARIO = """
name: groups
seed: 11
duration: 10min
warmup: 1min
slo: {latency: 300ms, percentile: 99}
producers:
  - {name: a, to: q0, rate: 20/s}
  - {name: b, to: q1, rate: 5/s}
  - {name: idle, to: q1, rate: 0/s}
  - {name: c, to: q0, rate: 3/s}
queues: [{name: q0}, {name: q1}]
consumers:
  - {name: w0, queue: q0, replicas: 3, service_time: {dist: exponential, mean: 120ms}}
  - {name: w1, queue: q1, replicas: 1, service_time: {dist: gamma, mean: 150ms, cv: 0.7}}
"""


@pytest.mark.parametrize(
    "keys",
    [
        [2, 0, 1, 0, 2, 2, 5, 0],  # groups 3 and 4 have no entry, 6 and above none either
        [0] * 7,
        [],
    ],
    ids=["gaps", "one-group", "empty"],
)
def test_the_entries_of_a_group_are_those_a_mask_picks_in_their_order(keys):
    keys = np.asarray(keys, dtype=np.int16)
    groups = Groups(keys)
    for group in range(8):
        assert groups.of(group).tolist() == np.flatnonzero(keys == group).tolist()
        assert groups.size(group) == int((keys == group).sum())


LAWS = {
    "exponential": lambda rng, n: rng.exponential(1.0, n),
    "heavy-tailed": lambda rng, n: rng.lognormal(0.0, 2.0, n),
    "many-ties": lambda rng, n: np.round(rng.exponential(1.0, n), 1),
    "few-values": lambda rng, n: rng.integers(0, 5, n).astype(float),
}


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize(
    ("entries", "groups"),
    [(0, 3), (1, 1), (7, 40), (2_000, 30), (20_000, 3), (3 * SMALL_GROUP, 1)],
    ids=["none", "one-entry", "mostly-empty", "small-groups", "large-groups", "one-large"],
)
def test_grouped_summaries_are_each_groups_own_to_the_bit(law, entries, groups):
    """Every group's summary computed together equals ``distribution_summary`` of that group's
    masked values: small groups (interpolated together), large ones (their own percentile
    call), empty ones, single entries, ties."""
    rng = np.random.default_rng(entries + groups)
    keys = rng.integers(0, groups, entries).astype(np.int16)
    values = LAWS[law](rng, entries)
    together = distribution_summaries(values, Groups(keys))
    assert len(together) == (int(keys.max()) + 1 if entries else 0)
    for group, summary in enumerate(together):
        assert summary == distribution_summary(values[keys == group])


@pytest.fixture(scope="module")
def run():
    """One replication of two queues fed by four producers (one of them idle)."""
    return run_once(SCENARIO)


@pytest.fixture(scope="module")
def figures(run):
    return replication_figures(run, scenario_from(SCENARIO).slo)


def _masked(run, field, by, index, table="records"):
    columns = getattr(run, table)
    return columns[field][columns[by] == index]


def test_each_queue_has_the_figures_of_its_masked_records(run, figures):
    for index, queue in enumerate(run.queues):
        entry = figures["queues"][queue.name]
        assert entry["latency_s"] == distribution_summary(_masked(run, "latency", "queue", index))
        assert entry["wait_s"] == distribution_summary(_masked(run, "wait", "queue", index))
        grid = quantile_grid(_masked(run, "latency", "queue", index))
        assert entry["latency_quantiles_s"] == grid


def test_each_producer_has_the_figures_and_count_of_its_masked_records(run, figures):
    for index, producer in enumerate(run.producers):
        entry = figures["producers"][producer.name]
        latencies = _masked(run, "latency", "producer", index)
        assert entry["acked"] == latencies.size
        assert entry["latency_s"] == distribution_summary(latencies)
        assert entry["wait_s"] == distribution_summary(_masked(run, "wait", "producer", index))


def test_the_idle_producer_has_no_figures(figures):
    entry = figures["producers"]["idle"]
    assert entry["acked"] == 0 and set(entry["latency_s"].values()) == {None}


def test_each_producers_flows_have_the_figures_of_its_masked_flows(run, figures):
    for index, producer in enumerate(run.producers):
        flows = _masked(run, "latency", "producer", index, table="flows")
        entry = figures["flows"][producer.name]
        assert (entry["completed"], entry["latency_s"]) == (
            flows.size,
            distribution_summary(flows),
        )


def test_slo_attainment_is_the_share_of_masked_records_within_the_latency(run, figures):
    for index, queue in enumerate(run.queues):
        latencies = _masked(run, "latency", "queue", index)
        share = float((latencies <= 0.3).mean())
        assert figures["slo"][queue.name]["attainment"] == share
