"""``qsim capacity``: scaled load, the replica search against exact Erlang C, headroom, and the
command's errors."""

import json

import pytest
from click.testing import CliRunner
from conftest import scenario_from
from rich.console import Console

from qsim.capacity import (
    HEADROOM_PRECISION,
    CapacityStudy,
    bracket_load,
    capacity,
    headroom_load,
    level,
    parse_load_range,
)
from qsim.cli import main
from qsim.distributions import REGISTRY
from qsim.errors import QsimError
from qsim.loadscale import (
    NESTED_TIMES,
    TIME_FIELDS,
    WHOLE_COUNTS,
    scale_load,
    scaled_distribution,
    with_fixed_replicas,
)
from qsim.precision import Precision
from qsim.report.capacity import render_capacity
from qsim.slo import parse_slo
from qsim.theory import FIGURES, Station

MMC = """
name: mmc
seed: 3
duration: 400s
warmup: 50s
replications: 5
producers: [{name: p, to: q, rate: 20/s}]
queues: [{name: q}]
consumers:
  - {name: c, queue: q, replicas: 3, prefetch: 1, service_time: {dist: exponential, mean: 100ms}}
"""
EXPONENTIAL = REGISTRY["exponential"].model_validate({"dist": "exponential", "mean": 0.1})


def exact_smallest(rate, threshold):
    """The smallest c whose exact M/M/c p99 latency (Erlang C) is below ``threshold``."""
    c = 1
    while FIGURES["latency", "p99"](Station(rate, 1.0, EXPONENTIAL, c)) >= threshold:
        c += 1
    return c


@pytest.mark.parametrize("load", [1.0, 2.0])
def test_replicas_found_equal_the_smallest_c_meeting_exact_erlang_c(load):
    """M/M/c at 20/s x load, 100 ms exponential service, prefetch 1, SLO p99 latency < 0.53 s.
    Exact p99: at 1x 0.589 s with 3 replicas, 0.476 s with 4; at 2x 0.608 s with 5, 0.485 s with
    6. The search finds exactly that c, except where the threshold sits on the boundary (the
    count below stayed undecided, its interval straddling the threshold): then c + 1 is allowed."""
    study = CapacityStudy(scenario_from(MMC), "c", [parse_slo("p99 latency < 0.53s")])
    result = level(study, load)
    expected = exact_smallest(20.0 * load, 0.53)
    assert result["analytic_replicas"] == expected
    on_boundary = result["tried"].get(str(expected)) is None and str(expected) in result["tried"]
    assert result["replicas"] == expected or (result["replicas"] == expected + 1 and on_boundary)
    assert result["met"] is True


DETERMINISTIC = """
name: even
duration: 200s
replications: 2
producers: [{name: p, to: q, rate: 4/s, arrivals: constant}]
queues: [{name: q}]
consumers: [{name: c, queue: q, prefetch: 1, service_time: 100ms}]
"""


def test_headroom_brackets_the_load_where_the_slo_starts_failing():
    """Constant arrivals at 4/s and constant 100 ms service: utilization is 0.4 x load, so
    "utilization < 0.5" holds up to 1.25x. Headroom brackets 1.25 within 5%, as does theory."""
    study = CapacityStudy(scenario_from(DETERMINISTIC), "c", [parse_slo("utilization < 0.5")])
    sustained, failing = study.headroom()
    assert sustained is not None and failing is not None
    assert sustained < 1.25 <= failing <= sustained * 1.05
    analytic = study.analytic_headroom(study.objectives)
    assert analytic is not None and analytic < 1.25 <= analytic * 1.05


@pytest.mark.parametrize("limit", [0.01, 0.3, 0.9, 0.917, 0.95, 1.0, 1.001, 1.7, 5.0, 100.0])
def test_the_headroom_search_finds_the_same_pair_from_any_estimate(limit):
    """Wherever loads start failing (below 1/64x, above 64x, or between), the search from an
    estimate, good or bad, ends on the pair of adjacent lattice loads the search from 1x by
    doubling finds; a good estimate takes two probes."""
    probes: list[float] = []

    def sustains(load: float) -> bool:
        probes.append(load)
        return load < limit

    found = bracket_load(sustains)
    sustained, failing = found
    assert sustained is None or sustained < limit
    assert failing is None or failing >= limit
    if sustained is not None and failing is not None:
        assert failing / sustained <= 1 + HEADROOM_PRECISION + 1e-6
    for estimate in (0.02, 0.5, 0.9, 1.0, 1.3, 3.0, 50.0):
        assert bracket_load(sustains, estimate) == found
    if sustained is not None and failing is not None:
        probes.clear()
        assert bracket_load(sustains, sustained) == found
        assert probes == [sustained, failing]


def test_the_lattice_holds_the_loads_bisection_from_doubling_tried():
    """Loads 0.5x, 0.707107x, 0.917004x, 1.189207x and 1.414214x are lattice points, as the
    geometric bisection of [0.5, 1] and [1, 2] visits them."""
    assert [headroom_load(k) for k in (-16, -8, -2, 4, 8)] == [
        0.5, 0.707107, 0.917004, 1.189207, 1.414214,
    ]  # fmt: skip


def test_the_progress_plan_ends_with_every_point_done():
    """A capacity study tells its progress bar (points simulated, points expected): the total
    is never below what is done, and at the end both are the points simulated."""
    told: list[tuple[int, int]] = []
    study = CapacityStudy(
        scenario_from(MMC), "c", [parse_slo("p99 latency < 1s")], on_plan=lambda *p: told.append(p)
    )
    capacity(study, [1.0, 1.5])
    assert told and all(total >= done for done, total in told)
    assert told[-1] == (len(study.trials), len(study.trials))


def test_more_replications_are_added_while_an_slo_is_undecided():
    """A threshold at the exact figure (M/M/3 p99 latency 0.589 s at 1x) keeps the interval
    straddling it: the count runs again with the cap of replications, and stays undecided
    exactly when that interval still straddles it."""
    study = CapacityStudy(
        scenario_from(MMC), "c", [parse_slo("p99 latency < 0.5891s")], max_replications=10
    )
    trial = study.trial(1.0, 3)
    assert trial.count == 10
    low, high = trial.summary["ci95"]["queues"]["q"]["latency_s"]["p99"]
    assert (trial.met is None) == (low < 0.5891 < high)


def test_with_precision_each_count_runs_until_its_figures_are_that_precise():
    """``--precision``: a trial's replications grow until the headline figures' half-widths are
    within the target (or the maximum), as ``qsim run --precision`` does."""
    study = CapacityStudy(
        scenario_from(MMC), "c", [parse_slo("p99 latency < 2s")],
        precision=Precision(0.05, 40),
    )  # fmt: skip
    trial = study.trial(1.0, 3)
    section = trial.summary["precision"]
    assert trial.count == section["replications"] <= 40
    assert section["reached"] or trial.count == 40


def test_counts_are_compared_with_common_random_numbers():
    """Every count simulates the same arrivals: replication r of 3 and of 5 replicas publish
    the same messages, so the mean and interval of published counts are identical."""
    study = CapacityStudy(scenario_from(MMC), "c", [parse_slo("utilization < 0.99")])
    three, five = study.trial(1.0, 3).summary, study.trial(1.0, 5).summary
    assert three["producers"]["p"]["published"] == five["producers"]["p"]["published"]
    assert (
        three["ci95"]["producers"]["p"]["published"] == five["ci95"]["producers"]["p"]["published"]
    )
    assert three["queues"]["q"]["wait_s"]["mean"] > five["queues"]["q"]["wait_s"]["mean"]


SCALED = """
name: s
duration: 100s
producers:
  - {name: r, to: q, rate: 10/s}
  - {name: s, to: q, schedule: [{at: 0s, rate: 2/s}, {at: 50s, rate: 6/s}]}
  - {name: i, to: q, interarrival: {dist: lognormal, mean: 200ms, cv: 2}}
queues: [{name: q}]
consumers:
  - {name: c, queue: q, replicas: 2, service_time: 10ms,
     scaling: {policy: queue_length, target: 5, min: 1, max: 9}}
"""


def test_scale_load_multiplies_every_arrival_process():
    """Rates and schedule rates are multiplied (step times kept); an interarrival distribution
    is divided, keeping its cv."""
    rate, schedule, inter = scale_load(scenario_from(SCALED), 2.5).producers
    assert rate.rate == pytest.approx(25.0)
    assert [(s.at, s.rate) for s in schedule.schedule] == [(0.0, 5.0), (50.0, 15.0)]
    assert inter.interarrival.mean == pytest.approx(0.08)
    assert inter.interarrival.cv == pytest.approx(2.0)


def test_every_distribution_can_scale_its_times():
    """Each registered distribution names its time parameters, so its interarrivals scale,
    or is a family of whole counts that no factor keeps in its family, which is refused."""
    assert set(TIME_FIELDS) | set(NESTED_TIMES) | set(WHOLE_COUNTS) == set(REGISTRY)


@pytest.mark.parametrize("dist", ["{dist: poisson, mean: 3}", "{dist: geometric, mean: 2}"])
def test_a_whole_count_interarrival_is_refused_naming_pmf(dist):
    text = f"""
    name: t
    duration: 10s
    producers: [{{name: p, to: q, interarrival: {dist}}}]
    queues: [{{name: q}}]
    """
    with pytest.raises(QsimError, match="write the gaps as a pmf"):
        scale_load(scenario_from(text), 2.0)


def test_pmf_interarrivals_scale_their_values():
    text = """
    name: t
    duration: 10s
    producers: [{name: p, to: q, interarrival: {dist: pmf, values: [1, 3], probs: [0.5, 0.5]}}]
    queues: [{name: q}]
    """
    scaled = scale_load(scenario_from(text), 2.0).producers[0].interarrival
    assert list(scaled.values) == [0.5, 1.5]


def test_a_trace_is_refused(tmp_path):
    """Recorded publish times have no faithful "2x": a one-line error says what to do."""
    (tmp_path / "t.csv").write_text("0\n1\n2\n", encoding="utf-8")
    text = """
    name: t
    duration: 10s
    producers: [{name: replay, to: q, trace: t.csv}]
    queues: [{name: q}]
    """
    with pytest.raises(QsimError, match="producer 'replay' replays a trace"):
        scale_load(scenario_from(text, tmp_path), 2.0)


def test_a_scenario_with_a_trace_is_refused_before_any_theory_or_simulation(write_file):
    """``qsim capacity`` on a scenario replaying a trace is one line and exit status 2."""
    write_file("t.csv", "0\n1\n2\n")
    path = write_file(
        "t.yaml",
        """
        name: t
        duration: 10s
        producers: [{name: replay, to: q, trace: t.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, service_time: 100ms}]
        """,
    )
    result = invoke(path, "--slo", "p99 latency < 1s")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "replays a trace" in result.stderr


def test_fixed_replicas_replace_autoscaling():
    """The searched pool runs exactly the count tried."""
    pool = with_fixed_replicas(scenario_from(SCALED), "c", 7).consumers[0]
    assert (pool.replicas, pool.scaling.policy) == (7, "fixed")


@pytest.mark.parametrize(
    ("text", "steps", "loads"),
    [
        ("0.5x..3x", 6, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]), ("2x", 6, [2.0]), ("1..2", 3, [1, 1.5, 2]),
        ("0.5x..2x", 6, [0.5, 0.8, 1.0, 1.1, 1.4, 1.7, 2.0]), ("1.5x..3x", 4, [1.5, 2.0, 2.5, 3.0]),
    ],
)  # fmt: skip
def test_load_range(text, steps, loads):
    """LOW..HIGH in ``steps`` evenly spaced levels, plus today's load (1x) when the range
    spans it and the steps miss it; one value is one level."""
    assert parse_load_range(text, steps) == pytest.approx(loads)


@pytest.fixture
def mmc_file(write_file):
    """The M/M/c scenario as a file."""
    return write_file("mmc.yaml", MMC)


def invoke(*args):
    """Run ``qsim capacity`` in-process; stdout and stderr apart."""
    return CliRunner().invoke(main, ["capacity", "--workers", "1", *map(str, args)])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pool", "cc"], "unknown pool 'cc' (did you mean 'c'?); known: c"),
        (["--load", "3x..1x"], "--load '3x..1x': the low end must not exceed the high end"),
        (["--load", "fast"], "--load 'fast': expected LOW..HIGH multipliers above 0"),
        (["--load", "0x..2x"], "expected LOW..HIGH multipliers above 0"),
        (["--load", "1x..2x..3x"], "expected LOW..HIGH multipliers above 0"),
        (["--slo", "p99 latency 2s"], "SLO 'p99 latency 2s': expected [STATISTIC] METRIC OP"),
        (["--slo", "utilization > 0.5"], "more replicas make it harder to meet"),
    ],
)
def test_command_errors_are_one_line_with_exit_status_2(mmc_file, args, message):
    """Bad pools, load ranges and SLOs are explained on one line of stderr."""
    if "--slo" not in args:  # a valid one, so the error is the argument's under test
        args = [*args, "--slo", "p99 latency < 1s"]
    result = invoke(mmc_file, *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_command_needs_an_slo(mmc_file):
    """Without --slo and without an slo: section there is nothing to meet."""
    result = invoke(mmc_file)
    assert result.exit_code == 2 and "no SLO" in result.stderr


def test_json_has_the_documented_keys(mmc_file, tmp_path):
    """``--json PATH`` writes the capacity table: pool, SLOs, a level per load with simulated
    and analytic replicas, and headroom; the terminal shows the table."""
    path = tmp_path / "capacity.json"
    result = invoke(mmc_file, "--slo", "utilization < 0.9", "--duration", "60s", "--json", path)
    assert result.exit_code == 0, result.stderr
    table = json.loads(path.read_text(encoding="utf-8"))
    assert table["pool"] == "c" and table["slos"] == ["utilization < 0.9"]
    (level,) = table["levels"]
    keys = {"load", "replicas", "analytic_replicas", "latency_p99_s", "utilization", "met"}
    assert keys <= set(level)
    assert level["analytic_replicas"] == 3  # 2 busy workers: 3 is the first below 0.9
    assert table["headroom"] is not None
    assert "theory" in result.stdout and "Headroom" in result.stdout


def test_report_reviews_today_beside_the_capacity_study(mmc_file, tmp_path):
    """``--report`` writes the capacity review: the study as ``capacity.json`` (what ``--json``
    writes) and a page that states its recommendation, beside today's run summary."""
    args = ["--slo", "utilization < 0.9", "--duration", "60s", "--report", "--report-dir"]
    result = invoke(mmc_file, *args, tmp_path / "reports", "--json", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    (folder,) = (tmp_path / "reports").glob("*/*")
    study = json.loads((folder / "capacity.json").read_text(encoding="utf-8"))
    assert study == json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    replicas = study["levels"][0]["replicas"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"At 1x load, c needs {replicas} replicas" in page
    assert json.loads((folder / "summary.json").read_text())["scenario"] == study["scenario"]


def test_unreachable_slo_is_reported_without_simulating():
    """p99 latency < 0.3 s with exponential 100 ms service: even with no waiting the p99 is
    ln(100) x 100 ms = 0.46 s, so no count can meet it; nothing is simulated."""
    study = CapacityStudy(scenario_from(MMC), "c", [parse_slo("p99 latency < 0.3s")])
    table = capacity(study, [1.0])
    (level,) = table["levels"]
    assert (level["replicas"], level["met"]) == (None, False)
    assert level["unreachable"] == ["p99 latency < 0.3s: 0.461s even without waiting"]
    assert study.trials == {} and table["headroom"] is None


EXAMPLES = {
    "constant": {"value": 0.2},
    "exponential": {"mean": 0.2},
    "uniform": {"low": 0.1, "high": 0.3},
    "lognormal": {"mean": 0.2, "cv": 2},
    "gamma": {"mean": 0.2, "cv": 0.5},
    "erlang": {"mean": 0.2, "k": 3},
    "weibull": {"shape": 1.5, "scale": 0.2},
    "pareto": {"alpha": 3, "scale": 0.2},
    "normal": {"mean": 0.2, "sd": 0.05},
    "triangular": {"low": 0.1, "mode": 0.15, "high": 0.4},
    "loguniform": {"low": 0.01, "high": 1.0},
    "loglogistic": {"scale": 0.2, "shape": 4},
    "hyperexponential": {"phases": [{"p": 0.3, "mean": 0.5}, {"p": 0.7, "mean": 0.1}]},
    "hypererlang": {"phases": [{"p": 0.3, "mean": 0.5, "k": 2}, {"p": 0.7, "mean": 0.1, "k": 1}]},
    "hypoexponential": {"means": [0.1, 0.3]},
    "coxian": {"phases": [{"mean": 0.1, "next": 0.5}, {"mean": 0.3}]},
    "phasetype": {"initial": [0.6, 0.4], "generator": [[-10, 2], [1, -4]]},
    "empirical": {"values": [0.1, 0.2, 0.6]},
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_scaled_interarrival_is_faster_with_the_same_shape(name):
    """Every distribution divided by 4 has a quarter of the mean and the same cv."""
    base = REGISTRY[name].model_validate({"dist": name, **EXAMPLES[name]})
    faster = scaled_distribution(base, 4.0)
    assert faster.mean == pytest.approx(base.mean / 4)
    assert faster.cv == pytest.approx(base.cv)


def test_table_shows_undecided_counts_and_unreachable_levels():
    """``N (M?)`` marks a smaller count left undecided; an unreachable level says so, with its
    reason under the table."""
    level = {
        "load": 1.0, "replicas": 5, "analytic_replicas": 4, "latency_p99_s": 0.5,
        "latency_p99_ci95": [0.45, 0.55], "analytic_latency_p99_s": 0.48, "utilization": 0.6,
        "utilization_ci95": [0.59, 0.61], "met": True, "undecided": [4],
        "disagreement": ["prefetch: 10 per replica; ..."], "unreachable": [],
    }  # fmt: skip
    unreachable = {
        **level, "load": 2.0, "replicas": None, "met": False, "undecided": [],
        "disagreement": None, "unreachable": ["p99 latency < 0.3s: 0.461s even"],
    }  # fmt: skip
    result = {
        "pool": "c", "slos": ["p99 latency < 1s"], "levels": [level, unreachable],
        "today_replicas": 3, "headroom": 0.8, "headroom_fails_at": 0.84,
        "analytic_headroom": 0.9, "analytic": None,
    }  # fmt: skip
    console = Console(record=True, width=200)
    render_capacity(result, console)
    text = console.export_text()
    assert "5 (4?)" in text and "prefetch" in text and "unreachable" in text
    assert "Unreachable at any replica count: p99 latency < 0.3s" in text
    assert "up to 0.8x today's load (not at 0.84x)" in text


def test_queue_without_a_model_is_searched_from_todays_count():
    """Behind a fanout exchange theory gives no estimate; the search still finds the count:
    constant 4/s x 2 with constant 100 ms service keeps utilization below 0.5 from 2 replicas."""
    text = """
    name: routed
    duration: 100s
    replications: 2
    producers: [{name: p, to: ex, rate: 4/s, arrivals: constant}]
    exchanges: [{name: ex, type: fanout, bindings: [{queue: q}]}]
    queues: [{name: q}]
    consumers: [{name: c, queue: q, prefetch: 1, service_time: 100ms}]
    """
    study = CapacityStudy(scenario_from(text), "c", [parse_slo("utilization < 0.5")])
    result = level(study, 2.0)
    assert (result["replicas"], result["analytic_replicas"], result["met"]) == (2, None, True)


def test_the_recommended_count_is_priced_when_the_scenario_gives_prices(write_file, tmp_path):
    """At 1x, 2 busy workers on average: 3 replicas are the first under 90% busy. At 1.00 a
    replica-hour 3 replicas cost 72.00 a day, which the level and the table show."""
    priced = write_file("mmc.yaml", MMC + "prices: {currency: EUR, replica_hour: 1.0}\n")
    path = tmp_path / "capacity.json"
    args = ["--slo", "utilization < 0.9", "--duration", "60s", "--json", path]
    result = invoke(priced, "--pool", "c", *args)
    assert result.exit_code == 0, result.stderr
    study = json.loads(path.read_text(encoding="utf-8"))
    (level,) = study["levels"]
    assert (study["currency"], level["replicas"]) == ("EUR", 3)
    assert level["cost_per_day"] == pytest.approx(72.0)
    assert "EUR/day" in result.stdout and "72" in result.stdout
