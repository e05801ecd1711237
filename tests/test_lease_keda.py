"""KEDA's aws-sqs-queue scaler as policy ``aws_sqs_queue`` on the autoscaler loop: the metric
is the queue's visible messages, plus those in flight (``scaleOnInFlight``, on by default), plus
the delayed ones (``scaleOnDelayed``, off by default), over ``queueLength`` (5) per replica
(kedacore/keda pkg/scalers/aws_sqs_queue_scaler.go)."""

from __future__ import annotations

import pytest
from conftest import scenario_from
from test_scaling import obs

from qsim.engine import simulate
from qsim.engine.autoscaler import POLICIES, sqs_queue_length
from qsim.errors import ScenarioError
from qsim.scenario import Scaling
from qsim.summary import replication_figures


def sqs(**settings: object) -> Scaling:
    """The scaler's settings with KEDA's defaults for anything not given."""
    return Scaling.model_validate({"policy": "aws_sqs_queue", "max": 50, **settings})


def test_the_sqs_trigger_defaults_are_kedas():
    """queueLength 5, activationQueueLength 0, scaleOnInFlight true, scaleOnDelayed false."""
    spec = sqs()
    assert (spec.target, spec.activation, spec.scale_on_in_flight, spec.scale_on_delayed) == (
        5, 0, True, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "metric"),
    [({}, 10), ({"scale_on_in_flight": False}, 7), ({"scale_on_delayed": True}, 14)],
)
def test_the_metric_adds_in_flight_and_delayed_messages_as_asked(settings, metric):
    """7 visible, 3 in flight, 4 delayed."""
    assert sqs_queue_length(obs(ready=7, unacked=3, delayed=4), sqs(**settings)) == metric


def test_the_desired_count_is_the_metric_over_the_queue_length_per_replica():
    """An AverageValue metric: ceil(23 / 5) = 5 replicas (outside the HPA's tolerance)."""
    assert POLICIES["aws_sqs_queue"](obs(ready=20, unacked=3), sqs()) == (23, 5)


DELAYED = """
    name: delayed-burst
    duration: 50s
    producers: [{{name: p, to: q, rate: 4/s}}]
    queues: [{{name: q, type: sqs, delay: 60s}}]
    consumers:
      - {{name: c, queue: q, replicas: 0, wait: 20s, service_time: 1s,
         scaling: {{policy: aws_sqs_queue, min: 0, max: 10, interval: 5s,
                   scale_on_delayed: {delayed}}}}}
    """


@pytest.mark.parametrize(("delayed", "replicas"), [("false", 0), ("true", 10)])
def test_delayed_messages_scale_the_pool_only_with_scale_on_delayed(delayed, replicas):
    """Every message is delayed 60 s, longer than the run: nothing is ever visible, so KEDA
    sees 0 and keeps the pool at zero, unless it counts the delayed ones (about 4/s x 50 s),
    which activates the pool and scales it to its maximum ahead of the work."""
    figures = replication_figures(simulate(scenario_from(DELAYED.format(delayed=delayed))))
    assert figures["consumers"]["c"]["replicas_max"] == replicas


def test_aws_sqs_queue_reads_only_sqs_queues():
    """A Pub/Sub subscription has no ApproximateNumberOfMessages: refused before the run."""
    text = DELAYED.format(delayed="false").replace("type: sqs, delay: 60s", "type: pubsub")
    with pytest.raises(ScenarioError) as caught:
        scenario_from(text)
    assert str(caught.value).endswith(
        "consumers[0].scaling.policy: policy aws_sqs_queue reads an SQS queue's message "
        "counts, and 'q' is a pubsub queue"
    )


def test_the_sqs_keys_belong_to_the_sqs_policy():
    """scale_on_delayed on a queue_length scaler is refused."""
    with pytest.raises(ValueError, match="scale_on_delayed is a setting of policy aws_sqs_queue"):
        Scaling.model_validate({"policy": "queue_length", "scale_on_delayed": True})
