"""The autoscaler as KEDA and the HPA run it: two loops (KEDA's pollingInterval for 0 <-> 1, the
HPA's sync period between 1 and N), KEDA's RabbitMQ metric settings, one registry of policy
names, and the metrics source the scaler reads instead of the queue."""

from __future__ import annotations

import ast
import inspect

import pytest
from conftest import run_model, scenario_from
from pydantic import ValidationError
from test_scaling import obs, scaling

import qsim.engine.autoscaler
from qsim.engine.autoscaler import POLICIES, is_active
from qsim.engine.simulation import Model
from qsim.errors import ScenarioError
from qsim.scenario.scaling import POLICIES as POLICY_NAMES

POOL = """
    name: loops
    duration: {duration}
    producers: [{{name: p, to: q, trace: trace.csv}}]
    queues: [{{name: q}}]
    consumers:
      - name: c
        queue: q
        replicas: {replicas}
        prefetch: 1
        service_time: 1000s
        scaling: {{policy: {policy}, min: {min}, max: 20, startup: 1000s, {settings}}}
    """


def changes(
    tmp_path, trace: str, settings: str, replicas: int = 1, policy: str = "queue_length"
) -> list[tuple[float, int]]:
    """(time, replicas) after each change of a pool whose jobs and cold starts outlast the
    60 s run, facing the publish times ``trace``."""
    text = POOL.format(
        duration="60s", replicas=replicas, policy=policy, min=min(replicas, 1), settings=settings
    )
    return run_model(text, tmp_path, trace).autoscalers[0]._replicas


def burst(count: int, at: float) -> str:
    return " ".join([str(at)] * count)


# -- one registry of policy names ------------------------------------------------------------------
def test_every_scenario_policy_has_an_engine_implementation_and_no_other():
    """The scenario model owns the names; the engine registers one implementation per name."""
    assert sorted(POLICIES) == sorted(POLICY_NAMES)


def test_an_unknown_policy_is_an_error_naming_the_known_ones():
    expected = (
        r"inline.yaml:6: consumers\[0\].scaling.policy: unknown policy 'queue_lenght' "
        r"\(did you mean 'queue_length'\?\); known: fixed, queue_length, message_rate, "
    )
    with pytest.raises(ScenarioError, match=expected):
        scenario_from(
            """
            name: typo
            duration: 10s
            producers: [{name: p, to: q, rate: 1/s}]
            queues: [{name: q}]
            consumers: [{name: c, queue: q, service_time: 1s, scaling: {policy: queue_lenght}}]
            """
        )


# -- the metrics source ----------------------------------------------------------------------------
class Backlog:
    """A metrics source that always reports 500 messages waiting and nothing else."""

    def ready(self) -> int:
        return 500

    def in_flight(self) -> int:
        return 0

    def published(self) -> int:
        return 0

    def settled(self) -> int:
        return 0

    def oldest_age(self, now: float) -> float:
        return 0.0


def test_the_autoscaler_scales_on_what_its_metrics_source_reports(tmp_path):
    """The queue stays empty but the source says 500 ready: at 15 s (at 0 s the running replica
    is the recommendation so far) the HPA wants 500 / 50 = 10 and the +4 pods limit gives 5."""
    (tmp_path / "trace.csv").write_text("59\n", encoding="utf-8")
    text = POOL.format(
        duration="60s", replicas=1, policy="queue_length", min=1, settings="target: 50"
    )
    model = Model(scenario_from(text, tmp_path), 0)
    model.autoscalers[0].metrics = Backlog()
    model.run()
    assert model.autoscalers[0]._replicas[1] == (15.0, 5)


def test_the_autoscaler_does_not_import_the_queue():
    """The seam is the metrics source: the scaler's module names no queue module."""
    tree = ast.parse(inspect.getsource(qsim.engine.autoscaler))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "qsim.engine.queue" not in imported


# -- two loops -------------------------------------------------------------------------------------
def test_the_hpa_scales_up_at_its_sync_period_not_at_keda_polling_interval(tmp_path):
    """200 messages at 1 s: the HPA, syncing every 15 s, scales up at 15 s (KEDA's next poll
    would be at 30 s)."""
    assert changes(tmp_path, burst(200, 1), "target: 50")[1][0] == 15.0


def test_from_zero_only_at_a_keda_poll(tmp_path):
    """At zero replicas the HPA does nothing; a message at 1 s activates the pool at KEDA's
    poll at 30 s, not at the HPA's syncs at 15 s."""
    assert changes(tmp_path, "1", "target: 50", replicas=0)[1] == (30.0, 1)


def test_with_cached_metrics_the_hpa_sees_keda_last_poll(tmp_path):
    """use_cached_metrics: the HPA's sync at 15 s gets the empty queue KEDA read at 0 s; the
    burst at 1 s shows only after KEDA's poll at 30 s."""
    settings = "target: 50, use_cached_metrics: true"
    assert changes(tmp_path, burst(200, 1), settings)[1][0] == 30.0


def test_starting_replicas_count_in_the_per_replica_average(tmp_path):
    """260 messages at 1 s, one held: at 15 s 259 / 50 asks for 6 and the limit gives 5; at
    30 s the four replicas still starting count, 259 / (50 x 5) is within the 10% tolerance and
    the pool stays at 5 (counting the one ready replica alone would ask for 6 again)."""
    assert changes(tmp_path, burst(260, 1), "target: 50") == [(0.0, 1), (15.0, 5)]


# -- KEDA's RabbitMQ metric ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "desired"),
    [
        ({"protocol": "http"}, 3),  # messages = 20 ready + 10 unacked
        ({"protocol": "http", "exclude_unacknowledged": True}, 2),
        ({"protocol": "amqp"}, 2),  # passive queue.declare: ready only
    ],
)
def test_http_counts_unacked_unless_excluded_and_amqp_does_not(settings, desired):
    """QueueLength over the management API is ready + unacked; over AMQP, ready only."""
    spec = scaling(policy="queue_length", target=10, **settings)
    assert POLICIES["queue_length"](obs(ready=20, unacked=10), spec)[1] == desired


@pytest.mark.parametrize(
    ("settings", "resolved"),
    [
        ({}, ("amqp", False)),  # today's meaning kept: ready only
        ({"include_unacked": True}, ("http", True)),
        ({"include_unacked": False}, ("amqp", False)),
        ({"protocol": "http", "include_unacked": False}, ("http", False)),
        ({"exclude_unacknowledged": False}, ("http", True)),
    ],
)
def test_include_unacked_is_the_older_spelling_of_the_protocol_choice(settings, resolved):
    """Left out, the protocol follows the unacked settings; include_unacked: true is HTTP's
    ``messages``, false the ready count."""
    spec = scaling(policy="queue_length", target=10, **settings)
    assert (spec.protocol, spec.counts_unacked) == resolved


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"policy": "message_rate", "protocol": "amqp"}, "message_rate needs protocol http"),
        ({"protocol": "amqp", "exclude_unacknowledged": True}, "only with protocol http"),
        ({"protocol": "amqp", "include_unacked": True}, "sees ready messages only"),
        ({"include_unacked": True, "exclude_unacknowledged": True}, "contradict each other"),
    ],
)
def test_settings_keda_refuses_are_errors(settings, message):
    """KEDA's own checks: MessageRate and excludeUnacknowledged need the management API."""
    with pytest.raises(ValidationError, match=message):
        scaling(**{"policy": "queue_length", "target": 10, **settings})


def test_the_rabbitmq_keys_are_ignored_by_the_other_policies():
    """``protocol`` describes how KEDA reads RabbitMQ; a ``lag`` policy has nothing to read."""
    assert scaling(policy="lag", target=10, protocol="http").counts_unacked is False


def test_a_queue_length_policy_without_a_target_gets_keda_default_of_20():
    """KEDA's RabbitMQ scaler with no trigger value: QueueLength, 20 (rabbitmq_scaler.go)."""
    assert scaling(policy="queue_length").target == 20


def test_message_rate_is_active_while_messages_wait_even_with_no_publishes():
    """KEDA's MessageRate activity: the publish rate or the queue length above activation."""
    assert is_active(obs(ready=5), 0.0, scaling(policy="message_rate", target=1))


def test_the_message_rate_is_the_rate_over_the_last_statistics_interval(tmp_path):
    """50 messages at 6 s: the statistics emitted at 10 s report 50 / 5 s = 10/s; the HPA at
    15 s wants 10 / 2 = 5 replicas (the +4 pods limit allows 5)."""
    assert changes(tmp_path, burst(50, 6), "target: 2", policy="message_rate")[1] == (15.0, 5)


def test_a_window_averages_the_publish_rate_over_it_instead(tmp_path):
    """window: 60s: at 15 s the readings go back only to 0 s: 50 / 15 s = 3.3/s wants 2."""
    settings = "target: 2, window: 60s"
    assert changes(tmp_path, burst(50, 6), settings, policy="message_rate")[1] == (15.0, 2)


def test_a_custom_function_sees_the_management_api_publish_rate(tmp_path, monkeypatch):
    """A custom function gets the :class:`Observation`: 50 messages at 6 s are 10/s in the
    statistics emitted at 10 s, and a function asking for that many replicas gets 10 at 15 s."""
    (tmp_path / "by_rate.py").write_text(
        "def replicas(obs):\n    return obs.publish_rate\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = "function: 'by_rate:replicas', interval: 15s"
    assert changes(tmp_path, burst(50, 6), settings, policy="custom")[1] == (15.0, 10)
