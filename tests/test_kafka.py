"""Kafka topics (``type: kafka``): each test states one rule of the model
(``docs/semantics.md``, "Kafka") with a scenario small enough to reason about.

Statistical checks follow tests/test_theory.py: ``R`` replications with fixed seeds, a 99%
Student-t interval that must contain the exact value and be narrow enough to mean it.
"""

from __future__ import annotations

import functools
from typing import Any

from conftest import scenario_from
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_theory import assert_matches, interval, pk_wait

from qsim.engine import simulate
from qsim.engine.kafka.partitioner import key_bytes, partition_for_key
from qsim.engine.kafka.topic import Topic
from qsim.engine.simulation import Model
from qsim.summary import replication_figures

R = 20
"""Replications per statistical check."""


def figures(text: str, replication: int = 0) -> dict[str, Any]:
    """The summary figures of one replication of an inline scenario."""
    return replication_figures(simulate(scenario_from(text), replication))


@functools.cache
def replications(text: str) -> list[dict[str, Any]]:
    """Per-replication figures of a scenario (run once, shared by the tests that read them)."""
    scenario = scenario_from(text)
    return [replication_figures(simulate(scenario, r)) for r in range(scenario.replications)]


# -- the partition ceiling -----------------------------------------------------------------
CEILING = """
    name: ceiling
    duration: 300s
    warmup: 10s
    producers: [{{name: p, to: t, rate: 40/s, key: {{uniform: 5000}}}}]
    queues: [{{name: t, type: kafka, partitions: 4}}]
    consumers:
      - {{name: c, queue: t, replicas: {replicas}, service_time: {{dist: exponential, mean: 80ms}},
         crash: {{mtbf: 60s, restart: 2s}}, session_timeout: 10s}}
    """


def test_replicas_beyond_the_partition_count_change_nothing_but_idle_replica_seconds():
    """4 partitions: with 6 replicas the 2 last to join own nothing, so every queue, flow and
    producer figure equals the 4-replica run's, crashes included; only the idle consumers and
    the replica-seconds (6 x 290 s against 4 x 290 s) differ."""
    crashless = CEILING.replace("crash: {{mtbf: 60s, restart: 2s}}, ", "")
    four, six = (figures(crashless.format(replicas=n)) for n in (4, 6))
    assert (four["queues"], four["flows"], four["producers"]) == (
        six["queues"], six["flows"], six["producers"],
    )  # fmt: skip
    group4, group6 = four["consumers"]["c"]["group"], six["consumers"]["c"]["group"]
    assert (group4["idle_consumers"]["final"], group6["idle_consumers"]["final"]) == (0, 2)
    assert (group4["replica_seconds"], group6["replica_seconds"]) == (4 * 290, 6 * 290)


# -- theory: each partition with its own consumer is an M/G/1 queue --------------------------
KEYS = 10_000
PARTITIONS = 4
MEAN_SERVICE = 0.1
LAMBDA = 28.0  # 7/s per partition on average: rho about 0.7


def partition_shares(keys: int, partitions: int) -> list[float]:
    """The fraction of uniform keys ``0`` to ``keys - 1`` that murmur2 sends to each partition."""
    counts = [0] * partitions
    for k in range(keys):
        counts[partition_for_key(key_bytes(str(k)), partitions)] += 1
    return [count / keys for count in counts]


def mixed_pk_wait(cv: float) -> float:
    """The mean wait over all records: partition ``p`` is an M/G/1 queue with arrival rate
    ``lambda * share_p`` (a Poisson stream split at random is Poisson), so the mean wait is the
    share-weighted Pollaczek-Khinchine wait."""
    shares = partition_shares(KEYS, PARTITIONS)
    return sum(s * pk_wait(LAMBDA * s, MEAN_SERVICE, cv) for s in shares)


def theory_run(service: str, duration: int, warmup: int) -> list[dict[str, Any]]:
    """Replications of the M/G/1-per-partition scenario. The warm-up spans many relaxation times
    (about ``1 / (mu (1 - sqrt(rho))^2)``, 3 s at the busiest partition's rho 0.73)."""
    return replications(
        f"""
        name: kafka-theory
        seed: 5
        duration: {duration}s
        warmup: {warmup}s
        replications: {R}
        producers: [{{name: p, to: t, rate: {LAMBDA}/s, key: {{uniform: {KEYS}}}, linger: 0s}}]
        queues: [{{name: t, type: kafka, partitions: {PARTITIONS}}}]
        consumers:
          - {{name: c, queue: t, replicas: {PARTITIONS}, service_time: {service}}}
        """
    )


def test_partitions_with_one_consumer_each_wait_as_pollaczek_khinchine_exponential():
    """Exponential service (cv 1): W = sum_p share_p * lambda_p E[S^2] / (2 (1 - rho_p)).

    Sized from the interval the check needs: 900 s windows gave a half-width of 2.9% of W; a
    500 s window gives 2.9% x sqrt(900 / 500) = 3.9% (measured 4.0%), inside test_theory's
    1.5-4.5% design range, below the 6% bound, at 55% of the cost."""
    runs = theory_run("{dist: exponential, mean: 100ms}", duration=550, warmup=50)
    waits = [f["queues"]["t"]["wait_s"]["mean"] for f in runs]
    assert_matches(waits, mixed_pk_wait(1.0))


def test_partitions_with_one_consumer_each_wait_as_pollaczek_khinchine_lognormal():
    """Lognormal service, cv 1.5: E[S^2] = mean^2 (1 + cv^2) in the same formula. The waits
    vary more than with exponential service: 900 s windows give a half-width of 4.7% of W
    (measured), so this run keeps its full length."""
    service = "{dist: lognormal, mean: 100ms, cv: 1.5}"
    waits = [f["queues"]["t"]["wait_s"]["mean"] for f in theory_run(service, 1000, 100)]
    assert_matches(waits, mixed_pk_wait(1.5))


# -- ordering -------------------------------------------------------------------------------
def ordering_scenario(partitions: int, replicas: int, assignor: str, commit: str, mtbf: int,
                      scale_to: int, seed: int) -> str:  # fmt: skip
    return f"""
        name: ordering
        seed: {seed}
        duration: 200s
        producers: [{{name: p, to: t, rate: 30/s, key: {{zipf: {{keys: 40, s: 0.8}}}}}}]
        queues: [{{name: t, type: kafka, partitions: {partitions}}}]
        consumers:
          - name: c
            queue: t
            replicas: {replicas}
            service_time: {{dist: exponential, mean: 30ms}}
            max_poll_records: 20
            assignor: {assignor}
            commit: {commit}
            session_timeout: 6s
            heartbeat_interval: 2s
            rebalance_time: {{dist: uniform, low: 0.5s, high: 2s}}
            crash: {{mtbf: {mtbf}s, restart: 3s}}
            scaling:
              policy: schedule
              interval: 5s
              min: 1
              max: 12
              schedule: [{{at: 0s, replicas: {replicas}}}, {{at: 70s, replicas: {scale_to}}},
                         {{at: 140s, replicas: {replicas}}}]
        """


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    partitions=st.integers(1, 6),
    replicas=st.integers(1, 4),
    assignor=st.sampled_from(["range", "roundrobin", "cooperative-sticky"]),
    commit=st.sampled_from(["auto", "batch", "record"]),
    mtbf=st.integers(10, 60),
    scale_to=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_records_of_a_partition_are_first_processed_in_offset_order(
    partitions, replicas, assignor, commit, mtbf, scale_to, seed
):
    """Under crashes, scale-ups and -downs and the rebalances they cause, every record of a
    partition is processed for the first time after every record before it (re-reads aside):
    a key always lands on one partition, so each key's records are processed in publish order.
    The books (checked at the end of every run) hold too."""
    text = ordering_scenario(partitions, replicas, assignor, commit, mtbf, scale_to, seed)
    model = Model(scenario_from(text), 0)
    run = model.run()
    topic = model.queues[0]
    assert isinstance(topic, Topic)
    books = topic.groups["c"].books
    assert [b.out_of_order for b in books] == [0] * partitions
    assert sum(b.processed for b in books) > 0 and run.pools[0].crashes > 0


# -- offsets: duplicates after a crash -------------------------------------------------------
CRASH_RATE = 10.0
COMMIT_INTERVAL = 5.0


def crash_run(commit: str) -> list[dict[str, Any]]:
    return replications(
        f"""
        name: kafka-crash
        seed: 3
        duration: 2400s
        replications: {R}
        producers: [{{name: p, to: t, rate: {CRASH_RATE}/s, linger: 0s}}]
        queues: [{{name: t, type: kafka, partitions: 1}}]
        consumers:
          - {{name: c, queue: t, service_time: 1ms, commit: {commit},
             auto_commit_interval: {COMMIT_INTERVAL}s, session_timeout: 1s,
             heartbeat_interval: 250ms, rebalance_time: 10ms,
             crash: {{mtbf: {{dist: exponential, mean: 120s}}, restart: 200ms}}}}
        """
    )


def expected_duplicates_per_crash(lam: float, interval: float) -> float:
    """Records processed since the last auto-commit, at a crash. A commit happens at the first
    poll at least ``interval`` after the previous one; a consumer keeping up polls when the next
    record arrives, so commits are ``C = interval + X`` apart, ``X ~ Exp(lam)``. A crash at a
    random moment falls ``E[C^2] / (2 E[C])`` after the last commit (the renewal age), and the
    records processed in that time, about ``lam`` per second, are processed again by the
    partition's next owner: ``lam (T^2 + 2T/lam + 2/lam^2) / (2 (T + 1/lam))``.

    Left out, and kept small by the scenario: the backlog of the stall (about ``s`` = 1.2 s
    from the crash to the reassignment) is processed just after the reassignment and is
    uncommitted until the first commit, and a crash before the reassignment repeats nothing;
    together they bias the figure by about ``2 s / mtbf``, 2%."""
    mean = interval + 1 / lam
    square = interval**2 + 2 * interval / lam + 2 / lam**2
    return lam * square / (2 * mean)


def test_auto_commit_duplicates_per_crash_are_the_uncommitted_window():
    """Duplicates per crash match lambda times the mean age of the last commit (25.5 records
    at 10/s and a 5 s interval). About 20 crashes per replication, each repeating between 0
    and 50 records: the interval is wider than test_theory's (10% of the value, not 6%)."""
    runs = crash_run("auto")
    per_crash = [
        f["queues"]["t"]["kafka"]["duplicates"] / f["consumers"]["c"]["crashes"] for f in runs
    ]
    exact = expected_duplicates_per_crash(CRASH_RATE, COMMIT_INTERVAL)
    mean, low, high = interval(per_crash)
    assert low <= exact <= high, f"simulated {mean:.4g} [{low:.4g}, {high:.4g}], exact {exact:.4g}"
    assert (high - low) / 2 < 0.1 * exact


def test_auto_commit_loses_nothing_in_a_synchronous_poll_loop():
    """Auto-commit commits what earlier polls returned, which the loop has processed: every
    flow that ended, ended completed."""
    runs = crash_run("auto")
    assert sum(f["flows"]["p"]["failed"] for f in runs) == 0


def test_commit_after_each_record_loses_nothing_and_repeats_nothing():
    """Committing each record's offset once it is processed (synchronously, in no time):
    the next owner resumes at the record the crash cut, so no record is lost or processed
    twice, and every record produced was processed or is still behind the committed offset."""
    runs = crash_run("record")
    kafka = [f["queues"]["t"]["kafka"] for f in runs]
    assert [k["duplicates"] for k in kafka] == [0] * R
    assert sum(f["flows"]["p"]["failed"] for f in runs) == 0
    assert all(k["consumed"] + k["lag"]["final"] == k["produced"] for k in kafka)
    assert min(f["consumers"]["c"]["crashes"] for f in runs) > 0


# -- a hot key -------------------------------------------------------------------------------
def hot_key(replicas: int) -> dict[str, Any]:
    return figures(
        f"""
        name: hot-key
        duration: 300s
        warmup: 20s
        producers: [{{name: p, to: t, rate: 60/s, key: {{zipf: {{keys: 100, s: 1.5}}}}}}]
        queues: [{{name: t, type: kafka, partitions: 6}}]
        consumers:
          - {{name: c, queue: t, replicas: {replicas}, commit: record,
             service_time: {{dist: exponential, mean: 40ms}}}}
        """
    )["queues"]["t"]["kafka"]["partitions"]


def test_a_hot_key_overloads_its_partition_and_more_consumers_do_not_help():
    """Zipf s 1.5 over 100 keys: key 0 alone carries about 40% of 60/s, more than one consumer
    does at 25/s, so its partition's lag grows through the run while the other partitions'
    stays near zero (offsets committed after each record: the lag is the backlog). With one
    consumer per partition already, 12 consumers leave the hot partition exactly as far behind
    as 6 do: only one consumer of a group reads a partition."""
    hot = partition_for_key(key_bytes("0"), 6)
    six, twelve = hot_key(6), hot_key(12)
    others = [p["lag"]["mean"] for i, p in enumerate(six) if i != hot]
    assert six[hot]["lag"]["final"] > 1000 and max(others) < 5
    assert twelve[hot]["lag"] == six[hot]["lag"]


# -- rebalances ------------------------------------------------------------------------------
def scale_out(assignor: str) -> dict[str, Any]:
    return figures(
        f"""
        name: scale-out
        duration: 120s
        warmup: 30s
        producers: [{{name: p, to: t, rate: 50/s, key: {{uniform: 1000}}}}]
        queues: [{{name: t, type: kafka, partitions: 12}}]
        consumers:
          - name: c
            queue: t
            replicas: 3
            service_time: 5ms
            assignor: {assignor}
            rebalance_time: 2s
            heartbeat_interval: 100ms
            scaling:
              policy: schedule
              interval: 1s
              min: 1
              max: 10
              schedule: [{{at: 0s, replicas: 3}}, {{at: 60s, replicas: 6}}]
        """
    )["consumers"]["c"]["group"]


def test_an_eager_scale_out_pauses_every_partition_a_cooperative_one_only_those_that_move():
    """3 -> 6 consumers on 12 partitions, rebalance time 2 s (members learn of a round within
    a 100 ms heartbeat): the eager protocol revokes all 12 partitions for the round (12 x 2 =
    24 partition-seconds and a little); cooperative-sticky moves 6 (each new consumer takes 2),
    which pause for the second round only (6 x 2 = 12 and a little)."""
    eager, cooperative = scale_out("range"), scale_out("cooperative-sticky")
    assert 24 <= eager["paused_partition_seconds"] < 26
    assert 12 <= cooperative["paused_partition_seconds"] < 14


def test_a_crashed_consumer_stalls_its_partition_until_the_session_times_out():
    """The only consumer crashes at 30 s, just after a heartbeat (every 3 s from its join at 0),
    and restarts at 31 s as a new member, whose join opens a round. The round waits for the
    coordinator to expel the dead member, 20 s after that heartbeat (50 s), then takes the
    1 s rebalance time: the partition stalls from 30 s to 51 s, and the group rebalanced twice
    (the first assignment, and this one)."""
    group = figures(
        """
        name: stall
        duration: 60s
        warmup: 10s
        producers: [{name: p, to: t, rate: 10/s}]
        queues: [{name: t, type: kafka, partitions: 1}]
        consumers:
          - {name: c, queue: t, service_time: 5ms, session_timeout: 20s, heartbeat_interval: 3s,
             rebalance_time: 1s, crash: {mtbf: 30s, restart: 1s}}
        """
    )["consumers"]["c"]["group"]
    assert (group["paused_partition_seconds"], group["rebalances"]) == (21.0, 2)
