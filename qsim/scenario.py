"""Scenario files: YAML -> frozen, validated, unit-resolved objects.

:func:`load_scenario` is the only way in. It loads YAML safely, validates every key with its
location, checks references between sections, and returns a :class:`Scenario` whose numbers are
plain floats in seconds, messages per second and bytes. Defaults live here, in the model.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from qsim.distributions import Distribution, distribution_of
from qsim.errors import ScenarioError
from qsim.files import read_text_file
from qsim.spec import (
    Count,
    Duration,
    Name,
    Number,
    PositiveCount,
    PositiveDuration,
    PriorityLevel,
    Probability,
    Rate,
    Size,
    Spec,
    fail,
)
from qsim.yamlsource import YamlSource, load_yaml

__all__ = [
    "ConsumerPool",
    "Failures",
    "Producer",
    "Queue",
    "Scenario",
    "ScheduleStep",
    "load_scenario",
    "parse_scenario",
    "with_overrides",
]

if TYPE_CHECKING:
    TimeDistribution = Distribution[float]
    SizeDistribution = Distribution[float]
    NumberDistribution = Distribution[float]
else:
    TimeDistribution = distribution_of(Duration, "Duration")
    SizeDistribution = distribution_of(Size, "Size")
    NumberDistribution = distribution_of(Number, "Number")

Overflow = Literal["drop-head", "reject-publish", "reject-publish-dlx"]


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


ARRIVAL_KEYS = ("rate", "interarrival", "schedule", "trace")


class Producer(Spec):
    """A service that publishes messages to a queue.

    The arrival process is exactly one of ``rate`` (with ``arrivals: poisson`` or ``constant``),
    ``interarrival`` (any distribution), ``schedule`` (a piecewise-constant rate, Poisson within
    each piece unless ``arrivals: constant``) or ``trace`` (a CSV of publish times in seconds).
    """

    name: Name
    to: Name
    rate: Rate | None = None
    arrivals: Literal["poisson", "constant"] = "poisson"
    interarrival: TimeDistribution | None = None
    schedule: tuple[ScheduleStep, ...] | None = Field(default=None, min_length=1)
    trace: TraceFile | None = None
    count: PositiveCount | None = None
    size: SizeDistribution | None = None
    priority: NumberDistribution | None = None
    ttl: TimeDistribution | None = None

    @field_validator("schedule")
    @classmethod
    def _increasing(cls, steps: tuple[ScheduleStep, ...] | None) -> tuple[ScheduleStep, ...] | None:
        times = [step.at for step in steps or ()]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise fail("schedule steps must be in increasing order of 'at'")
        return steps

    @model_validator(mode="after")
    def _one_arrival_process(self) -> Producer:
        given = [k for k in ARRIVAL_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise fail(f"give exactly one of rate, interarrival, schedule or trace ({found})")
        return self

    @property
    def arrival_key(self) -> str:
        """Which key defines the arrival process: rate, interarrival, schedule or trace."""
        return next(k for k in ARRIVAL_KEYS if getattr(self, k) is not None)


class Queue(Spec):
    """A RabbitMQ-style queue: limits, overflow, TTL, dead-lettering, priorities."""

    name: Name
    max_length: Count | None = None
    overflow: Overflow = "drop-head"
    message_ttl: Duration | None = None
    dead_letter: Name | None = None
    max_priority: PriorityLevel | None = None
    delivery_limit: PositiveCount | None = None


class Failures(Spec):
    """Processing failures: with ``nack_probability`` a consumer rejects a message after working on
    it; ``requeue`` says whether the broker puts it back (true) or dead-letters/discards it."""

    nack_probability: Probability = 0.0
    requeue: bool = True


class ConsumerPool(Spec):
    """Replicas of one service consuming a queue. Each replica is one consumer (channel) with
    its own prefetch window (0 = unlimited, the RabbitMQ default) and ``concurrency`` workers."""

    name: Name
    queue: Name
    replicas: Count = 1
    prefetch: Count = 0
    concurrency: PositiveCount = 1
    service_time: TimeDistribution
    ack: Literal["manual", "auto"] = "manual"
    failures: Failures = Failures()

    @field_validator("failures")
    @classmethod
    def _auto_ack_cannot_fail(cls, failures: Failures, info: ValidationInfo) -> Failures:
        if info.data.get("ack") == "auto" and failures.nack_probability > 0:
            raise fail("failures need ack: manual (an auto-acked message cannot be rejected)")
        return failures


class Scenario(Spec):
    """A whole system: producers publish to queues, consumer pools work them off."""

    name: Name
    description: str = ""
    seed: Count = 1
    duration: PositiveDuration
    warmup: Duration = 0.0
    replications: PositiveCount = 1
    sample_interval: PositiveDuration | None = None
    producers: tuple[Producer, ...] = Field(min_length=1)
    queues: tuple[Queue, ...] = Field(min_length=1)
    consumers: tuple[ConsumerPool, ...] = ()

    @field_validator("warmup")
    @classmethod
    def _warmup_inside_run(cls, warmup: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise fail(f"got {warmup:g}s, which must be shorter than duration ({duration:g}s)")
        return warmup

    @property
    def timeseries_interval(self) -> float:
        """Seconds between backlog samples: ``sample_interval`` or 1/500 of the run."""
        return self.sample_interval or self.duration / 500

    def queue_index(self, name: str) -> int:
        """Position of the queue called ``name``."""
        return [q.name for q in self.queues].index(name)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown queue {name!r}{hint}; known: {', '.join(known)}"


def _references(scenario: Scenario) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Every reference to a queue, with its key path."""
    for i, producer in enumerate(scenario.producers):
        yield ("producers", i, "to"), producer.to
    for i, queue in enumerate(scenario.queues):
        if queue.dead_letter is not None:
            yield ("queues", i, "dead_letter"), queue.dead_letter
    for i, pool in enumerate(scenario.consumers):
        yield ("consumers", i, "queue"), pool.queue


def check_scenario(scenario: Scenario, source: YamlSource) -> None:
    """Cross-section checks: unique names and references to queues that exist."""
    for section in ("producers", "queues", "consumers"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(scenario, section)):
            if item.name in seen:
                raise source.error((section, i, "name"), f"duplicate name {item.name!r}")
            seen.add(item.name)
    known = [q.name for q in scenario.queues]
    for path, name in _references(scenario):
        if name not in known:
            raise source.error(path, _did_you_mean(name, known))


def _data_path(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """Drop the parts of a pydantic error location that are not keys of the data (union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            continue  # a union tag or model name, not a key of the file
        node = node[part]
        path.append(part)
    return tuple(path)


def _first_error(error: ValidationError, source: YamlSource) -> ScenarioError:
    details = error.errors()
    # a failed item also makes its tuple "too short": report the item, not the tuple
    specific = [d for d in details if d["type"] != "too_short"] or details
    located = []
    for detail in specific:
        path = _data_path(source.data, detail["loc"])
        ctx = detail.get("ctx") or {}
        message = ctx.get("detail", detail["msg"])
        if "key" in ctx:
            path = (*path, ctx["key"])
        if detail["type"] == "missing":
            message = "missing required key"
            path = (*path, detail["loc"][-1])
        located.append(source.error(path, message))
    return min(located, key=lambda e: e.line or 0)


def parse_scenario(source: YamlSource, base_dir: Path | str = ".") -> Scenario:
    """Validate loaded YAML into a :class:`Scenario`; errors are located :class:`ScenarioError`."""
    try:
        scenario = Scenario.model_validate(source.data, context={"base_dir": str(base_dir)})
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    check_scenario(scenario, source)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file. Relative file references resolve next to it."""
    source = load_yaml(path)
    return parse_scenario(source, Path(path).parent)


def with_overrides(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy of ``scenario`` with top-level values replaced (None leaves a value as it is)."""
    update = {key: value for key, value in changes.items() if value is not None}
    changed = scenario.model_copy(update=update)
    if changed.warmup >= changed.duration:
        raise ScenarioError(
            "command line", None, ("duration",),
            f"must be longer than the warm-up ({changed.warmup:g}s), got {changed.duration:g}s",
        )  # fmt: skip
    return changed
