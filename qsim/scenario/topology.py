"""Exchanges and bindings: how a published message finds its queues (exchanges.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ValidationInfo, field_validator

from qsim.scenario.fields import RoutingKey
from qsim.spec import Name, PositiveCount, Probability, Spec, fail

__all__ = ["Binding", "Exchange", "ExchangeType", "PublishStep"]

ExchangeType = Literal["direct", "fanout", "topic"]
_TOPIC_WORD = re.compile(r"^(\*|#|[^.*#]+)$")


class Binding(Spec):
    """Routes messages from an exchange to ``queue`` when the routing key matches ``key``."""

    queue: Name
    key: str = ""


class Exchange(Spec):
    """``direct``: key equals the binding key; ``fanout``: every bound queue; ``topic``: words
    separated by dots, ``*`` matching one word and ``#`` zero or more."""

    name: Name
    type: ExchangeType = "direct"
    bindings: tuple[Binding, ...] = ()

    @field_validator("bindings")
    @classmethod
    def _topic_patterns(
        cls, bindings: tuple[Binding, ...], info: ValidationInfo
    ) -> tuple[Binding, ...]:
        if info.data.get("type") == "topic":
            for binding in bindings:
                if binding.key and not all(_TOPIC_WORD.match(w) for w in binding.key.split(".")):
                    raise fail(f"{binding.key!r} is not a topic pattern (words, * or #, by dots)")
        return bindings


class PublishStep(Spec):
    """After processing (and before acking), publish ``count`` messages ``to`` a queue or
    exchange with ``probability``: one stage of a pipeline."""

    to: Name
    routing_key: RoutingKey | None = None
    probability: Probability = 1.0
    count: PositiveCount = 1
    persistent: bool = True
