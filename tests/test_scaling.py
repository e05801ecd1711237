"""Scaling: each policy's rule by hand-computed cases, the HPA's tolerance, stabilization and
rate limits, KEDA's activation and cooldown, and the control loops' lag in a real run (the
timing of the two loops and KEDA's metric settings: test_autoscaler_loops.py)."""

from __future__ import annotations

from collections import deque

import pytest
from conftest import scenario_from

from qsim.engine.autoscaler import POLICIES, Observation, limit_rate, stabilize
from qsim.engine.simulation import Model
from qsim.errors import ScenarioError
from qsim.runner import run_scenario
from qsim.scenario import Scaling
from qsim.summary import replication_figures


def obs(**figures: float) -> Observation:
    """An observation with everything zero but ``figures``."""
    base = dict.fromkeys(
        (
            "time",
            "ready",
            "unacked",
            "delayed",
            "publish_rate",
            "ack_rate",
            "oldest_age",
            "utilization",
        ),
        0,
    )
    return Observation(**{**base, "replicas": 1, "partitions": None, **figures})  # type: ignore[arg-type]


def scaling(**settings: object) -> Scaling:
    """Scaling settings with the real systems' defaults for anything not given."""
    return Scaling.model_validate(settings)


@pytest.mark.parametrize(
    ("policy", "settings", "seen", "desired"),
    [
        ("queue_length", {"target": 50}, {"ready": 120}, 3),  # ceil(120 / 50)
        ("queue_length", {"target": 50}, {"ready": 105, "replicas": 2}, 2),  # 1.05: tolerance
        ("queue_length", {"target": 50}, {"ready": 120, "replicas": 2}, 3),  # 1.2: outside it
        ("queue_length", {"target": 50, "include_unacked": True}, {"ready": 60, "unacked": 90}, 3),
        ("message_rate", {"target": 10}, {"publish_rate": 95, "replicas": 4}, 10),
        ("utilization", {"target": 0.6}, {"utilization": 0.9, "replicas": 4}, 6),  # 4 x 1.5
        ("utilization", {"target": 0.6}, {"utilization": 0.63, "replicas": 4}, 4),  # 5%: kept
        ("lag", {"target": 10}, {"oldest_age": 30, "replicas": 2}, 6),  # 2 x 30 / 10
    ],
)
def test_each_policy_computes_the_replicas_it_should(policy, settings, seen, desired):
    """desired = ceil(metric / target) per replica (KEDA), or ceil(current x ratio) (HPA)."""
    _, wanted = POLICIES[policy](obs(**seen), scaling(policy=policy, **settings))
    assert wanted == desired


def test_the_schedule_policy_follows_its_steps():
    """Replica counts over time, as a scheduled scaler sets them."""
    spec = scaling(
        policy="schedule", schedule=[{"at": 0, "replicas": 4}, {"at": 100, "replicas": 9}]
    )
    counts = [POLICIES["schedule"](obs(time=t), spec)[1] for t in (0, 99, 100, 500)]
    assert counts == [4, 4, 9, 9]


def test_scale_down_waits_for_the_stabilization_window():
    """Down window 300 s: a lower recommendation wins only when every one in the window is lower."""
    spec = scaling(policy="queue_length", target=1)
    history: deque[tuple[float, int]] = deque()
    steps = [(0, 10), (100, 5), (200, 5), (301, 5)]
    chosen = [stabilize(history, t, desired, 10, spec) for t, desired in steps]
    assert chosen == [10, 10, 10, 5]


def test_scale_up_is_immediate_by_default():
    """Up window 0 s: the new recommendation applies at once."""
    spec = scaling(policy="queue_length", target=1)
    history: deque[tuple[float, int]] = deque([(0.0, 2)])
    assert stabilize(history, 30, 8, 2, spec) == 8


@pytest.mark.parametrize(
    ("current", "desired", "limited"),
    [(2, 20, 6), (10, 50, 20), (10, 12, 12), (40, 1, 1)],
)
def test_rate_limits_allow_the_larger_of_100_percent_or_4_pods_up(current, desired, limited):
    """Per 15 s: +100% or +4 pods (the larger) up; -100% down."""
    spec = scaling(policy="queue_length", target=1)
    assert limit_rate(lambda _t: current, 100, desired, current, spec) == limited


def test_a_pods_policy_with_select_min_takes_the_smaller_change():
    """select: min chooses the policy allowing the least change."""
    spec = scaling(
        policy="queue_length",
        target=1,
        behavior={
            "scale_up": {
                "stabilization": 0,
                "select": "min",
                "policies": [
                    {"type": "pods", "value": 2, "period": 60},
                    {"type": "percent", "value": 100, "period": 60},
                ],
            }
        },
    )
    assert limit_rate(lambda _t: 10, 100, 30, 10, spec) == 12


BURST = """
    name: burst
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q}}]
    consumers:
      - name: c
        queue: q
        replicas: 1
        prefetch: 1
        service_time: 1s
        scaling: {{policy: queue_length, target: 50, min: {min}, max: 20, interval: 30s,
                  startup: 20s, cooldown: 300s}}
    """


def run_burst(tmp_path, times: str, duration: str = "400s", minimum: int = 1) -> Model:
    """A queue_length-scaled pool facing the publish times ``times``."""
    (tmp_path / "trace.csv").write_text(times.replace(" ", "\n"), encoding="utf-8")
    text = BURST.format(duration=duration, min=minimum)
    model = Model(scenario_from(text, tmp_path), 0)
    model.run()
    return model


def test_new_capacity_arrives_no_sooner_than_the_next_sync_plus_startup(tmp_path):
    """1,000 messages at 100 s; the HPA syncs at 90 and 105 s: the 4 replicas added at 105 s
    (1 -> 5, the +4 pods limit) consume from 125 s."""
    model = run_burst(tmp_path, " ".join(["100"] * 1000))
    added = [c.started_at for c in model.consumers[1:5]]
    assert added == [125.0] * 4


def test_the_pool_grows_as_fast_as_the_rate_limits_allow(tmp_path):
    """Each sync may add the larger of 100% or 4 pods: 1 -> 5 at 105 s, 5 -> 10 at 120 s; at
    135 s the backlog (1,000 less 35 + 4 x 10 processed, less 5 held: 920 ready) asks for 19."""
    model = run_burst(tmp_path, " ".join(["100"] * 1000))
    changes = model.autoscalers[0]._replicas
    assert changes[:4] == [(0.0, 1), (105.0, 5), (120.0, 10), (135.0, 19)]


def test_scale_to_zero_after_the_cooldown_and_back_above_activation(tmp_path):
    """min 0: idle after the first message; at zero once 300 s have passed with an empty
    queue; a new message at 1,000 s brings one replica back at KEDA's next poll (1,020 s; the
    HPA does nothing at zero) plus the 20 s startup."""
    model = run_burst(tmp_path, "0 1000", duration="1100s", minimum=0)
    pool = model.replica_pools[0]
    starts = [c.started_at for c in model.consumers]
    assert (pool.scale_downs >= 1, starts[-1], model.queues[0].acked) == (True, 1040.0, 2)


DRAIN = """
    name: drain
    duration: 100s
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q}}]
    consumers:
      - name: c
        queue: q
        replicas: 2
        prefetch: 5
        service_time: 10s
        scaling: {{policy: schedule, schedule: [{{at: 0s, replicas: 2}}, {{at: 5s, replicas: 1}}],
                  interval: 5s, scale_down: {mode}}}
    """


@pytest.mark.parametrize(("mode", "redelivered"), [("drain", 0), ("requeue", 5)])
def test_scale_down_drains_or_requeues_what_the_replica_holds(tmp_path, mode, redelivered):
    """drain: the leaving replica finishes its 5 messages; requeue: they go back to the queue."""
    (tmp_path / "trace.csv").write_text("\n".join(["0"] * 10), encoding="utf-8")
    model = Model(scenario_from(DRAIN.format(mode=mode), tmp_path), 0)
    model.run()
    assert model.queues[0].redelivered == redelivered


def test_replica_seconds_integrate_the_replica_count(tmp_path):
    """2 replicas for 100 s, then 4 for 100 s: 600 replica-seconds, mean 3, max 4."""
    (tmp_path / "trace.csv").write_text("0\n", encoding="utf-8")
    text = """
        name: cost
        duration: 200s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - name: c
            queue: q
            replicas: 2
            service_time: 1s
            scaling: {policy: schedule, schedule: [{at: 0s, replicas: 2}, {at: 100s, replicas: 4}],
                      interval: 10s}
        """
    model = Model(scenario_from(text, tmp_path), 0)
    result = model.run()
    pool = result.pools[0]
    assert (pool.replica_seconds, pool.replicas_mean, pool.replicas_max) == (600.0, 3.0, 4)


def test_slo_attainment_is_the_fraction_of_messages_within_the_latency(tmp_path):
    """Jobs of 1 s, one at a time, three at 0.1 s: latencies 1, 2 and 3 s; SLO 2.5 s: 2/3."""
    (tmp_path / "trace.csv").write_text("0.1\n0.1\n0.1\n", encoding="utf-8")
    text = """
        name: slo
        duration: 10s
        slo: {latency: 2.5s, percentile: 99, backlog: 1}
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers: [{name: c, queue: q, prefetch: 1, service_time: 1s}]
        sample_interval: 0.5s
        """
    scenario = scenario_from(text, tmp_path)
    result = Model(scenario, 0).run()
    slo = replication_figures(result, scenario.slo)["slo"]["q"]
    # ready: 2 from 0.1 s, 1 from 1.1 s: above 1 in the samples at 0.5 and 1 s, not at 1.5 s
    assert (slo["attainment"], slo["drain_time_s"]) == (pytest.approx(2 / 3), 1.0)


def test_an_slo_naming_queues_covers_only_those(tmp_path):
    """``slo.queues`` picks the queues the objective covers; the others get no verdict."""
    text = """
        name: slo
        duration: 10s
        slo: {latency: 1s, queues: [orders]}
        producers: [{name: p, to: orders, rate: 1/s}]
        queues: [{name: orders}, {name: orders.dead-letter}]
        consumers: [{name: c, queue: orders, service_time: 100ms}]
        """
    scenario = scenario_from(text, tmp_path)
    assert set(replication_figures(Model(scenario, 0).run(), scenario.slo)["slo"]) == {"orders"}


def test_an_slo_naming_an_unknown_queue_is_a_located_error():
    expected = r"inline.yaml:4: slo.queues\[0\]: unknown queue 'order' \(did you mean 'orders'\?\)"
    with pytest.raises(ScenarioError, match=expected):
        scenario_from(
            """
            name: slo
            duration: 10s
            slo: {latency: 1s, queues: [order]}
            producers: [{name: p, to: orders, rate: 1/s}]
            queues: [{name: orders}]
            """
        )


def test_the_summary_carries_the_replicas_over_time(tmp_path):
    """timeseries.pools.NAME.replicas follows the schedule (sampled every 50 s)."""
    (tmp_path / "trace.csv").write_text("0\n", encoding="utf-8")
    text = """
        name: series
        duration: 200s
        sample_interval: 50s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - name: c
            queue: q
            replicas: 2
            service_time: 1s
            scaling: {policy: schedule, schedule: [{at: 0s, replicas: 2}, {at: 80s, replicas: 4}],
                      interval: 10s}
        """
    summary = run_scenario(scenario_from(text, tmp_path))
    assert summary["timeseries"]["pools"]["c"]["replicas"] == [2, 2, 4, 4]


def test_a_draining_replica_whose_delivery_times_out_exits(tmp_path):
    """A replica told to leave while a 10 s job outlasts the 5 s consumer timeout: the timeout
    requeues what it held and the replica exits instead of waiting for the job."""
    (tmp_path / "trace.csv").write_text("0\n0\n", encoding="utf-8")
    text = """
        name: drain-timeout
        duration: 30s
        producers: [{name: p, to: q, trace: trace.csv}]
        queues: [{name: q}]
        consumers:
          - name: c
            queue: q
            replicas: 2
            prefetch: 1
            service_time: 10s
            consumer_timeout: 5s
            scaling: {policy: schedule, schedule: [{at: 0s, replicas: 2}, {at: 1s, replicas: 1}],
                      interval: 1s}
        """
    model = Model(scenario_from(text, tmp_path), 0)
    model.run()
    leaving = model.consumers[1]
    assert (leaving.exited, len(model.replica_pools[0].replicas)) == (True, 1)
