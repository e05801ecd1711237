"""``qsim capacity`` on a kafka topic: the replica search stops at the partition count, and
``--vary partitions`` finds the partitions (one replica each) that meet the SLOs."""

import json
import math

import pytest
from click.testing import CliRunner
from conftest import scenario_from

from qsim.analytic import build_model
from qsim.capacity import CapacityStudy, level
from qsim.cli import main
from qsim.errors import QsimError
from qsim.loadscale import scale_load, with_fixed_replicas, with_partitions
from qsim.runner import run_scenario
from qsim.slo import parse_slo

RATE, SERVICE = 20.0, 0.15  # lambda E[S] = 3 busy consumers: ceil(3) = 3 partitions keep up
TOPIC = """
name: topic
seed: 5
duration: 300s
warmup: 30s
replications: 5
producers: [{name: p, to: t, rate: 20/s, key: {uniform: 5000}}]
queues: [{name: t, type: kafka, partitions: 1}]
consumers:
  - {name: c, queue: t, replicas: 1, service_time: {dist: exponential, mean: 150ms}}
"""
SLO = [parse_slo("p99 latency < 1.5s")]


def test_theory_of_a_topic_is_the_busiest_consumer_as_one_queue():
    """On 4 partitions, 3 consumers hold 2, 1 and 1: theory's station is the busiest, fed half
    the records with one worker; 4 consumers (or more, idle beyond 4) make M/M/1 per partition."""
    model = build_model(with_partitions(scenario_from(TOPIC), "t", 4), 0)
    assert model is not None
    assert model.station(1.0, 3).rate == pytest.approx(RATE / 2)
    assert model.station(1.0, 3).servers == 1
    assert model.station(1.0, 4).rate == model.station(1.0, 40).rate == pytest.approx(RATE / 4)


def test_theory_partitions_are_the_smallest_mm1_per_partition_meeting_the_slo():
    """M/M/1 per partition at 20/s / P, mu = 1/150ms: p99 latency ln(100) / (mu - 20/P) is
    2.76 s at P = 4, 1.72 s at 5, 1.38 s at 6: theory asks for 6 partitions, 3 more than the
    stability bound ceil(lambda E[S]) = 3."""
    model = build_model(scenario_from(TOPIC), 0)
    assert model is not None
    mu = 1 / SERVICE
    p99 = {p: math.log(100) / (mu - RATE / p) for p in (4, 5, 6)}
    assert p99[5] > 1.5 > p99[6]
    assert model.partitions_needed(1.0, SLO) == 6


@pytest.fixture(scope="module")
def partition_level():
    """The --vary partitions level at 1x on a topic of 1 partition (one M/G/1 at rho 3:
    overloaded), with the study that found it (no reruns of undecided counts: fast)."""
    study = CapacityStudy(scenario_from(TOPIC), "c", SLO, vary="partitions", max_replications=5)
    return study, level(study, 1.0)


def test_vary_partitions_recommends_more_than_the_stability_bound(partition_level):
    """At lambda E[S] = 3 a topic needs at least ceil(3) = 3 partitions just to keep up; meeting
    p99 latency < 1.5 s takes more: the answer has more partitions than that bound, and no more
    replicas than partitions."""
    _, result = partition_level
    assert result["partitions"] > math.ceil(RATE * SERVICE)
    assert result["met"] is True
    assert 1 <= result["replicas"] <= result["partitions"] == result["replica_cap"]
    assert result["tried_partitions"][str(result["partitions"])] is True


def test_vary_partitions_agrees_with_separate_runs_at_that_partition_count(partition_level):
    """Running the scenario on its own with the partitions and replicas found gives the very
    summary the search judged (same seed and streams), and one partition fewer (one replica
    each) does not decidedly meet the SLO."""
    study, result = partition_level
    found, replicas = result["partitions"], result["replicas"]

    def separate(partitions, count):
        scenario = with_fixed_replicas(scale_load(study.scenario, 1.0), "c", count)
        scenario = with_partitions(scenario, "t", partitions)
        return run_scenario(scenario.model_copy(update={"replications": 5}), workers=1)

    alone = separate(found, replicas)
    assert alone["queues"]["t"]["latency_s"]["p99"] == result["latency_p99_s"]
    assert alone["ci95"]["queues"]["t"]["latency_s"]["p99"][1] < 1.5
    assert result["tried_partitions"][str(found - 1)] is not True
    fewer = separate(found - 1, found - 1)
    assert fewer["ci95"]["queues"]["t"]["latency_s"]["p99"][1] >= 1.5


def test_replicas_stop_at_the_partition_count_and_ask_for_partitions():
    """Without --vary, on 4 partitions (p99 2.76 s with one consumer each) no replica count
    meets p99 < 1.5 s: none above 4 is tried, since a fifth consumer would sit idle, and the
    level says the SLO needs more partitions."""
    short = scenario_from(TOPIC).model_copy(update={"replications": 2, "duration": 150.0})
    study = CapacityStudy(with_partitions(short, "t", 4), "c", SLO)
    result = level(study, 1.0)
    assert result["replicas"] is None
    assert result["needs_more_partitions"] is True
    assert max(map(int, result["tried"])) == result["replica_cap"] == result["partitions"] == 4


def test_a_key_that_overloads_its_partition_is_unreachable_by_partitions():
    """Half of 24 records/s carry one key: 12/s x 150 ms = 1.8 consumers' worth of work on
    the one partition that key hashes to, so no partition count keeps up; theory says so and
    nothing is simulated."""
    hot = TOPIC.replace("key: {uniform: 5000}", "key: {keys: {star: 1, rest-1: 1}}")
    study = CapacityStudy(scenario_from(hot.replace("rate: 20/s", "rate: 24/s")), "c", SLO,
                          vary="partitions")  # fmt: skip
    result = level(study, 1.0)
    assert (
        result["unreachable"]
        and "key 'star' alone brings 12 records/s" in (result["unreachable"][0])
    )
    assert result["partitions"] is None and not study.trials


def test_vary_partitions_on_a_rabbitmq_queue_is_refused():
    """A RabbitMQ queue has no partitions to vary."""
    rabbit = TOPIC.replace("type: kafka, partitions: 1", "type: classic").replace(
        "key: {uniform: 5000}", "arrivals: poisson"
    )
    with pytest.raises(QsimError, match="only a kafka topic has partitions"):
        CapacityStudy(scenario_from(rabbit), "c", SLO, vary="partitions")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vary", "foo"], "qsim: capacity: Invalid value for '--vary': 'foo' is not one of"),
        (["--vary", "partitions"], "qsim: capacity: --vary partitions: pool 'c' reads 'q', a "
         "classic queue; only a kafka topic has partitions"),
    ],
)  # fmt: skip
def test_bad_vary_is_one_line_with_exit_status_2(tmp_path, args, message):
    """--vary takes replicas or partitions, and partitions only on a kafka topic."""
    file = tmp_path / "rabbit.yaml"
    file.write_text(
        "name: r\nduration: 60s\nproducers: [{name: p, to: q, rate: 1/s}]\nqueues: [{name: q}]\n"
        "consumers: [{name: c, queue: q, service_time: 100ms}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["capacity", str(file), "--slo", "p99 latency < 1s", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_json_keeps_the_replica_keys_and_adds_the_partition_keys(tmp_path):
    """The JSON table of a kafka study has every key a RabbitMQ one has, plus the partition
    keys (at the level and at the top)."""
    file = tmp_path / "topic.yaml"
    file.write_text(TOPIC.replace("partitions: 1", "partitions: 2"), encoding="utf-8")
    args = ["capacity", str(file), "--slo", "p99 latency < 1.5s", "--load", "0.25x"]
    quick = ["--workers", "1", "--replications", "2", "--duration", "60s", "--json", "-"]
    result = CliRunner().invoke(main, [*args, *quick])
    assert result.exit_code == 0, result.stderr
    table = json.loads(result.stdout)
    assert {"vary", "today_partitions", "today_replicas", "headroom"} <= table.keys()
    assert table["vary"] == "replicas" and table["today_partitions"] == 2
    level = table["levels"][0]
    assert {"replicas", "analytic_replicas", "latency_p99_s", "utilization", "met", "tried"} <= (
        level.keys()
    )
    assert {"partitions", "analytic_partitions", "replica_cap", "tried_partitions",
            "needs_more_partitions"} <= level.keys()  # fmt: skip
    assert level["partitions"] == level["replica_cap"] == 2


def test_the_review_says_a_topic_needs_partitions_not_that_replicas_are_undecided():
    """The capacity review's sentences: a level that needs more partitions says so, and a
    --vary partitions level names the partitions and the replicas."""
    from qsim.report.capacity_review import capacity_sentences

    levels = [
        {"load": 1.0, "replicas": None, "analytic_replicas": None, "needs_more_partitions": True,
         "unreachable": []},
    ]  # fmt: skip
    result = {"pool": "c", "today_partitions": 4, "vary": "replicas", "levels": levels}
    said = list(capacity_sentences(result, {"consumers": []}))
    assert said == [
        "At 1x load, c cannot meet every SLO on 4 partitions: one replica per partition is not "
        "enough and more would sit idle; the topic needs more partitions (qsim capacity "
        "--vary partitions)."
    ]
    levels[0].update(partitions=6, analytic_partitions=6, replicas=6, needs_more_partitions=False)
    said = list(capacity_sentences({**result, "vary": "partitions"}, {"consumers": []}))
    assert said == [
        "At 1x load, the topic needs 6 partitions (queueing theory estimates 6) and c 6 "
        "replicas to meet every SLO."
    ]


def test_the_capacity_table_piped_to_a_file_cuts_no_number(tmp_path):
    """Redirected, the table is 200 columns wide, not rich's 80: the widest study (a kafka
    topic with --vary partitions, theory columns and intervals) has no cell cut to '…'."""
    file = tmp_path / "topic.yaml"
    file.write_text(TOPIC.replace("partitions: 1", "partitions: 2"), encoding="utf-8")
    args = ["capacity", str(file), "--slo", "p99 latency < 1.5s", "--load", "0.25x"]
    quick = ["--workers", "1", "--replications", "2", "--duration", "60s", "--vary", "partitions"]
    result = CliRunner().invoke(main, [*args, *quick])
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout and "theory partitions" in result.stdout
    assert max(map(len, result.stdout.splitlines())) <= 200
