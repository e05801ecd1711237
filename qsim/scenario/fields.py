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
    """``eu.order`` -> ``{"eu.order": 1.0}``; ``{keys: {a: 7, b: 3}}`` -> ``{"a": 7.0, "b": 3.0}``
    (relative weights)."""
    if isinstance(value, str):
        return {value: 1.0}
    if not (isinstance(value, dict) and set(value) == {"keys"} and isinstance(value["keys"], dict)):
        raise fail(f"expected a routing key or {{keys: {{KEY: weight, ...}}}}, got {value!r}")
    weights = {str(key): _weight(weight) for key, weight in value["keys"].items()}
    total = sum(weights.values())
    if not weights or any(w < 0 for w in weights.values()) or not 0 < total < math.inf:
        raise fail(f"expected non-negative weights with a positive sum, got {value['keys']!r}")
    return weights  # kept as written (normalised where drawn), so a dump loads back the same


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
    if len(keys) == 1 and next(iter(keys.values())) == 1.0:
        return next(iter(keys))
    return {"keys": keys}


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
"""A routing key, or weighted keys; resolved to ``{key: relative weight}``."""
