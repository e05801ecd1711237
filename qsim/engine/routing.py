"""Routing: exchanges and the default exchange, as RabbitMQ routes (exchanges.md).

A target is anything a message can be published ``to``: a queue (the default exchange routes by
queue name) or an exchange. ``route(key)`` returns the queues a message with that routing key
reaches; an empty tuple means unroutable (dropped without an alternate exchange).
Exchange types are looked up in :data:`MATCHERS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from qsim.scenario import Exchange as ExchangeSpec

if TYPE_CHECKING:
    from qsim.engine.protocols import DeliveryModel


class Target(Protocol):
    """Something a message can be published to."""

    name: str

    def route(self, key: str) -> tuple[DeliveryModel, ...]: ...


def _direct(binding_key: str) -> Callable[[str], bool]:
    return lambda key: key == binding_key


def _fanout(_binding_key: str) -> Callable[[str], bool]:
    return lambda key: True


def _words(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if key else ()


def topic_matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    """Whether topic ``pattern`` matches routing-key ``words``: ``*`` is exactly one word,
    ``#`` zero or more."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        if pattern[i] == "#":
            return match(i + 1, j) or (j < len(words) and match(i, j + 1))
        if j == len(words):
            return False
        return pattern[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _topic(binding_key: str) -> Callable[[str], bool]:
    pattern = _words(binding_key)
    return lambda key: topic_matches(pattern, _words(key))


MATCHERS: dict[str, Callable[[str], Callable[[str], bool]]] = {
    "direct": _direct,
    "fanout": _fanout,
    "topic": _topic,
}
"""Exchange types by name -> a function from a binding key to a routing-key predicate."""


class Exchange:
    """Routes to the bound queues whose binding matches the routing key (cached per key)."""

    def __init__(self, spec: ExchangeSpec, queues: dict[str, DeliveryModel]) -> None:
        self.name = spec.name
        make = MATCHERS[spec.type]
        self._bindings = [(make(b.key), queues[b.queue]) for b in spec.bindings]
        self._cache: dict[str, tuple[DeliveryModel, ...]] = {}

    def route(self, key: str) -> tuple[DeliveryModel, ...]:
        """The queues (each once, in binding order) that a message with ``key`` reaches."""
        hit = self._cache.get(key)
        if hit is None:
            matched: list[DeliveryModel] = []
            for matches, queue in self._bindings:
                if matches(key) and queue not in matched:
                    matched.append(queue)
            hit = self._cache[key] = tuple(matched)
        return hit
