"""``--precision``: replications in batches until every headline figure's 95% half-width is
within the target, up to a maximum; the result equals a fixed run of as many replications."""

from __future__ import annotations

import functools
import io
import json

import pytest
from click.testing import CliRunner
from conftest import scenario_from
from rich.console import Console

from qsim.cli import main
from qsim.errors import QsimError
from qsim.precision import MIN_START, Precision, assess, next_batch, parse_precision
from qsim.progress import replication_progress
from qsim.runner import replicate, run_scenario
from qsim.scenario import with_overrides

MM1 = """
    name: mm1
    seed: 2
    duration: 200s
    warmup: 20s
    producers: [{name: p, to: q, rate: 5/s}]
    queues: [{name: q}]
    consumers:
      - {name: c, queue: q, replicas: 1, service_time: {dist: exponential, mean: 100ms}}
    """
"""M/M/1 at rho 0.5: about 1,000 messages a replication."""


@functools.cache
def precise(target: float, max_replications: int = 200) -> dict:
    """The summary of the M/M/1 scenario run to ``target``."""
    return run_scenario(scenario_from(MM1), precision=Precision(target, max_replications))


def figures_of(replications: int) -> list[dict]:
    """The per-replication figures of replications 0..n-1, run one by one."""
    scenario = scenario_from(MM1)
    return [replicate(scenario, r).figures for r in range(replications)]


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("5%", 0.05), ("0.05", 0.05), (" 2.5 %", 0.025), ("50%", 0.5)]
)
def test_precision_is_a_percentage_or_a_fraction(text, expected):
    assert parse_precision(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["0", "0%", "100%", "1", "150%", "-5%", "nan", "five", "%", ""])
def test_a_precision_outside_zero_to_a_hundred_percent_is_an_error(text):
    with pytest.raises(QsimError, match="precision: expected"):
        parse_precision(text)


def test_run_with_a_bad_precision_is_a_usage_error_with_status_2(tmp_path):
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1, encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(path), "--precision", "lots"])
    assert result.exit_code == 2
    assert "Invalid value for '--precision': expected a percentage such as 5%" in result.stderr


def test_max_replications_without_precision_is_a_one_line_error(tmp_path):
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1, encoding="utf-8")
    result = CliRunner().invoke(main, ["compare", str(path), str(path), "--max-replications", "5"])
    assert (result.exit_code, result.stderr) == (2, "qsim: --max-replications needs --precision\n")


def test_run_precision_on_the_command_line_reaches_the_json_summary(tmp_path):
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1, encoding="utf-8")
    args = ["run", str(path), "--precision", "10%", "--workers", "1", "--json", "-"]
    result = CliRunner().invoke(main, args)
    precision = json.loads(result.stdout)["precision"]
    assert (precision["target"], precision["reached"]) == (0.1, True)


# --- stopping ------------------------------------------------------------------------------------


def test_every_headline_figure_is_within_the_target_when_the_run_stops():
    summary = precise(0.05)
    figures = summary["precision"]["figures"]
    assert summary["precision"]["reached"] and set(figures) == {
        "queues.q.latency_s.mean", "queues.q.latency_s.p99", "queues.q.throughput_per_s",
        "queues.q.backlog.mean", "consumers.c.utilization",
    }  # fmt: skip
    for path, figure in figures.items():
        node = summary["ci95"]
        for key in path.split("."):
            node = node[key]
        assert figure["half_width"] == pytest.approx((node[1] - node[0]) / 2), path
        assert figure["half_width"] <= max(0.05 * abs(figure["mean"]), 1e-3), path


def test_the_run_does_not_stop_before_the_target_is_reached():
    """At the check before the last, some headline figure was still too imprecise."""
    checked = precise(0.05)["precision"]["checked_at"]
    assert len(checked) >= 2 and checked[0] == MIN_START
    earlier = assess(figures_of(checked[-2]), 0.05)["figures"]
    assert not all(figure["reached"] for figure in earlier.values())


def test_a_run_stopped_by_precision_equals_a_fixed_run_of_as_many_replications():
    stopped = dict(precise(0.05))
    fixed = run_scenario(with_overrides(scenario_from(MM1), replications=stopped["replications"]))
    del stopped["precision"]
    assert json.dumps(stopped, sort_keys=True) == json.dumps(fixed, sort_keys=True)


def test_the_run_stops_at_the_maximum_and_says_the_target_was_not_reached():
    precision = precise(0.001, max_replications=14)["precision"]
    assert (precision["replications"], precision["reached"]) == (14, False)
    assert precision["checked_at"] == [10, 14]
    assert not all(f["reached"] for f in precision["figures"].values())


@pytest.mark.parametrize(
    ("done", "ratio", "expected"),
    [(10, 1.2, 5), (10, 5.0, 10), (10, 1.01, 1), (190, 2.0, 10)],
    ids=["by the sqrt law", "at most doubling", "at least one", "never past the maximum"],
)
def test_each_batch_is_sized_by_the_worst_figure(done, ratio, expected):
    """A half-width ``ratio`` times too wide needs ``done * ratio^2`` replications in all."""
    assessed = {"figures": {"x": {"half_width": ratio, "allowed_half_width": 1.0}}}
    assert next_batch(done, assessed, 200) == expected


def test_a_figure_near_zero_is_precise_within_its_floor():
    """Zero backlog in every replication but one: no relative precision, but within 0.1."""
    figures = [{"queues": {"q": {"latency_s": {"mean": 1.0, "p99": 2.0}, "throughput_per_s": 5.0,
                "backlog": {"mean": 0.0}}}, "consumers": {}} for _ in range(9)]  # fmt: skip
    figures[0]["queues"]["q"]["backlog"]["mean"] = 0.01
    backlog = assess(figures, 0.05)["figures"]["queues.q.backlog.mean"]
    assert backlog["reached"] and backlog["half_width"] > 0.05 * backlog["mean"]


def test_a_figure_missing_in_some_replication_is_excluded():
    figures = [{"queues": {"q": {"latency_s": {"mean": m, "p99": m}, "throughput_per_s": 1.0,
                "backlog": {"mean": 1.0}}}, "consumers": {}} for m in (None, 1.0)]  # fmt: skip
    assert assess(figures, 0.05)["excluded"] == [
        "queues.q.latency_s.mean",
        "queues.q.latency_s.p99",
    ]


def test_the_progress_bar_counts_up_when_the_total_is_not_known():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with replication_progress(None, True, console) as advance:
        assert advance is not None
        for replication in range(3):
            advance(replication)
    assert "3/?" in out.getvalue()


def test_compare_runs_each_variant_to_the_precision(tmp_path):
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1, encoding="utf-8")
    args = ["compare", str(path), str(path.with_name("copy.yaml")), "--precision", "10%",
            "--max-replications", "12", "--workers", "1", "--json", "-"]  # fmt: skip
    path.with_name("copy.yaml").write_text(MM1, encoding="utf-8")
    result = CliRunner().invoke(main, args)
    variants = json.loads(result.stdout)["variants"]
    assert {name: v["precision"]["max_replications"] for name, v in variants.items()} == {
        "mm1": 12,
        "copy": 12,
    }
