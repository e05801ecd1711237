"""Shared resources, contention and size-dependent work, checked against exact results.

Statistical checks follow ``tests/test_theory.py``: ``R`` seeded replications, one figure per
replication, a Student-t interval at the 99% level that must hold the exact value and be narrow
enough (``max_half_width`` of it) for the check to have power. The rest are deterministic: their
exact value follows from the documented rule (``docs/resources.md``).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import run_once, scenario_from, write_scenario

from qsim.cli import main
from qsim.engine import simulate
from qsim.engine.resources import Claim, Connections
from qsim.scenario.resources import Contention
from qsim.stats import mean_interval
from qsim.summary import replication_figures
from qsim.theory import erlang_c

R = 20
LEVEL = 0.99


@functools.cache
def replications(text: str) -> list[dict[str, Any]]:
    """Per-replication summary figures of an inline scenario."""
    scenario = scenario_from(text)
    return [replication_figures(simulate(scenario, r)) for r in range(scenario.replications)]


def assert_within(values: list[float], exact: float, max_half_width: float) -> None:
    """``exact`` lies in the 99% interval of ``values``, whose half-width is at most
    ``max_half_width`` of ``exact``."""
    mean, interval = mean_interval(values, LEVEL)
    assert mean is not None and interval is not None
    low, high = interval
    assert low <= exact <= high, f"{exact} outside [{low}, {high}] (mean {mean})"
    assert (high - low) / 2 <= max_half_width * exact, f"half-width {(high - low) / 2} too wide"


# -- a connection pool shared by many replicas is M/M/c ----------------------------------------
MMC = f"""
name: mmc
seed: 1
duration: 320s
warmup: 20s
replications: {R}
producers: [{{name: p, to: q, rate: 30/s}}]
queues: [{{name: q}}]
resources:
  db: {{connections: 4}}
consumers:
  - name: w
    queue: q
    replicas: 60
    prefetch: 1
    service_time: {{dist: exponential, mean: 100ms}}
    uses: [db]
"""
"""60 replicas hold one of 4 connections while they work: with a Poisson arrival rate of 30/s
and exponential service at 10/s per job the connections are an M/M/4 queue (a = 3). With 60
replicas, more than 60 jobs at once (the only way the broker's queue would hold any) has a
probability near 0.75^56."""


def test_connection_pool_wait_probability_is_erlang_c():
    """The fraction of jobs that wait for a connection is Erlang C, C(4, 3) = 0.509."""
    figures = replications(MMC)
    waited = [f["resources"]["db"]["waited_fraction"] for f in figures]
    assert_within(waited, erlang_c(4, 3.0), 0.06)


def test_connection_pool_mean_wait_is_erlang_c_over_spare_capacity():
    """The mean wait for a connection is C(4, 3) / (c mu - lambda) = 0.509 / 10 s."""
    figures = replications(MMC)
    waits = [f["resources"]["db"]["wait_s"]["mean"] for f in figures]
    assert_within(waits, erlang_c(4, 3.0) / (40 - 30), 0.12)


def test_connection_pool_utilization_is_offered_load_per_connection():
    """Connections are held a / c = 3 / 4 of the time, and the broker's queue stays empty."""
    figures = replications(MMC)
    assert_within([f["resources"]["db"]["utilization"] for f in figures], 0.75, 0.02)
    assert max(f["queues"]["q"]["wait_s"]["max"] for f in figures) == 0.0


# -- a rate limit of burst 1 is M/D/1 ----------------------------------------------------------
MD1 = f"""
name: md1
seed: 3
duration: 420s
warmup: 20s
replications: {R}
producers: [{{name: p, to: q, rate: 8/s}}]
queues: [{{name: q}}]
resources:
  api: {{rate: 10/s}}
consumers:
  - name: w
    queue: q
    replicas: 60
    prefetch: 1
    service_time: 1ms
    uses: [api]
"""
"""A token bucket of one token refilled at r = 10/s grants request n at max(arrival, previous
grant + 1/r): Lindley's recursion of an M/D/1 queue with service 1/r. At lambda = 8/s
(rho = 0.8) Pollaczek-Khinchine gives Wq = rho / (2 r (1 - rho)) = 0.2 s."""


def test_rate_limit_of_burst_one_waits_as_md1():
    """The mean wait for a token is the M/D/1 mean wait, 0.2 s."""
    figures = replications(MD1)
    waits = [f["resources"]["api"]["wait_s"]["mean"] for f in figures]
    assert_within(waits, 0.8 / (2 * 10 * (1 - 0.8)), 0.12)


def test_rate_limit_caps_throughput_at_its_rate():
    """Offered 25/s with a 10/s limit (burst 5), 30 replicas finish 10/s: over a 60 s window,
    600 tokens, give or take the 5 the bucket held and the jobs in progress at its ends."""
    text = """
    name: capped
    duration: 70s
    warmup: 10s
    producers: [{name: p, to: q, rate: 25/s, arrivals: constant}]
    queues: [{name: q}]
    resources:
      api: {rate: 10/s, burst: 5}
    consumers:
      - {name: w, queue: q, replicas: 30, prefetch: 1, service_time: 10ms, uses: [api]}
    """
    figures = replication_figures(run_once(text))
    assert abs(figures["queues"]["q"]["throughput_per_s"] * 60 - 600) <= 6
    assert figures["resources"]["api"]["utilization"] == pytest.approx(1.0, abs=6 / 600)


# -- contention and work per byte --------------------------------------------------------------
def saturated(contention: str) -> str:
    """Four replicas of 100 ms jobs, always with a backlog (offered 100/s)."""
    return f"""
    name: contended
    duration: 65s
    warmup: 5s
    producers: [{{name: p, to: q, rate: 100/s, arrivals: constant}}]
    queues: [{{name: q}}]
    consumers:
      - name: w
        queue: q
        replicas: 4
        prefetch: 1
        service_time: 100ms
        contention: {contention}
    """


@pytest.mark.parametrize("contention", ["{per_job: 25%}", "{table: [[1, 1.0], [4, 1.75]]}"])
def test_contention_stretches_saturated_jobs(contention):
    """Saturated, every job starts with all 4 running: it takes 100 ms x (1 + 0.25 x 3) =
    175 ms, so 4 replicas finish 4 / 0.175 = 22.86/s (not 40/s): over 60 s that is 1371.4,
    give or take the 4 jobs in progress at each end of the window."""
    figures = replication_figures(run_once(saturated(contention)))
    done = figures["queues"]["q"]["throughput_per_s"] * 60
    assert abs(done - 60 * 4 / 0.175) <= 4


def test_contention_table_interpolates_and_holds_flat():
    """Between rows the factor is linear; before the first and after the last it holds."""
    table = Contention(table=((2, 1.0), (6, 3.0)))
    assert [table.factor(n) for n in (1, 2, 4, 6, 9)] == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert Contention(per_job=0.1).factor(11) == pytest.approx(2.0)


def test_service_time_grows_with_message_size():
    """10 ms plus 2 ms per KB, for 8 KB messages: each message takes 26 ms, and with one
    message a second nothing waits, so every latency is 26 ms."""
    text = """
    name: sized
    duration: 30s
    producers: [{name: p, to: q, rate: 1/s, arrivals: constant, size: 8KB}]
    queues: [{name: q}]
    consumers:
      - {name: w, queue: q, service_time: 10ms, service_time_per_kb: 2ms}
    """
    latency = replication_figures(run_once(text))["queues"]["q"]["latency_s"]
    assert latency["p50"] == pytest.approx(0.026) and latency["max"] == pytest.approx(0.026)


# -- every delivery model's jobs hold the same resources ---------------------------------------
POOLS = {
    "classic": ("{name: q}", "prefetch: 1"),
    "kafka": ("{name: q, type: kafka, partitions: 3}", "max_poll_records: 1"),
    "sqs": ("{name: q, type: sqs}", "batch: 1"),
}


@pytest.mark.parametrize("kind", list(POOLS))
def test_one_connection_serializes_every_kind_of_pool(kind):
    """Three replicas of 100 ms jobs share one connection: whatever the broker, they finish at
    most 10/s (offered 20/s), about 600 in a 60 s window."""
    queue, keys = POOLS[kind]
    text = f"""
    name: serial
    duration: 70s
    warmup: 10s
    producers: [{{name: p, to: q, rate: 20/s, arrivals: constant}}]
    queues: [{queue}]
    resources:
      db: {{connections: 1}}
    consumers:
      - {{name: w, queue: q, replicas: 3, {keys}, service_time: 100ms, uses: [db]}}
    """
    figures = replication_figures(run_once(text))
    assert 590 <= figures["resources"]["db"]["requests"] <= 601
    assert figures["resources"]["db"]["utilization"] == pytest.approx(1.0, abs=0.01)


# -- crashes give back what they hold ----------------------------------------------------------
def test_crashes_release_connections_and_leave_the_line():
    """A crash while one job holds the only connection and another waits for it: the holder's
    connection returns and the waiter leaves the line, so the connection is free."""
    from simpy import Environment

    env = Environment()
    db = Connections(env, "db", 1, (0.0, 10.0), None)
    holder, waiter = Claim(env, (db,)), Claim(env, (db,))
    holder.go(), waiter.go()
    assert db.held.value == 1 and len(db.waiting) == 1
    waiter.abandon()
    holder.abandon()
    assert db.held.value == 0 and not db.waiting


def test_books_balance_when_replicas_crash_while_holding_connections():
    """Replicas crash every few seconds while holding or waiting for connections; at the end
    every connection held belongs to a job in progress (the run's book-keeping checks it) and
    jobs still got through."""
    text = """
    name: crashing
    duration: 120s
    producers: [{name: p, to: q, rate: 20/s}]
    queues: [{name: q}]
    resources:
      db: {connections: 2}
    consumers:
      - name: w
        queue: q
        replicas: 6
        prefetch: 2
        concurrency: 2
        service_time: {dist: exponential, mean: 80ms}
        uses: [db]
        crash: {mtbf: {dist: exponential, mean: 5s}, restart: 1s}
    """
    result = run_once(text)
    assert result.pools[0].crashes > 50
    assert result.resources[0].requests > 1000


# -- bad input ---------------------------------------------------------------------------------
def test_a_pool_using_an_unknown_resource_is_one_located_line(tmp_path):
    """``uses: [dbx]`` with only ``db`` defined: exit status 2, one line naming the file, the
    line and the key, with the known names."""
    path = write_scenario(
        tmp_path,
        """\
        name: t
        duration: 10s
        producers: [{name: p, to: q, rate: 5/s}]
        queues: [{name: q}]
        resources:
          db: {connections: 2}
        consumers:
          - name: w
            queue: q
            service_time: 10ms
            uses: [dbx]
        """,
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"qsim: {path}:11: consumers[0].uses[0]: unknown resource 'dbx' "
        "(did you mean 'db'?); known: db"
    )


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("{connections: 2, rate: 5/s}", "give exactly one of connections"),
        ("{burst: 3, connections: 2}", "burst goes with rate"),
        ("{rate: 0/s}", "a rate limit needs a rate above zero"),
    ],
)
def test_a_resource_is_either_connections_or_a_rate(tmp_path, resource, message):
    """Each mistake in a resource is one located line."""
    path = write_scenario(
        tmp_path,
        f"""\
        name: t
        duration: 10s
        producers: [{{name: p, to: q, rate: 5/s}}]
        queues: [{{name: q}}]
        resources:
          db: {resource}
        """,
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and message in result.output
    assert result.output.count("\n") == 1 and f"{path}:6" in result.output


def test_a_lambda_pool_cannot_use_resources(tmp_path):
    """A Lambda invocation waiting for a connection would be billed and timed while it waits,
    which qsim does not model: refused in one located line."""
    path = write_scenario(
        tmp_path,
        """\
        name: t
        duration: 10s
        producers: [{name: p, to: q, rate: 5/s}]
        queues: [{name: q, type: sqs}]
        resources:
          db: {connections: 2}
        consumers:
          - name: fn
            queue: q
            service_time: 10ms
            scaling: {policy: lambda}
            uses: [db]
        """,
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "a Lambda pool cannot use resources yet" in result.output
    assert result.output.count("\n") == 1 and f"{path}:12: consumers[0].uses" in result.output
