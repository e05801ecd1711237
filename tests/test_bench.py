"""The benchmark suite still runs: every workload and model on a few thousand messages.

These tests keep ``make bench`` from rotting. They never assert on speed (machines are noisy and
speed is the benchmark's business, not the test suite's): they check that every planned row is
measured or says why not, that the answers are sane, and that the results are written.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT

# `benchmarks` is a folder of the repository, not an installed package
sys.path.insert(0, str(ROOT))

from benchmarks import bench
from benchmarks.measure import Job, in_subprocess
from benchmarks.models import MODELS
from benchmarks.workloads import WORKLOADS

SIZES = (1_000, 2_000)
"""Message counts of the smoke run: two, so that linearity is checked; small, so it is quick."""
RUNS = 1
"""Runs per row of the smoke run."""


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One small in-process run of the whole suite: the written JSON and Markdown."""
    folder = tmp_path_factory.mktemp("bench")
    sizes = ",".join(str(n) for n in SIZES)
    bench.main(
        ["--quick", "--in-process", "--runs", str(RUNS), "--sizes", sizes, "--results", str(folder)]
    )
    return json.loads((folder / "latest.json").read_text()), (folder / "latest.md").read_text()


def test_every_workload_size_and_model_has_a_row(quick):
    report, _ = quick
    rows = {(r["workload"], r["messages"], r["model"]) for r in report["rows"]}
    expected = {(w, n, m) for w in WORKLOADS for n in SIZES for m in MODELS}
    assert rows == expected


def test_ciw_says_it_has_no_model_of_the_food_delivery_scenario(quick):
    report, _ = quick
    reasons = {r["not_run"] for r in report["rows"] if r["workload"] == "food-delivery"}
    assert reasons == {
        "",
        "not run: Ciw has no model of this scenario (the Ciw baseline is M/M/c only)",
    }


def test_every_row_that_ran_has_speed_memory_and_a_mean_wait_for_mmc(quick):
    report, _ = quick
    ran = [r for r in report["rows"] if not r["not_run"]]
    assert all(
        r["runs"] == RUNS and r["median_msgs_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in ran
    )
    assert all(r["mean_wait_s"] > 0 for r in ran if r["exact_wait_s"] is not None)


def test_baseline_rows_carry_the_ratio_to_qsim(quick):
    report, _ = quick
    ratios = {
        r["model"]: r["qsim_time_over_model_time"] for r in report["rows"] if not r["not_run"]
    }
    assert (ratios["qsim"], ratios["simpy"] > 0, ratios["heapq"] > 0, ratios["ciw"] > 0) == (
        None, True, True, True,
    )  # fmt: skip


def test_linearity_is_checked_for_each_model_and_workload_that_ran(quick):
    report, _ = quick
    assert len(report["linearity"]) == 14  # 3 workloads x qsim, --stream, SimPy, heapq; 2 x Ciw


def test_the_markdown_table_has_a_line_per_row(quick):
    report, table = quick
    assert table.count("\n| ") >= len(report["rows"]) + len(report["linearity"])


def test_a_measurement_in_a_fresh_process_reports_its_own_peak():
    """The default path: one measurement in a subprocess, its peak RSS above its start."""
    m = in_subprocess(Job("mm1", "qsim", 2_000, 1))
    assert (m.messages, m.peak_rss_mb >= m.rss_before_run_mb > 0) == (2_000, True)


def test_the_heapq_loop_and_raw_simpy_serve_the_same_queue_alike():
    """Both baselines draw the same arrivals and service times and serve them first come,
    first served, so on M/M/8 their mean waits agree (up to the order of exact ties)."""
    from benchmarks.models import run_heapq, run_raw_simpy

    scenario = WORKLOADS["mm8"].build(20_000, 3)
    heap, simpy = run_heapq(scenario), run_raw_simpy(scenario)
    assert heap.messages == simpy.messages == 20_000
    assert heap.mean_wait_s == pytest.approx(simpy.mean_wait_s, rel=1e-9)
