"""What a report opens with, and its dashboard, from hand-made summaries (no simulation): each
verdict with its margin, the capacity and comparison answers, "best" only among the variants
that meet every objective, the dashboard's clock-time axis, shading, SLO lines and log axes,
and the scenario key ``start``."""

import pytest
from conftest import scenario_error

from qsim.report.answer import capacity_verdict, margin_text
from qsim.report.compare import meeting_of
from qsim.report.comparison_review import compare_review
from qsim.report.dashboard import clock_times, dashboard, log_axis

SLO = {"latency": 2.0, "percentile": 99.0, "backlog": 100}


def _summary(ready, replicas=None, start=None, schedule=None, attainment=0.995):
    """A summary with one queue ``q`` sampled every 10 s and one pool ``c``."""
    times = [10.0 * i for i in range(len(ready))]
    producer = {"name": "p", "to": "q", "schedule": schedule}
    return {
        "scenario": "s",
        "seed": 1,
        "replications": 2,
        "duration_s": times[-1] + 10,
        "warmup_s": 10.0,
        "resolved_scenario": {
            "start": start, "slo": SLO, "producers": [producer],
            "consumers": [{"name": "c", "queue": "q", "replicas": 2, "concurrency": 1}],
        },
        "queues": {"q": {"backlog": {"max": max(ready)}}},
        "consumers": {"c": {"replica_seconds": 10.0 * sum(replicas or [2] * len(ready))}},
        "slo": {"q": {"attainment": attainment}},
        "ci95": {"slo": {"q": {"attainment": [attainment - 0.002, attainment + 0.002]}}},
        "timeseries": {
            "time_s": times,
            "queues": {"q": {"ready": ready, "latency_p99": [None] + [0.5] * (len(ready) - 1)}},
            "pools": {"c": {"replicas": replicas or [2] * len(ready), "busy": [1] * len(ready)}},
        },
    }  # fmt: skip


def test_a_latency_verdict_says_by_how_many_points_it_clears_its_percentile():
    """Attainment 99.5% ± 0.2% against p99: 0.50 ± 0.20 points above the 99.0% needed; 90%:
    9.0 ± 0.2 points below."""
    verdict = {"queue": "q", "objective": "p99 latency within 2s"}
    assert margin_text(verdict, _summary([1, 2])) == "0.50 ± 0.20 points above the 99.0% needed"
    below = margin_text(verdict, _summary([1, 2], attainment=0.90))
    assert below == "9.0 ± 0.2 points below the 99.0% needed"


def test_a_backlog_verdict_says_how_far_the_peak_is_from_its_level():
    verdict = {"queue": "q", "objective": "backlog at most 100 ready"}
    assert margin_text(verdict, _summary([5, 130, 20])) == "peak 130 ready, 30 above the 100 level"


def test_the_capacity_answer_names_todays_need_the_top_load_and_the_headroom():
    capacity = {
        "pool": "c",
        "headroom": 0.92,
        "levels": [{"load": 1.0, "replicas": 3}, {"load": 2.0, "replicas": 5}],
    }
    resolved = {"consumers": [{"name": "c", "replicas": 2}]}
    answer = capacity_verdict(capacity, resolved)
    assert (
        answer.headline == "c: today needs 3 replicas; 5 replicas at 2x; today's 2 hold up to 0.92x"
    )
    assert answer.state == "missed"  # today's count does not hold today's load


def test_the_comparison_opens_with_the_cheapest_variant_that_meets_every_objective():
    """Variants cheap (misses the latency objective), ok and dear (meet both) at 2, 2 and 3
    replicas: the first box names ok, the cheapest of those that meet them (replica-seconds
    120 against 180: 33% below dear); then one box per variant."""
    summaries = {"cheap": _summary([1, 2], attainment=0.9), "ok": _summary([4, 6])}
    summaries["dear"] = _summary([5, 8], replicas=[3, 3])
    document = compare_review(summaries, "qsim compare", [])
    assert document.sections[0].title == "Answer"
    (answers,) = document.sections[0].blocks
    first = answers.items[0]
    assert first.state == "met"
    assert first.headline.startswith("The cheapest variant that meets every objective: ok")
    assert "33% below dear" in first.headline
    assert [v.state for v in answers.items[1:]] == ["missed", "met", "met"]


def test_best_is_marked_only_among_variants_that_meet_every_objective():
    """Variant cheap misses the latency objective (attainment 90%) and has the lowest backlog;
    the * of the backlog rows goes to ok, the lowest of those that meet everything."""
    cheap = _summary([1, 2, 3], attainment=0.90)
    ok, dear = _summary([4, 6, 9]), _summary([5, 8, 12])
    for s in (cheap, ok, dear):
        s["queues"]["q"]["backlog"]["max"] = max(s["timeseries"]["queues"]["q"]["ready"])
    summaries = {"cheap": cheap, "ok": ok, "dear": dear}
    from qsim.report.review import slo_verdicts

    assert meeting_of({n: slo_verdicts(s) for n, s in summaries.items()}) == ["ok", "dear"]
    document = compare_review(summaries, "qsim compare", [])
    table = next(b for s in document.sections if s.title == "Side by side" for b in s.blocks)
    row = next(r for r in table.rows if r[1] == "backlog max")
    assert row[2:] == ("3", "9 *", "12")


def test_the_dashboard_reads_in_clock_time_from_the_scenarios_start():
    assert clock_times(_summary([0, 1], start="10:00"))[1] == "2000-01-01 10:00:10.000"
    assert clock_times(_summary([0, 1]))[0] == "2000-01-01 00:00:00.000"


def test_the_dashboard_shades_raised_schedule_steps_and_draws_the_slo_limits():
    """A schedule 5/s, 20/s from 20 s, 5/s from 40 s: one orange band from 20 to 40 s (beside
    the grey warm-up); dashed lines at the backlog level 100 and the latency 2 s."""
    schedule = [{"at": 0, "rate": 5}, {"at": 20, "rate": 20}, {"at": 40, "rate": 5}]
    figure = dashboard({"": _summary([0, 1, 2, 3, 4, 5], schedule=schedule)}, "")
    bands = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    assert [(b["x0"][-12:-4], b["x1"][-12:-4]) for b in bands] == [
        ("00:00:00", "00:00:10"), ("00:00:20", "00:00:40"),
    ]  # fmt: skip
    limits = {s["y0"] for s in figure["layout"]["shapes"] if s["type"] == "line"}
    assert limits == {100, 2.0}


def test_a_schedule_longer_than_the_run_is_shaded_only_up_to_its_end():
    """Duration 60 s (six samples): the step from 40 s to 300 s is shaded to 60 s, the one
    from 300 s not at all."""
    schedule = [{"at": 0, "rate": 5}, {"at": 40, "rate": 20}, {"at": 300, "rate": 30}]
    figure = dashboard({"": _summary([0, 1, 2, 3, 4, 5], schedule=schedule)}, "")
    bands = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"][1:]
    assert [(b["x0"][-12:-4], b["x1"][-12:-4]) for b in bands] == [("00:00:40", "00:01:00")]


def test_a_panel_whose_values_span_more_than_two_decades_reads_on_a_log_axis():
    assert log_axis(iter([0, 1, 50, 2000, None]))
    assert not log_axis(iter([0, 3, 250]))
    figure = dashboard({"": _summary([1, 10, 5000, 2])}, "")
    assert figure["layout"]["yaxis"]["type"] == "log"  # backlog
    assert figure["layout"]["yaxis3"]["type"] == "linear"  # replicas


def test_a_comparison_dashboard_has_one_legend_entry_per_variant():
    figure = dashboard({"a": _summary([1, 2]), "b": _summary([3, 4])}, "")
    shown = [t["name"] for t in figure["data"] if t.get("showlegend", True)]
    assert shown == ["a", "b"]
    assert {t["legendgroup"] for t in figure["data"]} == {"a", "b"}


GOOD = """\
name: shop
duration: 10s
start: "10:00"
producers: [{name: p, to: q, rate: 5/s}]
queues: [{name: q}]
"""


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("start: 10:00", 'start: got the number 600: write the clock time in quotes, e.g. "10:00"'),
        ('start: "25:00"', 'start: expected a clock time "HH:MM" or "HH:MM:SS" (24-hour), '
                           "got '25:00'"),
    ],
)  # fmt: skip
def test_a_bad_start_is_a_located_one_line_error(tmp_path, new, expected):
    """YAML reads an unquoted 10:00 as the number 600 (base 60): the error says to quote it."""
    assert scenario_error(tmp_path, GOOD, 'start: "10:00"', new) == f"scenario.yaml:3: {expected}"
