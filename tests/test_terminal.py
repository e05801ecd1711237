"""Golden-style checks of terminal output: at 80 and 120 columns every headline number of a
run, a comparison and a capacity study appears whole (not cut to "342,22…", not wrapped over
two lines), read from the JSON of the same run and formatted by qsim.report.figures."""

from __future__ import annotations

import pytest
from conftest import scenario_from
from rich.console import Console

from qsim.capacity import CapacityStudy, capacity
from qsim.compare import compare
from qsim.loadscale import with_fixed_replicas
from qsim.report.capacity import render_capacity
from qsim.report.compare import render_comparison
from qsim.report.console import render_summary
from qsim.report.figures import (
    duration_text,
    duration_unit,
    figure_text,
    format_duration,
    load_text,
    number_text,
    percent_text,
)
from qsim.report.review import slo_verdicts
from qsim.runner import run_scenario
from qsim.scenario.variants import Variant
from qsim.slo import parse_slo
from qsim.summary import lookup

WIDTHS = (80, 120)
SCENARIO = """
name: terminal
seed: 11
duration: 300s
warmup: 30s
replications: 3
sample_interval: 10s
slo: {latency: 1s, percentile: 99, backlog: 40}
prices: {replica_hour: 0.5}
producers:
  - name: p
    to: orders
    schedule:
      - {at: 0s, rate: 20/s}
      - {at: 150s, rate: 45/s}
      - {at: 200s, rate: 20/s}
queues: [{name: orders}]
consumers:
  - {name: workers, queue: orders, replicas: 4, prefetch: 2,
     service_time: {dist: lognormal, mean: 100ms, cv: 0.8}}
"""
QUEUE_FIGURES = (
    (("published",), "number"), (("acked",), "number"), (("throughput_per_s",), "number"),
    (("backlog", "mean"), "number"), (("backlog", "max"), "number"),
    *((("latency_s", key), "duration") for key in ("mean", "p50", "p90", "p95", "p99", "max")),
    *((("wait_s", key), "duration") for key in ("mean", "p95", "p99")),
)  # fmt: skip


def _replaced(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


def _printed(render, result, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    render(result, console)
    return console.export_text()


def _on_one_line(text: str, name: str, value: str) -> bool:
    """Whether a line holds ``name`` and, after it, ``value`` whole (the SLO table's rows)."""
    return any(name in line and value in line.split(name, 1)[1] for line in text.splitlines())


def _assert_fits(text: str, width: int) -> None:
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text


@pytest.fixture(scope="module")
def summary():
    return run_scenario(scenario_from(SCENARIO))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_run_at_80_and_120_columns_shows_every_headline_number_whole(summary, width):
    text = _printed(render_summary, summary, width)
    _assert_fits(text, width)
    queue = summary["queues"]["orders"]
    units = {figure: duration_unit(queue[figure].values()) for figure in ("latency_s", "wait_s")}
    shown = [figure_text(summary, ("queues", "orders", *path), kind, units.get(path[0]))
             for path, kind in QUEUE_FIGURES]  # fmt: skip
    shown += [
        figure_text(summary, ("consumers", "workers", "utilization"), "percent"),
        figure_text(summary, ("consumers", "workers", "replica_seconds")),
        figure_text(summary, ("cost", "per_day")),
    ]
    missing = [number for number in shown if number not in text]
    measured = [pair for verdict in slo_verdicts(summary) for pair in verdict["measured"]]
    missing += [pair for pair in measured if not _on_one_line(text, *pair)]
    assert not missing, f"cut or wrapped at {width} columns: {missing}\n{text}"


def test_a_run_reads_utilization_as_a_percentage_and_gives_each_objective_its_verdict(summary):
    text = _printed(render_summary, summary, 120)
    assert percent_text(summary["consumers"]["workers"]["utilization"]).split(".")[0] in text
    verdicts = slo_verdicts(summary)
    assert [v["objective"] for v in verdicts] == [
        "p99 latency within 1 s",
        "backlog at most 40 ready",
    ]
    for verdict in verdicts:  # one verdict per objective, on its own row
        row = next(line for line in text.splitlines() if verdict["objective"] in line)
        assert verdict["verdict"] in row


@pytest.fixture(scope="module")
def compared():
    base = scenario_from(SCENARIO.replace("replications: 3", "replications: 2"))
    variants = [Variant(f"replicas-{n}", with_fixed_replicas(base, "workers", n))
                for n in (3, 4, 6, 8, 12)]  # fmt: skip
    return compare(variants)["variants"]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_comparison_of_five_variants_fits_with_every_cell_whole(compared, width):
    text = _printed(render_comparison, compared, width)
    _assert_fits(text, width)
    for path, kind in (
        (("queues", "orders", "latency_s", "p99"), "duration"),
        (("queues", "orders", "backlog", "max"), "number"),
        (("slo", "orders", "attainment"), "percent"),
        (("slo", "orders", "drain_time_s"), "above"),
        (("cost", "per_day"), "number"),
    ):
        unit = duration_unit(lookup(summary, path) for summary in compared.values())
        for summary in compared.values():  # one unit per row
            assert figure_text(summary, path, kind, unit) in text


def test_a_comparison_recommends_first_and_marks_best_only_among_variants_that_meet(compared):
    """The first line names the cheapest variant meeting every objective; a variant that
    misses one never carries the mark, even where its figure is the best (the fewest
    replica-seconds: 3 replicas)."""
    from qsim.report.compare import comparison_rows, marked_cells, meeting

    found = meeting(compared)
    assert found is not None
    text = _printed(render_comparison, compared, 200)
    first = text.splitlines()[0]
    if found:
        cheapest = min(found, key=lambda n: compared[n]["cost"]["per_day"])
        assert first.startswith(f"The cheapest variant that meets every objective: {cheapest}")
    else:
        assert first == "No variant meets every objective on its whole 95% interval."
    names = list(compared)
    for _, row in comparison_rows(compared):
        _, marked = marked_cells(compared, row)
        assert all(names[i] in found for i in marked)


def test_a_capacity_study_prints_its_answer_first_and_its_table_whole():
    """A short study of the same scenario at 1x and 1.5x: the first line is the answer at
    1x and at the highest load; every level's replicas, p99 and utilization appear whole at
    80 columns; the progress bar is told of each level and of the headroom search."""
    short = {"replications: 3": "replications: 2", "duration: 300s": "duration: 120s",
             "150s": "50s", "200s": "80s", "warmup: 30s": "warmup: 10s"}  # fmt: skip
    scenario = scenario_from(_replaced(SCENARIO, short))
    steps: list[str] = []  # what the progress bar counts
    study = CapacityStudy(
        scenario, "workers", [parse_slo("p99 latency < 1s")], on_step=steps.append
    )
    result = capacity(study, [1.0, 1.5])
    assert steps == ["1x", "1.5x", "headroom"]
    text = _printed(render_capacity, result, 80)
    _assert_fits(text, 80)
    first = " ".join(text.split("Headroom")[0].split())  # the answer, however it wraps
    assert first.startswith("Capacity of workers to meet p99 latency < 1s: at 1x load, ")
    assert "; at 1.5x load, " in first
    unit = duration_unit(
        level[key] for level in result["levels"]
        for key in ("latency_p99_s", "analytic_latency_p99_s")
    )  # fmt: skip
    for level in result["levels"]:
        assert f"at {load_text(level['load'])} load, {level['replicas']} replica" in first
        assert duration_text(level["latency_p99_s"], level["latency_p99_ci95"], unit) in text
        assert percent_text(level["utilization"], level["utilization_ci95"]) in text
        assert number_text(level["cost_per_day"], level["cost_per_day_ci95"]) in text
    assert text.split("Headroom")[1].startswith(f": {result['today_replicas']} replicas meet")
    theory = result["analytic"]  # its figures each whole on a line, name and unit with them
    lines = text.splitlines()
    for clause in (f"{theory['arrival_rate_per_s']:g}/s at 1x",
                   f"service mean {format_duration(theory['service_mean_s'])}",
                   f"cv {theory['service_cv']:.3g}"):  # fmt: skip
        assert any(clause in line for line in lines), clause


FLOWS = """
name: flows
seed: 5
duration: 120s
replications: 2
producers: [{name: shop, to: orders, rate: 20/s}]
queues: [{name: orders}, {name: deliveries}]
consumers:
  - {name: orders-service, queue: orders, replicas: 3, publish: [{to: deliveries}],
     service_time: {dist: exponential, mean: 100ms}}
  - {name: couriers, queue: deliveries, replicas: 3,
     service_time: {dist: exponential, mean: 100ms}}
"""


@pytest.mark.parametrize("width", (80, 100, 120))
def test_a_title_wider_than_its_laid_out_table_stays_on_one_line(width):
    """The flow table, transposed to one column, is narrower than its title: the title has a
    line of its own instead of wrapping at the table's edge ("Flows end to end (first" over
    "publish -> last ack ..."); the flow's figures appear whole, in one unit."""
    summary = run_scenario(scenario_from(FLOWS))
    text = _printed(render_summary, summary, width)
    _assert_fits(text, width)
    title = "Flows end to end (first publish -> last ack of every branch)"
    assert title in text.splitlines()
    flow = summary["flows"]["shop"]
    keys = ("mean", "p50", "p95", "p99", "max")
    unit = duration_unit(flow["latency_s"][key] for key in keys)
    for key in keys:
        assert figure_text(summary, ("flows", "shop", "latency_s", key), "duration", unit) in text
    for key in ("started", "completed"):
        assert figure_text(summary, ("flows", "shop", key)) in text
