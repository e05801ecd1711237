"""KEDA's Kafka scaler (policy ``kafka_lag``): the lag formula by hand-computed cases and
properties, and its scenario keys.

The rules are kedacore/keda pkg/scalers/kafka_scaler.go's ``getLagForPartition`` and
``getTotalLag``; qsim.engine.kafka.keda cites each.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
from conftest import scenario_from
from hypothesis import given
from hypothesis import strategies as st
from test_autoscaler_loops import Backlog

from qsim.engine.autoscaler import POLICIES, Autoscaler, Observation, is_active
from qsim.engine.kafka.keda import PartitionReading, factors, kafka_total_lag, partition_lag
from qsim.errors import QsimError, ScenarioError
from qsim.runner import run_scenario
from qsim.scenario import Scaling


def kafka(**settings: object) -> Scaling:
    """kafka_lag settings, KEDA's defaults for anything not given."""
    return Scaling.model_validate({"policy": "kafka_lag", **settings})


def reading(lags, committed=None, previous=None) -> PartitionReading:
    """Lags with every offset committed (at 100) and unseen before, unless given."""
    committed = tuple(committed) if committed is not None else (100,) * len(lags)
    previous = tuple(previous) if previous is not None else (None,) * len(lags)
    return PartitionReading(lags=tuple(lags), committed=committed, previous=previous)


def observation(partitions: PartitionReading, replicas: int = 1) -> Observation:
    """What the autoscaler sees: only the partitions and the replica count matter here."""
    return Observation(
        time=0.0, ready=0, unacked=0, delayed=0, publish_rate=0.0, ack_rate=0.0, oldest_age=0.0,
        utilization=0.0, replicas=replicas, partitions=partitions,
    )  # fmt: skip


def test_the_lag_threshold_defaults_to_keda_s_10():
    """lagThreshold default=10, activationLagThreshold default=0, offsetResetPolicy latest."""
    spec = kafka()
    assert (spec.target, spec.activation, spec.offset_reset_policy) == (10, 0, "latest")


@pytest.mark.parametrize(
    ("lags", "settings", "total"),
    [
        ([5, 7, 0], {}, 12),  # the sum
        ([500, 0, 0], {}, 30),  # 500 / 10 = 50 > 3 partitions: capped at 3 x 10
        ([500, 0, 0], {"allow_idle_consumers": True}, 500),  # no cap
        ([500, 3, 0], {"limit_to_partitions_with_lag": True}, 20),  # 2 partitions lag: 2 x 10
        ([35, 0, 0], {}, 35),  # 35 // 10 = 3 is not > 3: uncapped (the HPA asks ceil 3.5 = 4)
        ([500, 0, 0, 0, 0, 0], {"partition_limitation": [0, 1]}, 20),  # 2 counted partitions
        ([1, 2, 0, 0, 0, 0], {"partition_limitation": [1, 2]}, 2),  # p0's lag not counted
    ],
    ids=["sum", "capped", "idle-allowed", "with-lag", "truncating-cap", "limited", "limited-sum"],
)
def test_total_lag_is_the_sum_capped_at_the_partitions(lags, settings, total):
    """getTotalLag: sum, then total = bound x threshold if total / threshold > bound."""
    assert kafka_total_lag(reading(lags), kafka(**settings)).total == total


def test_even_distribution_raises_the_lag_to_a_factor_of_the_partitions():
    """12 partitions, threshold 10, lag 45: the smallest factor f of 12 with 10 f >= 45 is 6,
    so total = 60 and the HPA asks for 6 replicas, 2 partitions each."""
    spec = kafka(ensure_even_distribution_of_partitions=True)
    assert kafka_total_lag(reading([45] + [0] * 11), spec).total == 60


def test_factors_are_keda_s_find_factors():
    """FindFactors(12) = [1 2 3 4 6 12]; of a prime, 1 and itself."""
    assert (factors(12), factors(13), factors(1)) == ([1, 2, 3, 4, 6, 12], [1, 13], [1])


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, (1, 1)),  # latest: "Returning with lag of 1"
        ({"scale_to_zero_on_invalid_offset": True}, (0, 0)),
        ({"offset_reset_policy": "earliest"}, (250, 250)),  # the newest offset
        ({"offset_reset_policy": "earliest", "scale_to_zero_on_invalid_offset": True}, (0, 0)),
    ],
)
def test_a_partition_without_a_committed_offset(settings, expected):
    """Offset -1 (none committed), newest offset 250."""
    assert partition_lag(250, None, None, kafka(**settings)) == expected


def test_persistent_lag_is_excluded_from_the_metric_but_not_from_activation():
    """excludePersistentLag: p0's committed offset is where it was at the previous reading, so
    it counts 0 for the metric and its lag 40 for activation; p1 moved and counts 5."""
    spec = kafka(exclude_persistent_lag=True)
    lag = kafka_total_lag(reading([40, 5], committed=[7, 9], previous=[7, 3]), spec)
    assert (lag.total, lag.with_persistent) == (5, 45)


def test_without_exclusion_a_stuck_partition_counts():
    """Default: an unmoved offset still counts its lag (no cap here, to see the sum)."""
    spec = kafka(allow_idle_consumers=True)
    assert kafka_total_lag(reading([40, 5], [7, 9], [7, 3]), spec).total == 45


@given(
    lags=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=64),
    threshold=st.integers(min_value=1, max_value=100),
)
def test_the_scaler_asks_for_at_most_the_partitions_or_one_more(lags, threshold):
    """Capped (allow_idle_consumers false), from zero replicas (no tolerance band): P
    replicas when the lag exceeds the cap, else ceil(lag / threshold), which the truncating
    division lets reach P + 1 (a lag between P x threshold and (P + 1) x threshold)."""
    partitions, total = len(lags), sum(lags)
    _, desired = POLICIES["kafka_lag"](observation(reading(lags), 0), kafka(target=threshold))
    expected = partitions if total // threshold > partitions else math.ceil(total / threshold)
    assert desired == expected <= partitions + 1


@given(
    lags=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=64),
    threshold=st.integers(min_value=1, max_value=100),
)
def test_with_idle_consumers_allowed_the_hpa_asks_ceil_lag_over_threshold(lags, threshold):
    """allowIdleConsumers: the total is the plain sum; from zero replicas (no tolerance band)
    the HPA asks ceil(total / threshold)."""
    spec = kafka(target=threshold, allow_idle_consumers=True)
    _, desired = POLICIES["kafka_lag"](observation(reading(lags), 0), spec)
    assert desired == math.ceil(sum(lags) / threshold)


def test_activity_is_the_lag_with_persistent_above_activation():
    """activationLagThreshold 50: lag 45 with persistent is inactive, 60 active."""
    spec = kafka(activation=50, exclude_persistent_lag=True)
    quiet, busy = reading([40, 5], [7, 9], [7, 3]), reading([55, 5], [7, 9], [7, 3])
    metric = kafka_total_lag(quiet, spec).total
    assert not is_active(observation(quiet), metric, spec)
    assert is_active(observation(busy), kafka_total_lag(busy, spec).total, spec)


def test_a_partition_limitation_naming_no_partition_of_the_topic_is_refused():
    """getTopicPartitions: "expected at least one active partition"."""
    with pytest.raises(ValueError, match="at least one active partition"):
        kafka_total_lag(reading([1, 2]), kafka(partition_limitation=[5]))


class _Partitioned(Backlog):
    """A partitioned metrics source with offsets the test moves."""

    def __init__(self, lags: list[int], committed: list[int | None]) -> None:
        self.lags, self.committed = lags, committed

    def partition_lags(self) -> list[int]:
        return self.lags

    def committed_offsets(self) -> list[int | None]:
        return self.committed


def _pool() -> SimpleNamespace:
    """The little of a pool the autoscaler reads outside its loops."""
    broker = SimpleNamespace(env=SimpleNamespace(now=0.0))
    return SimpleNamespace(broker=broker, state=SimpleNamespace(work=0.0), size=2, concurrency=1)


def test_successive_readings_carry_the_previous_committed_offsets():
    """The autoscaler remembers the committed offsets of its last reading: p0 stays at 7, p1
    moves from 3 to 9, p2 has none committed; the second reading sees previous [7, 3, None]."""
    source = _Partitioned([40, 5, 2], [7, 3, None])
    scaler = Autoscaler(_pool(), source, kafka(exclude_persistent_lag=True))  # type: ignore[arg-type]
    scaler.observe(30.0)
    source.committed = [7, 9, None]
    second = scaler.observe(30.0).partitions
    assert second is not None and second.previous == (7, 3, None)


def test_kafka_lag_on_a_source_without_partitions_is_an_engine_error():
    """The scenario refuses it first; the engine refuses it too."""
    from qsim.engine.metrics import QueueMetrics

    with pytest.raises(QsimError, match="partitioned"):
        Autoscaler(_pool(), QueueMetrics(None), kafka())  # type: ignore[arg-type]


# -- scenario keys --------------------------------------------------------------------------------

RABBIT = """\
name: shop
duration: 10s
producers:
  - {name: checkout, to: orders, rate: 5/s}
queues:
  - name: orders
consumers:
  - name: workers
    queue: orders
    service_time: 10ms
    scaling:
      {scaling}
"""


def _error(scaling: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        scenario_from(RABBIT.replace("{scaling}", scaling))
    return str(caught.value)


def test_kafka_lag_on_a_rabbitmq_queue_is_a_one_line_error_naming_the_key():
    """RabbitMQ queues have no partition lags."""
    assert _error("policy: kafka_lag") == (
        "inline.yaml:12: consumers[0].scaling.policy: policy kafka_lag reads a Kafka topic's "
        "partition lags, and 'orders' is a classic queue"
    )


@pytest.mark.parametrize(
    ("scaling", "message"),
    [
        ("{policy: kafka_lag, allow_idle_consumers: true, limit_to_partitions_with_lag: true}",
         "allow_idle_consumers and limit_to_partitions_with_lag cannot both be set"),
        ("{policy: kafka_lag, limit_to_partitions_with_lag: true, "
         "ensure_even_distribution_of_partitions: true}",
         "limit_to_partitions_with_lag and ensure_even_distribution_of_partitions cannot"),
        ("{policy: kafka_lag, target: 2.5}", "must be a whole number, not 2.5"),
        ("{policy: kafka_lag, activation: -1}", "whole number >= 0, not -1"),
        ("{policy: kafka_lag, offset_reset_policy: newest}", "'latest' or 'earliest'"),
        ("{policy: kafka_lag, partition_limitation: []}", "lists no partition"),
        ("{policy: queue_length, allow_idle_consumers: true}",
         "allow_idle_consumers is a setting of policy kafka_lag, not queue_length"),
    ],
    ids=["idle-and-with-lag", "with-lag-and-even", "fractional-threshold", "negative-activation",
         "reset-policy", "empty-limitation", "kafka-key-elsewhere"],
)  # fmt: skip
def test_keda_s_own_checks_of_the_kafka_trigger(scaling, message):
    """kafkaMetadata.Validate, as one located line (the scaling mapping, or the bad key)."""
    error = _error(scaling)
    assert re.match(r"inline\.yaml:1[12]: consumers\[0\]\.scaling[.\w]*: [^\n]+$", error)
    assert message in error


# -- end to end on a Kafka topic ------------------------------------------------------------------

BACKLOG = """
    name: ceiling
    duration: 300s
    sample_interval: 20s
    producers: [{{name: p, to: t, rate: 300/s, key: {{uniform: 5000}}}}]
    queues: [{{name: t, type: kafka, partitions: 6}}]
    consumers:
      - name: c
        queue: t
        replicas: 1
        service_time: 50ms
        scaling: {{policy: kafka_lag, min: 1, max: 30, {settings}}}
    """


def _run(settings: str) -> tuple[list[int], int]:
    """The pool's replica count every 20 s and its idle consumers at the end, in a run whose
    lag grows without bound: 300 records/s against at most 20/s per consumer."""
    summary = run_scenario(scenario_from(BACKLOG.format(settings=settings)))
    idle = summary["consumers"]["c"]["group"]["idle_consumers"]["final"]
    return summary["timeseries"]["pools"]["c"]["replicas"], idle


def test_the_lag_scaler_stops_at_the_partition_count():
    """6 partitions, a lag far above 6 x 10: KEDA caps the metric at 6 x 10, so the HPA asks
    for 6 and no more, however large the lag (the issue's "why does adding pods stop
    helping?"). With allow_idle_consumers the cap goes: the pool grows to max (30), and the 24
    replicas beyond the partitions sit idle."""
    (capped, capped_idle), (uncapped, idle) = _run("target: 10"), _run("allow_idle_consumers: true")
    assert (max(capped), capped[-1], capped_idle) == (6, 6, 0)
    assert (uncapped[-1], idle) == (30, 24)
