"""Producers that resend (``resend``, ``resend_after``), and SQS FIFO's deduplication: a send
whose deduplication id was accepted within the last 5 minutes is dropped (``deduplicated``); an
``sqs`` queue takes every send (``docs/semantics.md``, "Lease-based brokers").

A producer sends ``N`` messages (``count``), each resent with probability ``p``: the resends are
Binomial(N, p), checked within its 99% interval; every count below is exact given them."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import scenario_from
from test_properties import assert_books_balance

from qsim.engine import simulate
from qsim.engine.lease.queue import DEDUPLICATION_INTERVAL, LeaseQueue
from qsim.engine.message import Message, Sent
from qsim.engine.results import RunResult

N, P = 2000, 0.3
Z99 = 2.5758
"""The standard normal's 0.995 quantile: a two-sided 99% interval."""

RESENDING = """
name: resending
duration: {duration}
producers:
  - {{name: p, to: q, rate: 20/s, count: {n}, resend: {p}, resend_after: {after}{key}}}
queues: [{{name: q, type: {kind}}}]
consumers:
  - {{name: c, queue: q, replicas: 4, concurrency: 10, batch: 10, wait: 20s,
     service_time: 50ms}}
"""
SOON = "{dist: uniform, low: 1s, high: 299s}"
LATE = "{dist: uniform, low: 301s, high: 400s}"


def run(kind: str, after: str, p: float = P, duration: str = "520s", seed: int = 0) -> RunResult:
    key = ", key: {uniform: 1000}" if kind == "sqs-fifo" else ""
    text = RESENDING.format(duration=duration, n=N, p=p, after=after, key=key, kind=kind)
    scenario = scenario_from(text)
    result = simulate(scenario, seed)
    assert_books_balance(scenario, result)
    return result


def lease(result: RunResult) -> Any:
    block = result.queues[0].lease
    assert block is not None
    return block


def assert_binomial(count: int, n: int, p: float) -> None:
    """``count`` lies within the 99% interval of Binomial(n, p) (normal approximation)."""
    half = Z99 * math.sqrt(n * p * (1 - p))
    assert abs(count - n * p) <= half, (count, n * p, half)


def test_the_interval_is_aws_five_minutes():
    assert DEDUPLICATION_INTERVAL == 300.0


def test_on_sqs_fifo_every_resend_within_five_minutes_is_deduplicated():
    """Each resend comes 1-299 s after its first send: all are dropped, none is processed
    twice; the queue took N + resends sends and deleted exactly N messages."""
    result = run("sqs-fifo", SOON)
    block = lease(result)
    assert_binomial(block.resends, N, P)
    assert block.deduplicated == block.resends > 0
    assert block.duplicate_sends == 0
    assert result.queues[0].counts["published"] == N + block.resends
    assert block.deleted == N
    assert block.visible.final == block.in_flight.final == 0
    assert result.producers[0].published == N + block.resends
    flows = result.producers[0]
    assert (flows.flows_started, flows.flows_failed) == (N, 0)  # a resend is no flow of its own


def test_on_sqs_fifo_a_resend_after_five_minutes_is_a_second_message():
    """Each resend comes 301-400 s after its first send: none is deduplicated, each is a
    duplicate send, processed again."""
    block = lease(run("sqs-fifo", LATE, duration="600s"))
    assert_binomial(block.resends, N, P)
    assert block.deduplicated == 0
    assert block.duplicate_sends == block.resends
    assert block.deleted == N + block.resends


def test_a_standard_queue_takes_every_resend_as_a_second_message():
    """SQS standard queues have no deduplication: within 5 minutes too."""
    block = lease(run("sqs", SOON))
    assert_binomial(block.resends, N, P)
    assert block.deduplicated == 0
    assert block.duplicate_sends == block.resends
    assert block.deleted == N + block.resends


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_resend_probability_zero_or_one_resends_none_or_all(p):
    block = lease(run("sqs-fifo", SOON, p=p))
    assert block.resends == block.deduplicated == round(N * p)
    assert block.deleted == N


def test_a_resend_takes_its_first_sends_group_and_draws_none(monkeypatch):
    """On SQS FIFO both sends of a message carry one MessageGroupId, and a resend draws no
    group of its own: the first sends' groups are the same with and without resends."""
    original = LeaseQueue.publish
    firsts: list[str] = []
    pairs: list[tuple[str, str | None]] = []

    def spy(self: LeaseQueue, msg: Message) -> None:
        original(self, msg)
        if isinstance(msg, Sent) and msg.resend:
            pairs.append((msg.group, msg.send.group))
        elif msg.producer >= 0:
            firsts.append(msg.group)

    monkeypatch.setattr(LeaseQueue, "publish", spy)
    groups = []
    for p in (0.0, 0.5):
        firsts.clear()
        text = RESENDING.format(
            duration="520s", n=200, p=p, after=LATE, key=", key: {uniform: 1000}", kind="sqs-fifo"
        )
        simulate(scenario_from(text), 0)
        groups.append(list(firsts))
    assert len(groups[0]) == 200 and groups[0] == groups[1]
    assert len(pairs) > 50 and all(group == first for group, first in pairs)
