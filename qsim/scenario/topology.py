"""Exchanges and bindings: how a published message finds its queues (exchanges.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationInfo, WithJsonSchema, field_validator

from qsim.scenario.fields import RoutingKey
from qsim.spec import Name, PositiveCount, Probability, Spec, fail

__all__ = [
    "BINDING_KEYS",
    "MAX_BINDING_WEIGHT",
    "Binding",
    "Exchange",
    "ExchangeType",
    "PublishStep",
]

ExchangeType = Literal["direct", "fanout", "topic", "x-consistent-hash"]
MAX_BINDING_WEIGHT = 10_000
"""The largest consistent-hash binding weight (the plugin's ``MAX_BINDING_WEIGHT``)."""
_TOPIC_WORD = re.compile(r"^(\*|#|[^.*#]+)$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")  # what Erlang's list_to_integer reads


def _binding_key(value: Any) -> Any:
    """A whole number written without quotes (``key: 2``, a weight) is the key ``"2"``."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


BindingKey = Annotated[
    str,
    BeforeValidator(_binding_key),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]


class Binding(Spec):
    """Routes messages from an exchange to ``queue`` when the routing key matches ``key``; for
    ``x-consistent-hash``, ``key`` is the queue's weight on the hash ring (1 to 10,000)."""

    queue: Name
    key: BindingKey = ""


def _topic_pattern(key: str) -> str | None:
    if key and not all(_TOPIC_WORD.match(word) for word in key.split(".")):
        return f"{key!r} is not a topic pattern (words, * or #, by dots)"
    return None


def _weight(key: str) -> str | None:
    """The plugin's ``validate_binding``: an integer above 0 (at most 10,000 in its source since
    2026)."""
    if _INTEGER.match(key) and 1 <= int(key) <= MAX_BINDING_WEIGHT:
        return None
    return (
        "an x-consistent-hash binding key is the queue's weight, "
        f"a whole number from 1 to {MAX_BINDING_WEIGHT:,}; got {key!r}"
    )


BINDING_KEYS: dict[str, Callable[[str], str | None]] = {
    "topic": _topic_pattern,
    "x-consistent-hash": _weight,
}
"""Exchange types that constrain binding keys -> a check giving the problem with a key, or None."""


class Exchange(Spec):
    """``direct``: key equals the binding key; ``fanout``: every bound queue; ``topic``: words
    separated by dots, ``*`` matching one word and ``#`` zero or more; ``x-consistent-hash``:
    exactly one bound queue, chosen by hashing the routing key, each binding's key its weight."""

    name: Name
    type: ExchangeType = "direct"
    bindings: tuple[Binding, ...] = ()

    @field_validator("bindings")
    @classmethod
    def _binding_keys(
        cls, bindings: tuple[Binding, ...], info: ValidationInfo
    ) -> tuple[Binding, ...]:
        check = BINDING_KEYS.get(info.data.get("type", ""))
        if check is None:
            return bindings
        for j, binding in enumerate(bindings):
            problem = check(binding.key)
            if problem is not None:
                raise fail(problem, at=(j, "key"))
        return bindings


class PublishStep(Spec):
    """After processing (and before acking), publish ``count`` messages ``to`` a queue or
    exchange with ``probability``: one stage of a pipeline."""

    to: Name
    routing_key: RoutingKey | None = None
    probability: Probability = 1.0
    count: PositiveCount = 1
    persistent: bool = True
