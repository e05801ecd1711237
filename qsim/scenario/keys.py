"""Key spaces: the key each message carries, as a distribution over keys.

Today this is a publisher's ``routing_key``; the forms are meant for any keyed client (a Kafka
producer's record keys: uniform over N keys, or Zipf-skewed). Four forms:

- ``eu.order``: one constant key;
- ``{keys: {eu.order: 7, us.order: 3}}``: named keys with relative weights;
- ``{uniform: 1000}`` or ``{uniform: {keys: 1000, prefix: "order."}}``: the keys ``order.0`` to
  ``order.999``, each equally likely;
- ``{zipf: {keys: 1000, s: 1.1, prefix: "order."}}``: the same keys, key ``i`` with probability
  proportional to ``1 / (i + 1)^s``: ``order.0`` is the hottest (``s`` 0 is uniform, default 1).

:mod:`qsim.engine.keys` draws them: one uniform number per message, through the inverse CDF.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Tag,
    WithJsonSchema,
    field_validator,
)

from qsim.spec import Number, OrBareValue, Spec, fail, whole

__all__ = [
    "MAX_KEYS",
    "KeyRange",
    "KeySpace",
    "RoutingKey",
    "UniformKeys",
    "WeightedKeys",
    "ZipfKeys",
    "ZipfRange",
]

MAX_KEYS = 10_000_000
"""The most distinct keys a key space has (beyond it, every key is as good as unique)."""

if TYPE_CHECKING:
    KeyCount = int
else:
    KeyCount = whole(1, MAX_KEYS)


class KeyRange(Spec):
    """``keys`` distinct keys, ``prefix`` + ``0`` to ``prefix`` + ``keys - 1``."""

    keys: KeyCount
    prefix: str = ""

    def key(self, index: int) -> str:
        """The name of key number ``index``."""
        return f"{self.prefix}{index}"


def _exponent(s: float) -> float:
    if s < 0:
        raise fail(f"expected an exponent s >= 0 (0 is uniform), got {s:g}")
    return s


Exponent = Annotated[
    Number, AfterValidator(_exponent), WithJsonSchema({"type": "number", "minimum": 0})
]


class ZipfRange(KeyRange):
    """A key range where key ``i`` has weight ``1 / (i + 1)^s``."""

    s: Exponent = 1.0


def _count_only(value: Any) -> Any:
    """``{uniform: 1000}`` is ``{uniform: {keys: 1000}}``."""
    return {"keys": value} if isinstance(value, int) and not isinstance(value, bool) else value


_COUNT = {"type": "integer", "minimum": 1, "maximum": MAX_KEYS}


class WeightedKeys(Spec):
    """Named keys drawn with relative weights (kept as written, normalised where drawn)."""

    keys: dict[str, float]

    @field_validator("keys", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            raise fail(f"expected {{KEY: weight, ...}}, got {value!r}")
        weights = {str(key): _weight(weight) for key, weight in value.items()}
        total = sum(weights.values())
        if not weights or any(w < 0 for w in weights.values()) or not 0 < total < math.inf:
            raise fail(f"expected non-negative weights with a positive sum, got {value!r}")
        return weights


def _weight(value: Any) -> float:
    """A routing weight as a finite float (NaN, and so an error, for anything else)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        number = float(value)
    except OverflowError:
        return math.nan
    return number if math.isfinite(number) else math.nan


class UniformKeys(Spec):
    """Every key of the range equally likely."""

    uniform: Annotated[KeyRange, BeforeValidator(_count_only), OrBareValue(_COUNT)]


class ZipfKeys(Spec):
    """Key ``i`` of the range with probability proportional to ``1 / (i + 1)^s``."""

    zipf: Annotated[ZipfRange, BeforeValidator(_count_only), OrBareValue(_COUNT)]


KeySpace = str | WeightedKeys | UniformKeys | ZipfKeys
"""A validated key space: a constant key, or one of the distributions."""

_FORMS: dict[str, type[Spec]] = {"keys": WeightedKeys, "uniform": UniformKeys, "zipf": ZipfKeys}
_TAGS = {cls: form for form, cls in _FORMS.items()}


def _shape(value: Any) -> Any:
    """A key, a key space, or a mapping with exactly one of the forms' keys; else one line
    saying what is expected."""
    if isinstance(value, str) or type(value) in _TAGS:
        return value
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _FORMS:
        return value
    raise fail(
        "expected a key, {keys: {KEY: weight, ...}}, {uniform: N} or "
        f"{{zipf: {{keys: N, s: S}}}}, got {value!r}"
    )


def _form(value: Any) -> str:
    """The tag of the union member that ``value`` (already past :func:`_shape`) is."""
    if isinstance(value, str):
        return "key"
    return _TAGS.get(type(value)) or str(next(iter(value)))


RoutingKey = Annotated[
    Union[  # noqa: UP007  (tagged members)
        Annotated[str, Tag("key")],
        Annotated[WeightedKeys, Tag("keys")],
        Annotated[UniformKeys, Tag("uniform")],
        Annotated[ZipfKeys, Tag("zipf")],
    ],
    Discriminator(_form),
    BeforeValidator(_shape),
]
"""A key space as a scenario field: ``routing_key: ...`` of producers and publish steps."""
