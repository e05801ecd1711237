"""Producers: the services that publish, and their arrival processes."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from qsim.files import read_text_file
from qsim.scenario.arrivals import MmppSpec, ProfileSpec, check_batch
from qsim.scenario.fields import NumberDistribution, RoutingKey, SizeDistribution, TimeDistribution
from qsim.spec import (
    Count,
    Duration,
    Name,
    PositiveCount,
    Probability,
    Rate,
    Size,
    Spec,
    fail,
)

__all__ = ["ARRIVAL_KEYS", "Producer", "ScheduleStep", "Trace"]

ARRIVAL_KEYS = ("rate", "interarrival", "schedule", "trace", "mmpp", "profile")
POISSON_ONLY = ("mmpp", "profile")
"""Arrival processes that are Poisson by definition (``arrivals: constant`` is refused)."""


class ScheduleStep(Spec):
    """From time ``at`` (since the scenario start) on, publish at ``rate``."""

    at: Duration
    rate: Rate


def _read_trace(path: Path) -> tuple[float, ...]:
    times: list[float] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            cell = line.split(",")[0].strip()
            if not cell or cell.startswith("#"):
                continue
            try:
                times.append(float(cell))
            except ValueError:
                if times:  # only a first line may be a header
                    raise fail(f"{path}:{number}: expected a publish time in seconds") from None
                continue
            if not math.isfinite(times[-1]):
                raise fail(f"{path}:{number}: expected a finite publish time, got {cell!r}")
    if not times:
        raise fail(f"{path}: no publish times found")
    if any(b < a for a, b in itertools.pairwise(times)) or times[0] < 0:
        raise fail(f"{path}: publish times must be non-negative and in increasing order")
    return tuple(times)


@dataclass(frozen=True)
class Trace:
    """Recorded publish times (seconds from the start) read from ``path``."""

    path: str
    times: tuple[float, ...]


def _load_trace(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, Trace) or value is None:
        return value
    if not isinstance(value, str):
        raise fail(f"expected the path of a CSV file of publish times, got {value!r}")
    path = Path((info.context or {}).get("base_dir", ".")) / value
    return Trace(value, read_text_file(path, _read_trace))


TraceFile = Annotated[
    Trace,
    BeforeValidator(_load_trace),
    PlainSerializer(lambda trace: trace.path, return_type=str),
    WithJsonSchema({"type": "string", "description": "CSV of publish times in seconds"}),
]


class Producer(Spec):
    """A service that publishes messages to a queue or an exchange.

    The arrival process is exactly one of ``rate`` (with ``arrivals: poisson`` or ``constant``),
    ``interarrival`` (any distribution), ``schedule`` (a piecewise-constant rate, Poisson within
    each piece unless ``arrivals: constant``), ``trace`` (a CSV of publish times in seconds),
    ``mmpp`` (Markov-modulated Poisson: bursts) or ``profile`` (a piecewise-linear rate, e.g. a
    daily profile; :mod:`qsim.scenario.arrivals`). With ``batch`` (a whole-valued distribution)
    each arrival publishes that many messages at once.
    While the broker is down, ``on_unavailable`` says what happens to new messages: ``block``
    holds them (and pauses the producer once ``buffer`` is full), ``retry`` holds up to
    ``buffer`` and fails the rest, ``drop`` fails them at once.

    To a kafka topic only: ``key`` (a key space, as ``routing_key`` takes; none: unkeyed
    records), ``linger`` and ``batch_size`` (the client's batching, :mod:`qsim.scenario.kafka`).

    To an ``sqs`` or ``sqs-fifo`` queue only: ``resend`` (the probability that a message is sent
    a second time, as a client retrying after a timeout would) and ``resend_after`` (the delay
    from its send to the resend, required with ``resend``). An ``sqs-fifo`` queue drops a resend
    within 5 minutes of the first send (deduplication); an ``sqs`` queue takes it as a second
    message.
    """

    name: Name
    to: Name
    routing_key: RoutingKey | None = None
    rate: Rate | None = None
    arrivals: Literal["poisson", "constant"] = "poisson"
    interarrival: TimeDistribution | None = None
    schedule: tuple[ScheduleStep, ...] | None = Field(default=None, min_length=1)
    trace: TraceFile | None = None
    mmpp: MmppSpec | None = None
    profile: ProfileSpec | None = None
    batch: NumberDistribution | None = None
    count: PositiveCount | None = None
    size: SizeDistribution | None = None
    priority: NumberDistribution | None = None
    ttl: TimeDistribution | None = None
    persistent: bool = True
    on_unavailable: Literal["block", "retry", "drop"] = "block"
    buffer: Count = 10_000
    key: RoutingKey | None = None
    linger: Duration | None = None
    batch_size: Size | None = None
    resend: Probability | None = None
    resend_after: TimeDistribution | None = None

    @field_validator("schedule")
    @classmethod
    def _increasing(cls, steps: tuple[ScheduleStep, ...] | None) -> tuple[ScheduleStep, ...] | None:
        times = [step.at for step in steps or ()]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise fail("schedule steps must be in increasing order of 'at'")
        return steps

    _whole_batches = field_validator("batch")(check_batch)

    @model_validator(mode="after")
    def _one_arrival_process(self) -> Producer:
        given = [k for k in ARRIVAL_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            keys = f"{', '.join(ARRIVAL_KEYS[:-1])} or {ARRIVAL_KEYS[-1]}"
            raise fail(f"give exactly one of {keys} ({found})")
        if self.arrivals == "constant" and given[0] in POISSON_ONLY:
            raise fail(f"{given[0]} arrivals are Poisson: arrivals: constant does not apply")
        return self

    @property
    def arrival_key(self) -> str:
        """Which key of :data:`ARRIVAL_KEYS` defines the arrival process."""
        return next(k for k in ARRIVAL_KEYS if getattr(self, k) is not None)
