"""How much work a scenario asks for, estimated from the scenario alone before simulating.

A run that would take hours, or exhaust memory, is refused with one line that gives the
estimate and the ways to go on (a shorter ``--duration``, ``--stream``, a coarser
``sample_interval``, fewer ``--replications``, or ``--force``). The estimate is deliberately
simple: messages published (producers' expected counts, onward publishing followed through
pools, every binding of an exchange counted), autoscalers' readings, backlog samples, and the
memory of one replication's records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qsim.errors import QsimError
from qsim.scenario import Producer, Scenario
from qsim.scenario.scaling import METRIC_POLICIES, Scaling

__all__ = ["LIMITS", "Limits", "Work", "check_work", "estimate", "readings_per_second"]

MESSAGES_PER_SECOND = 40_000.0
"""Messages one core simulates per second (the bench measures 45-47k on M/M/1 and M/M/8; the
full models with exchanges and onward publishing are slower)."""
BYTES_PER_MESSAGE = 64.0
"""Peak memory per message of one replication's records (28 bytes per message and 10 per flow,
copied once when the replication ends), without ``--stream``."""
BYTES_PER_SAMPLE = 16.0
"""Memory per backlog sample (time and level) per queue or pool."""
MESSAGES_PER_TICK = 3.0
"""Messages' worth of CPU one autoscaler reading costs (a KEDA poll, an HPA sync or a statistics
emission): 16 h of a queue_length scaler polling every second with almost no messages (73,000
readings: polls, syncs and statistics) took 4.4 s more CPU than the same run without it, 60 us a
reading, 2.4 messages at :data:`MESSAGES_PER_SECOND`, rounded up."""
ONWARD_DEPTH = 16
"""Pipeline stages followed when counting onward publishing (a cycle is cut there)."""


@dataclass(frozen=True)
class Limits:
    """Above these, a run is refused unless forced: CPU seconds of simulation in total, and
    bytes held by one replication."""

    cpu_seconds: float = 2 * 3600.0
    memory_bytes: float = 4 * 1024.0**3


LIMITS = Limits()


@dataclass(frozen=True)
class Work:
    """The work of a scenario: ``messages`` and ``samples`` per replication, over
    ``replications``; ``streamed``: records kept as sketches (``--stream``), not in memory."""

    messages: float
    samples: float
    replications: int
    streamed: bool
    ticks: float
    """Autoscaler readings per replication (polls, syncs, statistics emissions)."""

    @property
    def cpu_seconds(self) -> float:
        """Seconds of one core the whole run takes, roughly."""
        equivalent = self.messages + self.ticks * MESSAGES_PER_TICK
        return equivalent * self.replications / MESSAGES_PER_SECOND

    @property
    def memory_bytes(self) -> float:
        """Bytes one replication holds at its peak."""
        records = 0.0 if self.streamed else self.messages * BYTES_PER_MESSAGE
        return records + self.samples * BYTES_PER_SAMPLE

    def describe(self) -> str:
        """``3.6e+10 messages x 1 replication, CPU 250 h, memory 2.1 TiB per replication``."""
        reps = "replication" if self.replications == 1 else "replications"
        ticks = f" and {self.ticks:.2g} autoscaler readings" if self.ticks else ""
        return (
            f"{self.messages:.2g} messages{ticks} x {self.replications} {reps}, "
            f"CPU {_hours(self.cpu_seconds)}, memory {_bytes(self.memory_bytes)} per replication"
        )


def _hours(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unbounded"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.2g} min" if seconds >= 60 else f"{seconds:.2g} s"


def _bytes(count: float) -> str:
    if not math.isfinite(count):
        return "unbounded"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} TiB"


def published(producer: Producer, duration: float) -> float:
    """Messages ``producer`` is expected to publish in ``duration`` seconds (an arrival
    publishes a batch of them with ``batch``)."""
    if producer.trace is not None:
        expected = float(sum(1 for t in producer.trace.times if t <= duration))
    elif producer.schedule is not None:
        steps = producer.schedule
        ends = [step.at for step in steps[1:]] + [duration]
        expected = sum(
            step.rate * max(0.0, min(end, duration) - step.at)
            for step, end in zip(steps, ends, strict=True)
        )
    elif producer.interarrival is not None:
        mean = producer.interarrival.mean
        expected = math.inf if mean <= 0 else duration / mean
    elif producer.mmpp is not None:
        expected = producer.mmpp.mean_rate * duration  # exact: it starts stationary
    elif producer.profile is not None:
        expected = producer.profile.expected(duration)
    else:
        expected = (producer.rate or 0.0) * duration
    if producer.batch is not None:  # messages per arrival
        expected *= producer.batch.mean
    return min(expected, producer.count) if producer.count is not None else expected


def _onward(scenario: Scenario, arriving: dict[str, float]) -> float:
    """Messages published onward by pools, following up to :data:`ONWARD_DEPTH` stages from
    ``arriving`` (messages per queue)."""
    fanout = {e.name: max(1, len(e.bindings)) for e in scenario.exchanges}
    targets = {e.name: [b.queue for b in e.bindings] for e in scenario.exchanges}
    total, wave = 0.0, arriving
    for _ in range(ONWARD_DEPTH):
        nxt: dict[str, float] = {}
        for pool in scenario.consumers:
            for step in pool.publish:
                count = wave.get(pool.queue, 0.0) * step.probability * step.count
                for queue in targets.get(step.to, [step.to]):
                    nxt[queue] = nxt.get(queue, 0.0) + count
                total += count * fanout.get(step.to, 1)
        if not any(nxt.values()):
            break
        wave = nxt
    return total


def readings_per_second(scaling: Scaling) -> float:
    """How often an autoscaler of ``scaling`` wakes: its polls every ``interval``, the HPA's
    syncs every ``sync_period`` (metric policies), statistics every ``statistics_interval``
    unless a ``window`` is read instead (as :class:`qsim.engine.autoscaler.Autoscaler` starts
    its loops); none for ``fixed``, which has no autoscaler."""
    if scaling.policy == "fixed":
        return 0.0
    rate = 1.0 / scaling.interval
    if scaling.policy in METRIC_POLICIES:
        rate += 1.0 / scaling.sync_period
    if scaling.window is None:
        rate += 1.0 / scaling.statistics_interval
    return rate


def estimate(scenario: Scenario, streamed: bool = False) -> Work:
    """The work ``scenario`` asks for, as it stands (overrides applied)."""
    arriving: dict[str, float] = {}
    direct = 0.0
    bindings = {e.name: [b.queue for b in e.bindings] for e in scenario.exchanges}
    for producer in scenario.producers:
        count = published(producer, scenario.duration)
        direct += count * max(1, len(bindings.get(producer.to, [producer.to])))
        for queue in bindings.get(producer.to, [producer.to]):
            arriving[queue] = arriving.get(queue, 0.0) + count
    partitioned = sum(q.partitions or 0 for q in scenario.queues if q.type == "kafka")
    series = len(scenario.queues) + len(scenario.consumers) + partitioned  # + lag per partition
    samples = scenario.duration / scenario.timeseries_interval * series
    messages = direct + _onward(scenario, arriving)
    ticks = sum(readings_per_second(p.scaling) for p in scenario.consumers) * scenario.duration
    return Work(messages, samples, scenario.replications, streamed, ticks)


def check_work(work: Work, limits: Limits = LIMITS, what: str = "this run") -> None:
    """Refuse ``work`` above ``limits`` with one line: the estimate and the ways on."""
    if work.memory_bytes > limits.memory_bytes:
        ways = "a shorter --duration, a coarser sample_interval"
        ways += "" if work.streamed else ", --stream (percentiles from sketches)"
        raise QsimError(
            f"{what} needs too much memory (limit {_bytes(limits.memory_bytes)} per "
            f"replication): {work.describe()}; use {ways}, or --force"
        )
    if not work.cpu_seconds <= limits.cpu_seconds:
        raise QsimError(
            f"{what} would take too long (limit CPU {_hours(limits.cpu_seconds)}): "
            f"{work.describe()}; use a shorter --duration or fewer --replications, or --force"
        )
