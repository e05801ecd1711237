"""Field types shared by scenario sections: distributions in units, and routing keys."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from qsim.distributions import Distribution, distribution_of
from qsim.spec import Duration, Number, Size, fail

__all__ = ["NumberDistribution", "RoutingKey", "SizeDistribution", "TimeDistribution"]

if TYPE_CHECKING:
    TimeDistribution = Distribution[float]
    SizeDistribution = Distribution[float]
    NumberDistribution = Distribution[float]
else:
    TimeDistribution = distribution_of(Duration, "Duration")
    SizeDistribution = distribution_of(Size, "Size")
    NumberDistribution = distribution_of(Number, "Number")


def _routing_key(value: Any) -> dict[str, float]:
    """``eu.order`` -> ``{"eu.order": 1.0}``; ``{keys: {a: 0.7, b: 0.3}}`` -> normalised weights."""
    if isinstance(value, str):
        return {value: 1.0}
    if not (isinstance(value, dict) and set(value) == {"keys"} and isinstance(value["keys"], dict)):
        raise fail(f"expected a routing key or {{keys: {{KEY: weight, ...}}}}, got {value!r}")
    weights = {str(key): _weight(weight) for key, weight in value["keys"].items()}
    total = sum(weights.values())
    if not weights or any(w < 0 for w in weights.values()) or not 0 < total < math.inf:
        raise fail(f"expected non-negative weights with a positive sum, got {value['keys']!r}")
    return {key: weight / total for key, weight in weights.items()}


def _weight(value: Any) -> float:
    """A routing weight as a finite float (NaN, and so an error, for anything else)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        number = float(value)
    except OverflowError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _dump_routing_key(keys: dict[str, float]) -> str | dict[str, dict[str, float]]:
    """Back to the scenario's own form, so a resolved scenario loads again."""
    return next(iter(keys)) if len(keys) == 1 else {"keys": keys}


RoutingKey = Annotated[
    dict[str, float],
    BeforeValidator(_routing_key),
    PlainSerializer(_dump_routing_key),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "keys": {"type": "object", "additionalProperties": {"type": "number"}}
                    },
                    "required": ["keys"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]
"""A routing key, or weighted keys; resolved to ``{key: probability}``."""
