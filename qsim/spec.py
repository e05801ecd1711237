"""Building blocks of the scenario model: the validated base class and unit-bearing field types.

Every scenario object derives from :class:`Spec`: frozen, and strict about keys (an unknown key is
an error that suggests the closest known one). Field types parse units once, at load time, so the
engine only ever sees floats in seconds, messages per second and bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from qsim.errors import did_you_mean
from qsim.units import (
    DURATION_PATTERN,
    RATE_PATTERN,
    SIZE_PATTERN,
    UnitError,
    parse_duration,
    parse_rate,
    parse_size,
)

__all__ = [
    "AUTO",
    "ClockTime",
    "Count",
    "Duration",
    "Name",
    "Number",
    "OrBareValue",
    "PositiveCount",
    "PositiveDuration",
    "PriorityLevel",
    "Probability",
    "Rate",
    "ReplicaCount",
    "ReplicationCount",
    "Size",
    "Spec",
    "Warmup",
    "clock_seconds",
    "fail",
    "whole",
]


def fail(message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """A validation error whose text is exactly ``message``, about the value itself or, with
    ``at``, about the part of it at that key path (e.g. ``(2, "key")`` of a list of mappings)."""
    context: dict[str, Any] = {"detail": message}
    if at:
        context["at"] = at
    return PydanticCustomError("qsim", "{detail}", context)


class Spec(BaseModel):
    """Base of every scenario object: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise fail(f"expected a mapping of keys, got {data!r}")
        known = {info.alias or name for name, info in cls.model_fields.items()}
        for key in data:
            if key not in known:
                hint = did_you_mean(str(key), sorted(known))
                raise PydanticCustomError(
                    "unknown_key", "{detail}", {"detail": f"unknown key{hint}", "key": str(key)}
                )
        return data


class OrBareValue:
    """JSON Schema marker: a field written as a mapping also accepts a bare value (a
    distribution's constant, a key space's count)."""

    def __init__(self, bare: dict[str, Any]) -> None:
        self.bare = bare

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [self.bare, handler(schema)]}


def _unit_type(parse: Callable[[object], float], pattern: str, example: str, positive: bool) -> Any:
    """A float field written with a unit, parsed once at load time."""

    def check(value: Any) -> float:
        try:
            number = parse(value)
        except UnitError as exc:
            raise fail(str(exc)) from None
        if positive and number <= 0:
            raise fail(f"expected a value above zero, got {value!r}")
        return number

    schema = {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": pattern}],
        "examples": [example],
    }
    return Annotated[float, BeforeValidator(check), WithJsonSchema(schema)]


if TYPE_CHECKING:
    Duration = float
    PositiveDuration = float
    Rate = float
    Size = float
else:
    Duration = _unit_type(parse_duration, DURATION_PATTERN, "250ms", positive=False)
    PositiveDuration = _unit_type(parse_duration, DURATION_PATTERN, "2s", positive=True)
    Rate = _unit_type(parse_rate, RATE_PATTERN, "50/s", positive=False)
    Size = _unit_type(parse_size, SIZE_PATTERN, "4KB", positive=False)
"""Seconds (``250ms``, ``2s``, ``5m``, ``1h``), seconds above zero, messages per second
(``50/s``, ``3000/min``, ``120/h``) and bytes (``512B``, ``4KB``, ``1MB``); a bare number is in
the base unit."""

AUTO = "auto"
"""The warm-up that is detected per replication (MSER-5, :mod:`qsim.warmup`) instead of given."""


def _warmup(value: Any) -> float | str:
    if value == AUTO:
        return AUTO
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise fail(f"{exc} (or auto, to detect it)") from None


if TYPE_CHECKING:
    Warmup = float | Literal["auto"]
else:
    Warmup = Annotated[
        float | Literal["auto"],
        BeforeValidator(_warmup),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": DURATION_PATTERN},
                    {"const": AUTO},
                ],
                "examples": ["5m", AUTO],
            }
        ),
    ]
"""A warm-up: a duration, or ``auto`` (detected per replication)."""


def _number(value: Any) -> float:
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:  # an integer too large for a float
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise fail(f"expected a finite number, got {_short(value)}")
    return number


def _short(value: Any) -> str:
    """``repr(value)``, cut short if it is long (a 400-digit number, say)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


Number = Annotated[float, BeforeValidator(_number), WithJsonSchema({"type": "number"})]
"""A plain finite number, no unit."""


def _probability(value: Any) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise fail(f"expected a probability between 0 and 1, got {value!r}")
    return number


Probability = Annotated[
    float,
    BeforeValidator(_probability),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
"""A number from 0 to 1."""


def whole(minimum: int = 0, maximum: int | None = None) -> Any:
    """An integer type with bounds, e.g. ``whole(0)`` for a prefetch count."""
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def check(value: Any) -> int:
        ok = not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
        if not ok or value < minimum or (maximum is not None and value > maximum):
            raise fail(f"expected a whole number {bounds}, got {value!r}")
        return int(value)

    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return Annotated[int, BeforeValidator(check), WithJsonSchema(schema)]


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"expected a non-empty name, got {value!r}")
    return value


Name = Annotated[str, BeforeValidator(_name), WithJsonSchema({"type": "string", "minLength": 1})]
"""A non-empty name of a producer, queue or consumer pool."""

CLOCK_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


def _clock_time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 10:00 as 600
        raise fail(f'got the number {value}: write the clock time in quotes, e.g. "10:00"')
    if not isinstance(value, str) or not re.match(CLOCK_PATTERN, value.strip()):
        raise fail(f'expected a clock time "HH:MM" or "HH:MM:SS" (24-hour), got {value!r}')
    return value.strip()


ClockTime = Annotated[
    str,
    BeforeValidator(_clock_time),
    WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN}),
]
"""A time of day, ``"10:00"`` or ``"10:00:30"``: what clock time a run's t = 0 stands for."""


def clock_seconds(clock: str) -> float:
    """Seconds after midnight of a :data:`ClockTime` (``"10:00"`` -> 36000)."""
    parts = [int(p) for p in clock.split(":")]
    return float(parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0))


if TYPE_CHECKING:
    Count = int
    PositiveCount = int
    PriorityLevel = int
    ReplicaCount = int
    ReplicationCount = int
else:
    Count = whole(0)
    PositiveCount = whole(1)
    PriorityLevel = whole(1, 255)
    ReplicaCount = whole(0, 10_000)  # a bound that no pool reaches, and no run is stuck on
    ReplicationCount = whole(1, 100_000)
"""Whole numbers: ``Count`` >= 0, ``PositiveCount`` >= 1, ``PriorityLevel`` from 1 to 255,
``ReplicaCount`` up to 10,000 and ``ReplicationCount`` up to 100,000."""
