"""SLO expressions: every supported form parses to its figure's place in the summary; malformed
ones are a one-line error naming the expression and what was expected."""

import pytest

from qsim.errors import QsimError
from qsim.scenario import Slo
from qsim.slo import METRICS, parse_slo, scenario_slo

FORMS = {
    "p99 latency < 2s": ("latency", "p99", "<", 2.0, ("queues", "q", "latency_s", "p99")),
    "p95 wait <= 500ms": ("wait", "p95", "<=", 0.5, ("queues", "q", "wait_s", "p95")),
    "mean latency < 1s": ("latency", "mean", "<", 1.0, ("queues", "q", "latency_s", "mean")),
    "p99.9 latency < 1m": ("latency", "p99.9", "<", 60.0, ("queues", "q", "latency_s", "p999")),
    "median wait < 20ms": ("wait", "median", "<", 0.02, ("queues", "q", "wait_s", "p50")),
    "max latency < 30s": ("latency", "max", "<", 30.0, ("queues", "q", "latency_s", "max")),
    "max backlog < 1000": ("backlog", "max", "<", 1000.0, ("queues", "q", "backlog", "max")),
    "mean backlog < 200": ("backlog", "mean", "<", 200.0, ("queues", "q", "backlog", "mean")),
    "utilization < 0.8": ("utilization", None, "<", 0.8, ("consumers", "c", "utilization")),
    "utilization <= 75%": ("utilization", None, "<=", 0.75, ("consumers", "c", "utilization")),
    "throughput >= 20/s": ("throughput", None, ">=", 20.0, ("queues", "q", "throughput_per_s")),
    "  P99   Latency<2s ": ("latency", "p99", "<", 2.0, ("queues", "q", "latency_s", "p99")),
}


@pytest.mark.parametrize("text", list(FORMS))
def test_every_supported_form_parses_to_its_summary_path(text):
    """Each form yields metric, statistic, bound, threshold in base units, and the key path of
    its figure for queue q and pool c."""
    metric, stat, op, threshold, path = FORMS[text]
    objective = parse_slo(text)
    assert (objective.metric, objective.stat, objective.op) == (metric, stat, op)
    assert objective.threshold == pytest.approx(threshold)
    assert objective.path("q", "c") == path


def test_every_metric_has_a_tested_form():
    """The registry holds no metric without a parsing test above."""
    assert {form[0] for form in FORMS.values()} == set(METRICS)


ERRORS = {
    "": "expected [STATISTIC] METRIC OP VALUE",
    "p99 latency 2s": "expected [STATISTIC] METRIC OP VALUE",
    "p99 latency = 2s": "expected a bound <, <=, > or >=",
    "p99 latncy < 2s": "unknown metric 'latncy' (did you mean 'latency'?)",
    "p98 latency < 2s": "unknown statistic 'p98' of latency (did you mean 'p99'?)",
    "latency < 2s": "latency needs a statistic first, one of: mean",
    "p99 utilization < 0.8": "utilization takes no statistic, got 'p99'",
    "very p99 latency < 2s": "expected [STATISTIC] METRIC before the comparison",
    "p99 latency < fast": "expected a duration such as 2s or 500ms, got 'fast'",
    "p99 latency < ": "expected a duration such as 2s or 500ms, got ''",
    "utilization < 1.5": "expected a fraction such as 0.8 or 80%, got '1.5'",
    "max backlog < -3": "expected a message count such as 1000, got '-3'",
    "throughput > lots": "expected a rate such as 20/s, got 'lots'",
    "p99 latency < 2s\nrm": "expected [STATISTIC] METRIC OP VALUE",
}


@pytest.mark.parametrize("text", list(ERRORS))
def test_malformed_expression_is_a_one_line_error_naming_it(text):
    """The message quotes the expression and says what was expected, on one line."""
    with pytest.raises(QsimError) as caught:
        parse_slo(text)
    message = str(caught.value)
    assert message.startswith(f"SLO {text!r}".replace("\n", "\\n")), message
    assert ERRORS[text] in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [((1.5, 1.9), True), ((1.8, 2.2), None), ((2.1, 2.5), False), (None, True)],
)
def test_upper_bound_is_met_only_by_the_upper_end_of_the_interval(interval, verdict):
    """``< 2s`` is met when the whole interval is below 2 s, failed when it is all above, and
    undecided when it straddles; with one replication the value decides."""
    assert parse_slo("p99 latency < 2s").verdict(1.7, interval) is verdict


@pytest.mark.parametrize(
    ("interval", "verdict"), [((21.0, 25.0), True), ((19.0, 21.0), None), ((15.0, 19.0), False)]
)
def test_lower_bound_is_met_only_by_the_lower_end_of_the_interval(interval, verdict):
    """``throughput >= 20/s`` is conservative on the other side: the lower end decides."""
    assert parse_slo("throughput >= 20/s").verdict(20.0, interval) is verdict


def test_missing_figure_fails():
    """No completed message means no latency figure: the SLO is not met."""
    assert parse_slo("p99 latency < 2s").verdict(None, None) is False


def test_reads_the_figure_and_its_interval_from_a_summary():
    """The figure comes from the summary, its interval from the ``ci95`` mirror."""
    summary = {
        "queues": {"q": {"latency_s": {"p99": 1.2}}},
        "ci95": {"queues": {"q": {"latency_s": {"p99": [1.0, 1.4]}}}},
    }
    assert parse_slo("p99 latency < 2s").read(summary, "q", "c") == (1.2, [1.0, 1.4])


def test_scenario_slo_section_becomes_a_latency_expression():
    """``slo: {latency: 30s, percentile: 99}`` reads as ``p99 latency <= 30s``."""
    (objective,) = scenario_slo(Slo(latency=30.0, percentile=99), "q")
    assert (objective.stat, objective.op, objective.threshold) == ("p99", "<=", 30.0)
    assert scenario_slo(None, "q") == []


def test_a_scenario_slo_covers_only_the_queues_it_names():
    """``slo.queues`` limits the objective: a pool on another queue gets none from it."""
    slo = Slo(latency=30.0, queues=("orders",))
    assert len(scenario_slo(slo, "orders")) == 1 and scenario_slo(slo, "orders.dead-letter") == []
