"""Lease queues in a scenario: each type's preset filled in, overridable within the
provider's limits, and every bad use one located line, ``FILE:LINE: key.path: message``
(as tests/test_scenario_errors.py checks for the rest). Line numbers count from the first line
of :data:`GOOD`."""

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import scenario_error, write_scenario

from qsim.cli import main
from qsim.engine.kinds import QUEUE_TYPES
from qsim.errors import ScenarioError
from qsim.scenario import load_scenario
from qsim.scenario.lease import LEASE_TYPES, PRESETS

GOOD = """\
name: jobs
duration: 10s
producers:
  - name: web
    to: jobs
    rate: 5/s
  - name: shop
    to: orders
    rate: 5/s
    key: {uniform: 100}
queues:
  - name: jobs
    type: sqs
  - name: orders
    type: sqs-fifo
  - name: events
    type: pubsub
consumers:
  - name: encoder
    queue: jobs
    service_time: 10ms
  - name: shipper
    queue: orders
    service_time: 10ms
"""


write = write_scenario


def error_in(tmp_path: Path, old: str, new: str) -> str:
    """The one-line error of :data:`GOOD` with ``old`` replaced by ``new``."""
    return scenario_error(tmp_path, GOOD, old, new)


def test_every_lease_type_is_built_by_the_lease_model_and_has_a_preset():
    """One registration per type (qsim.engine.kinds), one preset per type."""
    assert set(LEASE_TYPES) <= set(QUEUE_TYPES) and set(PRESETS) == set(LEASE_TYPES)


def test_a_lease_queue_and_its_pool_get_the_providers_defaults(tmp_path):
    """SQS: visibility timeout 30 s, retention 4 days, no delay, in-flight quota 120,000, no
    redrive; a receive of 1 message, short polling (so a 1 s pause after an empty receive).
    Pub/Sub: ack deadline 10 s, retention 7 days. No RabbitMQ queue gains a lease key."""
    scenario = load_scenario(write(tmp_path, GOOD))
    jobs, _, events = scenario.queues
    assert (jobs.lease, jobs.retention, jobs.delay, jobs.max_in_flight, jobs.max_receives) == (
        30.0, 345_600.0, 0.0, 120_000, None,
    )  # fmt: skip
    assert (events.lease, events.retention) == (10.0, 604_800.0)
    encoder = scenario.consumers[0]
    assert (encoder.batch, encoder.wait, encoder.empty_pause, encoder.heartbeat) == (
        1, 0.0, 1.0, None,
    )  # fmt: skip


def test_any_preset_value_can_be_overridden_within_the_limits(tmp_path):
    """A preset is values: the file's own win."""
    text = GOOD.replace("    type: sqs\n", "    type: sqs\n    lease: 12h\n    delay: 15m\n", 1)
    text = text.replace(
        "service_time: 10ms\n", "service_time: 10ms\n    batch: 10\n    wait: 20s\n", 1
    )
    scenario = load_scenario(write(tmp_path, text))
    assert (scenario.queues[0].lease, scenario.queues[0].delay) == (43_200.0, 900.0)
    assert (scenario.consumers[0].batch, scenario.consumers[0].wait) == (10, 20.0)
    assert scenario.consumers[0].empty_pause == 0.0  # after a long poll, none


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    queue: jobs\n", "    queue: jobs\n    batch: 11\n",
         "scenario.yaml:21: consumers[0].batch: batch 11 is outside sqs's range 1 to 10"),
        ("    type: sqs\n", "    type: sqs\n    lease: 13h\n",
         "scenario.yaml:14: queues[0].lease: lease 46800s is outside sqs's range 0s to 43200s"),
        ("    key: {uniform: 100}\n", "",
         "scenario.yaml:8: producers[1].to: 'orders' is an sqs-fifo queue: give key (its "
         "MessageGroupId; a FIFO queue refuses a message without one)"),
        ("type: sqs-fifo", "type: sqs-fif",
         "scenario.yaml:15: queues[1].type: Input should be 'classic', 'quorum', 'stream', "
         "'kafka', 'sqs', 'sqs-fifo', 'pubsub', 'servicebus' or 'jetstream'"),
        ("    queue: jobs\n", "    queue: jobs\n    prefetch: 10\n",
         "scenario.yaml:21: consumers[0].prefetch: prefetch is a RabbitMQ setting: a replica "
         "of a lease queue receives up to batch messages"),
        ("    type: sqs\n", "    type: sqs\n    message_ttl: 1h\n",
         "scenario.yaml:14: queues[0].message_ttl: message_ttl is not a sqs setting (its "
         "lease-queue key is retention)"),
        ("    type: sqs\n", "    type: sqs\n    max_receives: 3\n",
         "scenario.yaml:14: queues[0].max_receives: max_receives on sqs needs a dead_letter "
         "queue (the redrive policy names one)"),
        ("    type: pubsub\n", "    type: pubsub\n    lease: 5s\n",
         "scenario.yaml:18: queues[2].lease: lease 5s is outside pubsub's range 10s to 600s"),
        ("    type: pubsub\n", "    type: pubsub\n    delay: 5s\n",
         "scenario.yaml:18: queues[2].delay: pubsub has no delay (only 0s)"),
        ("    type: pubsub\n", "    type: servicebus\n    max_receives: none\n",
         "scenario.yaml:18: queues[2].max_receives: servicebus always limits receives: give "
         "max_receives >= 1"),
        ("    type: sqs\n", "    type: sqs\n    max_receives: 0\n",
         "scenario.yaml:14: queues[0].max_receives: expected a whole number >= 1, or none (or "
         "-1) for no limit, got 0"),
        ("  - name: jobs\n    type: sqs\n", "  - name: jobs\n    lease: 30s\n",
         "scenario.yaml:13: queues[0].lease: lease needs a lease queue type (sqs, sqs-fifo, "
         "pubsub, servicebus, jetstream)"),
        ("    queue: jobs\n", "    queue: jobs\n    heartbeat: 30s\n",
         "scenario.yaml:21: consumers[0].heartbeat: heartbeat (30s) must be shorter than the "
         "lease (30s), or the lease lapses before it is extended"),
        ("    queue: jobs\n", "    queue: jobs\n    empty_pause: 0s\n",
         "scenario.yaml:21: consumers[0].empty_pause: short polling (wait 0) needs an "
         "empty_pause above zero, or it never stops"),
        ("    type: sqs-fifo\n", "    type: sqs-fifo\n    dead_letter: jobs\n",
         "scenario.yaml:16: queues[1].dead_letter: the dead_letter of a sqs-fifo queue must be "
         "another sqs-fifo queue, and 'jobs' is sqs"),
        ("    queue: jobs\n",
         "    queue: jobs\n    failures: {nack_probability: 0.1, requeue: false}\n",
         "scenario.yaml:21: consumers[0].failures: a failed message on a lease queue returns "
         "(by lease expiry, or at once with partial_batch) until max_receives moves it to "
         "dead_letter: requeue: false has no meaning"),
        ("    rate: 5/s\n    key", "    rate: 5/s\n    resend: 1.5\n    resend_after: 10s\n    key",
         "scenario.yaml:10: producers[1].resend: expected a probability between 0 and 1, got 1.5"),
        ("    rate: 5/s\n    key", "    rate: 5/s\n    resend: -0.1\n    resend_after: 1s\n    key",
         "scenario.yaml:10: producers[1].resend: expected a probability between 0 and 1, got -0.1"),
        ("    rate: 5/s\n    key", "    rate: 5/s\n    resend: 0.1\n    key",
         "scenario.yaml:10: producers[1].resend: resend needs resend_after (how long after its "
         "send a message is resent)"),
        ("    rate: 5/s\n    key", "    rate: 5/s\n    resend_after: 10s\n    key",
         "scenario.yaml:10: producers[1].resend_after: resend_after needs resend (the probability "
         "that a message is resent)"),
        ("    to: jobs\n", "    to: events\n    resend: 0.1\n    resend_after: 10s\n",
         "scenario.yaml:6: producers[0].resend: resend needs an sqs or sqs-fifo queue (the types "
         "whose deduplication is modelled); 'events' is a pubsub queue"),
    ],
)  # fmt: skip
def test_bad_lease_input_is_one_located_line(tmp_path, old, new, message):
    assert error_in(tmp_path, old, new) == message


def test_resend_to_a_rabbitmq_queue_or_an_exchange_is_refused(tmp_path):
    """A resend is SQS's: a classic queue or an exchange is named as what it is."""
    text = GOOD.replace("queues:\n", "queues:\n  - name: audit\n", 1)
    text += "exchanges: [{name: x, type: fanout, bindings: [{queue: audit}]}]\n"
    for to, kind in (("audit", "a classic queue"), ("x", "an exchange")):
        bad = text.replace(
            "    to: jobs\n", f"    to: {to}\n    resend: 0.1\n    resend_after: 1s\n"
        )
        with pytest.raises(ScenarioError) as caught:
            load_scenario(write(tmp_path, bad))
        assert str(caught.value).endswith(
            "producers[0].resend: resend needs an sqs or sqs-fifo queue (the types whose "
            f"deduplication is modelled); {to!r} is {kind}"
        )


def test_a_lease_key_on_a_rabbitmq_pool_is_refused(tmp_path):
    """``batch`` belongs to pools of lease queues."""
    text = GOOD + "  - name: ops\n    queue: audit\n    batch: 5\n    service_time: 1s\n"
    text = text.replace("queues:\n", "queues:\n  - name: audit\n", 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert str(caught.value).endswith(
        "consumers[2].batch: batch needs a lease queue (sqs, sqs-fifo, pubsub, servicebus, "
        "jetstream); 'audit' is classic"
    )


@pytest.mark.parametrize("key", ["batch: 5", "max_outstanding: 100"])
def test_each_lease_pool_key_on_a_rabbitmq_pool_is_one_line(tmp_path, key):
    """Every pool key of lease readers, the new ``max_outstanding`` too, is refused elsewhere."""
    text = GOOD + f"  - name: ops\n    queue: audit\n    {key}\n    service_time: 1s\n"
    text = text.replace("queues:\n", "queues:\n  - name: audit\n", 1)
    name = key.split(":")[0]
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert str(caught.value).endswith(
        f"consumers[2].{name}: {name} needs a lease queue (sqs, "
        "sqs-fifo, pubsub, servicebus, jetstream); 'audit' is classic"
    )


def test_validate_exits_2_on_bad_lease_input(tmp_path):
    """The command line: one ``qsim:`` line on stderr, exit status 2."""
    path = write(tmp_path, GOOD.replace("    queue: jobs\n", "    queue: jobs\n    batch: 11\n"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"qsim: {path}:21: consumers[0].batch: batch 11 is outside sqs's range 1 to 10"
    ]


def test_qsim_live_refuses_a_lease_queue(tmp_path):
    """``qsim live`` replays RabbitMQ queues: a lease queue is named as what it cannot run."""
    from qsim.errors import QsimError
    from qsim.live.support import check_supported

    with pytest.raises(QsimError, match="queues 'jobs': type sqs"):
        check_supported(load_scenario(write(tmp_path, GOOD)))


LEASE_GOOD = {
    "name": "leases",
    "duration": "30s",
    "producers": [
        {"name": "web", "to": "jobs", "rate": "5/s"},
        {"name": "shop", "to": "orders", "rate": "5/s", "key": {"uniform": 10}},
    ],
    "queues": [
        {"name": "jobs", "type": "sqs", "lease": "30s", "max_receives": 5,
         "dead_letter": "jobs-dlq", "retention": "1d", "delay": "1s", "max_in_flight": 100},
        {"name": "jobs-dlq", "type": "sqs"},
        {"name": "orders", "type": "sqs-fifo"},
    ],
    "consumers": [
        {"name": "encoder", "queue": "jobs", "concurrency": 2, "batch": 10, "wait": "20s",
         "empty_pause": "1s", "heartbeat": "10s", "partial_batch": True,
         "service_time": "1s",
         "scaling": {"policy": "aws_sqs_queue", "target": 5, "min": 0, "max": 10,
                     "scale_on_in_flight": True, "scale_on_delayed": False}},
        {"name": "shipper", "queue": "orders", "service_time": "10ms"},
    ],
}  # fmt: skip
"""Every lease key, for the loader fuzzer to break."""


def test_a_wrong_value_at_any_lease_key_loads_or_gives_one_line(tmp_path):
    """As tests/test_loader_fuzz.py does for RabbitMQ's keys: every key of
    :data:`LEASE_GOOD` set to a value of each wrong kind gives a scenario or one located line,
    never a crash."""
    import copy

    from test_loader_fuzz import WRONG_VALUES, Loader, dump, paths_of, problem
    from test_loader_fuzz import write as write_file

    loader = Loader()
    try:
        assert problem(loader, write_file(tmp_path, dump(LEASE_GOOD))) is None
        failures = []
        for index, path in enumerate(paths_of(LEASE_GOOD)):
            for kind in WRONG_VALUES:
                value = kind[index % len(kind)]
                data = copy.deepcopy(LEASE_GOOD)
                node: Any = data
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = value
                found = problem(loader, write_file(tmp_path, dump(data)))
                if found is not None:
                    failures.append(f"{path} = {value!r:.40}: {found}")
    finally:
        loader.close()
    assert not failures, "\n".join(failures)
