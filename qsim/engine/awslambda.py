"""AWS Lambda consuming a queue through an event source mapping: how many batches run at once,
cold starts, timeouts, and what AWS bills.

The rules, from the AWS Lambda Developer Guide (docs.aws.amazon.com/lambda/latest/dg/...):

- ``services-sqs-scaling.html``: "When messages are available, Lambda starts processing five
  batches at a time with five concurrent invocations of your function. If messages are still
  available, Lambda increases the number of processes that are reading batches by up to 300
  more instances per minute", up to 1,250 concurrent invocations by default (the page said
  "1,000 batches" before; the AWS Compute Blog of November 2023, "Introducing faster polling
  scale-up", raised the rate from 60 a minute). "When traffic is low, Lambda scales back the
  processing to five concurrent batches" (and to as few as two without maximum concurrency:
  not modelled, idle batches cost nothing here).
- ``API_ScalingConfig.html``: ``MaximumConcurrency`` from 2 to 1000 caps the concurrent
  invocations one event source starts; reserved concurrency caps the function
  (``API_PutFunctionConcurrency.html``), the account's concurrency (1,000 by default,
  ``gettingstarted-limits.html``) caps an unreserved one.
- ``configuration-timeout.html``: the function ``timeout`` is 3 s by default, 1-900 s; a
  longer invocation is stopped, and an SQS batch that fails returns to the queue (on SQS when
  its visibility timeout lapses, ``services-sqs-configure.html``).
- Cold starts: a new execution environment runs the INIT phase before its first invocation;
  AWS bills INIT since 1 August 2025 (AWS Compute Blog, "AWS Lambda standardizes billing for
  INIT Phase"). Billed duration is rounded up to the millisecond and billed per GB-second of
  configured memory (aws.amazon.com/lambda/pricing).

What qsim simplifies: replicas are the event source's concurrent batches, each an execution
environment that cold starts when the scaler adds it (environments kept warm after a scale-down
are not reused); the scaler scales back only after :data:`SCALE_DOWN_AFTER` without visible
messages or another scale-back (AWS documents no delay); throttling is not modelled (the caps
are the bound).
"""

from __future__ import annotations

import math

from qsim.engine.results import FunctionRun
from qsim.scenario import Scaling
from qsim.scenario.scaling import LAMBDA_INITIAL_BATCHES

__all__ = ["SCALE_DOWN_AFTER", "FunctionBill", "event_source_concurrency"]

SCALE_DOWN_AFTER = 60.0
"""Seconds without a visible message before the event source scales back (qsim's assumption:
AWS says only that it scales back "when traffic is low")."""


def event_source_concurrency(
    current: int, visible: int, working: int, idle_for: float, spec: Scaling
) -> int:
    """The concurrent batches the event source wants next, before the cap ``spec.max``.

    With messages visible: at least the five it starts with, and ``scale_up_per_minute`` more
    per minute (``floor(rate x interval / 60)`` more at each reading, ``interval`` apart).
    Without, for :data:`SCALE_DOWN_AFTER` (``idle_for``, since a message was last visible or
    the last scale-back): back to five, or to the ``working`` batches still in progress,
    whichever is more."""
    assert spec.scale_up_per_minute is not None
    floor = min(LAMBDA_INITIAL_BATCHES, spec.max)
    if visible > 0:
        if current < floor:
            return floor
        return current + math.floor(spec.scale_up_per_minute * spec.interval / 60 + 1e-9)
    if idle_for >= SCALE_DOWN_AFTER:
        return max(floor, working)
    return current


class FunctionBill:
    """What AWS bills a function over the measured window: invocations started in it, their
    run time rounded up to the millisecond, and the INIT time of the cold starts begun in it,
    each per GB-second of ``memory`` MB (1 GB = 1,024 MB)."""

    __slots__ = (
        "_end",
        "_start",
        "cold_starts",
        "init_ms",
        "invocations",
        "memory",
        "per_message",
        "run_ms",
    )

    def __init__(
        self, memory: int, window_start: float, window_end: float, per_message: bool
    ) -> None:
        self.memory = memory
        self.per_message = per_message  # each message is an invocation (not an SQS batch)
        self._start = window_start
        self._end = window_end
        self.invocations = 0
        self.run_ms = 0
        self.cold_starts = 0
        self.init_ms = 0

    def invoke(self, now: float) -> None:
        """An invocation starts at ``now`` (an SQS batch received, or one message)."""
        if self._start <= now < self._end:
            self.invocations += 1

    def run(self, now: float, duration: float) -> None:
        """A message of an invocation starts at ``now`` and runs ``duration`` seconds (rounded
        up to the millisecond per message: at most a millisecond a message above AWS's rounding
        of the whole batch)."""
        if self.per_message:
            self.invoke(now)
        if self._start <= now < self._end:
            self.run_ms += math.ceil(duration * 1000 - 1e-6)

    def cold_start(self, now: float, init: float) -> None:
        """A new execution environment starts at ``now`` and initialises for ``init`` s."""
        if self._start <= now < self._end:
            self.cold_starts += 1
            self.init_ms += math.ceil(init * 1000 - 1e-6)

    @property
    def gb_seconds(self) -> float:
        """GB-seconds billed so far: run and INIT time times the memory in GB."""
        return self.memory / 1024 * (self.run_ms + self.init_ms) / 1000

    def report(self, timeouts: int, concurrency_max: int) -> FunctionRun:
        """The bill, with the invocations ``timeouts`` stopped and the most concurrent batches."""
        return FunctionRun(
            memory_mb=self.memory,
            invocations=self.invocations,
            billed_seconds=self.run_ms / 1000,
            init_seconds=self.init_ms / 1000,
            gb_seconds=self.gb_seconds,
            cold_starts=self.cold_starts,
            timeouts=timeouts,
            concurrency_max=concurrency_max,
        )
