"""AWS Lambda behind an SQS event source mapping (``scaling: {policy: lambda}``): the scaling
rules as AWS documents them (services-sqs-scaling.html), cold starts, timeouts and the bill."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario_from

from qsim.engine import simulate
from qsim.engine.awslambda import SCALE_DOWN_AFTER, event_source_concurrency
from qsim.errors import ScenarioError
from qsim.scenario import Scaling, load_scenario


def spec(**settings: object) -> Scaling:
    """Lambda's settings with AWS's defaults for anything not given."""
    return Scaling.model_validate({"policy": "lambda", **settings})


def test_defaults_are_aws_documented_ones():
    """128 MB, 3 s timeout, batches of 10 with no window, 300 more a minute, and the account's
    1,000 concurrent executions as the cap (below the event source's 1,250)."""
    s = spec()
    got = (s.memory, s.timeout, s.batch_size, s.batching_window, s.scale_up_per_minute, s.max)
    assert got == (128, 3.0, 10, 0.0, 300, 1000)


@pytest.mark.parametrize(
    ("settings", "cap"),
    [
        ({}, 1000),  # the account's concurrency
        ({"account_concurrency": 5000}, 1250),  # the event source's own maximum
        ({"maximum_concurrency": 40}, 40),
        ({"reserved_concurrency": 30, "maximum_concurrency": 40}, 30),  # the function's cap
        ({"reserved_concurrency": 300, "account_concurrency": 3000}, 300),
    ],
)
def test_concurrency_is_capped_by_the_smallest_limit(settings, cap):
    """min(1,250, maximum concurrency, reserved concurrency or else the account's)."""
    assert spec(**settings).max == cap


def test_messages_visible_start_five_batches():
    """From fewer than five, the event source goes to five at once."""
    assert event_source_concurrency(1, visible=100, working=1, idle_for=0, spec=spec()) == 5


def test_each_reading_adds_the_rate_times_the_interval():
    """300 a minute: 5 more at each 1 s reading, 50 more at each 10 s one."""
    one = event_source_concurrency(20, visible=100, working=20, idle_for=0, spec=spec())
    ten = event_source_concurrency(20, 100, 20, 0, spec(interval="10s"))
    assert (one, ten) == (25, 70)


def test_it_scales_back_only_after_a_quiet_spell():
    """No message visible: kept for SCALE_DOWN_AFTER, then back to the batches at work (at
    least five)."""
    s = spec()
    kept = event_source_concurrency(80, 0, 12, SCALE_DOWN_AFTER - 1, s)
    back = [event_source_concurrency(80, 0, w, SCALE_DOWN_AFTER, s) for w in (12, 2)]
    assert (kept, back) == (80, [12, 5])


STEP = """
    name: step
    duration: 300s
    sample_interval: 1s
    producers:
      - {name: p, to: q, arrivals: constant,
         schedule: [{at: 0s, rate: 0.25/s}, {at: 60s, rate: 250/s}]}
    queues: [{name: q}]
    consumers:
      - {name: fn, queue: q, service_time: 8s,
         scaling: {policy: lambda, timeout: 10s}}
    """


@pytest.mark.parametrize("queue", ["{name: q}", "{name: q, type: sqs, lease: 60s}"])
def test_concurrency_rises_no_faster_than_the_documented_rate_after_a_step_burst(queue):
    """Before 60 s, 0.25/s of 8 s jobs keep two busy (the five starting batches suffice); at
    60 s the load jumps to 250/s (2,000 concurrent wanted, 1,000 allowed).
    AWS: five batches at first, then up to 300 more per minute. Over every 60 s window the
    replica count grows by at most 300, and it reaches the 1,000 cap, not before
    (1,000 - 5) / 300 min = 199 s after the burst (readings are 1 s apart: 200 s). The same on
    a RabbitMQ queue and on SQS: the policy reads only the visible count."""
    result = simulate(scenario_from(STEP.replace("{name: q}", queue)))
    time, replicas = result.timeseries["time"], result.timeseries["pool:fn:replicas"]
    windows = zip(time[:-1], replicas, strict=False)
    rise = [replicas[(time > t) & (time <= t + 60)].max() - now for t, now in windows]
    first_at_cap = time[np.argmax(replicas >= 1000)]
    assert (max(rise), replicas.max(), 259 <= first_at_cap <= 262) == (300, 1000, True)


BILL = """
    name: bill
    duration: 100s
    producers: [{name: p, to: q, rate: 1/s, arrivals: constant}]
    queues: [{name: q}]
    consumers:
      - {name: fn, queue: q, replicas: 5, service_time: 0.25s,
         scaling: {policy: lambda, memory: 2048}}
    """


def test_gb_seconds_are_memory_times_billed_duration():
    """One message a second (at 1 s, ..., 99 s): 99 invocations of 250 ms at 2 GB, 24.75 s
    billed, 49.5 GB-s, no cold start (the five starting batches are warm, one is enough)."""
    bill = simulate(scenario_from(BILL)).pools[0].function
    assert bill is not None
    got = (bill.invocations, bill.billed_seconds, bill.gb_seconds, bill.cold_starts)
    assert got == (99, 24.75, 49.5, 0)


TIMEOUT = """
    name: timeout
    duration: 60s
    producers: [{name: p, to: q, rate: 1/s, arrivals: constant, count: 10}]
    queues: [{name: q}]
    consumers:
      - {name: fn, queue: q, service_time: {dist: empirical, values: [2s, 5s, 2s]},
         scaling: {policy: lambda, timeout: 3s}}
    """


def test_an_invocation_longer_than_the_timeout_is_stopped_and_billed_to_it():
    """A job over the 3 s timeout stops at 3 s and fails (its message returns to the queue);
    each one counts as a timeout and is billed 3 s, never its full length."""
    result = simulate(scenario_from(TIMEOUT))
    bill = result.pools[0].function
    assert bill is not None
    runs = bill.billed_seconds / max(bill.invocations, 1)
    assert bill.timeouts > 0 and runs <= 3.0


GOOD = """\
name: shop
duration: 10s
producers: [{name: p, to: q, rate: 5/s}]
queues: [{name: q}]
consumers:
  - name: fn
    queue: q
    service_time: 10ms
    scaling:
      policy: lambda
      memory: 512
"""


BAD = [  # (the memory line replaced by, the key reported, the message's start)
    ("memory: 64", "scaling.memory", "expected a whole number from 128 to 10240, got 64"),
    ("timeout: 901s", "scaling.timeout", "timeout must be from 1s to 900s (Lambda's limit)"),
    ("batch_size: 11", "scaling.batch_size", "batch_size 11 needs batching_window of at least"),
    ("batching_window: 301s", "scaling.batching_window", "batching_window must be at most 300s"),
    ("maximum_concurrency: 1", "scaling.maximum_concurrency", "expected a whole number from 2"),
    ("reserved_concurrency: 950", "scaling.reserved_concurrency", "reserved_concurrency (950) "
     "must leave 100 of account_concurrency (1000) unreserved"),
    ("max: 50", "scaling.max", "max is not a setting of policy lambda: use maximum_concurrency"),
    ("startup: 1s", "scaling.startup", "startup is not a setting of policy lambda: a Lambda's"),
    ("memory: 512\n    concurrency: 4", "concurrency", "a Lambda execution environment runs one "
     "batch at a time: concurrency must be 1"),
    ("memory: 512\n    ack: auto", "ack", "Lambda deletes a message when the function returns"),
]  # fmt: skip


@pytest.mark.parametrize(("new", "key", "message"), BAD)
def test_bad_lambda_settings_are_one_located_line(tmp_path, monkeypatch, new, key, message):
    """AWS's limits, each refused in one line naming the file, the line and the key."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenario.yaml").write_text(GOOD.replace("memory: 512", new), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenario.yaml")
    line = 12 if key in ("concurrency", "ack") else 11
    assert str(caught.value).startswith(f"scenario.yaml:{line}: consumers[0].{key}: {message}")


def test_lambda_keys_belong_to_policy_lambda(tmp_path, monkeypatch):
    """``memory`` on a KEDA-scaled pool is an error, not silently ignored."""
    monkeypatch.chdir(tmp_path)
    text = GOOD.replace("policy: lambda", "policy: fixed")
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenario.yaml")
    expected = "scenario.yaml:11: consumers[0].scaling.memory: memory is a setting of policy lambda"
    assert str(caught.value).startswith(expected)


SQS = """
    name: sqs
    duration: 60s
    producers: [{name: p, to: q, rate: 50/s}]
    queues: [{name: q, type: sqs, lease: 30s}]
    consumers:
      - {name: fn, queue: q, service_time: 0.2s, scaling: {policy: lambda, batch_size: 10}}
    """


def test_on_sqs_each_received_batch_is_one_invocation():
    """The event source's pollers receive up to ``batch_size`` messages and invoke the
    function once per batch: invocations = receives that returned messages, fewer than the
    messages processed."""
    result = simulate(scenario_from(SQS))
    bill, lease = result.pools[0].function, result.queues[0].lease
    assert bill is not None and lease is not None
    receives = lease.receives - lease.empty_receives
    assert (bill.invocations, bill.invocations < lease.received) == (receives, True)


def test_a_function_timeout_above_the_visibility_timeout_is_refused(tmp_path, monkeypatch):
    """Lambda refuses an SQS event source whose function timeout exceeds the queue's
    visibility timeout (services-sqs-configure.html)."""
    monkeypatch.chdir(tmp_path)
    text = GOOD.replace("queues: [{name: q}]", "queues: [{name: q, type: sqs, lease: 30s}]")
    text = text.replace("memory: 512", "timeout: 60s")
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenario.yaml")
    expected = (
        "scenario.yaml:11: consumers[0].scaling.timeout: the function timeout (60s) exceeds the "
        "queue's visibility timeout (lease 30s)"
    )
    assert str(caught.value).startswith(expected)


def test_lambda_reads_sqs_not_other_lease_queues(tmp_path, monkeypatch):
    """An SQS event source mapping: a Pub/Sub subscription is refused."""
    monkeypatch.chdir(tmp_path)
    text = GOOD.replace("queues: [{name: q}]", "queues: [{name: q, type: pubsub}]")
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenario.yaml")
    expected = "scenario.yaml:7: consumers[0].queue: policy lambda reads SQS (type sqs or sqs-fifo)"
    assert str(caught.value).startswith(expected)


SAME = """
    name: same
    duration: 300s
    producers: [{name: p, to: q, rate: 2/s, count: 200}]
    queues:
      - {name: q, type: sqs, lease: 10s, max_receives: 3, dead_letter: dlq}
      - {name: dlq, type: sqs}
    consumers:
      - {name: fn, queue: q, service_time: {dist: empirical, values: [1s, 5s]},
         redelivery: same, scaling: {policy: lambda, timeout: 3s, batch_size: 1}}
    """


def test_a_job_longer_than_the_timeout_fails_every_receive_and_is_dead_lettered():
    """With ``redelivery: same`` a 5 s job takes 5 s on every attempt: each of its 3 receives
    times out at 3 s, then it moves to the dead-letter queue (timeouts = 3 x dead-lettered)."""
    result = simulate(scenario_from(SAME))
    bill, lease = result.pools[0].function, result.queues[0].lease
    assert bill is not None and lease is not None and lease.dead_lettered > 0
    assert bill.timeouts == 3 * lease.dead_lettered


WINDOW = """
    name: window
    duration: 200s
    producers: [{name: p, to: q, rate: 10000/s, count: 250, arrivals: constant}]
    queues: [{name: q, type: sqs, lease: 5m}]
    consumers:
      - {name: fn, queue: q, service_time: 10ms,
         scaling: {policy: lambda, reserved_concurrency: 1, batch_size: 100,
                   batching_window: 60s}}
    """


def test_a_batching_window_gathers_up_to_the_batch_size_over_several_receives():
    """One poller (reserved concurrency 1), 250 messages at once, batches of 100 gathered 10 per
    receive: two full batches are invoked at once, the last 50 when the 60 s window ends:
    3 invocations, the last one a minute after the others."""
    result = simulate(scenario_from(WINDOW))
    bill, latency = result.pools[0].function, result.records["latency"]
    assert bill is not None
    assert (bill.invocations, int((latency > 60).sum())) == (3, 50)
